//! Request and response types.
//!
//! TODO(week 8): validation. Right now `POST /predict` deserializes the body
//! with plain serde, which accepts unknown fields, out-of-range values and
//! batches of any size, and answers mistakes with axum's plain-text errors.
//! The contract (see README.md) wants every bad input answered with
//! 422 and `{"error": "...", "field": "inputs[0].alcohol"}`.
//! Write that validation here, with unit tests, and use it from `api.rs`.

use serde::{Deserialize, Serialize};

/// Most inputs one request may carry.
/// TODO(week 8): reject empty batches and batches larger than this (field `inputs`).
pub const MAX_BATCH: usize = 1000;

/// Largest request body to accept: 1 MiB.
/// TODO(week 8): enforce it in the router and answer 413 with a JSON body.
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

/// The eleven features, in the column order of the training data: the model
/// only sees a row of numbers, so this order matters.
///
/// TODO(week 8): reject values outside these ranges, and non-finite values,
/// with 422 naming the field (`inputs[3].ph`).
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

/// One wine's physico-chemical measurements.
// TODO(week 8): unknown fields must be rejected (422), not ignored.
// TODO(week 8): derive `utoipa::ToSchema` for the OpenAPI document, here and
// on the other types.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WineFeatures {
    pub fixed_acidity: f64,
    pub volatile_acidity: f64,
    pub citric_acid: f64,
    pub residual_sugar: f64,
    pub chlorides: f64,
    pub free_sulfur_dioxide: f64,
    pub total_sulfur_dioxide: f64,
    pub density: f64,
    pub ph: f64,
    pub sulphates: f64,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictRequest {
    pub inputs: Vec<WineFeatures>,
}

/// Answer of `POST /predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictResponse {
    /// Predicted quality score (3 to 8) for each input, in input order.
    pub predictions: Vec<usize>,
    pub model_version: String,
}

/// Answer of `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthResponse {
    pub status: String,
}

/// Body of every error response.
/// TODO(week 8): make every error (422, 413, 415, 404) answer with this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// Path of the offending field, such as `inputs[0].alcohol`, if there is one.
    pub field: Option<String>,
}
