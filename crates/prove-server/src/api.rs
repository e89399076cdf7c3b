//! The HTTP routes. Bodies are JSON (parsed here, so a malformed body gets a JSON error naming
//! the problem); errors are `{"error": "..."}` with a 4xx status for the client's mistakes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::jobs::{write_atomic, AppState};
use crate::models::{self, ModelError, ModelSpec};
use crate::store::{ModelRow, Status};

/// An error response.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn err(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
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

type ApiResult = Result<Response, ApiError>;

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
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
        .route("/api/v1/prove/{id}/result", get(get_result))
        .route("/api/v1/verify", post(post_verify))
        .route("/api/v1/openapi.json", get(openapi))
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

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelRequest {
    builtin: Option<String>,
    path: Option<String>,
    model_dir: Option<String>,
    layers: Option<u64>,
    calibration: Option<Value>,
}

async fn post_model(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
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
    let config = state.config.proof;
    let loaded =
        tokio::task::spawn_blocking(move || models::setup(spec, req.calibration.as_ref(), config))
            .await
            .map_err(internal)??;
    let id = loaded.key.digest_hex();
    let bytes = loaded.key.encode().map_err(internal)?;
    let circuit = loaded.key.vk.circuit().map_err(internal)?;
    let bits = zkml::config::check_security(&loaded.key.vk.config, &circuit).map_err(internal)?;
    write_atomic(&state.key_path(&id), &bytes).map_err(internal)?;
    let row = ModelRow {
        model_id: id.clone(),
        name: loaded.key.model_name().to_owned(),
        parameters: loaded.key.n_params(),
        security_bits: bits,
        spec: serde_json::to_string(&loaded.spec).map_err(internal)?,
    };
    state.store.put_model(&row).map_err(internal)?;
    state.remember(&id, Arc::new(loaded));
    Ok((StatusCode::CREATED, Json(json!(row_json(&row)))).into_response())
}

fn row_json(row: &ModelRow) -> Value {
    json!({
        "model_id": row.model_id,
        "name": row.name,
        "parameters": row.parameters,
        "digest": row.model_id,
        "security_bits": row.security_bits,
    })
}

fn model_row(state: &AppState, id: &str) -> Result<ModelRow, ApiError> {
    state
        .store
        .model(id)
        .map_err(internal)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no model {id}")))
}

async fn get_model(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(row_json(&model_row(&state, &id)?)).into_response())
}

async fn get_vk(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    model_row(&state, &id)?;
    let bytes = std::fs::read(state.key_path(&id)).map_err(internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProveRequest {
    model_id: String,
    input: Value,
}

/// A fresh job id: the time and a counter, hex.
fn job_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{t:016x}{:04x}",
        NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

async fn post_prove(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let req: ProveRequest = parse(&body)?;
    model_row(&state, &req.model_id)?;
    let m = state
        .loaded(&req.model_id)
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no model {}", req.model_id)))?;
    // The input is checked now (shape, ranges) so that a bad one is the client's 400, not a
    // failed job later.
    let input = req.input.clone();
    tokio::task::spawn_blocking(move || models::forward(&m, &input).map(drop))
        .await
        .map_err(internal)??;
    let id = job_id();
    let text = serde_json::to_string(&req.input).map_err(internal)?;
    let max = state.config.max_queue;
    if !state
        .store
        .add_job(&id, &req.model_id, &text, max)
        .map_err(internal)?
    {
        return Err(err(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the queue is full ({max} jobs); retry later"),
        ));
    }
    state.enqueue(id.clone());
    Ok((StatusCode::ACCEPTED, Json(json!({ "job_id": id }))).into_response())
}

fn job_row(state: &AppState, id: &str) -> Result<crate::store::JobRow, ApiError> {
    state
        .store
        .job(id)
        .map_err(internal)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))
}

async fn get_job(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(json!(job_row(&state, &id)?)).into_response())
}

async fn get_result(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let job = job_row(&state, &id)?;
    if job.status != Status::Completed {
        let status = serde_json::to_value(job.status).map_err(internal)?;
        return Err(err(
            StatusCode::CONFLICT,
            format!("job {id} is {}", status.as_str().unwrap_or("not completed")),
        ));
    }
    let bytes = std::fs::read(state.result_path(&id)).map_err(internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

async fn delete_job(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    job_row(&state, &id)?;
    for from in [Status::Queued, Status::Running] {
        if state
            .store
            .transition(&id, from, Status::Cancelled, None)
            .map_err(internal)?
        {
            return Ok(Json(json!({ "job_id": id, "status": "cancelled" })).into_response());
        }
    }
    Err(err(StatusCode::CONFLICT, format!("job {id} has finished")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    model_id: String,
    /// The proof file's bytes, hex.
    proof: String,
}

async fn post_verify(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let req: VerifyRequest = parse(&body)?;
    model_row(&state, &req.model_id)?;
    let bytes = hex::decode(req.proof.trim())
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("proof: not hex: {e}")))?;
    let key = state.read_key(&req.model_id)?;
    let verdict = tokio::task::spawn_blocking(move || models::verify(&key, &bytes))
        .await
        .map_err(internal)?;
    Ok(Json(match verdict {
        Ok(()) => json!({ "valid": true, "error": null }),
        Err(e) => json!({ "valid": false, "error": e }),
    })
    .into_response())
}

/// The OpenAPI description of the routes above (written beside them, kept in step by the
/// test that calls every listed path).
async fn openapi() -> Json<Value> {
    let op = |summary: &str| json!({ "summary": summary, "responses": { "200": { "description": "OK" } } });
    Json(json!({
        "openapi": "3.0.3",
        "info": { "title": "prove-server", "version": env!("CARGO_PKG_VERSION") },
        "paths": {
            "/health": { "get": op("liveness and version") },
            "/api/v1/models": { "post": op("set up a model: {builtin}, {path} or {model_dir, layers}, optional calibration; 201 {model_id}") },
            "/api/v1/models/{id}": { "get": op("name, parameters, digest, security bits") },
            "/api/v1/models/{id}/vk": { "get": op("the verifying key file") },
            "/api/v1/prove": { "post": op("queue a prove job {model_id, input}; 202 {job_id}") },
            "/api/v1/prove/{id}": { "get": op("job status and progress"), "delete": op("cancel a job") },
            "/api/v1/prove/{id}/result": { "get": op("the proof file (prove-model verify --vk checks it)") },
            "/api/v1/verify": { "post": op("verify {model_id, proof (hex)}: {valid, error}") },
            "/api/v1/openapi.json": { "get": op("this document") }
        }
    }))
}
