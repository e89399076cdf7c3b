//! JSON-RPC 2.0 over HTTP (`POST /`): single requests and batches (at most
//! [`MAX_BATCH`]); notifications get no response.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::api::{
    code, GetNotesParams, GetRootParams, NullifierParams, PoolStatus, RpcError, Submission,
    MAX_PAGE,
};
use crate::node::Node;
use crate::reads;

/// Requests in one batch at most.
pub const MAX_BATCH: usize = 64;
/// Largest request body.
pub const MAX_BODY: usize = 8 << 20;

/// The node's HTTP routes.
pub fn router(node: Node) -> Router {
    Router::new()
        .route("/", post(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(node)
}

async fn handle(State(node): State<Node>, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let err = RpcError::new(code::PARSE, format!("parse error: {e}"));
            return Json(response(Value::Null, Err(err))).into_response();
        }
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                let err = RpcError::new(
                    code::INVALID_REQUEST,
                    format!("a batch holds 1 to {MAX_BATCH} requests"),
                );
                return Json(response(Value::Null, Err(err))).into_response();
            }
            let mut set = tokio::task::JoinSet::new();
            for (i, item) in items.into_iter().enumerate() {
                let node = node.clone();
                set.spawn(async move { (i, call(&node, item).await) });
            }
            let mut out = Vec::new();
            while let Some(done) = set.join_next().await {
                if let Ok((i, Some(r))) = done {
                    out.push((i, r));
                }
            }
            out.sort_by_key(|(i, _)| *i);
            if out.is_empty() {
                return StatusCode::NO_CONTENT.into_response();
            }
            Json(Value::Array(out.into_iter().map(|(_, r)| r).collect())).into_response()
        }
        single => match call(&node, single).await {
            Some(r) => Json(r).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    }
}

fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error }),
    }
}

/// One request; `None` for a notification.
async fn call(node: &Node, request: Value) -> Option<Value> {
    let Value::Object(map) = request else {
        let err = RpcError::new(code::INVALID_REQUEST, "a request is a JSON object");
        return Some(response(Value::Null, Err(err)));
    };
    let id = map.get("id").cloned();
    let checked = match (map.get("jsonrpc"), map.get("method")) {
        (Some(Value::String(v)), Some(Value::String(m))) if v == "2.0" => Ok(m.clone()),
        _ => Err(RpcError::new(
            code::INVALID_REQUEST,
            "expected {\"jsonrpc\": \"2.0\", \"method\": ...}",
        )),
    };
    let result = match checked {
        Ok(method) => {
            let params = map.get("params").cloned().unwrap_or(Value::Null);
            dispatch(node, &method, params).await
        }
        Err(e) => Err(e),
    };
    id.map(|id| response(id, result))
}

fn params<T: DeserializeOwned>(value: Value) -> Result<T, RpcError> {
    let value = if value.is_null() { json!({}) } else { value };
    serde_json::from_value(value)
        .map_err(|e| RpcError::new(code::INVALID_PARAMS, format!("invalid params: {e}")))
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::new(code::INTERNAL, e.to_string())
}

fn to_value<T: serde::Serialize>(v: T) -> Result<Value, RpcError> {
    serde_json::to_value(v).map_err(internal)
}

async fn dispatch(node: &Node, method: &str, raw: Value) -> Result<Value, RpcError> {
    match method {
        "pool_submit" => {
            let submission: Submission = params(raw)?;
            to_value(node.submit(submission).await?)
        }
        "pool_status" => to_value(status(node)),
        "pool_getNotes" => {
            let p: GetNotesParams = params(raw)?;
            let sealed = node.snapshot().sealed_tree_size;
            if p.from > sealed {
                return Err(RpcError::new(
                    code::INVALID_PARAMS,
                    format!("from {} is past the sealed tree size {sealed}", p.from),
                ));
            }
            let db = node.config().db.clone();
            let limit = p.limit.unwrap_or(MAX_PAGE);
            let page =
                tokio::task::spawn_blocking(move || reads::notes_page(&db, p.from, limit, sealed))
                    .await
                    .map_err(internal)?
                    .map_err(internal)?;
            to_value(page)
        }
        "pool_isNullifierSpent" => {
            let p: NullifierParams = params(raw)?;
            let db = node.config().db.clone();
            let spent =
                tokio::task::spawn_blocking(move || reads::nullifier_spent(&db, &p.nullifier))
                    .await
                    .map_err(internal)?
                    .map_err(internal)?;
            Ok(json!({ "spent": spent }))
        }
        "pool_getRoot" => {
            let p: GetRootParams = params(raw)?;
            let state = node.snapshot();
            match p.root {
                None => to_value(state.sealed.last()),
                Some(root) => {
                    let found = state.sealed.iter().find(|s| s.root == root);
                    Ok(json!({ "in_window": found.is_some(), "height": found.map(|s| s.height) }))
                }
            }
        }
        other => Err(RpcError::new(
            code::METHOD_NOT_FOUND,
            format!("unknown method {other:?}"),
        )),
    }
}

/// The `pool_status` object.
pub fn status(node: &Node) -> PoolStatus {
    let state = node.snapshot();
    let config = node.config();
    PoolStatus {
        proof_version: vm31::stark::PROOF_VERSION,
        chain_id: config.deployment.chain_id,
        pool_id: hex::encode(config.deployment.pool_id),
        tree_size: state.frontier.len(),
        sealed_tree_size: state.sealed_tree_size,
        current_root: state.frontier.root(),
        block_height: state.height,
        root_window: state.sealed.clone(),
        block_interval_ms: config.block_interval.as_millis() as u64,
        fee_assets: config.policy.fee_assets.clone(),
        nullifiers_spent: state.nullifiers_spent,
        balances: state
            .balances
            .iter()
            .map(|(a, b)| (*a, b.to_string()))
            .collect(),
    }
}

/// Serves `node` on `listener` until `shutdown` resolves.
pub async fn serve(
    node: Node,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(node))
        .with_graceful_shutdown(shutdown)
        .await
}
