//! Input drift: how far the wines the service has seen lately are from the
//! wines the model was trained on, feature by feature, as a Population
//! Stability Index (PSI).
//!
//! - At train time, [`DriftReference::from_training_data`] cuts each feature
//!   of the training data at its deciles and records the share of training
//!   wines in each bin. `train` saves it beside the model
//!   (`drift-reference.json`), so the image carries it.
//! - At serve time, a [`DriftWindow`] keeps the last [`WINDOW`] wines that
//!   `POST /predict` accepted and counts them per bin. Once it holds at least
//!   [`MIN_WINDOW`] wines, [`DriftWindow::psi`] compares the window's shares
//!   with the training shares.
//!
//! PSI = Σ over bins of (actual − expected) × ln(actual / expected), with both
//! shares floored at [`EPSILON`] so that an empty bin counts as a large but
//! finite difference. Rules of thumb: below 0.1 no shift, 0.1 to 0.25 a
//! moderate shift, above 0.25 a shift worth acting on.

use std::collections::VecDeque;
use std::path::Path;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::model::dataset_sha256;
use crate::schema::FEATURES;

/// The sidecar file `train` writes beside the model.
pub const REFERENCE_FILE_NAME: &str = "drift-reference.json";
/// Version of the reference layout; an other one is refused on load.
pub const REFERENCE_FORMAT: u32 = 1;
/// Bins per feature before ties merge some: deciles.
pub const BINS: usize = 10;
/// Most bins a reference may have (a loaded file is checked against it).
pub const MAX_BINS: usize = 100;
/// The window: the last this many wines accepted by `POST /predict`.
pub const WINDOW: usize = 500;
/// Fewer wines than this in the window, and PSI is not computed (reported as
/// 0): with few wines, sampling noise alone gives a large PSI (about
/// (bins − 1) / n per feature for n wines from the training distribution).
/// Measured on 200 random samples of training wines, the largest PSI of the
/// eleven features went over 0.1 in 19 samples of 200 wines, and in none of
/// 300 (at most 0.08) or of 500 (at most 0.04).
pub const MIN_WINDOW: usize = 300;
/// The floor of a bin's share, for empty bins: ln(0) is not a number.
pub const EPSILON: f64 = 1e-4;

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("cannot read drift reference {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write drift reference {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("drift reference is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("drift reference is unusable: {0}")]
    Invalid(String),
}

/// One feature's bins and the share of training wines in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReference {
    pub name: String,
    /// The bins' upper edges but the last bin's, strictly increasing: bin
    /// `i` holds the values `x` with `edges[i - 1] < x <= edges[i]`; the
    /// first bin has no lower edge and the last no upper edge.
    pub edges: Vec<f64>,
    /// Share of the training wines in each bin: `edges.len() + 1` values,
    /// each above 0, summing to 1.
    pub shares: Vec<f64>,
}

/// What `train` saves beside the model: every feature's reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReference {
    pub format: u32,
    /// The training data's hash, as the model artifact records it: a
    /// reference from other data than the model's is refused.
    pub data_sha256: String,
    /// Training wines the shares were counted on.
    pub rows: usize,
    /// One per feature, in [`FEATURES`] order.
    pub features: Vec<FeatureReference>,
}

/// The deciles of `sorted` (ascending, finite, not empty) as bin edges:
/// nearest-rank deciles, without repeats (tied values merge bins) and below
/// the largest value (so that the last bin is never empty).
pub fn decile_edges(sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    let Some(&largest) = sorted.last() else {
        return Vec::new();
    };
    let mut edges: Vec<f64> = Vec::with_capacity(BINS - 1);
    for k in 1..BINS {
        // Nearest rank: the smallest value with at least k/10 of the data at
        // or below it.
        let rank = (k * n).div_ceil(BINS).max(1);
        let edge = sorted[rank - 1];
        if edge < largest && edges.last().is_none_or(|&last| edge > last) {
            edges.push(edge);
        }
    }
    edges
}

/// The bin `value` falls in, for `edges` as [`FeatureReference::edges`].
pub fn bin_of(edges: &[f64], value: f64) -> usize {
    // The number of edges below the value: `x <= edges[i]` is bin `i`.
    edges.partition_point(|&edge| edge < value)
}

/// The share of `counts`' total in each bin (all 0 for no counts).
pub fn shares(counts: &[u32]) -> Vec<f64> {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                f64::from(c) / total as f64
            }
        })
        .collect()
}

/// The Population Stability Index of `actual` shares against `expected`
/// shares, bin by bin (same length), each share floored at [`EPSILON`].
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    debug_assert_eq!(expected.len(), actual.len());
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(EPSILON), a.max(EPSILON));
            (a - e) * (a / e).ln()
        })
        .sum()
}

impl FeatureReference {
    /// The reference of one feature from its training values (finite).
    pub fn from_values(name: &str, values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let edges = decile_edges(&sorted);
        let mut counts = vec![0_u32; edges.len() + 1];
        for &value in values {
            counts[bin_of(&edges, value)] += 1;
        }
        Self {
            name: name.to_owned(),
            shares: shares(&counts),
            edges,
        }
    }

    fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if self.shares.len() != self.edges.len() + 1 {
            return Err(format!(
                "{name}: {} edges need {} shares, not {}",
                self.edges.len(),
                self.edges.len() + 1,
                self.shares.len()
            ));
        }
        if self.shares.len() > MAX_BINS {
            return Err(format!("{name}: more than {MAX_BINS} bins"));
        }
        if self.edges.iter().any(|e| !e.is_finite())
            || self.edges.windows(2).any(|pair| pair[0] >= pair[1])
        {
            return Err(format!("{name}: the edges are not finite and increasing"));
        }
        if self.shares.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!("{name}: a share is not a number above 0"));
        }
        let sum: f64 = self.shares.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!("{name}: the shares sum to {sum}, not 1"));
        }
        Ok(())
    }
}

impl DriftReference {
    /// The reference of `records` (rows of the eleven features, in
    /// [`FEATURES`] order), whose hash is `data_sha256`.
    pub fn from_records(records: ArrayView2<f64>, data_sha256: String) -> Self {
        let features = FEATURES
            .iter()
            .zip(records.columns())
            .map(|(feature, column)| {
                let values: Vec<f64> = column.iter().copied().collect();
                FeatureReference::from_values(feature.name, &values)
            })
            .collect();
        Self {
            format: REFERENCE_FORMAT,
            data_sha256,
            rows: records.nrows(),
            features,
        }
    }

    /// The reference of the data [`crate::model::train`] trains on.
    pub fn from_training_data() -> Self {
        let dataset = linfa_datasets::winequality();
        let hash = dataset_sha256(dataset.records().view(), dataset.targets().view());
        Self::from_records(dataset.records().view(), hash)
    }

    /// Checks the reference is one this binary can use, for a model trained
    /// on data with hash `data_sha256`.
    pub fn check(&self, data_sha256: &str) -> Result<(), DriftError> {
        let invalid = |msg: String| Err(DriftError::Invalid(msg));
        if self.format != REFERENCE_FORMAT {
            return invalid(format!(
                "format {} is not the supported format {REFERENCE_FORMAT}",
                self.format
            ));
        }
        if self.data_sha256 != data_sha256 {
            return invalid(format!(
                "it describes data {}, but the model was trained on data {data_sha256}",
                self.data_sha256
            ));
        }
        let names: Vec<&str> = self.features.iter().map(|f| f.name.as_str()).collect();
        let expected: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        if names != expected {
            return invalid(format!(
                "features {names:?} differ from the service's {expected:?}"
            ));
        }
        for feature in &self.features {
            feature.check().map_err(DriftError::Invalid)?;
        }
        Ok(())
    }

    /// Writes the reference as JSON, creating parent directories as needed.
    pub fn save(&self, path: &Path) -> Result<(), DriftError> {
        let write_err = |source| DriftError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        std::fs::write(path, serde_json::to_vec(self)?).map_err(write_err)
    }

    /// Reads the reference at `path` and checks it against the model's data.
    pub fn load(path: &Path, data_sha256: &str) -> Result<Self, DriftError> {
        let bytes = std::fs::read(path).map_err(|source| DriftError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let reference: Self = serde_json::from_slice(&bytes)?;
        reference.check(data_sha256)?;
        Ok(reference)
    }
}

/// The last [`WINDOW`] wines, counted per feature and bin.
#[derive(Debug, Clone)]
pub struct DriftWindow {
    reference: DriftReference,
    capacity: usize,
    min_rows: usize,
    /// Each wine in the window as its bin per feature, oldest first.
    rows: VecDeque<[u8; FEATURES.len()]>,
    /// `counts[feature][bin]`: wines of the window in that bin.
    counts: Vec<Vec<u32>>,
}

impl DriftWindow {
    /// A window of [`WINDOW`] wines computing PSI from [`MIN_WINDOW`] on.
    /// `reference` must have passed [`DriftReference::check`].
    pub fn new(reference: DriftReference) -> Self {
        Self::with_sizes(reference, WINDOW, MIN_WINDOW)
    }

    /// A window of `capacity` wines (at least 1) computing PSI from
    /// `min_rows` on.
    pub fn with_sizes(reference: DriftReference, capacity: usize, min_rows: usize) -> Self {
        let counts = reference
            .features
            .iter()
            .map(|f| vec![0; f.shares.len()])
            .collect();
        Self {
            reference,
            capacity: capacity.max(1),
            min_rows,
            rows: VecDeque::with_capacity(capacity),
            counts,
        }
    }

    /// Wines in the window now.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds one wine (its eleven features in [`FEATURES`] order), dropping
    /// the oldest when the window is full.
    pub fn push(&mut self, wine: &[f64; FEATURES.len()]) {
        if self.rows.len() == self.capacity
            && let Some(oldest) = self.rows.pop_front()
        {
            for (counts, &bin) in self.counts.iter_mut().zip(&oldest) {
                counts[usize::from(bin)] -= 1;
            }
        }
        let mut bins = [0_u8; FEATURES.len()];
        for (((slot, counts), feature), &value) in bins
            .iter_mut()
            .zip(self.counts.iter_mut())
            .zip(&self.reference.features)
            .zip(wine)
        {
            let bin = bin_of(&feature.edges, value);
            counts[bin] += 1;
            // A checked reference has at most MAX_BINS (100) bins.
            *slot = u8::try_from(bin).unwrap_or(u8::MAX);
        }
        self.rows.push_back(bins);
    }

    /// PSI per feature in [`FEATURES`] order, or `None` while the window
    /// holds fewer than its minimum.
    pub fn psi(&self) -> Option<[f64; FEATURES.len()]> {
        if self.rows.len() < self.min_rows.max(1) {
            return None;
        }
        let mut out = [0.0; FEATURES.len()];
        for ((slot, counts), feature) in out
            .iter_mut()
            .zip(&self.counts)
            .zip(&self.reference.features)
        {
            *slot = psi(&feature.shares, &shares(counts));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn reference() -> &'static DriftReference {
        static REFERENCE: OnceLock<DriftReference> = OnceLock::new();
        REFERENCE.get_or_init(DriftReference::from_training_data)
    }

    fn training_rows() -> Vec<[f64; 11]> {
        let dataset = linfa_datasets::winequality();
        dataset
            .records()
            .rows()
            .into_iter()
            .map(|row| {
                let mut wine = [0.0; 11];
                wine.iter_mut().zip(row.iter()).for_each(|(w, r)| *w = *r);
                wine
            })
            .collect()
    }

    /// A small deterministic generator (xorshift), for shuffles in tests.
    fn shuffled<T: Clone>(items: &[T], mut seed: u64) -> Vec<T> {
        let mut out = items.to_vec();
        for i in (1..out.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = usize::try_from(seed % (i as u64 + 1)).expect("small");
            out.swap(i, j);
        }
        out
    }

    #[test]
    fn psi_of_identical_shares_is_zero() {
        let shares = [0.1; 10];
        assert_eq!(psi(&shares, &shares), 0.0);
    }

    #[test]
    fn psi_matches_a_hand_computed_value() {
        // (0.3 - 0.5) ln(0.3/0.5) + (0.7 - 0.5) ln(0.7/0.5)
        let expected = -0.2 * (0.6_f64).ln() + 0.2 * (1.4_f64).ln();
        let got = psi(&[0.5, 0.5], &[0.3, 0.7]);
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        assert!((got - 0.1694).abs() < 1e-4, "{got}");
    }

    #[test]
    fn psi_is_symmetric_and_positive() {
        let (a, b) = ([0.2, 0.3, 0.5], [0.4, 0.4, 0.2]);
        assert!(psi(&a, &b) > 0.0);
        assert!((psi(&a, &b) - psi(&b, &a)).abs() < 1e-12);
    }

    #[test]
    fn an_empty_bin_counts_through_epsilon() {
        // Every wine in the last bin: the nine empty bins each give
        // (EPSILON - 0.1) ln(EPSILON / 0.1), finite.
        let expected = [0.1; 10];
        let mut actual = [0.0; 10];
        actual[9] = 1.0;
        let got = psi(&expected, &actual);
        let by_hand = 9.0 * (EPSILON - 0.1) * (EPSILON / 0.1).ln() + 0.9 * 10.0_f64.ln();
        assert!(got.is_finite());
        assert!((got - by_hand).abs() < 1e-9, "{got} vs {by_hand}");
    }

    #[test]
    fn deciles_of_distinct_values_make_ten_even_bins() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let edges = decile_edges(&values);
        assert_eq!(
            edges,
            [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
        );
        let reference = FeatureReference::from_values("x", &values);
        assert_eq!(reference.shares, vec![0.1; 10]);
        assert_eq!(bin_of(&edges, 10.0), 0, "edges are upper bounds, inclusive");
        assert_eq!(bin_of(&edges, 10.5), 1);
        assert_eq!(bin_of(&edges, -1e9), 0);
        assert_eq!(bin_of(&edges, 1e9), 9);
    }

    #[test]
    fn ties_merge_bins_and_no_bin_is_empty() {
        // 60 % zeros, then 1..=40: the first six deciles are all 0.
        let mut values = vec![0.0; 60];
        values.extend((1..=40).map(f64::from));
        let reference = FeatureReference::from_values("citric_acid", &values);
        assert_eq!(reference.edges, [0.0, 10.0, 20.0, 30.0]);
        assert_eq!(reference.shares, [0.6, 0.1, 0.1, 0.1, 0.1]);
        // A constant feature has one bin holding everything.
        let constant = FeatureReference::from_values("k", &[3.0; 10]);
        assert!(constant.edges.is_empty());
        assert_eq!(constant.shares, [1.0]);
        // The top value repeated: no edge at it, so the last bin is not empty.
        let mut top_heavy: Vec<f64> = (1..=70).map(f64::from).collect();
        top_heavy.extend([100.0; 30]);
        let reference = FeatureReference::from_values("t", &top_heavy);
        assert!(reference.edges.iter().all(|&e| e < 100.0));
        assert!(reference.shares.iter().all(|&s| s > 0.0));
    }

    #[test]
    fn the_training_reference_is_valid_and_round_trips() {
        let reference = reference();
        assert_eq!(reference.rows, 1599);
        assert_eq!(reference.features.len(), 11);
        reference
            .check(&reference.data_sha256)
            .expect("a valid reference");
        for feature in &reference.features {
            assert!(feature.shares.len() >= 5, "{feature:?}");
        }
        let path = std::env::temp_dir()
            .join(format!("wine-drift-test-{}", std::process::id()))
            .join(REFERENCE_FILE_NAME);
        reference.save(&path).expect("saved");
        let loaded = DriftReference::load(&path, &reference.data_sha256);
        let _ = std::fs::remove_dir_all(path.parent().expect("a parent"));
        assert_eq!(&loaded.expect("loaded"), reference);
    }

    #[test]
    fn a_reference_for_other_data_or_damaged_is_refused() {
        let good = reference();
        assert!(matches!(
            good.check(&"0".repeat(64)),
            Err(DriftError::Invalid(_))
        ));
        let mut bad = good.clone();
        bad.features[3].shares[0] += 0.5;
        assert!(matches!(
            bad.check(&good.data_sha256),
            Err(DriftError::Invalid(_))
        ));
        let mut bad = good.clone();
        bad.features.swap(0, 1);
        assert!(bad.check(&good.data_sha256).is_err());
        let mut bad = good.clone();
        bad.features[0].edges.reverse();
        assert!(bad.check(&good.data_sha256).is_err());
        let mut bad = good.clone();
        bad.features[0].shares.pop();
        assert!(bad.check(&good.data_sha256).is_err());
        let err = DriftReference::load(Path::new("/nonexistent/ref.json"), "x");
        assert!(matches!(err, Err(DriftError::Read { .. })));
    }

    #[test]
    fn the_window_reports_nothing_below_its_minimum() {
        let mut window = DriftWindow::with_sizes(reference().clone(), 10, 4);
        let rows = training_rows();
        for wine in &rows[..3] {
            window.push(wine);
            assert_eq!(window.psi(), None);
        }
        window.push(&rows[3]);
        assert!(window.psi().is_some());
    }

    #[test]
    fn the_window_forgets_its_oldest_wines() {
        let rows = training_rows();
        let mut window = DriftWindow::with_sizes(reference().clone(), 50, 50);
        // Fill with shifted wines, then push 50 training wines: the window
        // must equal a fresh window of just those 50.
        for wine in &rows[..50] {
            let mut shifted = *wine;
            shifted[10] += 3.0;
            window.push(&shifted);
        }
        for wine in &rows[100..150] {
            window.push(wine);
        }
        assert_eq!(window.len(), 50);
        let mut fresh = DriftWindow::with_sizes(reference().clone(), 50, 50);
        rows[100..150].iter().for_each(|wine| fresh.push(wine));
        assert_eq!(window.psi(), fresh.psi());
        assert_eq!(window.counts, fresh.counts);
    }

    #[test]
    fn the_whole_training_set_has_no_drift() {
        let mut window = DriftWindow::with_sizes(reference().clone(), 1599, 1);
        training_rows().iter().for_each(|wine| window.push(wine));
        let psi = window.psi().expect("computed");
        assert!(psi.iter().all(|&p| p.abs() < 1e-12), "{psi:?}");
    }

    #[test]
    fn a_sample_of_training_wines_stays_below_0_1() {
        let rows = training_rows();
        for seed in 1..=20 {
            let mut window = DriftWindow::new(reference().clone());
            shuffled(&rows, seed)
                .iter()
                .take(WINDOW)
                .for_each(|wine| window.push(wine));
            let worst = window.psi().expect("full").into_iter().fold(0.0, f64::max);
            assert!(worst < 0.1, "seed {seed}: max PSI {worst}");
        }
    }

    #[test]
    fn more_alcohol_is_drift_on_alcohol_only() {
        let rows = training_rows();
        let mut window = DriftWindow::new(reference().clone());
        for wine in shuffled(&rows, 7).iter().take(WINDOW) {
            let mut shifted = *wine;
            shifted[10] += 3.0;
            window.push(&shifted);
        }
        let psi = window.psi().expect("full");
        assert!(psi[10] > 0.25, "alcohol PSI {}", psi[10]);
        assert!(psi[..10].iter().all(|&p| p < 0.1), "{psi:?}");
    }
}
