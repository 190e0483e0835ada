//! The two models: the majority class and a decision tree whose artifact is
//! byte-for-byte reproducible.
//!
//! linfa-trees 0.8 labels each leaf with its most frequent class but breaks ties
//! in `HashMap` order, which changes from run to run, and its serialised tree
//! carries those labels. So the tree is fitted with linfa, then copied into a
//! small tree of our own whose leaves are labelled from the training rows that
//! reach them, ties going to the smallest quality. Same rows, same tree, same
//! bytes.

use std::collections::BTreeMap;

use linfa::prelude::*;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::BaselineError;

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

/// A node of the saved tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    Leaf {
        quality: usize,
    },
    /// Rows whose `feature` is below `threshold` go to `below`, the others to
    /// `above` (linfa's own rule).
    Split {
        above: Box<Node>,
        below: Box<Node>,
        feature: usize,
        threshold: f64,
    },
}

/// The model artifact written to `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    /// The feature names, in the column order the tree's indices refer to.
    pub features: Vec<String>,
    pub max_depth: usize,
    pub root: Node,
}

impl TreeModel {
    /// Fits a tree of at most `max_depth` levels on the training rows.
    pub fn fit<'a>(
        records: ArrayView2<'a, f64>,
        targets: ArrayView1<'a, usize>,
        features: Vec<String>,
        max_depth: usize,
    ) -> Result<Self, BaselineError> {
        let train = DatasetView::new(records, targets);
        let tree = DecisionTree::params()
            .max_depth(Some(max_depth))
            .fit(&train)?;
        let rows: Vec<usize> = (0..records.nrows()).collect();
        let fallback = majority_class(&targets.to_vec())
            .ok_or(BaselineError::EmptySplit { train: 0, test: 0 })?;
        let root = copy_node(tree.root_node(), records, targets, &rows, fallback);
        Ok(Self {
            features,
            max_depth,
            root,
        })
    }

    /// The predicted quality of one wine.
    pub fn predict_one(&self, row: ArrayView1<f64>) -> usize {
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf { quality } => return *quality,
                Node::Split {
                    above,
                    below,
                    feature,
                    threshold,
                } => {
                    node = if row[*feature] < *threshold {
                        below
                    } else {
                        above
                    }
                }
            }
        }
    }

    pub fn predict(&self, records: ArrayView2<f64>) -> Vec<usize> {
        records
            .rows()
            .into_iter()
            .map(|r| self.predict_one(r))
            .collect()
    }
}

/// Copies linfa's node, labelling leaves from the training `rows` that reach
/// them; a leaf no row reaches gets its parent's label (`fallback`).
fn copy_node(
    node: &TreeNode<f64, usize>,
    records: ArrayView2<f64>,
    targets: ArrayView1<usize>,
    rows: &[usize],
    fallback: usize,
) -> Node {
    let classes: Vec<usize> = rows.iter().map(|&r| targets[r]).collect();
    let here = majority_class(&classes).unwrap_or(fallback);
    if node.is_leaf() {
        return Node::Leaf { quality: here };
    }
    let children = node.children();
    let (Some(Some(below)), Some(Some(above))) = (children.first(), children.get(1)) else {
        return Node::Leaf { quality: here };
    };
    let (feature, threshold, _) = node.split();
    let (low, high): (Vec<usize>, Vec<usize>) = rows
        .iter()
        .partition(|&&r| records[[r, feature]] < threshold);
    Node::Split {
        below: Box::new(copy_node(below, records, targets, &low, here)),
        above: Box::new(copy_node(above, records, targets, &high, here)),
        feature,
        threshold,
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
    fn a_tree_learns_a_threshold_and_round_trips_through_json() {
        let x = array![[1.0], [2.0], [3.0], [10.0], [11.0], [12.0]];
        let y = array![5, 5, 5, 7, 7, 7];
        let model = TreeModel::fit(x.view(), y.view(), vec!["alcohol".into()], 3).expect("fits");
        assert_eq!(model.predict(x.view()), vec![5, 5, 5, 7, 7, 7]);
        let json = serde_json::to_string(&model).expect("serialises");
        let back: TreeModel = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, model);
    }
}
