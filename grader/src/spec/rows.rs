//! Rows a lab's requests are made of: a CSV file that ships with the lab (its
//! `data/` folder), like its snapshots, never from the submission. A request
//! with `rows = N` sends the first N rows, each a JSON object of the columns
//! but the label, as `{"<list>": [...]}`; the `batch` and `accuracy` kinds
//! draw from the same rows, and `accuracy` compares answers with the label.

use rand::SeedableRng;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The `[rows]` table of `lab.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowsSpec {
    /// The CSV file, relative to the lab's folder (`data/...`).
    pub file: String,
    /// The column that answers should predict; never sent.
    pub label: String,
    /// The key of the request body's list of rows.
    #[serde(default = "default_list")]
    pub list: String,
    /// What messages call a row ("wines").
    #[serde(default = "default_noun")]
    pub noun: String,
}

fn default_list() -> String {
    "inputs".into()
}

fn default_noun() -> String {
    "rows".into()
}

/// The rows, read and checked once when the lab is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub spec: RowsSpec,
    /// Each row as the JSON object a request sends.
    objects: Vec<Value>,
    labels: Vec<Value>,
}

impl Rows {
    /// Reads CSV text with a header; every row must have every column, and the
    /// label column must exist. A cell that is a number is sent as one.
    pub fn parse(spec: &RowsSpec, csv_text: &str) -> Result<Rows, String> {
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{}: {e}", spec.file))?
            .iter()
            .map(str::to_string)
            .collect();
        let label = header
            .iter()
            .position(|h| *h == spec.label)
            .ok_or_else(|| format!("{}: no column \"{}\" (the label)", spec.file, spec.label))?;
        let (mut objects, mut labels) = (Vec::new(), Vec::new());
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("{}: row {}: {e}", spec.file, n + 1))?;
            let mut object = Map::new();
            for (i, cell) in record.iter().enumerate() {
                let value = match cell.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => json!(x),
                    _ => json!(cell),
                };
                if i == label {
                    labels.push(value);
                } else {
                    object.insert(header[i].clone(), value);
                }
            }
            objects.push(Value::Object(object));
        }
        if objects.is_empty() {
            return Err(format!("{}: no rows", spec.file));
        }
        Ok(Rows {
            spec: spec.clone(),
            objects,
            labels,
        })
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// `{"<list>": [...]}` with the given rows, in order (cycling past the end).
    pub fn body(&self, rows: &[usize]) -> Value {
        let list: Vec<Value> = rows
            .iter()
            .map(|&i| self.objects[i % self.len()].clone())
            .collect();
        json!({ self.spec.list.clone(): list })
    }

    /// The label of row `i`.
    pub fn label(&self, i: usize) -> &Value {
        &self.labels[i % self.len()]
    }

    /// `n` distinct rows drawn with a fixed seed: the same rows on every run.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<usize> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rand::seq::index::sample(&mut rng, self.len(), n.min(self.len())).into_vec()
    }
}

/// The first `n` rows.
pub fn first(n: usize) -> Vec<usize> {
    (0..n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RowsSpec {
        RowsSpec {
            file: "data/t.csv".into(),
            label: "y".into(),
            list: "inputs".into(),
            noun: "rows".into(),
        }
    }

    #[test]
    fn rows_become_objects_without_the_label() {
        let rows = Rows::parse(&spec(), "a,b,y\n1.5,x,5\n2,3,6\n").expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows.body(&[0, 2]),
            json!({"inputs": [{"a": 1.5, "b": "x"}, {"a": 1.5, "b": "x"}]})
        );
        assert_eq!(rows.label(1), &json!(6.0));
        assert_eq!(rows.sample(2, 8), rows.sample(2, 8));
    }

    #[test]
    fn a_bad_file_is_named_with_its_problem() {
        let no_label = Rows::parse(&spec(), "a,b\n1,2\n").expect_err("invalid");
        assert_eq!(no_label, "data/t.csv: no column \"y\" (the label)");
        let short = Rows::parse(&spec(), "a,y\n1\n").expect_err("invalid");
        assert!(short.starts_with("data/t.csv: row 1:"), "{short}");
        assert_eq!(
            Rows::parse(&spec(), "a,y\n").expect_err("invalid"),
            "data/t.csv: no rows"
        );
    }
}
