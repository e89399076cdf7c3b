//! The shared state and the prove workers: a fixed number of workers take job ids from a
//! queue, prove on the blocking pool, write the proof file atomically and only then mark the
//! job completed. After a restart the store's queued and interrupted jobs are queued again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc;
use zkml::prover::Progress;
use zkml::KeyFile;

use crate::config::ServerConfig;
use crate::models::{self, Loaded, ModelError, ModelSpec};
use crate::store::{Status, Store};

/// Everything the handlers and workers share.
pub struct AppState {
    pub config: ServerConfig,
    pub store: Store,
    models: Mutex<HashMap<String, Arc<Loaded>>>,
    queue: mpsc::UnboundedSender<String>,
}

impl AppState {
    /// Opens the store under the data folder and starts `config.workers` workers, after
    /// queueing the jobs a previous run left.
    pub fn start(config: ServerConfig) -> anyhow::Result<Arc<Self>> {
        for d in ["models", "results"] {
            std::fs::create_dir_all(config.data_dir.join(d))?;
        }
        let store = Store::open(&config.data_dir.join("server.sqlite"))?;
        let pending = store.recover()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Self {
            config,
            store,
            models: Mutex::new(HashMap::new()),
            queue: tx,
        });
        for id in pending {
            state.enqueue(id);
        }
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..state.config.workers.max(1) {
            tokio::spawn(worker(state.clone(), rx.clone()));
        }
        Ok(state)
    }

    /// Hands a queued job to the workers.
    pub fn enqueue(&self, id: String) {
        // The receiver lives as long as the workers; a send error means shutdown.
        let _ = self.queue.send(id);
    }

    pub fn key_path(&self, model_id: &str) -> PathBuf {
        self.config
            .data_dir
            .join("models")
            .join(format!("{model_id}.vk"))
    }

    pub fn result_path(&self, job_id: &str) -> PathBuf {
        self.config
            .data_dir
            .join("results")
            .join(format!("{job_id}.bin"))
    }

    /// Keeps a set-up model for the requests that follow.
    pub fn remember(&self, id: &str, m: Arc<Loaded>) {
        let mut cache = self.models.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(id.to_owned(), m);
    }

    /// The model `id`: from memory, else rebuilt from its spec and key file (blocking work).
    pub async fn loaded(self: &Arc<Self>, id: &str) -> Result<Option<Arc<Loaded>>, ModelError> {
        if let Some(m) = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            return Ok(Some(m.clone()));
        }
        let Some(row) = self.store.model(id).map_err(fail)? else {
            return Ok(None);
        };
        let spec: ModelSpec = serde_json::from_str(&row.spec).map_err(fail)?;
        let key = self.read_key(id)?;
        let m = tokio::task::spawn_blocking(move || models::load(spec, key))
            .await
            .map_err(fail)??;
        let m = Arc::new(m);
        self.remember(id, m.clone());
        Ok(Some(m))
    }

    /// The key file of model `id`.
    pub fn read_key(&self, id: &str) -> Result<KeyFile, ModelError> {
        let bytes = std::fs::read(self.key_path(id)).map_err(fail)?;
        KeyFile::decode(&bytes).map_err(fail)
    }
}

fn fail(e: impl std::fmt::Display) -> ModelError {
    ModelError::Failed(e.to_string())
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A job's progress, recorded as the prover's stages pass.
struct JobProgress {
    state: Arc<AppState>,
    id: String,
}

impl Progress for JobProgress {
    fn stage(&self, _: &str, step: usize, total: usize) {
        let p = step.saturating_sub(1) as f64 / total.max(1) as f64;
        let _ = self.state.store.set_progress(&self.id, p);
    }
}

async fn worker(
    state: Arc<AppState>,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>>,
) {
    loop {
        let next = rx.lock().await.recv().await;
        let Some(id) = next else { return };
        if let Err(e) = run_job(&state, &id).await {
            let msg = e.to_string();
            let _ = state
                .store
                .transition(&id, Status::Running, Status::Failed, Some(&msg));
        }
    }
}

async fn run_job(state: &Arc<AppState>, id: &str) -> Result<(), ModelError> {
    let Some(job) = state.store.job(id).map_err(fail)? else {
        return Ok(());
    };
    // Not queued any more (cancelled): nothing to do.
    if !state
        .store
        .transition(id, Status::Queued, Status::Running, None)
        .map_err(fail)?
    {
        return Ok(());
    }
    let m = state
        .loaded(&job.model_id)
        .await?
        .ok_or_else(|| fail("the job's model is not registered"))?;
    let input: Value = serde_json::from_str(&job.input).map_err(fail)?;
    let progress = JobProgress {
        state: state.clone(),
        id: id.to_owned(),
    };
    let bytes = tokio::task::spawn_blocking(move || models::prove(&m, &input, &progress))
        .await
        .map_err(|e| fail(format!("the prover stopped: {e}")))??;
    let path = state.result_path(id);
    write_atomic(&path, &bytes).map_err(fail)?;
    if !state
        .store
        .transition(id, Status::Running, Status::Completed, None)
        .map_err(fail)?
    {
        // Cancelled while proving: the result is not served.
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}
