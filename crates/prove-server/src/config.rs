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
    /// A model whose weight files are larger than this is set up as a background job
    /// (`202` and a job to poll); smaller ones inside the request (`201`).
    pub inline_setup_bytes: u64,
    /// Required in `x-api-key` (or `Authorization: Bearer`) when set.
    pub api_key: Option<String>,
    /// Seal the inputs and outputs `/infer` logs for this recipient (their tensors' hashes
    /// stay in clear).
    pub audit_recipient: Option<audit::seal::RecipientKey>,
    /// The proof configuration of models set up here (96-bit security by default).
    pub proof: ProofConfig,
}
