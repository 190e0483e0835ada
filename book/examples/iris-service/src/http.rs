//! The HTTP layer: routes, handlers, extractors and the one error type.
//!
//! Every failure leaves in the same JSON shape, `{"problem", "detail",
//! "at"}`, with a 4xx status: a client can always parse an error, branch on
//! its `problem` kind, and find the field at fault in `at`. axum's own
//! rejections are plain text, so the extractors here replace them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::flowers::{self, ClassifyRequest, ClassifyResponse, InputError, Measurements};
use crate::model::Model;

/// Largest request body read, in bytes: 64 KiB, room for well over the 100
/// flowers a request may carry.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

// ANCHOR: problem
/// An error response, and its JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// Sent as the response status, not in the body.
    #[serde(skip)]
    pub status: StatusCode,
    /// A stable kind to branch on, such as `invalid-value`.
    #[schema(example = "invalid-value")]
    pub problem: &'static str,
    /// One line for a human.
    pub detail: String,
    /// Path of the field at fault, such as `flowers[0].petal_length_cm`.
    pub at: Option<String>,
}

/// Bytes that are not JSON are a bad request (400); JSON that is not an
/// acceptable request is unprocessable (422). Either may name the field.
impl From<InputError> for Problem {
    fn from(err: InputError) -> Self {
        let (status, problem) = match err {
            InputError::Malformed { .. } => (StatusCode::BAD_REQUEST, "malformed-json"),
            InputError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-value"),
        };
        let at = err.at().map(str::to_owned);
        Self {
            at,
            ..Self::new(status, problem, err.to_string())
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}
// ANCHOR_END: problem

impl Problem {
    pub fn new(status: StatusCode, problem: &'static str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let at = None;
        Self {
            status,
            problem,
            detail,
            at,
        }
    }
}

// ANCHOR: json_body
/// The raw body of a request that says it is JSON, read up to the limit.
///
/// Both checks come before any parsing: a client that sends the wrong thing
/// is told so cheaply, and in JSON rather than axum's plain text.
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !says_json(req.headers()) {
            let detail = "send the body with `Content-Type: application/json`";
            let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Err(Problem::new(status, "unsupported-media-type", detail));
        }
        // The router's `DefaultBodyLimit` makes `Bytes` stop at the limit,
        // however long the body is (or claims to be).
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let detail = format!("the body is larger than {MAX_BODY_BYTES} bytes");
                Err(Problem::new(err.status(), "too-large", detail))
            }
            // The client hung up, or sent a broken chunked body.
            Err(err) => Err(Problem::new(err.status(), "unreadable", err.body_text())),
        }
    }
}

/// `application/json`, with or without parameters such as `; charset=utf-8`.
fn says_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = value.to_str().unwrap_or_default().split(';').next();
    essence.is_some_and(|e| e.trim().eq_ignore_ascii_case("application/json"))
}
// ANCHOR_END: json_body

// ANCHOR: flowers_extractor
/// A validated `POST /classify` body: 1 to 100 flowers, every length in
/// range. A handler that takes `Flowers` only ever runs on good input.
pub struct Flowers(pub Vec<Measurements>);

impl<S: Send + Sync> FromRequest<S> for Flowers {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let JsonBody(bytes) = JsonBody::from_request(req, state).await?;
        Ok(Self(flowers::parse(&bytes)?))
    }
}
// ANCHOR_END: flowers_extractor

/// Answer of `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Alive and ready in one: the model is loaded before the port opens, so a
/// service that answers at all can classify.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

// ANCHOR: classify
/// Names the species of each flower, in request order.
#[utoipa::path(
    post,
    path = "/classify",
    request_body = ClassifyRequest,
    responses(
        (status = 200, description = "One species per flower", body = ClassifyResponse),
        (status = 400, description = "The body is not JSON", body = Problem),
        (status = 413, description = "The body is over 64 KiB", body = Problem),
        (status = 415, description = "Content-Type is not application/json", body = Problem),
        (status = 422, description = "A bad value; `at` names it", body = Problem),
    )
)]
pub async fn classify(
    State(model): State<Arc<Model>>,
    Flowers(flowers): Flowers,
) -> Json<ClassifyResponse> {
    Json(ClassifyResponse {
        species: model.classify(&flowers),
        model: model.version.clone(),
    })
}
// ANCHOR_END: classify

/// The OpenAPI description, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "iris-service",
        description = "Names the species of iris flowers from four measurements."
    ),
    paths(healthz, classify)
)]
pub struct ApiDoc;

// ANCHOR: router
/// The whole service. Requests no handler takes (an unknown path, a wrong
/// method) get a JSON problem too, not axum's empty default.
pub fn router(model: Model) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/classify", post(classify))
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .method_not_allowed_fallback(wrong_method)
        .fallback(not_found)
        // Caps what `Bytes` will read: a huge body is refused at 64 KiB,
        // not buffered whole.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(model))
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such path")
}

async fn wrong_method() -> Problem {
    let detail = "this path does not take that method";
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", detail)
}
// ANCHOR_END: router

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowers::MAX_FLOWERS;
    use axum::body::Body;
    use serde_json::{Value, json};
    use std::sync::OnceLock;
    use tower::ServiceExt;

    /// One model for all tests: training takes a moment.
    fn app() -> Router {
        static MODEL: OnceLock<Model> = OnceLock::new();
        let model = MODEL.get_or_init(|| Model::train_in_memory().expect("training succeeds"));
        router(model.clone())
    }

    fn flower(sepal_length: f64, sepal_width: f64, petal_length: f64, petal_width: f64) -> Value {
        json!({
            "sepal_length_cm": sepal_length, "sepal_width_cm": sepal_width,
            "petal_length_cm": petal_length, "petal_width_cm": petal_width
        })
    }

    fn setosa() -> Value {
        flower(5.1, 3.5, 1.4, 0.2)
    }

    async fn send(request: axum::http::Request<Body>) -> (StatusCode, Value) {
        let response = app().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn classify_request(body: impl Into<Body>) -> axum::http::Request<Body> {
        axum::http::Request::post("/classify")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .expect("request")
    }

    /// Sends `body` to `/classify` and returns the status and the error.
    async fn problem_of(body: impl Into<Body>) -> (StatusCode, String, Value) {
        let (status, body) = send(classify_request(body)).await;
        let keys: Vec<&String> = body.as_object().expect("a JSON object").keys().collect();
        assert_eq!(keys, ["at", "detail", "problem"], "{body}");
        let kind = body["problem"].as_str().expect("a kind").to_owned();
        (status, kind, body["at"].clone())
    }

    #[tokio::test]
    async fn healthz_is_ok() {
        let request = axum::http::Request::get("/healthz").body(Body::empty());
        let response = app()
            .oneshot(request.expect("request"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 64)
            .await
            .expect("body");
        assert_eq!(&bytes[..], br#"{"status":"ok"}"#);
    }

    #[tokio::test]
    async fn classify_names_one_species_per_flower() {
        let flowers = [
            setosa(),
            flower(6.0, 2.9, 4.5, 1.5),
            flower(6.9, 3.1, 5.8, 2.2),
        ];
        let (status, body) =
            send(classify_request(json!({ "flowers": flowers }).to_string())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["species"],
            json!(["setosa", "versicolor", "virginica"])
        );
        let model = body["model"].as_str().expect("a version");
        assert!(
            model.starts_with("tree-d3-") && model.len() == 20,
            "{model}"
        );
        assert_eq!(body.as_object().map(|o| o.len()), Some(2));
    }

    #[tokio::test]
    async fn malformed_json_is_400() {
        let (status, kind, at) = problem_of(r#"{"flowers": ["#).await;
        assert_eq!(
            (status, kind.as_str(), at),
            (StatusCode::BAD_REQUEST, "malformed-json", Value::Null)
        );
    }

    #[tokio::test]
    async fn a_body_over_64_kib_is_413() {
        let (status, kind, _) = problem_of(vec![b' '; MAX_BODY_BYTES + 1]).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "too-large")
        );

        // Exactly at the limit is read (whitespace keeps the JSON valid).
        let mut body = json!({ "flowers": [setosa()] }).to_string().into_bytes();
        body.resize(MAX_BODY_BYTES, b' ');
        assert_eq!(send(classify_request(body)).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_415() {
        for content_type in [Some("text/plain"), None] {
            let mut request = axum::http::Request::post("/classify");
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let body = Body::from(json!({ "flowers": [setosa()] }).to_string());
            let (status, body) = send(request.body(body).expect("request")).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}"
            );
            assert_eq!(body["problem"], "unsupported-media-type");
        }
        // Parameters are fine.
        let request = axum::http::Request::post("/classify")
            .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
            .body(Body::from(json!({ "flowers": [setosa()] }).to_string()));
        assert_eq!(send(request.expect("request")).await.0, StatusCode::OK);
    }

    /// Expects a 422 `invalid-value` naming `at`.
    async fn assert_invalid(body: Value, at: &str) {
        let (status, kind, found) = problem_of(body.to_string()).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-value")
        );
        assert_eq!(found, at, "{body}");
    }

    #[tokio::test]
    async fn unknown_and_missing_fields_are_422() {
        let mut extra = setosa();
        extra["stem_length_cm"] = json!(20.0);
        assert_invalid(json!({ "flowers": [extra] }), "flowers[0].stem_length_cm").await;

        let mut short = setosa();
        short
            .as_object_mut()
            .expect("object")
            .remove("petal_length_cm");
        assert_invalid(
            json!({ "flowers": [setosa(), short] }),
            "flowers[1].petal_length_cm",
        )
        .await;
    }

    #[tokio::test]
    async fn an_empty_or_oversized_batch_is_422() {
        assert_invalid(json!({ "flowers": [] }), "flowers").await;
        assert_invalid(
            json!({ "flowers": vec![setosa(); MAX_FLOWERS + 1] }),
            "flowers",
        )
        .await;
    }

    #[tokio::test]
    async fn an_impossible_length_is_422() {
        assert_invalid(
            json!({ "flowers": [flower(5.1, -3.5, 1.4, 0.2)] }),
            "flowers[0].sepal_width_cm",
        )
        .await;
    }

    #[tokio::test]
    async fn an_overflowing_number_is_422_naming_the_field() {
        let body = r#"{"flowers":[{"sepal_length_cm":5.1,"sepal_width_cm":3.5,
            "petal_length_cm":1e999,"petal_width_cm":0.2}]}"#;
        let (status, kind, at) = problem_of(body).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-value")
        );
        assert_eq!(at, "flowers[0].petal_length_cm");
    }

    #[tokio::test]
    async fn an_unknown_path_is_404_json() {
        let (status, body) = send(
            axum::http::Request::get("/predict")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            json!({ "problem": "not-found", "detail": "no such path", "at": null })
        );
    }

    #[tokio::test]
    async fn a_wrong_method_is_405_json_and_says_what_is_allowed() {
        let request = axum::http::Request::get("/classify").body(Body::empty());
        let response = app()
            .oneshot(request.expect("request"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "POST");
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(body["problem"], "method-not-allowed");
    }

    #[tokio::test]
    async fn openapi_describes_the_routes_and_ranges() {
        let (status, doc) = send(
            axum::http::Request::get("/openapi.json")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            doc["openapi"]
                .as_str()
                .expect("a version")
                .starts_with("3.")
        );
        assert!(doc["paths"]["/healthz"]["get"].is_object());
        assert!(doc["paths"]["/classify"]["post"].is_object());
        let properties = &doc["components"]["schemas"]["Measurements"]["properties"];
        for name in flowers::FEATURES {
            assert_eq!(
                properties[name]["exclusiveMinimum"].as_f64(),
                Some(0.0),
                "{name}"
            );
            assert_eq!(
                properties[name]["maximum"].as_f64(),
                Some(flowers::MAX_CM),
                "{name}"
            );
        }
        let problem = &doc["components"]["schemas"]["Problem"]["properties"];
        assert!(
            problem.get("status").is_none(),
            "the status is not in the body"
        );
    }
}
