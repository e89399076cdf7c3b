//! The HTTP routes. Bodies are JSON (parsed here, so a malformed body gets a JSON error naming
//! the problem); errors are `{"error": "..."}` with a 4xx status for the client's mistakes.
//! Each handler carries its OpenAPI description (`utoipa::path`); [`crate::openapi`] gathers
//! them into the document served at `/api/v1/openapi.json`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit_api;
use crate::jobs::{register, AppState, SetupRequest};
use crate::queue::{Detail, JobKind, JobRow, NewJob, Status};
use crate::store::ModelRow;
use model_service::{self as models, ModelError, ModelSpec};

/// An error: the message names the problem.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// An error response.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(crate) fn err(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into())
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::BadRequest(m) => err(StatusCode::BAD_REQUEST, m),
            ModelError::Failed(m) => err(StatusCode::INTERNAL_SERVER_ERROR, m),
        }
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")))
}

/// The routes, with the body limit and the API key check.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/v1/models", post(post_model))
        .route("/api/v1/models/{id}", get(get_model))
        .route("/api/v1/models/{id}/vk", get(get_vk))
        .route("/api/v1/prove", post(post_prove))
        .route("/api/v1/prove/{id}", get(get_job).delete(delete_job))
        .route("/api/v1/setup/{id}", get(get_setup))
        .route("/api/v1/prove/{id}/result", get(get_result))
        .route("/api/v1/verify", post(post_verify))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/infer", post(audit_api::post_infer))
        .route("/api/v1/audit", post(audit_api::post_audit))
        .route("/api/v1/audit/root", get(audit_api::get_root))
        .route("/api/v1/audit/entries/{seq}", get(audit_api::get_entry))
        .route("/api/v1/audit/jobs/{id}", get(audit_api::get_audit_job))
        .route(
            "/api/v1/audit/jobs/{id}/report",
            get(audit_api::get_audit_report),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .route("/health", get(health))
        .merge(api)
        .layer(DefaultBodyLimit::max(state.config.max_body))
        .with_state(state)
}

async fn require_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    if let Some(want) = &state.config.api_key {
        let given = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            });
        if given != Some(want.as_str()) {
            return err(StatusCode::UNAUTHORIZED, "missing or wrong API key").into_response();
        }
    }
    next.run(req).await
}

/// Liveness.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    pub version: String,
}

/// Liveness and version.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// A model to set up: exactly one of `builtin`, `path` (an ONNX file on the server) or
/// `model_dir` (a HuggingFace folder or a GGUF file, with `layers`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRequest {
    /// A built-in model: `mlp` or `tiny-mlp`.
    builtin: Option<String>,
    /// An ONNX file on the server's disk.
    path: Option<String>,
    /// A HuggingFace folder (BERT encoder or Llama / Mistral / Qwen decoder) or a GGUF file.
    model_dir: Option<String>,
    /// The first `layers` layers of `model_dir` (default all).
    layers: Option<u64>,
    /// Inputs the scales are calibrated on (the prove input format); a seeded sample if absent.
    #[schema(value_type = Option<Object>)]
    calibration: Option<Value>,
    /// Force a background setup job (`true`) or an inline setup (`false`); by default models
    /// whose weight files exceed the server's `--inline-setup-bytes` run as a job.
    background: Option<bool>,
}

/// A registered model.
#[derive(Serialize, ToSchema)]
pub struct ModelInfo {
    /// The verifying key's digest (hex), the model's identity.
    pub model_id: String,
    pub name: String,
    pub parameters: u64,
    /// Same as `model_id`.
    pub digest: String,
    /// The proof configuration's security (bits).
    pub security_bits: u32,
}

impl From<&ModelRow> for ModelInfo {
    fn from(row: &ModelRow) -> Self {
        Self {
            model_id: row.model_id.clone(),
            name: row.name.clone(),
            parameters: row.parameters,
            digest: row.model_id.clone(),
            security_bits: row.security_bits,
        }
    }
}

/// A queued job.
#[derive(Serialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: String,
    /// Always `queued`.
    pub status: String,
    /// Where to poll it.
    pub status_url: String,
}

impl JobAccepted {
    pub(crate) fn new(id: String, kind: JobKind) -> Self {
        let status_url = match kind {
            JobKind::Audit => format!("/api/v1/audit/jobs/{id}"),
            _ => format!("/api/v1/{}/{id}", kind.as_str()),
        };
        Self {
            status_url,
            job_id: id,
            status: "queued".into(),
        }
    }
}

/// Sets a model up. Small models are set up inside the request (`201`); models whose weight
/// files are large run as a setup job (`202`), polled at `/api/v1/setup/{id}`.
#[utoipa::path(post, path = "/api/v1/models", request_body = ModelRequest, responses(
    (status = 201, description = "set up", body = ModelInfo),
    (status = 202, description = "queued as a setup job", body = JobAccepted),
    (status = 400, description = "bad request", body = ErrorBody)))]
pub async fn post_model(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let req: ModelRequest = parse(&body)?;
    let spec = match (req.builtin, req.path, req.model_dir) {
        (Some(b), None, None) => ModelSpec::Builtin(b),
        (None, Some(p), None) => ModelSpec::Onnx(p.into()),
        (None, None, Some(d)) => ModelSpec::Dir {
            dir: d.into(),
            layers: req.layers.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        },
        _ => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "give exactly one of builtin, path, model_dir",
            ))
        }
    };
    if req.layers.is_some() && !matches!(spec, ModelSpec::Dir { .. }) {
        return Err(err(StatusCode::BAD_REQUEST, "layers is for model_dir"));
    }
    spec.check()?;
    let background = req
        .background
        .unwrap_or_else(|| spec.weight_bytes() > state.config.inline_setup_bytes);
    if background {
        let id = job_id();
        let text = serde_json::to_string(&SetupRequest {
            spec,
            calibration: req.calibration,
        })
        .map_err(internal)?;
        let job = NewJob {
            job_id: &id,
            kind: JobKind::Setup,
            model_id: None,
            input: &text,
        };
        submit(&state, job)?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(JobAccepted::new(id, JobKind::Setup)),
        )
            .into_response());
    }
    let config = state.config.proof;
    let loaded =
        tokio::task::spawn_blocking(move || models::setup(spec, req.calibration.as_ref(), config))
            .await
            .map_err(internal)??;
    let row = register(&state, loaded)?;
    Ok((StatusCode::CREATED, Json(ModelInfo::from(&row))).into_response())
}

pub(crate) fn model_row(state: &AppState, id: &str) -> Result<ModelRow, ApiError> {
    state
        .store
        .model(id)
        .map_err(internal)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no model {id}")))
}

/// A model's name, parameter count, digest and security.
#[utoipa::path(get, path = "/api/v1/models/{id}", params(("id" = String, Path, description = "model id")),
    responses((status = 200, body = ModelInfo), (status = 404, body = ErrorBody)))]
pub async fn get_model(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(ModelInfo::from(&model_row(&state, &id)?)).into_response())
}

/// The model's verifying key file (`prove-model verify --vk` reads it).
#[utoipa::path(get, path = "/api/v1/models/{id}/vk", params(("id" = String, Path, description = "model id")),
    responses((status = 200, description = "the key file", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody)))]
pub async fn get_vk(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    model_row(&state, &id)?;
    let bytes = std::fs::read(state.key_path(&id)).map_err(internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// A prove request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProveRequest {
    model_id: String,
    /// The input, in the model's format: an array of reals (built-in and one-input ONNX
    /// models), an object keyed by ONNX input name, token ids, or an encoder's
    /// `{input_ids, attention_mask}`.
    #[schema(value_type = Object)]
    input: Value,
}

/// A fresh job id: the time and a counter, hex.
pub(crate) fn job_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{t:016x}{:04x}",
        NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

/// Queues a job (503 when the queue is full) and wakes a worker.
pub(crate) fn submit(state: &AppState, job: NewJob<'_>) -> Result<(), ApiError> {
    let max = state.config.max_queue;
    if !state.queue.submit(job, max).map_err(internal)? {
        return Err(err(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the queue is full ({max} jobs); retry later"),
        ));
    }
    state.job_queued();
    Ok(())
}

/// Queues a prove job. The input is checked first (shape, calibrated ranges), so a bad one is
/// a `400` naming the problem rather than a failed job.
#[utoipa::path(post, path = "/api/v1/prove", request_body = ProveRequest, responses(
    (status = 202, body = JobAccepted), (status = 400, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 503, description = "queue full", body = ErrorBody)))]
pub async fn post_prove(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let req: ProveRequest = parse(&body)?;
    model_row(&state, &req.model_id)?;
    let m = state
        .loaded(&req.model_id)
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no model {}", req.model_id)))?;
    let input = req.input.clone();
    tokio::task::spawn_blocking(move || models::forward(&m, &input).map(drop))
        .await
        .map_err(internal)??;
    let id = job_id();
    let text = serde_json::to_string(&req.input).map_err(internal)?;
    let job = NewJob {
        job_id: &id,
        kind: JobKind::Prove,
        model_id: Some(&req.model_id),
        input: &text,
    };
    submit(&state, job)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobAccepted::new(id, JobKind::Prove)),
    )
        .into_response())
}

pub(crate) fn job_row(state: &AppState, id: &str, kind: JobKind) -> Result<JobRow, ApiError> {
    state
        .queue
        .job(id)
        .map_err(internal)?
        .filter(|j| j.kind == kind)
        .ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                format!("no {} job {id}", kind.as_str()),
            )
        })
}

/// A prove job's status and progress.
#[utoipa::path(get, path = "/api/v1/prove/{id}", params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobRow), (status = 404, body = ErrorBody)))]
pub async fn get_job(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(job_row(&state, &id, JobKind::Prove)?).into_response())
}

/// A setup job's status; once completed, `model_id` is the model it registered.
#[utoipa::path(get, path = "/api/v1/setup/{id}", params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobRow), (status = 404, body = ErrorBody)))]
pub async fn get_setup(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(job_row(&state, &id, JobKind::Setup)?).into_response())
}

/// The proof file of a completed job, byte for byte what `prove-model prove` writes.
#[utoipa::path(get, path = "/api/v1/prove/{id}/result", params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "the proof file", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody), (status = 409, description = "not completed", body = ErrorBody)))]
pub async fn get_result(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let job = job_row(&state, &id, JobKind::Prove)?;
    if job.status != Status::Completed {
        return Err(err(
            StatusCode::CONFLICT,
            format!("job {id} is {}", job.status.as_str()),
        ));
    }
    let bytes = std::fs::read(state.result_path(&id)).map_err(internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// Cancels a queued or running prove job (a running job's result is discarded).
#[utoipa::path(delete, path = "/api/v1/prove/{id}", params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobRow), (status = 404, body = ErrorBody),
        (status = 409, description = "already finished", body = ErrorBody)))]
pub async fn delete_job(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    job_row(&state, &id, JobKind::Prove)?;
    for from in [Status::Queued, Status::Running] {
        if state
            .queue
            .transition(&id, from, Status::Cancelled, Detail::default())
            .map_err(internal)?
        {
            return Ok(Json(job_row(&state, &id, JobKind::Prove)?).into_response());
        }
    }
    Err(err(StatusCode::CONFLICT, format!("job {id} has finished")))
}

/// A proof to check against a registered model.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    model_id: String,
    /// The proof file's bytes, hex.
    proof: String,
}

/// A verdict.
#[derive(Serialize, ToSchema)]
pub struct Verdict {
    pub valid: bool,
    /// Why the proof was refused.
    pub error: Option<String>,
}

/// Verifies a proof file against a model's key.
#[utoipa::path(post, path = "/api/v1/verify", request_body = VerifyRequest, responses(
    (status = 200, body = Verdict), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn post_verify(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let req: VerifyRequest = parse(&body)?;
    model_row(&state, &req.model_id)?;
    let bytes = hex::decode(req.proof.trim())
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("proof: not hex: {e}")))?;
    let key = state.read_key(&req.model_id)?;
    let verdict = tokio::task::spawn_blocking(move || models::verify(&key, &bytes))
        .await
        .map_err(internal)?;
    let (valid, error) = match verdict {
        Ok(()) => (true, None),
        Err(e) => (false, Some(e)),
    };
    Ok(Json(Verdict { valid, error }).into_response())
}

/// This API's OpenAPI document, generated from the handlers' annotations.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
