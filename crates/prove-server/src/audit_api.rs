//! The audit routes: `/infer` answers from the integer forward pass (no proof) and logs the
//! inference before answering; the log's root and entries with inclusion proofs; window
//! proving as a background job whose report folder the server keeps.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use audit::record::Record;
use audit::EntryData;
use model_service as models;

use crate::api::{err, internal, job_id, parse, submit, ApiResult, ErrorBody, JobAccepted};
use crate::jobs::AppState;
use crate::queue::{JobKind, NewJob};

/// An inference to answer and log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    model_id: String,
    /// The input, in the model's format (as for `/api/v1/prove`).
    #[schema(value_type = Object)]
    input: Value,
}

/// The answer: the outputs, and where the inference sits in the log.
#[derive(Serialize, ToSchema)]
pub struct InferResponse {
    /// Each public output as real numbers, in proof order (the main output first).
    pub output: Vec<Vec<f64>>,
    /// The index of the main output's largest value (first row).
    pub argmax: Option<usize>,
    /// The entry's sequence number.
    pub entry: u64,
    /// The log's size and Merkle root (hex) right after this entry: keep them to check later
    /// reports against.
    pub log_size: u64,
    pub log_root: String,
    /// Time spent in the forward pass and in logging (durable append), ms.
    pub forward_ms: f64,
    pub log_ms: f64,
}

/// Runs the model (no proof), logs the inference durably, answers.
#[utoipa::path(post, path = "/api/v1/infer", request_body = InferRequest, responses(
    (status = 200, body = InferResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn post_infer(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let req: InferRequest = parse(&body)?;
    let m = state
        .loaded(&req.model_id)
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no model {}", req.model_id)))?;
    let t = Instant::now();
    let digest = m.key.vk.digest();
    let (input, output) =
        tokio::task::spawn_blocking(move || models::infer(&m, &req.input).map(|(i, o, _)| (i, o)))
            .await
            .map_err(internal)??;
    let forward_ms = t.elapsed().as_secs_f64() * 1e3;
    let (logged_in, logged_out) = match &state.config.audit_recipient {
        Some(to) => (
            serde_json::to_vec(&input.seal(to).map_err(internal)?).map_err(internal)?,
            serde_json::to_vec(&output.seal(to).map_err(internal)?).map_err(internal)?,
        ),
        None => (input.to_bytes(), output.to_bytes()),
    };
    let t = Instant::now();
    let receipt = state
        .audit
        .append(EntryData {
            timestamp_ms: 0,
            model_digest: digest,
            input: logged_in,
            output: logged_out,
        })
        .await
        .map_err(internal)?;
    let log_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(Json(InferResponse {
        output: output.reals(),
        argmax: output.argmax(),
        entry: receipt.seq,
        log_size: receipt.size,
        log_root: hex::encode(receipt.root),
        forward_ms,
        log_ms,
    })
    .into_response())
}

/// The log's head.
#[derive(Serialize, ToSchema)]
pub struct LogHead {
    pub size: u64,
    /// Merkle root (hex, RFC 6962 tree over the entries' hashes).
    pub root: String,
}

/// The log's current size and root.
#[utoipa::path(get, path = "/api/v1/audit/root", responses((status = 200, body = LogHead)))]
pub async fn get_root(State(state): State<Arc<AppState>>) -> Json<LogHead> {
    let (size, root) = state.audit.head();
    Json(LogHead {
        size,
        root: hex::encode(root),
    })
}

/// A logged entry with its inclusion proof in the current log.
#[derive(Serialize, ToSchema)]
pub struct EntryWithProof {
    pub seq: u64,
    /// RFC 3339.
    pub time: String,
    pub timestamp_ms: i64,
    pub model_digest: String,
    pub prev_hash: String,
    pub entry_hash: String,
    /// The logged input and output records.
    #[schema(value_type = Object)]
    pub input: Value,
    #[schema(value_type = Object)]
    pub output: Value,
    /// The inclusion proof (hex hashes) of the entry in the log of `log_size` entries.
    pub inclusion: Vec<String>,
    pub log_size: u64,
    pub log_root: String,
}

/// An entry and its inclusion proof.
#[utoipa::path(get, path = "/api/v1/audit/entries/{seq}", params(("seq" = u64, Path, description = "entry number")),
    responses((status = 200, body = EntryWithProof), (status = 404, body = ErrorBody)))]
pub async fn get_entry(State(state): State<Arc<AppState>>, Path(seq): Path<String>) -> ApiResult {
    let seq: u64 = seq.parse().map_err(|_| {
        err(
            StatusCode::BAD_REQUEST,
            format!("{seq}: not an entry number"),
        )
    })?;
    let log = state.audit.read();
    let size = log.len();
    if seq >= size {
        return Err(err(
            StatusCode::NOT_FOUND,
            format!("no entry {seq}: the log has {size}"),
        ));
    }
    let e = log.entry(seq).map_err(internal)?;
    let inclusion = log.inclusion_proof(seq, size).map_err(internal)?;
    let root = log.root();
    drop(log);
    let json = |b: &[u8]| serde_json::from_slice(b).unwrap_or(Value::Null);
    Ok(Json(EntryWithProof {
        seq,
        time: audit::time::format_ms(e.timestamp_ms),
        timestamp_ms: e.timestamp_ms,
        model_digest: hex::encode(e.model_digest),
        prev_hash: hex::encode(e.prev_hash),
        entry_hash: hex::encode(e.hash()),
        input: json(&e.input),
        output: json(&e.output),
        inclusion: inclusion.iter().map(hex::encode).collect(),
        log_size: size,
        log_root: hex::encode(root),
    })
    .into_response())
}

/// A window to prove: by time (RFC 3339, `from` inclusive, `to` exclusive) or by entry
/// numbers (`from_seq` inclusive, `to_seq` exclusive); entries of other models are listed,
/// not proved.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRequest {
    pub model_id: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
}

/// Queues the proof of a window of the log; the report is at `/api/v1/audit/jobs/{id}/report`.
#[utoipa::path(post, path = "/api/v1/audit", request_body = AuditRequest, responses(
    (status = 202, body = JobAccepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn post_audit(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let req: AuditRequest = parse(&body)?;
    crate::api::model_row(&state, &req.model_id)?;
    crate::jobs::audit_window(&state, &req).map_err(|e| err(StatusCode::BAD_REQUEST, e))?;
    let id = job_id();
    let text = serde_json::to_string(&req).map_err(internal)?;
    submit(
        &state,
        NewJob {
            job_id: &id,
            kind: JobKind::Audit,
            model_id: Some(&req.model_id),
            input: &text,
        },
    )?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobAccepted::new(id, JobKind::Audit)),
    )
        .into_response())
}

/// An audit job's status.
#[utoipa::path(get, path = "/api/v1/audit/jobs/{id}", params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = crate::queue::JobRow), (status = 404, body = ErrorBody)))]
pub async fn get_audit_job(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(Json(crate::api::job_row(&state, &id, JobKind::Audit)?).into_response())
}

/// A completed audit job's `report.json` (its proofs are under the server's data folder,
/// `reports/<job>/`).
#[utoipa::path(get, path = "/api/v1/audit/jobs/{id}/report", params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "report.json"), (status = 404, body = ErrorBody),
        (status = 409, description = "not completed", body = ErrorBody)))]
pub async fn get_audit_report(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult {
    let job = crate::api::job_row(&state, &id, JobKind::Audit)?;
    if job.status != crate::queue::Status::Completed {
        return Err(err(
            StatusCode::CONFLICT,
            format!("job {id} is {}", job.status.as_str()),
        ));
    }
    let bytes = std::fs::read(state.report_dir(&id).join("report.json")).map_err(internal)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response())
}
