//! A JSON-RPC client of the pool node (plain HTTP).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use vm31_api::RpcError;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach pool node at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("node refused: {0}")]
    Rpc(RpcError),
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
}

/// Calls one node.
#[derive(Clone, Debug)]
pub struct NodeClient {
    url: String,
    agent: ureq::Agent,
}

impl NodeClient {
    pub fn new(url: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        Self {
            url: url.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with `params`.
    pub fn call<P: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<T, ClientError> {
        let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = self
            .agent
            .post(&format!("{}/", self.url))
            .send_json(request)
            .map_err(|e| ClientError::Unreachable {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        let body: Value = response
            .into_json()
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        if let Some(error) = body.get("error") {
            let error: RpcError = serde_json::from_value(error.clone())
                .map_err(|e| ClientError::Decode(e.to_string()))?;
            return Err(ClientError::Rpc(error));
        }
        let result = body
            .get("result")
            .cloned()
            .ok_or_else(|| ClientError::Decode("no result".into()))?;
        serde_json::from_value(result).map_err(|e| ClientError::Decode(e.to_string()))
    }
}
