//! What a client sends and gets back, and how untrusted bytes become
//! measurements the model may see.
//!
//! The request types derive `Deserialize` with `deny_unknown_fields`, so serde
//! does the structural checking: a missing, unknown or mistyped field is an
//! error. `serde_path_to_error` runs that derived code and remembers where it
//! was when a check failed, so every error can name the field at fault, such
//! as `flowers[2].petal_width_cm`. Range checks come afterwards, on typed
//! values, because serde cannot express them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The model's four inputs, in the column order of the training data. The
/// tree only sees a row of numbers, so this order is part of its contract
/// (and recorded in the model artifact).
pub const FEATURES: [&str; 4] = [
    "sepal_length_cm",
    "sepal_width_cm",
    "petal_length_cm",
    "petal_width_cm",
];

// ANCHOR: measurements
/// One flower's measurements, in centimetres.
///
/// `deny_unknown_fields` turns a typo such as `petal_lenght_cm` into an error
/// instead of a silently missing value. The `schema` bounds document the
/// accepted range in the OpenAPI description; [`check_ranges`] enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "sepal_length_cm": 5.1, "sepal_width_cm": 3.5,
    "petal_length_cm": 1.4, "petal_width_cm": 0.2
}))]
pub struct Measurements {
    #[schema(exclusive_minimum = 0, maximum = 30)]
    pub sepal_length_cm: f64,
    #[schema(exclusive_minimum = 0, maximum = 30)]
    pub sepal_width_cm: f64,
    #[schema(exclusive_minimum = 0, maximum = 30)]
    pub petal_length_cm: f64,
    #[schema(exclusive_minimum = 0, maximum = 30)]
    pub petal_width_cm: f64,
}

impl Measurements {
    /// The flower as the model sees it: a row in [`FEATURES`] order.
    pub fn row(&self) -> [f64; 4] {
        [
            self.sepal_length_cm,
            self.sepal_width_cm,
            self.petal_length_cm,
            self.petal_width_cm,
        ]
    }
}
// ANCHOR_END: measurements

/// Body of `POST /classify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// The flowers to classify, 1 to 100 of them.
    #[schema(min_items = 1, max_items = 100)]
    pub flowers: Vec<Measurements>,
}

/// An iris species. The position in [`Species::ALL`] is the class number the
/// training data uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Species {
    Setosa,
    Versicolor,
    Virginica,
}

impl Species {
    pub const ALL: [Self; 3] = [Self::Setosa, Self::Versicolor, Self::Virginica];

    /// The species of a class number, if it is one.
    pub fn from_class(class: usize) -> Option<Self> {
        Self::ALL.get(class).copied()
    }
}

/// Answer of `POST /classify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClassifyResponse {
    /// One species per flower, in request order.
    pub species: Vec<Species>,
    /// Version of the model that answered, such as `tree-d3-0123456789ab`.
    pub model: String,
}

/// Why a request body was refused. `at` is the path of the field at fault,
/// such as `flowers[0].petal_length_cm`, when there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// The bytes are not one JSON document: the client's encoder is at fault.
    #[error("{detail}")]
    Malformed { detail: String, at: Option<String> },
    /// Well-formed JSON that is not an acceptable request.
    #[error("{detail}")]
    Invalid { detail: String, at: Option<String> },
}

impl InputError {
    fn malformed(detail: String, at: Option<String>) -> Self {
        Self::Malformed { detail, at }
    }

    fn invalid(detail: String, at: Option<String>) -> Self {
        Self::Invalid { detail, at }
    }

    /// Path of the field at fault, if there is one.
    pub fn at(&self) -> Option<&str> {
        match self {
            Self::Malformed { at, .. } | Self::Invalid { at, .. } => at.as_deref(),
        }
    }
}

type PathError = serde_path_to_error::Error<serde_json::Error>;

// ANCHOR: parse
/// Turns a request body into validated measurements, in request order.
///
/// `1e999` needs care. JSON cannot spell NaN or infinity, so an infinite
/// value can only arrive as a number too large for `f64`, and serde_json
/// refuses it while still *reading* the text: a syntax error, as if a bracket
/// were missing. Yet the document is well formed; the value is what is wrong.
/// serde_path_to_error knows where the reader was, so the overflow becomes an
/// invalid value at that field (422), not malformed JSON (400). serde_json has
/// no error code for it, only a message; a unit test pins that wording.
pub fn parse(body: &[u8]) -> Result<Vec<Measurements>, InputError> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let request: ClassifyRequest =
        serde_path_to_error::deserialize(&mut reader).map_err(|err| {
            let at = location(&err);
            let err = err.into_inner();
            match at {
                // A missing, unknown or mistyped field.
                _ if err.is_data() => InputError::invalid(err.to_string(), at),
                Some(field) if is_overflow(&err) => {
                    let detail = format!("`{field}` is too large for a 64-bit float");
                    InputError::invalid(detail, Some(field))
                }
                at => InputError::malformed(format!("malformed JSON: {err}"), at),
            }
        })?;
    // A body is one JSON value: `{...}}` is malformed too.
    reader
        .end()
        .map_err(|err| InputError::malformed(format!("malformed JSON: {err}"), None))?;
    check_count(request.flowers.len())?;
    for (index, flower) in request.flowers.iter().enumerate() {
        check_ranges(index, flower)?;
    }
    Ok(request.flowers)
}

fn is_overflow(err: &serde_json::Error) -> bool {
    err.is_syntax() && err.to_string().starts_with("number out of range")
}
// ANCHOR_END: parse

/// Where a parse error happened, as a path such as `flowers[0].sepal_width_cm`.
///
/// None at the root (`.`), past a key the reader never finished (`?`), or
/// when the body just stopped. serde reports a missing field at the object
/// that lacks it; the path then gets the field's name, taken from the message
/// (pinned by a unit test, like the overflow's).
fn location(err: &PathError) -> Option<String> {
    let path = err.path().to_string();
    let path = (path != "." && !path.contains('?') && !err.inner().is_eof()).then_some(path);
    let message = err.inner().to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (Some(path), Some(field)) => Some(format!("{path}.{field}")),
        (None, Some(field)) => Some(field.to_owned()),
        (path, None) => path,
    }
}

// ANCHOR: ranges
/// Most flowers one request may carry. With the body size limit, it bounds
/// the work a single request can cause.
pub const MAX_FLOWERS: usize = 100;

/// Longest measurement accepted, in centimetres. Iris flowers stay well under
/// it: the bound rejects what cannot be a flower (a sepal in millimetres, a
/// negative width), not an unusual one.
pub const MAX_CM: f64 = 30.0;

fn check_count(count: usize) -> Result<(), InputError> {
    if (1..=MAX_FLOWERS).contains(&count) {
        return Ok(());
    }
    let detail = format!("`flowers` must hold 1 to {MAX_FLOWERS} flowers, got {count}");
    Err(InputError::invalid(detail, Some("flowers".to_owned())))
}

/// Checks each measurement is a length a flower can have: finite, above 0
/// and at most [`MAX_CM`].
pub fn check_ranges(index: usize, flower: &Measurements) -> Result<(), InputError> {
    for (name, value) in FEATURES.into_iter().zip(flower.row()) {
        // NaN fails every comparison, but saying `is_finite` keeps the intent
        // plain (JSON cannot carry NaN; other callers of this function can).
        if value.is_finite() && value > 0.0 && value <= MAX_CM {
            continue;
        }
        let at = format!("flowers[{index}].{name}");
        let detail = format!("`{name}` must be above 0 and at most {MAX_CM} cm, got {value}");
        return Err(InputError::invalid(detail, Some(at)));
    }
    Ok(())
}
// ANCHOR_END: ranges

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn setosa() -> Value {
        json!({
            "sepal_length_cm": 5.1, "sepal_width_cm": 3.5,
            "petal_length_cm": 1.4, "petal_width_cm": 0.2
        })
    }

    fn parse_value(body: &Value) -> Result<Vec<Measurements>, InputError> {
        parse(body.to_string().as_bytes())
    }

    fn invalid_at(body: &Value) -> Option<String> {
        match parse_value(body) {
            Err(err @ InputError::Invalid { .. }) => err.at().map(str::to_owned),
            other => panic!("expected an invalid value, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_body_parses_in_order() {
        let mut second = setosa();
        second["petal_length_cm"] = json!(4.5);
        let flowers = parse_value(&json!({ "flowers": [setosa(), second] })).expect("valid");
        assert_eq!(flowers.len(), 2);
        assert_eq!(flowers[0].row(), [5.1, 3.5, 1.4, 0.2]);
        assert_eq!(flowers[1].petal_length_cm, 4.5);
    }

    #[test]
    fn serde_names_are_the_feature_names_in_order() {
        let value = serde_json::to_value(Measurements {
            sepal_length_cm: 1.0,
            sepal_width_cm: 2.0,
            petal_length_cm: 3.0,
            petal_width_cm: 4.0,
        })
        .expect("serializes");
        for (position, name) in FEATURES.into_iter().enumerate() {
            assert_eq!(value[name].as_f64(), Some(position as f64 + 1.0), "{name}");
        }
    }

    #[test]
    fn feature_order_matches_the_training_data() {
        // linfa names the columns "sepal length" and so on, in centimetres.
        let names: Vec<String> = linfa_datasets::iris()
            .feature_names()
            .iter()
            .map(|name| format!("{}_cm", name.replace(' ', "_")))
            .collect();
        assert_eq!(names, FEATURES);
    }

    #[test]
    fn species_follow_the_class_numbers() {
        assert_eq!(Species::from_class(0), Some(Species::Setosa));
        assert_eq!(Species::from_class(2), Some(Species::Virginica));
        assert_eq!(Species::from_class(3), None);
        assert_eq!(json!(Species::Versicolor), json!("versicolor"));
    }

    #[test]
    fn unknown_missing_and_mistyped_fields_are_named() {
        let mut extra = setosa();
        extra["colour"] = json!("blue");
        let at = invalid_at(&json!({ "flowers": [setosa(), extra] }));
        assert_eq!(at.as_deref(), Some("flowers[1].colour"));

        let mut short = setosa();
        short
            .as_object_mut()
            .expect("object")
            .remove("petal_width_cm");
        let at = invalid_at(&json!({ "flowers": [short] }));
        assert_eq!(at.as_deref(), Some("flowers[0].petal_width_cm"));

        let mut text = setosa();
        text["sepal_width_cm"] = json!("3.5");
        let at = invalid_at(&json!({ "flowers": [text] }));
        assert_eq!(at.as_deref(), Some("flowers[0].sepal_width_cm"));

        assert_eq!(invalid_at(&json!({})).as_deref(), Some("flowers"));
        assert_eq!(
            invalid_at(&json!({ "flowers": [], "limit": 3 })).as_deref(),
            Some("limit")
        );
    }

    #[test]
    fn an_overflowing_number_is_an_invalid_value_at_its_field() {
        let body = br#"{"flowers":[{"sepal_length_cm":5.1,"sepal_width_cm":-1e999}]}"#;
        let err = parse(body).expect_err("1e999 is refused");
        assert!(matches!(err, InputError::Invalid { .. }), "{err:?}");
        assert_eq!(err.at(), Some("flowers[0].sepal_width_cm"));
    }

    #[test]
    fn serde_json_wording_is_what_the_parser_relies_on() {
        // If serde_json rewords these, `is_overflow` and `location` must follow.
        let overflow = serde_json::from_str::<f64>("1e999").expect_err("overflows");
        assert!(overflow.is_syntax());
        assert!(overflow.to_string().starts_with("number out of range"));
        let missing = serde_json::from_str::<ClassifyRequest>("{}").expect_err("missing");
        assert!(
            missing.to_string().starts_with("missing field `flowers`"),
            "{missing}"
        );
    }

    #[test]
    fn malformed_bodies_are_malformed() {
        for body in [
            &b""[..],
            b"{",
            b"flowers",
            br#"{"flowers": []}}"#,
            br#"{"flowers": [{"petal_width_cm": 0.}]}"#,
        ] {
            let err = parse(body).expect_err("malformed");
            assert!(
                matches!(err, InputError::Malformed { .. }),
                "{}: {err:?}",
                String::from_utf8_lossy(body)
            );
        }
        // A body that stops early names no field; a bad number names its own.
        assert_eq!(parse(br#"{"flowers": [{"#).expect_err("eof").at(), None);
        let err = parse(br#"{"flowers": [{"petal_width_cm": 0.}]}"#).expect_err("bad");
        assert_eq!(err.at(), Some("flowers[0].petal_width_cm"));
    }

    #[test]
    fn the_batch_holds_one_to_a_hundred_flowers() {
        assert_eq!(
            invalid_at(&json!({ "flowers": [] })).as_deref(),
            Some("flowers")
        );
        let full = vec![setosa(); MAX_FLOWERS];
        assert_eq!(
            parse_value(&json!({ "flowers": full })).map(|f| f.len()),
            Ok(MAX_FLOWERS)
        );
        let over = vec![setosa(); MAX_FLOWERS + 1];
        assert_eq!(
            invalid_at(&json!({ "flowers": over })).as_deref(),
            Some("flowers")
        );
    }

    #[test]
    fn ranges_exclude_zero_and_include_thirty() {
        for name in FEATURES {
            for (value, ok) in [
                (0.0, false),
                (-0.1, false),
                (0.01, true),
                (30.0, true),
                (30.01, false),
            ] {
                let mut flower = setosa();
                flower[name] = json!(value);
                match (ok, parse_value(&json!({ "flowers": [flower] }))) {
                    (true, Ok(_)) => {}
                    (false, Err(err)) => {
                        assert_eq!(err.at(), Some(format!("flowers[0].{name}").as_str()));
                    }
                    (ok, result) => panic!("{name} = {value}: expected ok={ok}, got {result:?}"),
                }
            }
        }
    }

    #[test]
    fn non_finite_values_are_refused() {
        for value in [f64::NAN, f64::INFINITY] {
            let flower = Measurements {
                sepal_length_cm: 5.0,
                sepal_width_cm: 3.0,
                petal_length_cm: value,
                petal_width_cm: 1.0,
            };
            let err = check_ranges(4, &flower).expect_err("not finite");
            assert_eq!(err.at(), Some("flowers[4].petal_length_cm"));
        }
    }
}
