//! The course's decision tree: the one trainer every week's example, lab and
//! solution uses (`cargo xtask labs --check` keeps the copies equal to
//! `solutions/week01-baseline/src/tree.rs`).
//!
//! Same rows, same depth: same tree, byte for byte, on every run.
//! linfa-trees 0.8.1 cannot promise that: it sums each side's class counts as
//! `f32` in `HashMap` order, which changes with every process, so splits whose
//! scores differ only by rounding are chosen differently from run to run (12
//! runs at depth 12 on all 1,599 wines gave 12 different trees). smartcore
//! counts classes as integers in a `Vec`, tries every feature in column order
//! and keeps the first of equally good splits: nothing in its fit depends on
//! the process, so it is fitted here.
//!
//! The fitted tree is then copied into [`Tree`], the course's own format: it
//! is what `model.json` holds, it is checked when read (a damaged file is an
//! error, never a panic), and it does not change when smartcore's does.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

/// The deepest tree [`Tree::fit`] makes: a deeper one memorises single wines,
/// and `serde_json` would refuse to read it back (it stops at 128 levels).
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("cannot fit a tree on no rows")]
    NoRows,
    #[error("{records} rows of features but {targets} qualities")]
    Mismatch { records: usize, targets: usize },
    #[error("a feature value is not a finite number (NaN or infinite)")]
    NotFinite,
    #[error("max depth {0} is out of range: give 1 to {MAX_DEPTH}")]
    Depth(usize),
    #[error("fitting the tree failed: {0}")]
    Fit(String),
    #[error("the tree uses feature {feature}, but there are {features} features")]
    Feature { feature: usize, features: usize },
    #[error("the tree has a threshold that is not a finite number")]
    Threshold,
}

/// A node of the saved tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    Leaf {
        quality: usize,
    },
    /// Rows whose `feature` is at most `threshold` go to `below`, the others
    /// to `above` (smartcore's rule).
    Split {
        feature: usize,
        threshold: f64,
        below: Box<Node>,
        above: Box<Node>,
    },
}

/// A fitted decision tree over wine features, predicting a quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub max_depth: usize,
    pub root: Node,
}

impl Tree {
    // ANCHOR: fit
    /// Fits a tree of at most `max_depth` levels of splits. Nothing random
    /// takes part: the same rows and depth always give the same tree.
    pub fn fit(
        records: ArrayView2<f64>,
        targets: ArrayView1<usize>,
        max_depth: usize,
    ) -> Result<Self, TreeError> {
        if !(1..=MAX_DEPTH).contains(&max_depth) {
            return Err(TreeError::Depth(max_depth));
        }
        if records.nrows() != targets.len() {
            return Err(TreeError::Mismatch {
                records: records.nrows(),
                targets: targets.len(),
            });
        }
        if records.iter().any(|x| !x.is_finite()) {
            return Err(TreeError::NotFinite);
        }
        let first = *targets.first().ok_or(TreeError::NoRows)?;
        let root = if targets.iter().all(|&q| q == first) {
            // smartcore wants two classes; one class is a tree of one leaf.
            Node::Leaf { quality: first }
        } else {
            fit_smartcore(records, targets, max_depth)?
        };
        Ok(Self { max_depth, root })
    }
    // ANCHOR_END: fit

    /// The predicted quality of one wine.
    pub fn predict_one(&self, row: ArrayView1<f64>) -> usize {
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf { quality } => return *quality,
                Node::Split {
                    feature,
                    threshold,
                    below,
                    above,
                } => {
                    // A missing feature (a short row) goes above, as NaN does.
                    let at_most = row.get(*feature).is_some_and(|x| x <= threshold);
                    node = if at_most { below } else { above };
                }
            }
        }
    }

    /// The predicted quality of each row.
    pub fn predict(&self, records: ArrayView2<f64>) -> Vec<usize> {
        records
            .rows()
            .into_iter()
            .map(|r| self.predict_one(r))
            .collect()
    }

    /// The features the tree splits on, each once, in ascending order.
    pub fn features(&self) -> Vec<usize> {
        let mut used = std::collections::BTreeSet::new();
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            if let Node::Split {
                feature,
                below,
                above,
                ..
            } = node
            {
                used.insert(*feature);
                stack.extend([below.as_ref(), above.as_ref()]);
            }
        }
        used.into_iter().collect()
    }

    /// Checks a tree read from a file against the number of features it will
    /// be given.
    pub fn check(&self, features: usize) -> Result<(), TreeError> {
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            if let Node::Split {
                feature,
                threshold,
                below,
                above,
            } = node
            {
                if *feature >= features {
                    return Err(TreeError::Feature {
                        feature: *feature,
                        features,
                    });
                }
                if !threshold.is_finite() {
                    return Err(TreeError::Threshold);
                }
                stack.extend([below.as_ref(), above.as_ref()]);
            }
        }
        Ok(())
    }
}

type Classifier = DecisionTreeClassifier<f64, usize, DenseMatrix<f64>, Vec<usize>>;

// ANCHOR: fit_smartcore
fn fit_smartcore(
    records: ArrayView2<f64>,
    targets: ArrayView1<usize>,
    max_depth: usize,
) -> Result<Node, TreeError> {
    let fail = |e: &dyn std::fmt::Display| TreeError::Fit(e.to_string());
    let (rows, columns) = records.dim();
    let x = DenseMatrix::new(rows, columns, records.iter().copied().collect(), false)
        .map_err(|e| fail(&e))?;
    let y: Vec<usize> = targets.to_vec();
    // smartcore counts the root as level 1, so its depth d has d - 1 levels
    // of splits; ours counts splits, as linfa and scikit-learn do.
    let levels = u16::try_from(max_depth + 1).map_err(|e| fail(&e))?;
    let mut params = DecisionTreeClassifierParameters::default().with_max_depth(levels);
    // smartcore draws from its generator only to pick a subset of features,
    // which a single tree never does (it tries them all). A fixed seed keeps
    // it from seeding one from the operating system all the same.
    params.seed = Some(0);
    let fitted: Classifier = DecisionTreeClassifier::fit(&x, &y, params).map_err(|e| fail(&e))?;
    // smartcore keeps its nodes private; its serde form is the way to read
    // them. The tests below fail if that form changes under us.
    let value = serde_json::to_value(&fitted).map_err(|e| fail(&e))?;
    let flat: Flat = serde_json::from_value(value).map_err(|e| fail(&e))?;
    flat.node(0, 0)
}
// ANCHOR_END: fit_smartcore

/// smartcore's tree as it serialises it: nodes in a list, children by index.
#[derive(Deserialize)]
struct Flat {
    nodes: Vec<FlatNode>,
    classes: Vec<usize>,
}

#[derive(Deserialize)]
struct FlatNode {
    output: usize,
    split_feature: usize,
    split_value: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

impl Flat {
    fn node(&self, index: usize, depth: usize) -> Result<Node, TreeError> {
        let broken = || TreeError::Fit(format!("smartcore's tree has no node {index}"));
        let node = self.nodes.get(index).ok_or_else(broken)?;
        if depth > MAX_DEPTH {
            return Err(TreeError::Fit(
                "smartcore's tree is deeper than asked".into(),
            ));
        }
        match (node.true_child, node.false_child, node.split_value) {
            (Some(low), Some(high), Some(threshold)) => Ok(Node::Split {
                feature: node.split_feature,
                threshold,
                below: Box::new(self.node(low, depth + 1)?),
                above: Box::new(self.node(high, depth + 1)?),
            }),
            _ => Ok(Node::Leaf {
                quality: *self.classes.get(node.output).ok_or_else(broken)?,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn wines() -> (Array2<f64>, Vec<usize>) {
        // Two features; quality 5 when the first is small, 7 when it is
        // large, 6 in between unless the second feature is large.
        let x = array![
            [1.0, 0.0],
            [2.0, 1.0],
            [3.0, 0.0],
            [5.0, 0.0],
            [5.5, 9.0],
            [6.0, 1.0],
            [6.5, 8.0],
            [10.0, 0.0],
            [11.0, 1.0],
            [12.0, 0.0]
        ];
        (x, vec![5, 5, 5, 6, 7, 6, 7, 7, 7, 7])
    }

    #[test]
    fn learns_the_thresholds_and_round_trips_through_json() {
        let (x, y) = wines();
        let tree = Tree::fit(x.view(), (&y).into(), 4).expect("fits");
        assert_eq!(tree.predict(x.view()), y);
        let json = serde_json::to_string(&tree).expect("serialises");
        let back: Tree = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, tree);
        assert!(back.check(2).is_ok());
        assert_eq!(tree.features(), vec![0, 1]);
    }

    #[test]
    fn the_same_rows_make_the_same_tree() {
        let (x, y) = wines();
        let first = Tree::fit(x.view(), (&y).into(), 3).expect("fits");
        for _ in 0..5 {
            assert_eq!(Tree::fit(x.view(), (&y).into(), 3).expect("fits"), first);
        }
    }

    #[test]
    fn a_tie_between_features_goes_to_the_first_column() {
        // Columns 0 and 2 hold the same values: both split the rows equally
        // well, and the first one wins, whatever process fits it.
        let x = array![
            [1.0, 5.0, 1.0],
            [2.0, 4.0, 2.0],
            [8.0, 5.0, 8.0],
            [9.0, 4.0, 9.0]
        ];
        let tree = Tree::fit(x.view(), (&vec![5, 5, 7, 7]).into(), 2).expect("fits");
        assert!(
            matches!(tree.root, Node::Split { feature: 0, .. }),
            "{tree:?}"
        );
        assert_eq!(tree.features(), vec![0]);
    }

    #[test]
    fn a_depth_of_one_is_a_single_split() {
        let (x, y) = wines();
        let tree = Tree::fit(x.view(), (&y).into(), 1).expect("fits");
        let Node::Split { below, above, .. } = &tree.root else {
            panic!("want a split, got {:?}", tree.root);
        };
        assert!(matches!(**below, Node::Leaf { .. }));
        assert!(matches!(**above, Node::Leaf { .. }));
    }

    #[test]
    fn one_quality_is_one_leaf_and_bad_inputs_are_errors() {
        let x = array![[1.0], [2.0]];
        let same = Tree::fit(x.view(), (&vec![6, 6]).into(), 3).expect("fits");
        assert_eq!(same.root, Node::Leaf { quality: 6 });
        let none = Array2::<f64>::zeros((0, 1));
        let err = Tree::fit(none.view(), (&Vec::new()).into(), 3).expect_err("refused");
        assert!(matches!(err, TreeError::NoRows));
        let err = Tree::fit(x.view(), (&vec![6]).into(), 3).expect_err("refused");
        assert!(matches!(err, TreeError::Mismatch { .. }));
        let nan = array![[1.0], [f64::NAN]];
        let err = Tree::fit(nan.view(), (&vec![5, 6]).into(), 3).expect_err("refused");
        assert!(matches!(err, TreeError::NotFinite));
        for depth in [0, MAX_DEPTH + 1] {
            let err = Tree::fit(x.view(), (&vec![5, 6]).into(), depth).expect_err("refused");
            assert!(matches!(err, TreeError::Depth(_)), "{err}");
        }
    }

    #[test]
    fn a_damaged_tree_is_refused_when_checked() {
        let (x, y) = wines();
        let mut tree = Tree::fit(x.view(), (&y).into(), 4).expect("fits");
        tree.root = Node::Split {
            feature: 0,
            threshold: f64::NAN,
            below: Box::new(Node::Leaf { quality: 5 }),
            above: Box::new(Node::Leaf { quality: 6 }),
        };
        assert!(matches!(tree.check(2), Err(TreeError::Threshold)));
        tree.root = Node::Split {
            feature: 9,
            threshold: 1.0,
            below: Box::new(Node::Leaf { quality: 5 }),
            above: Box::new(Node::Leaf { quality: 6 }),
        };
        assert!(matches!(
            tree.check(2),
            Err(TreeError::Feature { feature: 9, .. })
        ));
        // Predicting with a short row does not panic.
        assert_eq!(tree.predict_one(array![1.0].view()), 6);
    }
}
