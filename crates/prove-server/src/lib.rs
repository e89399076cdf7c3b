//! `prove-server`: the HTTP face of the prover. Clients register a model (a built-in one or an
//! ONNX file, its scales fixed at setup: the model's id is its verifying key's digest), submit
//! prove jobs that a bounded pool of workers proves in the background, poll their progress,
//! fetch the proof file (exactly what `prove-model prove` writes, checked by
//! `prove-model verify --vk`) and verify proofs. State lives in SQLite (WAL) and files under
//! the data folder, written atomically, so a killed server restarts with its queued and
//! interrupted jobs queued again and its finished results still served.
//!
//! Modules: [`config`], [`queue`] (the job queue trait), [`store`] (SQLite: models, and the
//! queue), [`jobs`] (shared state and workers), [`api`]
//! (routes) and [`openapi`] (the document generated from them).

pub mod api;
pub mod audit_api;
pub mod audit_log;
pub mod config;
pub mod jobs;
pub mod openapi;
pub mod queue;
pub mod store;

pub use config::ServerConfig;

/// Serves on an already bound listener until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, config: ServerConfig) -> anyhow::Result<()> {
    let state = jobs::AppState::start(config)?;
    axum::serve(listener, api::router(state)).await?;
    Ok(())
}
