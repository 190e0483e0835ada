//! The HTTP layer: router and handlers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::model::Model;
use crate::schema::{ErrorBody, HealthResponse, PredictRequest, PredictResponse};

/// What every handler can reach. Cheap to clone: the model sits behind an `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    pub model: Arc<Model>,
}

impl AppState {
    pub fn new(model: Model) -> Self {
        Self {
            model: Arc::new(model),
        }
    }
}

/// The model is loaded before the server starts listening, so answering at
/// all means ready.
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".to_owned(),
    })
}

/// Predicts the quality of each wine in the batch.
//
// TODO(week 8): axum's `Json` extractor answers malformed JSON with 400 and
// every rejection with a plain-text body. Write your own extractor (implement
// `FromRequest`) that reads the body and answers every problem with 422 (413
// for a body over 1 MiB, 415 for a wrong Content-Type) and an `ErrorBody`.
// TODO(week 8): validate the request (see schema.rs) before predicting.
pub async fn predict(
    State(state): State<AppState>,
    Json(request): Json<PredictRequest>,
) -> Json<PredictResponse> {
    Json(PredictResponse {
        predictions: state.model.predict(&request.inputs),
        model_version: state.model.model_version.clone(),
    })
}

/// TODO(week 8): answer 200 with `model_version`, `data_sha256` (both are in
/// `state.model`) and `git_revision` (read `GIT_REVISION` at compile time with
/// `option_env!`, or "unknown").
pub async fn version() -> (StatusCode, Json<ErrorBody>) {
    not_implemented("GET /version")
}

/// TODO(week 8): serve the OpenAPI 3 document, built with utoipa
/// (`#[derive(OpenApi)]` and `#[utoipa::path]` on the handlers).
pub async fn openapi_json() -> (StatusCode, Json<ErrorBody>) {
    not_implemented("GET /openapi.json")
}

/// A JSON 501 for endpoints still to write.
fn not_implemented(what: &str) -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(ErrorBody {
            error: format!("{what} is not implemented yet"),
            field: None,
        }),
    )
}

/// The complete service.
// TODO(week 8): limit request bodies to 1 MiB (axum's `DefaultBodyLimit`),
// answer unknown routes with a JSON 404, and log one line per request.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/predict", post(predict))
        .route("/version", get(version))
        .route("/openapi.json", get(openapi_json))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn health_is_ok() {
        let model = Model::train_in_memory(crate::model::DEFAULT_MAX_DEPTH).expect("trains");
        let request = Request::get("/health")
            .body(Body::empty())
            .expect("request");
        let response = router(AppState::new(model))
            .oneshot(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&bytes[..], br#"{"status":"ok"}"#);
    }

    // TODO(week 8): test /predict: a valid batch, and each kind of bad input.
}
