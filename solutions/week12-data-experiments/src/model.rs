//! The two models: the majority class, and the course's decision tree
//! ([`crate::tree`]) with the names of the features it splits on. Weeks 1 and
//! 2 share this file (`cargo xtask labs --check` keeps week 2's copy equal).

use std::collections::BTreeMap;

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::tree::{Tree, TreeError};

/// The most frequent class; on a tie, the smallest. `None` for no classes.
pub fn majority_class(classes: &[usize]) -> Option<usize> {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for &c in classes {
        *counts.entry(c).or_default() += 1;
    }
    // `max_by_key` keeps the last maximum: walking classes downwards makes it
    // the smallest class among equals.
    counts
        .into_iter()
        .rev()
        .max_by_key(|&(_, n)| n)
        .map(|(c, _)| c)
}

/// The model artifact written to `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    /// The feature names, in the column order the tree's indices refer to.
    pub features: Vec<String>,
    pub tree: Tree,
}

impl TreeModel {
    /// Fits a tree of at most `max_depth` levels on the training rows; the
    /// same rows and depth always give the same model.
    pub fn fit(
        records: ArrayView2<f64>,
        targets: ArrayView1<usize>,
        features: Vec<String>,
        max_depth: usize,
    ) -> Result<Self, TreeError> {
        let tree = Tree::fit(records, targets, max_depth)?;
        Ok(Self { features, tree })
    }

    /// Checks a model read from a file: its tree may only use the features
    /// it names.
    pub fn check(&self) -> Result<(), TreeError> {
        self.tree.check(self.features.len())
    }

    /// The predicted quality of each row.
    pub fn predict(&self, records: ArrayView2<f64>) -> Vec<usize> {
        self.tree.predict(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn majority_breaks_ties_towards_the_smallest_class() {
        assert_eq!(majority_class(&[6, 5, 6, 5]), Some(5));
        assert_eq!(majority_class(&[7, 6, 6]), Some(6));
        assert_eq!(majority_class(&[]), None);
    }

    #[test]
    fn a_model_names_its_features_and_round_trips_through_json() {
        let x = array![[1.0], [2.0], [3.0], [10.0], [11.0], [12.0]];
        let y = array![5, 5, 5, 7, 7, 7];
        let model = TreeModel::fit(x.view(), y.view(), vec!["alcohol".into()], 3).expect("fits");
        assert_eq!(model.predict(x.view()), vec![5, 5, 5, 7, 7, 7]);
        let json = serde_json::to_string(&model).expect("serialises");
        let back: TreeModel = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, model);
        assert!(back.check().is_ok());
    }
}
