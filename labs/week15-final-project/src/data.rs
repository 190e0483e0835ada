//! Wines from CSV files: the eleven features in a fixed order, then the true
//! quality (the raw data, the prepared splits), or not (what `predict` is
//! given).

/// The feature columns, in the order the model expects them.
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

/// The label column, after the features.
pub const QUALITY: &str = "quality";

/// Whether a file must have the `quality` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// Training and test data: the header ends with `quality`.
    Required,
    /// Wines to predict: a `quality` column after the features is allowed,
    /// and ignored.
    Ignored,
}

/// Why a CSV file was refused. Lines count from 1, header included, as an
/// editor shows them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    #[error("the file is empty; expected a header line")]
    Empty,
    #[error("line 1: expected the header {expected}, found `{found}`")]
    Header { expected: String, found: String },
    #[error("line {line}: expected {expected} values, found {found}")]
    Width {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("line {line}, column `{column}`: {value:?} is not a finite number")]
    Number {
        line: usize,
        column: &'static str,
        value: String,
    },
    #[error("line {line}, column `quality`: {value:?} is not a quality from 0 to 10")]
    Quality { line: usize, value: String },
    #[error("the file has a header but no rows")]
    NoRows,
}

/// Wines read from a file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wines {
    pub features: Vec<[f64; 11]>,
    /// One per wine when the file has the `quality` column, else empty.
    pub qualities: Vec<usize>,
    /// Each wine's line as the file has it (without its line ending): what
    /// `prepare` copies into the splits, so they hold the raw data's very
    /// bytes instead of numbers printed again.
    pub lines: Vec<String>,
}

impl Wines {
    /// The wines at `rows` (indices into this file's rows), in that order.
    pub fn select(&self, rows: &[usize]) -> Wines {
        Wines {
            features: rows.iter().map(|&i| self.features[i]).collect(),
            qualities: if self.qualities.is_empty() {
                Vec::new()
            } else {
                rows.iter().map(|&i| self.qualities[i]).collect()
            },
            lines: rows.iter().map(|&i| self.lines[i].clone()).collect(),
        }
    }

    /// The file's text: the header (with `quality` when the wines have it),
    /// then one line per wine, each ending in `\n`.
    pub fn to_csv(&self) -> String {
        let mut text = header(!self.qualities.is_empty());
        text.push('\n');
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// The header line, without its line ending.
pub fn header(labelled: bool) -> String {
    let mut h = FEATURES.join(",");
    if labelled {
        h.push(',');
        h.push_str(QUALITY);
    }
    h
}

/// Parses a CSV of wines: a header naming [`FEATURES`] in order, then
/// `quality` (required or ignored, see [`Labels`]), one row per wine. No
/// quoting: the format has none. Blank lines are skipped.
pub fn parse_csv(text: &str, labels: Labels) -> Result<Wines, DataError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (_, head) = lines.next().ok_or(DataError::Empty)?;
    let found: Vec<&str> = head.split(',').map(str::trim).collect();
    let labelled = found.len() == FEATURES.len() + 1;
    let header_ok = found[..found.len().min(FEATURES.len())] == FEATURES
        && match (labels, labelled) {
            (Labels::Required, true) | (Labels::Ignored, true) => found[11] == QUALITY,
            (Labels::Ignored, false) => found.len() == FEATURES.len(),
            (Labels::Required, false) => false,
        };
    if !header_ok {
        let expected = match labels {
            Labels::Required => format!("`{}`", header(true)),
            Labels::Ignored => format!("`{}` (and optionally `,{QUALITY}`)", header(false)),
        };
        return Err(DataError::Header {
            expected,
            found: head.trim().to_owned(),
        });
    }
    let width = found.len();
    let mut wines = Wines::default();
    for (line, content) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let values: Vec<&str> = content.split(',').map(str::trim).collect();
        if values.len() != width {
            return Err(DataError::Width {
                line,
                expected: width,
                found: values.len(),
            });
        }
        let mut row = [0.0; 11];
        for ((slot, raw), column) in row.iter_mut().zip(&values).zip(FEATURES) {
            *slot = raw
                .parse::<f64>()
                .ok()
                // "NaN" and "inf" parse as f64; they are not measurements.
                .filter(|v| v.is_finite())
                .ok_or_else(|| DataError::Number {
                    line,
                    column,
                    value: (*raw).to_owned(),
                })?;
        }
        if labels == Labels::Required {
            let raw = values[11];
            let quality = raw
                .parse::<usize>()
                .ok()
                .filter(|q| *q <= 10)
                .ok_or_else(|| DataError::Quality {
                    line,
                    value: raw.to_owned(),
                })?;
            wines.qualities.push(quality);
        }
        wines.features.push(row);
        wines.lines.push(content.trim().to_owned());
    }
    if wines.features.is_empty() {
        return Err(DataError::NoRows);
    }
    Ok(wines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "7.4,0.7,0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4";

    #[test]
    fn labelled_and_unlabelled_files_parse() {
        let w = parse_csv(
            &format!("{}\n{ROW},5\n\n{ROW},6\n", header(true)),
            Labels::Required,
        )
        .expect("ok");
        assert_eq!(w.qualities, vec![5, 6]);
        assert_eq!(w.features[0][10], 9.4);
        assert_eq!(w.lines[1], format!("{ROW},6"));
        let w = parse_csv(&format!("{}\n{ROW}\n", header(false)), Labels::Ignored).expect("ok");
        assert_eq!((w.features.len(), w.qualities.len()), (1, 0));
        // A quality column is ignored when predicting, even a bad one.
        let w = parse_csv(&format!("{}\n{ROW},?\n", header(true)), Labels::Ignored).expect("ok");
        assert!(w.qualities.is_empty());
    }

    #[test]
    fn select_and_to_csv_keep_the_raw_lines() {
        let text = format!(
            "{}\r\n{ROW},5\r\n{},7\r\n",
            header(true),
            ROW.replace("9.4", "12.5")
        );
        let w = parse_csv(&text, Labels::Required).expect("ok");
        let picked = w.select(&[1]);
        assert_eq!(picked.qualities, vec![7]);
        assert_eq!(
            picked.to_csv(),
            format!("{}\n{},7\n", header(true), ROW.replace("9.4", "12.5"))
        );
    }

    #[test]
    fn each_problem_names_its_line_and_column() {
        let bad = format!(
            "{}\n{ROW},5\n{},5\n",
            header(true),
            ROW.replace("3.51", "seven")
        );
        assert_eq!(
            parse_csv(&bad, Labels::Required)
                .expect_err("bad number")
                .to_string(),
            "line 3, column `ph`: \"seven\" is not a finite number"
        );
        let nan = format!("{}\n{}\n", header(false), ROW.replace("9.4", "NaN"));
        assert!(matches!(
            parse_csv(&nan, Labels::Ignored),
            Err(DataError::Number {
                line: 2,
                column: "alcohol",
                ..
            })
        ));
        assert!(matches!(
            parse_csv(&format!("{}\n7.4,0.7\n", header(false)), Labels::Ignored),
            Err(DataError::Width {
                line: 2,
                found: 2,
                ..
            })
        ));
        assert!(matches!(
            parse_csv("", Labels::Ignored),
            Err(DataError::Empty)
        ));
        assert!(matches!(
            parse_csv("alcohol,ph\n", Labels::Ignored),
            Err(DataError::Header { .. })
        ));
        // Training data needs its labels.
        assert!(matches!(
            parse_csv(&format!("{}\n{ROW}\n", header(false)), Labels::Required),
            Err(DataError::Header { .. })
        ));
        assert!(matches!(
            parse_csv(&header(true), Labels::Required),
            Err(DataError::NoRows)
        ));
        assert!(matches!(
            parse_csv(
                &format!("{}\n{ROW},eleven\n", header(true)),
                Labels::Required
            ),
            Err(DataError::Quality { line: 2, .. })
        ));
    }

    #[test]
    fn the_raw_data_reads_whole() {
        let wines = parse_csv(
            include_str!("../data/raw/winequality-red.csv"),
            Labels::Required,
        )
        .expect("the raw data");
        assert_eq!(wines.features.len(), 1599);
        assert_eq!(wines.qualities.iter().min(), Some(&3));
        assert_eq!(wines.qualities.iter().max(), Some(&8));
    }
}
