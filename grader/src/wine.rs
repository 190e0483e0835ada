//! The wine data set, as the grader uses it to make requests: the red-wine rows
//! that `linfa-datasets` ships, in the contract's field names and order.

use rand::SeedableRng;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// The contract's field names, in the data set's column order.
pub const FEATURES: [&str; 11] = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "ph",
    "sulphates",
    "alcohol",
];

pub struct Wines {
    pub features: Vec<[f64; 11]>,
    pub quality: Vec<usize>,
}

/// The data set, loaded once.
pub fn wines() -> &'static Wines {
    static WINES: OnceLock<Wines> = OnceLock::new();
    WINES.get_or_init(|| {
        let data = linfa_datasets::winequality();
        let features = data
            .records()
            .rows()
            .into_iter()
            .map(|r| std::array::from_fn(|i| r[i]))
            .collect();
        let quality = data.targets().iter().copied().collect();
        Wines { features, quality }
    })
}

/// One wine as a JSON object of the contract.
pub fn wine_json(row: &[f64; 11]) -> Value {
    let obj: Map<String, Value> = FEATURES
        .iter()
        .zip(row)
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Value::Object(obj)
}

/// `{"inputs": [...]}` with the given rows, in order.
pub fn body_for(rows: &[usize]) -> Value {
    let w = wines();
    let inputs: Vec<Value> = rows
        .iter()
        .map(|&i| wine_json(&w.features[i % w.features.len()]))
        .collect();
    json!({ "inputs": inputs })
}

/// The first `n` rows (cycling if `n` exceeds the data set).
pub fn first(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// `n` distinct rows drawn with a fixed seed: the same rows on every run.
pub fn sample(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let total = wines().features.len();
    rand::seq::index::sample(&mut rng, total, n.min(total)).into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_set_is_the_red_wine_one_and_samples_are_stable() {
        let w = wines();
        assert_eq!(w.features.len(), 1599);
        assert_eq!(
            w.features[0][10], 9.4,
            "row 0 is the contract's example wine"
        );
        assert_eq!(sample(5, 8), sample(5, 8));
        assert_ne!(sample(5, 8), sample(5, 9));
        let body = body_for(&[0]);
        assert_eq!(body["inputs"][0]["ph"], json!(3.51));
    }
}
