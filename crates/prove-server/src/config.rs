//! The server's typed configuration (from the command line).

use std::net::SocketAddr;
use std::path::PathBuf;

use zkml::ProofConfig;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Database, keys and results live here.
    pub data_dir: PathBuf,
    /// Proofs running at once.
    pub workers: usize,
    /// Jobs queued or running at most; more are refused with 503.
    pub max_queue: usize,
    /// Largest request body (413 beyond).
    pub max_body: usize,
    /// Required in `x-api-key` (or `Authorization: Bearer`) when set.
    pub api_key: Option<String>,
    /// The proof configuration of models set up here (96-bit security by default).
    pub proof: ProofConfig,
}
