//! The HTTP layer: router, handlers, the request body extractor and the
//! error type every failure turns into.
//!
//! Every error, whatever produced it, leaves as JSON `{"error", "field"}`
//! with a 4xx status: clients can always parse the body, and nothing a client
//! sends can produce a 5xx.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::model::Model;
use crate::schema::{
    self, ErrorBody, HealthResponse, MAX_BODY_BYTES, PredictRequest, PredictResponse,
    ValidationError, VersionResponse, WineFeatures,
};

/// Source revision baked in at build time (`GIT_REVISION=... cargo build`).
pub const GIT_REVISION: &str = match option_env!("GIT_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};

/// What every handler can reach. Cheap to clone: the model sits behind an `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    pub model: Arc<Model>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl AppState {
    pub fn new(model: Model) -> Self {
        Self {
            model: Arc::new(model),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

// ANCHOR: api_error
/// An error response: a status and a JSON [`ErrorBody`].
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>, field: Option<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: error.into(),
                field,
            },
        }
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "no such route", None)
    }
}

/// Validation failures are the client's to fix: 422 Unprocessable Content.
impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, err.message, err.field)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
// ANCHOR_END: api_error

// ANCHOR: json_bytes
/// The raw body of a request that declares itself JSON, within the size limit.
///
/// Checking the content type and size here, before any parsing, means a
/// client that sends the wrong thing gets told so cheaply and in JSON.
pub struct JsonBytes(pub Bytes);

impl FromRequest<AppState> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json_content_type(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected `Content-Type: application/json`",
                None,
            ));
        }
        // The size limit itself is enforced by the `DefaultBodyLimit` layer
        // that `finish` adds; it makes `Bytes` stop reading past the limit.
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body is larger than {} bytes", state.max_body_bytes),
                    None,
                ))
            }
            Err(rejection) => Err(ApiError::new(
                rejection.status(),
                format!("could not read the request body: {}", rejection.body_text()),
                None,
            )),
        }
    }
}
// ANCHOR_END: json_bytes

/// Accepts `application/json` with or without parameters (`; charset=utf-8`).
fn is_json_content_type(value: Option<&header::HeaderValue>) -> bool {
    let Some(Ok(value)) = value.map(|v| v.to_str()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

// ANCHOR: predict_inputs
/// A validated `POST /predict` body: 1 to 1000 inputs, every value in range.
pub struct PredictInputs(pub Vec<WineFeatures>);

impl FromRequest<AppState> for PredictInputs {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        Ok(Self(schema::parse_request(&bytes)?))
    }
}
// ANCHOR_END: predict_inputs

/// Liveness and readiness in one: the model is loaded before the server
/// starts listening, so answering at all means ready.
#[utoipa::path(
    get,
    path = "/health",
    responses((status = 200, description = "The model is loaded", body = HealthResponse))
)]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".to_owned(),
    })
}

/// Runs the model on already validated inputs.
pub fn predict_response(model: &Model, inputs: &[WineFeatures]) -> PredictResponse {
    PredictResponse {
        predictions: model.predict(inputs),
        model_version: model.model_version.clone(),
    }
}

// ANCHOR: predict
/// Predicts the quality (3 to 8) of each wine in the batch.
#[utoipa::path(
    post,
    path = "/predict",
    request_body = PredictRequest,
    responses(
        (status = 200, description = "One prediction per input, in order", body = PredictResponse),
        (status = 413, description = "Body larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "Invalid input; `field` names the culprit", body = ErrorBody),
    )
)]
pub async fn predict(
    State(state): State<AppState>,
    PredictInputs(inputs): PredictInputs,
) -> Json<PredictResponse> {
    Json(predict_response(&state.model, &inputs))
}
// ANCHOR_END: predict

/// Which model, trained on which data, built from which source.
#[utoipa::path(
    get,
    path = "/version",
    responses((status = 200, description = "Model and build provenance", body = VersionResponse))
)]
pub async fn version(State(state): State<AppState>) -> Json<VersionResponse> {
    Json(VersionResponse {
        model_version: state.model.model_version.clone(),
        data_sha256: state.model.data_sha256.clone(),
        git_revision: GIT_REVISION.to_owned(),
    })
}

// ANCHOR: openapi
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wine-service",
        description = "Predicts red wine quality (3 to 8) from physico-chemical measurements."
    ),
    paths(health, predict, version)
)]
struct ApiDoc;

/// The OpenAPI 3 description of this service.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
// ANCHOR_END: openapi

/// Serves [`openapi`] as JSON.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// Logs one line per request: method, path, status and duration.
async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

// ANCHOR: router
/// The service's routes, without shared layers or state; see [`finish`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/predict", post(predict))
        .route("/version", get(version))
        .route("/openapi.json", get(openapi_json))
}

/// Adds what every route shares: the JSON 404, the body limit, request
/// logging and the state. Public so an alternative route set gets exactly
/// the same treatment.
pub fn finish(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// The complete service.
pub fn router(state: AppState) -> Router {
    finish(routes(), state)
}
// ANCHOR_END: router

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::{Value, json};
    use std::sync::OnceLock;
    use tower::ServiceExt;

    /// Training takes a moment; share one model across tests.
    fn state() -> AppState {
        static MODEL: OnceLock<Model> = OnceLock::new();
        let model = MODEL.get_or_init(|| {
            Model::train_in_memory(crate::model::DEFAULT_MAX_DEPTH).expect("training succeeds")
        });
        AppState::new(model.clone())
    }

    fn valid_input() -> Value {
        json!({
            "fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0,
            "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0,
            "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51,
            "sulphates": 0.56, "alcohol": 9.4
        })
    }

    async fn send(request: Request<Body>) -> (StatusCode, Value) {
        let response = router(state()).oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    fn get_req(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).expect("request")
    }

    fn post_json(body: impl Into<Body>) -> Request<Body> {
        Request::post("/predict")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .expect("request")
    }

    #[tokio::test]
    async fn health_is_ok() {
        let response = router(state())
            .oneshot(get_req("/health"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&bytes[..], br#"{"status":"ok"}"#);
    }

    #[tokio::test]
    async fn predict_returns_one_prediction_per_input() {
        let body = json!({ "inputs": [valid_input(), valid_input()] }).to_string();
        let (status, body) = send(post_json(body)).await;
        assert_eq!(status, StatusCode::OK);
        let object = body.as_object().expect("object");
        assert_eq!(object.len(), 2, "exactly two keys: {body}");
        let predictions = body["predictions"].as_array().expect("array");
        assert_eq!(predictions.len(), 2);
        assert_eq!(
            predictions[0], predictions[1],
            "same input, same prediction"
        );
        assert!((3..=8).contains(&predictions[0].as_u64().expect("integer")));
        assert!(
            body["model_version"]
                .as_str()
                .expect("string")
                .starts_with("tree-d10-")
        );
    }

    #[tokio::test]
    async fn invalid_value_is_422_naming_the_field() {
        let mut input = valid_input();
        input["ph"] = json!(15);
        let (status, body) = send(post_json(json!({ "inputs": [input] }).to_string())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "inputs[0].ph");
        assert!(body["error"].is_string());
    }

    #[tokio::test]
    async fn malformed_json_is_422_json() {
        let (status, body) = send(post_json("{\"inputs\": [")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]
                .as_str()
                .expect("message")
                .contains("malformed")
        );
    }

    #[tokio::test]
    async fn wrong_content_type_is_415_json() {
        let request = Request::post("/predict")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(json!({ "inputs": [valid_input()] }).to_string()))
            .expect("request");
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(body["error"].is_string());

        let request = Request::post("/predict")
            .body(Body::empty())
            .expect("request");
        assert_eq!(send(request).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn oversized_body_is_413_json() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let (status, body) = send(post_json(body)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body["error"].is_string());
    }

    #[tokio::test]
    async fn body_at_the_limit_is_parsed() {
        // Padding with whitespace keeps the JSON valid at exactly 1 MiB.
        let mut body = json!({ "inputs": [valid_input()] })
            .to_string()
            .into_bytes();
        body.resize(MAX_BODY_BYTES, b' ');
        assert_eq!(send(post_json(body)).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn version_reports_provenance() {
        let (status, body) = send(get_req("/version")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["git_revision"], GIT_REVISION);
        assert_eq!(body["data_sha256"].as_str().map(str::len), Some(64));
        assert!(body["model_version"].is_string());
    }

    #[tokio::test]
    async fn openapi_lists_the_paths() {
        let (status, body) = send(get_req("/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["openapi"].as_str().expect("version").starts_with("3."));
        for path in ["/health", "/predict", "/version"] {
            assert!(body["paths"].get(path).is_some(), "{path} documented");
        }
    }

    #[test]
    fn openapi_ranges_match_validation() {
        let doc = serde_json::to_value(openapi()).expect("serializable");
        let properties = &doc["components"]["schemas"]["WineFeatures"]["properties"];
        for feature in schema::FEATURES {
            let property = &properties[feature.name];
            assert_eq!(
                property["minimum"].as_f64(),
                Some(feature.min),
                "{}",
                feature.name
            );
            assert_eq!(
                property["maximum"].as_f64(),
                Some(feature.max),
                "{}",
                feature.name
            );
        }
    }

    #[tokio::test]
    async fn unknown_route_is_404_json() {
        let (status, body) = send(get_req("/nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body["error"].is_string());
    }
}
