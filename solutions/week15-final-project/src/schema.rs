//! Request and response types, and the validation that turns untrusted JSON
//! into model inputs.
//!
//! Validation works on a parsed [`serde_json::Value`] rather than deriving
//! `Deserialize` for the request directly. That costs a few lines, but it lets
//! every error name the exact field at fault (`inputs[3].alcohol`) and say
//! what kind of mistake it is, which serde's derived errors do not do for
//! missing or unknown fields.
//!
//! The steps are public one by one (`parse_json`, `inputs_array`,
//! `check_batch_len`, `parse_input`, `check_ranges`) so that other code, such
//! as the grader's test fixtures, can reuse them; [`validate_request`] runs
//! them all in order.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Most inputs one request may carry. Bounds the work a single request can
/// cause, together with the body size limit.
pub const MAX_BATCH: usize = 1000;

/// Size limit for request bodies: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Name and accepted range of one input feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSpec {
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
}

const fn spec(name: &'static str, min: f64, max: f64) -> FeatureSpec {
    FeatureSpec { name, min, max }
}

// ANCHOR: features
/// The eleven features, in the column order of the training data. The model
/// only sees a row of numbers, so this order is part of the model's contract.
///
/// The ranges are generous physical bounds, not the range seen in training:
/// they reject values that cannot describe a wine (negative concentrations, a
/// pH of 20), not unusual wines.
pub const FEATURES: [FeatureSpec; 11] = [
    spec("fixed_acidity", 0.0, 100.0),
    spec("volatile_acidity", 0.0, 100.0),
    spec("citric_acid", 0.0, 100.0),
    spec("residual_sugar", 0.0, 100.0),
    spec("chlorides", 0.0, 100.0),
    spec("free_sulfur_dioxide", 0.0, 1000.0),
    spec("total_sulfur_dioxide", 0.0, 1000.0),
    spec("density", 0.0, 10.0),
    spec("ph", 0.0, 14.0),
    spec("sulphates", 0.0, 100.0),
    spec("alcohol", 0.0, 100.0),
];
// ANCHOR_END: features

/// One wine's physico-chemical measurements.
///
/// The `schema` bounds document the ranges for API users; [`FEATURES`] is
/// what validation enforces, and a test checks the two agree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0,
    "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0,
    "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51,
    "sulphates": 0.56, "alcohol": 9.4
}))]
pub struct WineFeatures {
    #[schema(minimum = 0, maximum = 100)]
    pub fixed_acidity: f64,
    #[schema(minimum = 0, maximum = 100)]
    pub volatile_acidity: f64,
    #[schema(minimum = 0, maximum = 100)]
    pub citric_acid: f64,
    #[schema(minimum = 0, maximum = 100)]
    pub residual_sugar: f64,
    #[schema(minimum = 0, maximum = 100)]
    pub chlorides: f64,
    #[schema(minimum = 0, maximum = 1000)]
    pub free_sulfur_dioxide: f64,
    #[schema(minimum = 0, maximum = 1000)]
    pub total_sulfur_dioxide: f64,
    #[schema(minimum = 0, maximum = 10)]
    pub density: f64,
    #[schema(minimum = 0, maximum = 14)]
    pub ph: f64,
    #[schema(minimum = 0, maximum = 100)]
    pub sulphates: f64,
    #[schema(minimum = 0, maximum = 100)]
    pub alcohol: f64,
}

impl WineFeatures {
    /// The features as a row in [`FEATURES`] order.
    pub fn to_array(&self) -> [f64; 11] {
        [
            self.fixed_acidity,
            self.volatile_acidity,
            self.citric_acid,
            self.residual_sugar,
            self.chlorides,
            self.free_sulfur_dioxide,
            self.total_sulfur_dioxide,
            self.density,
            self.ph,
            self.sulphates,
            self.alcohol,
        ]
    }

    /// Builds features from a row in [`FEATURES`] order.
    pub fn from_array(row: [f64; 11]) -> Self {
        let [
            fixed_acidity,
            volatile_acidity,
            citric_acid,
            residual_sugar,
            chlorides,
            free_sulfur_dioxide,
            total_sulfur_dioxide,
            density,
            ph,
            sulphates,
            alcohol,
        ] = row;
        Self {
            fixed_acidity,
            volatile_acidity,
            citric_acid,
            residual_sugar,
            chlorides,
            free_sulfur_dioxide,
            total_sulfur_dioxide,
            density,
            ph,
            sulphates,
            alcohol,
        }
    }
}

/// Body of `POST /predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// The wines to score, 1 to 1000 of them.
    #[schema(min_items = 1, max_items = 1000)]
    pub inputs: Vec<WineFeatures>,
}

/// Answer of `POST /predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PredictResponse {
    /// Predicted quality score (3 to 8) for each input, in input order.
    pub predictions: Vec<usize>,
    /// Version of the model that made the predictions.
    pub model_version: String,
}

/// Answer of `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: String,
}

/// Answer of `GET /version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionResponse {
    pub model_version: String,
    /// SHA-256 of the training data, as recorded in the model artifact.
    pub data_sha256: String,
    /// Source revision the binary was built from, or `unknown`.
    pub git_revision: String,
}

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a human.
    pub error: String,
    /// Path of the offending field, such as `inputs[0].alcohol`, if there is one.
    pub field: Option<String>,
}

/// What kind of mistake a request made. Lets callers map kinds to HTTP
/// statuses without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    MalformedJson,
    UnknownField,
    MissingField,
    WrongType,
    NotFinite,
    OutOfRange,
    BatchSize,
}

/// Why a request body was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub kind: ErrorKind,
    pub message: String,
    pub field: Option<String>,
}

impl ValidationError {
    fn new(kind: ErrorKind, message: String, field: Option<String>) -> Self {
        Self {
            kind,
            message,
            field,
        }
    }
}

/// Path of a feature inside the request, as reported in errors.
fn feature_path(index: usize, name: &str) -> String {
    format!("inputs[{index}].{name}")
}

/// A JSON type's name, for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a body as JSON.
///
/// The parser is wrapped in `serde_path_to_error` so that an error inside a
/// value still names that value. This matters for numbers such as `1e999`:
/// JSON has no NaN or infinity, so a non-finite value can only arrive as a
/// number too large for `f64`, which the parser itself rejects. Such errors
/// are reported as [`ErrorKind::NotFinite`], like a NaN would be.
pub fn parse_json(body: &[u8]) -> Result<Value, ValidationError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: Value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        json_error(err.inner(), &path)
    })?;
    // Reject trailing garbage such as `{...}}`: a body must be one JSON value.
    deserializer.end().map_err(|err| json_error(&err, "."))?;
    Ok(value)
}

/// Turns a parser error at `path` into a validation error.
fn json_error(err: &serde_json::Error, path: &str) -> ValidationError {
    // Name the field only where the path means something: not at the root
    // ("."), not past a key the parser never finished reading ("?"), and not
    // when the body just ended early.
    let field = (path != "." && !path.contains('?') && !err.is_eof()).then(|| path.to_owned());
    // serde_json gives no error code, only its message; a unit test pins
    // the wording this relies on.
    if err.is_syntax()
        && err.to_string().starts_with("number out of range")
        && let Some(field) = field
    {
        return ValidationError::new(
            ErrorKind::NotFinite,
            format!("`{field}` must be a finite number; this one overflows a 64-bit float"),
            Some(field),
        );
    }
    ValidationError::new(
        ErrorKind::MalformedJson,
        format!("malformed JSON: {err}"),
        field,
    )
}

/// Checks the request's top level: an object whose only key is `inputs`,
/// holding an array. Returns the array's items.
pub fn inputs_array(value: &Value) -> Result<&[Value], ValidationError> {
    let Value::Object(map) = value else {
        return Err(ValidationError::new(
            ErrorKind::WrongType,
            format!(
                "the request body must be a JSON object with an `inputs` array, got {}",
                type_name(value)
            ),
            None,
        ));
    };
    if let Some(key) = map.keys().find(|key| key.as_str() != "inputs") {
        return Err(ValidationError::new(
            ErrorKind::UnknownField,
            format!("unknown field `{key}`; the only field is `inputs`"),
            Some(key.clone()),
        ));
    }
    match map.get("inputs") {
        None => Err(ValidationError::new(
            ErrorKind::MissingField,
            "missing field `inputs`".to_owned(),
            Some("inputs".to_owned()),
        )),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(ValidationError::new(
            ErrorKind::WrongType,
            format!("`inputs` must be an array, got {}", type_name(other)),
            Some("inputs".to_owned()),
        )),
    }
}

/// Checks the batch holds between 1 and [`MAX_BATCH`] inputs.
pub fn check_batch_len(len: usize) -> Result<(), ValidationError> {
    if (1..=MAX_BATCH).contains(&len) {
        Ok(())
    } else {
        Err(ValidationError::new(
            ErrorKind::BatchSize,
            format!("`inputs` must hold between 1 and {MAX_BATCH} items, got {len}"),
            Some("inputs".to_owned()),
        ))
    }
}

/// Reads one input object: exactly the eleven features, each a JSON number.
/// Ranges are checked separately by [`check_ranges`].
pub fn parse_input(index: usize, item: &Value) -> Result<WineFeatures, ValidationError> {
    let Value::Object(map) = item else {
        return Err(ValidationError::new(
            ErrorKind::WrongType,
            format!("each input must be an object, got {}", type_name(item)),
            Some(format!("inputs[{index}]")),
        ));
    };
    check_no_unknown_fields(index, map)?;

    let mut row = [0.0; 11];
    for (slot, feature) in row.iter_mut().zip(FEATURES.iter()) {
        // Built only on the error paths: most requests are valid.
        let path = || feature_path(index, feature.name);
        match map.get(feature.name) {
            None => {
                return Err(ValidationError::new(
                    ErrorKind::MissingField,
                    format!("missing field `{}`", feature.name),
                    Some(path()),
                ));
            }
            // `as_f64` is `None` only for non-numbers here: serde_json's
            // default number type always converts.
            Some(value) => match value.as_f64() {
                Some(number) => *slot = number,
                None => {
                    return Err(ValidationError::new(
                        ErrorKind::WrongType,
                        format!(
                            "`{}` must be a number, got {}",
                            feature.name,
                            type_name(value)
                        ),
                        Some(path()),
                    ));
                }
            },
        }
    }
    Ok(WineFeatures::from_array(row))
}

fn check_no_unknown_fields(index: usize, map: &Map<String, Value>) -> Result<(), ValidationError> {
    let known = |key: &str| FEATURES.iter().any(|feature| feature.name == key);
    match map.keys().find(|key| !known(key)) {
        None => Ok(()),
        Some(key) => Err(ValidationError::new(
            ErrorKind::UnknownField,
            format!("unknown field `{key}`"),
            Some(feature_path(index, key)),
        )),
    }
}

// ANCHOR: check_ranges
/// Checks every feature is finite and inside its [`FEATURES`] range.
pub fn check_ranges(index: usize, features: &WineFeatures) -> Result<(), ValidationError> {
    for (value, feature) in features.to_array().into_iter().zip(FEATURES.iter()) {
        let path = || feature_path(index, feature.name);
        if !value.is_finite() {
            return Err(ValidationError::new(
                ErrorKind::NotFinite,
                format!("`{}` must be a finite number, got {value}", feature.name),
                Some(path()),
            ));
        }
        if !(feature.min..=feature.max).contains(&value) {
            return Err(ValidationError::new(
                ErrorKind::OutOfRange,
                format!(
                    "`{}` must be between {} and {}, got {value}",
                    feature.name, feature.min, feature.max
                ),
                Some(path()),
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: check_ranges

// ANCHOR: validate
/// Runs every check on a parsed request body and returns the inputs in order.
/// Stops at the first error, so a response names one problem at a time.
pub fn validate_request(value: &Value) -> Result<Vec<WineFeatures>, ValidationError> {
    let items = inputs_array(value)?;
    // The size check comes first: it is cheap and bounds the work below.
    check_batch_len(items.len())?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let features = parse_input(index, item)?;
            check_ranges(index, &features)?;
            Ok(features)
        })
        .collect()
}

/// [`parse_json`] followed by [`validate_request`].
pub fn parse_request(body: &[u8]) -> Result<Vec<WineFeatures>, ValidationError> {
    validate_request(&parse_json(body)?)
}
// ANCHOR_END: validate

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid_input() -> Value {
        json!({
            "fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0,
            "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0,
            "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51,
            "sulphates": 0.56, "alcohol": 9.4
        })
    }

    fn request_with(input: Value) -> Value {
        json!({ "inputs": [valid_input(), input] })
    }

    fn error_of(body: &Value) -> ValidationError {
        match validate_request(body) {
            Ok(inputs) => panic!("expected an error, got {inputs:?}"),
            Err(err) => err,
        }
    }

    fn field_of(err: &ValidationError) -> Option<&str> {
        err.field.as_deref()
    }

    #[test]
    fn accepts_a_valid_batch_in_order() {
        let mut second = valid_input();
        second["alcohol"] = json!(12);
        let inputs = validate_request(&request_with(second)).expect("valid request");
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].alcohol, 9.4);
        assert_eq!(inputs[1].alcohol, 12.0);
        assert_eq!(inputs[0].fixed_acidity, 7.4);
        assert_eq!(inputs[0].density, 0.9978);
    }

    #[test]
    fn array_round_trip_keeps_feature_order() {
        let row = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0];
        let features = WineFeatures::from_array(row);
        assert_eq!(features.fixed_acidity, 1.0);
        assert_eq!(features.alcohol, 11.0);
        assert_eq!(features.to_array(), row);
    }

    #[test]
    fn serde_field_names_match_the_feature_table() {
        let value = serde_json::to_value(WineFeatures::from_array([0.0; 11])).expect("serialize");
        let Value::Object(map) = value else {
            panic!("features serialize to an object");
        };
        let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        expected.sort_unstable();
        assert_eq!(names, expected);
    }

    #[test]
    fn missing_feature_names_the_field() {
        let mut input = valid_input();
        input.as_object_mut().expect("object").remove("alcohol");
        let err = error_of(&request_with(input));
        assert_eq!(err.kind, ErrorKind::MissingField);
        assert_eq!(field_of(&err), Some("inputs[1].alcohol"));
    }

    #[test]
    fn unknown_feature_names_the_field() {
        let mut input = valid_input();
        input["colour"] = json!("red");
        let err = error_of(&request_with(input));
        assert_eq!(err.kind, ErrorKind::UnknownField);
        assert_eq!(field_of(&err), Some("inputs[1].colour"));
    }

    #[test]
    fn unknown_top_level_field_is_rejected() {
        let err = error_of(&json!({ "inputs": [valid_input()], "model": "x" }));
        assert_eq!(err.kind, ErrorKind::UnknownField);
        assert_eq!(field_of(&err), Some("model"));
    }

    #[test]
    fn wrong_types_are_rejected() {
        for bad in [
            json!("9.4"),
            json!(null),
            json!(true),
            json!([9.4]),
            json!({}),
        ] {
            let mut input = valid_input();
            input["ph"] = bad.clone();
            let err = error_of(&request_with(input));
            assert_eq!(err.kind, ErrorKind::WrongType, "{bad}");
            assert_eq!(field_of(&err), Some("inputs[1].ph"), "{bad}");
        }
    }

    #[test]
    fn non_object_input_and_non_array_inputs_are_wrong_types() {
        let err = error_of(&json!({ "inputs": [valid_input(), 3] }));
        assert_eq!(
            (err.kind, field_of(&err)),
            (ErrorKind::WrongType, Some("inputs[1]"))
        );

        let err = error_of(&json!({ "inputs": valid_input() }));
        assert_eq!(
            (err.kind, field_of(&err)),
            (ErrorKind::WrongType, Some("inputs"))
        );

        let err = error_of(&json!([valid_input()]));
        assert_eq!((err.kind, field_of(&err)), (ErrorKind::WrongType, None));
    }

    #[test]
    fn missing_inputs_is_rejected() {
        let err = error_of(&json!({}));
        assert_eq!(
            (err.kind, field_of(&err)),
            (ErrorKind::MissingField, Some("inputs"))
        );
    }

    #[test]
    fn ranges_are_inclusive_and_enforced() {
        for feature in FEATURES {
            for (value, ok) in [
                (feature.min, true),
                (feature.max, true),
                (feature.min - 0.001, false),
                (feature.max + 0.001, false),
            ] {
                let mut input = valid_input();
                input[feature.name] = json!(value);
                let result = validate_request(&request_with(input));
                match (ok, result) {
                    (true, Ok(_)) => {}
                    (false, Err(err)) => {
                        assert_eq!(err.kind, ErrorKind::OutOfRange);
                        let expected = format!("inputs[1].{}", feature.name);
                        assert_eq!(field_of(&err), Some(expected.as_str()));
                    }
                    (ok, result) => panic!(
                        "{} = {value}: expected ok={ok}, got {result:?}",
                        feature.name
                    ),
                }
            }
        }
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let mut features = WineFeatures::from_array([1.0; 11]);
        features.density = f64::NAN;
        let err = check_ranges(0, &features).expect_err("NaN is rejected");
        assert_eq!(
            (err.kind, field_of(&err)),
            (ErrorKind::NotFinite, Some("inputs[0].density"))
        );

        features.density = f64::INFINITY;
        let err = check_ranges(0, &features).expect_err("infinity is rejected");
        assert_eq!(err.kind, ErrorKind::NotFinite);
    }

    #[test]
    fn overflowing_number_names_the_field() {
        // JSON cannot spell NaN or infinity; 1e999 is how an infinite value arrives.
        let body = br#"{"inputs":[{"fixed_acidity":7.4,"alcohol":1e999}]}"#;
        let err = parse_request(body).expect_err("1e999 is rejected");
        assert_eq!(err.kind, ErrorKind::NotFinite);
        assert_eq!(field_of(&err), Some("inputs[0].alcohol"));
    }

    #[test]
    fn batch_size_is_bounded() {
        let err = error_of(&json!({ "inputs": [] }));
        assert_eq!(
            (err.kind, field_of(&err)),
            (ErrorKind::BatchSize, Some("inputs"))
        );

        let full: Vec<Value> = (0..MAX_BATCH).map(|_| valid_input()).collect();
        assert_eq!(
            validate_request(&json!({ "inputs": full })).map(|v| v.len()),
            Ok(MAX_BATCH)
        );

        let over: Vec<Value> = (0..=MAX_BATCH).map(|_| valid_input()).collect();
        let err = error_of(&json!({ "inputs": over }));
        assert_eq!(
            (err.kind, field_of(&err)),
            (ErrorKind::BatchSize, Some("inputs"))
        );
    }

    #[test]
    fn malformed_json_is_rejected() {
        for body in [
            &b"{"[..],
            b"",
            b"not json",
            b"{\"inputs\":[]}}",
            b"{\"inputs\": NaN}",
        ] {
            let err = parse_json(body).expect_err("malformed");
            assert_eq!(
                err.kind,
                ErrorKind::MalformedJson,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // A truncated document names no field.
        assert_eq!(parse_json(b"").expect_err("empty").field, None);
        let truncated = br#"{"inputs": [{"alcohol": 9.4,"#;
        assert_eq!(parse_json(truncated).expect_err("truncated").field, None);
        // A syntax error inside a value names that value.
        let bad_value = br#"{"inputs": [{"alcohol": 9.}]}"#;
        let err = parse_json(bad_value).expect_err("bad value");
        assert_eq!(err.field.as_deref(), Some("inputs[0].alcohol"));
    }
}
