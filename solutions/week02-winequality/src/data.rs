//! Wines from CSV files: the eleven features in a fixed order, and for
//! `evaluate` the true quality after them.

use tracing::debug;

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

/// Why a CSV file was refused. Lines count from 1, header included, as an
/// editor shows them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    #[error("the file is empty; expected a header line")]
    Empty,
    #[error("line 1: expected the header `{expected}`, found `{found}`")]
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

/// Wines read from a file: features, and qualities when the file has them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wines {
    pub features: Vec<[f64; 11]>,
    pub qualities: Vec<usize>,
}

/// Parses a CSV of wines: a header naming [`FEATURES`] in order (then
/// `quality` when `labelled`), one row per wine. No quoting: the format has
/// none. Blank lines are skipped.
pub fn parse_csv(text: &str, labelled: bool) -> Result<Wines, DataError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (_, header) = lines.next().ok_or(DataError::Empty)?;
    let mut columns: Vec<&str> = FEATURES.to_vec();
    if labelled {
        columns.push("quality");
    }
    let expected = columns.join(",");
    let found: Vec<&str> = header.split(',').map(str::trim).collect();
    if found != columns {
        return Err(DataError::Header {
            expected,
            found: header.trim().to_owned(),
        });
    }
    let mut wines = Wines::default();
    for (line, content) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let values: Vec<&str> = content.split(',').map(str::trim).collect();
        if values.len() != columns.len() {
            return Err(DataError::Width {
                line,
                expected: columns.len(),
                found: values.len(),
            });
        }
        let mut row = [0.0; 11];
        // lab:solution
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
        // lab:starter
        // for (slot, raw) in row.iter_mut().zip(&values) {
        //     // TODO(week 2): a value that is not a number panics here, and
        //     // "NaN" or "inf" slip through as numbers. Return
        //     // `DataError::Number` naming the line and the column instead
        //     // (zip in `FEATURES` for the column's name), and refuse values
        //     // that are not finite.
        //     *slot = raw.parse::<f64>().expect("a number");
        // }
        // lab:end
        wines.features.push(row);
        if labelled {
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
    }
    if wines.features.is_empty() {
        return Err(DataError::NoRows);
    }
    debug!(rows = wines.features.len(), "parsed CSV");
    Ok(wines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(labelled: bool) -> String {
        let mut h = FEATURES.join(",");
        if labelled {
            h.push_str(",quality");
        }
        h
    }

    const ROW: &str = "7.4,0.7,0.0,1.9,0.076,11.0,34.0,0.9978,3.51,0.56,9.4";

    #[test]
    fn good_files_parse() {
        let w = parse_csv(&format!("{}\n{ROW}\n\n{ROW}\n", header(false)), false).expect("ok");
        assert_eq!(w.features.len(), 2);
        assert_eq!(w.features[0][10], 9.4);
        let w = parse_csv(&format!("{}\n{ROW},5\n", header(true)), true).expect("ok");
        assert_eq!(w.qualities, vec![5]);
    }

    #[test]
    fn each_problem_names_its_line_and_column() {
        // lab:solution
        let bad = format!(
            "{}\n{ROW}\n{}\n",
            header(false),
            ROW.replace("3.51", "seven")
        );
        assert_eq!(
            parse_csv(&bad, false).expect_err("bad number").to_string(),
            "line 3, column `ph`: \"seven\" is not a finite number"
        );
        let nan = format!("{}\n{}\n", header(false), ROW.replace("9.4", "NaN"));
        assert!(matches!(
            parse_csv(&nan, false),
            Err(DataError::Number {
                line: 2,
                column: "alcohol",
                ..
            })
        ));
        // lab:starter
        // // TODO(week 2): a bad number and a NaN each give `DataError::Number`.
        // lab:end
        let short = format!("{}\n7.4,0.7\n", header(false));
        assert!(matches!(
            parse_csv(&short, false),
            Err(DataError::Width {
                line: 2,
                found: 2,
                ..
            })
        ));
        assert!(matches!(parse_csv("", false), Err(DataError::Empty)));
        assert!(matches!(
            parse_csv("alcohol,ph\n", false),
            Err(DataError::Header { .. })
        ));
        assert!(matches!(
            parse_csv(&header(false), false),
            Err(DataError::NoRows)
        ));
        let q = format!("{}\n{ROW},eleven\n", header(true));
        assert!(matches!(
            parse_csv(&q, true),
            Err(DataError::Quality { line: 2, .. })
        ));
    }
    // lab:solution

    /// The README's examples: two good files and a bad one.
    #[test]
    fn the_example_files_read_as_the_readme_says() {
        let wines = parse_csv(include_str!("../examples/wines.csv"), false).expect("wines.csv");
        assert_eq!(wines.features.len(), 3);
        let labelled =
            parse_csv(include_str!("../examples/labelled.csv"), true).expect("labelled.csv");
        assert_eq!(labelled.qualities.len(), 4);
        let bad = parse_csv(include_str!("../examples/bad.csv"), false).expect_err("bad.csv");
        assert_eq!(
            bad.to_string(),
            "line 3, column `ph`: \"seven\" is not a finite number"
        );
    }
    // lab:end
}
