//! The shared state and the workers: a fixed number of workers claim jobs from the
//! [`JobQueue`], prove (or set a model up) on the blocking pool, write the result file
//! atomically and only then mark the job completed. After a restart the jobs a crash left
//! running are queued again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use zkml::prover::Progress;
use zkml::KeyFile;

use model_service::write_atomic;

use crate::audit_api::AuditRequest;
use crate::audit_log::AuditLog;
use crate::config::ServerConfig;
use crate::queue::{Detail, JobKind, JobQueue, JobRow, Status};
use crate::store::{ModelRow, Store};
use model_service::{self as models, Loaded, ModelError, ModelSpec};

/// How long an idle worker waits before asking the queue again (a job submitted here wakes it
/// at once; the poll is for jobs another process queued).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// A setup job's request, as queued.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SetupRequest {
    pub spec: ModelSpec,
    pub calibration: Option<Value>,
}

/// Everything the handlers and workers share.
pub struct AppState {
    pub config: ServerConfig,
    /// Models (and, by default, the job queue).
    pub store: Arc<Store>,
    pub queue: Arc<dyn JobQueue>,
    /// The inference log `/infer` appends to.
    pub audit: AuditLog,
    models: Mutex<HashMap<String, Arc<Loaded>>>,
    wake: Notify,
}

impl AppState {
    /// Opens the store under the data folder, queues again the jobs a crash left running
    /// and starts `config.workers` workers.
    pub fn start(config: ServerConfig) -> anyhow::Result<Arc<Self>> {
        for d in ["models", "results", "reports"] {
            std::fs::create_dir_all(config.data_dir.join(d))?;
        }
        let store = Arc::new(Store::open(&config.data_dir.join("server.sqlite"))?);
        store.requeue_interrupted()?;
        let (audit, opened) = AuditLog::open(&config.data_dir.join("audit"))?;
        if let Some(t) = opened.torn_tail {
            eprintln!(
                "audit log: cut a torn tail of {} bytes at {}:{} (an append interrupted by a crash; it was never acknowledged)",
                t.bytes_cut, t.segment, t.offset
            );
        }
        let state = Arc::new(Self {
            audit,
            config,
            queue: store.clone(),
            store,
            models: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        });
        for _ in 0..state.config.workers.max(1) {
            tokio::spawn(worker(state.clone()));
        }
        Ok(state)
    }

    /// Wakes a worker for a job just queued.
    pub fn job_queued(&self) {
        self.wake.notify_one();
    }

    pub fn key_path(&self, model_id: &str) -> PathBuf {
        self.config
            .data_dir
            .join("models")
            .join(format!("{model_id}.vk"))
    }

    /// The report folder of audit job `job_id`.
    pub fn report_dir(&self, job_id: &str) -> PathBuf {
        self.config.data_dir.join("reports").join(job_id)
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

/// A job's progress, recorded as the prover's stages pass.
struct JobProgress {
    state: Arc<AppState>,
    id: String,
}

impl Progress for JobProgress {
    fn stage(&self, _: &str, step: usize, total: usize) {
        let p = step.saturating_sub(1) as f64 / total.max(1) as f64;
        let _ = self.state.queue.set_progress(&self.id, p);
    }
}

async fn worker(state: Arc<AppState>) {
    loop {
        let job = match state.queue.claim() {
            Ok(Some(job)) => job,
            Ok(None) | Err(_) => {
                let _ = tokio::time::timeout(IDLE_POLL, state.wake.notified()).await;
                continue;
            }
        };
        let id = job.job_id.clone();
        let outcome = match job.kind {
            JobKind::Prove => run_prove(&state, job).await,
            JobKind::Setup => run_setup(&state, job).await,
            JobKind::Audit => run_audit(&state, job).await,
        };
        if let Err(e) = outcome {
            let msg = e.to_string();
            let _ =
                state
                    .queue
                    .transition(&id, Status::Running, Status::Failed, Detail::error(&msg));
        }
    }
}

async fn run_prove(state: &Arc<AppState>, job: JobRow) -> Result<(), ModelError> {
    let model_id = job
        .model_id
        .ok_or_else(|| fail("a prove job without a model"))?;
    let m = state
        .loaded(&model_id)
        .await?
        .ok_or_else(|| fail("the job's model is not registered"))?;
    let input: Value = serde_json::from_str(&job.input).map_err(fail)?;
    let progress = JobProgress {
        state: state.clone(),
        id: job.job_id.clone(),
    };
    let bytes = tokio::task::spawn_blocking(move || models::prove(&m, &input, &progress))
        .await
        .map_err(|e| fail(format!("the prover stopped: {e}")))??;
    let path = state.result_path(&job.job_id);
    write_atomic(&path, &bytes).map_err(fail)?;
    if !complete(state, &job.job_id, None)? {
        // Cancelled while proving: the result is not served.
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

async fn run_setup(state: &Arc<AppState>, job: JobRow) -> Result<(), ModelError> {
    let req: SetupRequest = serde_json::from_str(&job.input).map_err(fail)?;
    let config = state.config.proof;
    let loaded = tokio::task::spawn_blocking(move || {
        models::setup(req.spec, req.calibration.as_ref(), config)
    })
    .await
    .map_err(|e| fail(format!("the setup stopped: {e}")))??;
    let row = register(state, loaded)?;
    complete(state, &job.job_id, Some(&row.model_id))?;
    Ok(())
}

/// Stores a set-up model: its key file (atomically) and then its row.
pub fn register(state: &AppState, loaded: Loaded) -> Result<ModelRow, ModelError> {
    let id = loaded.key.digest_hex();
    let bytes = loaded.key.encode().map_err(fail)?;
    let circuit = loaded.key.vk.circuit().map_err(fail)?;
    let bits = zkml::config::check_security(&loaded.key.vk.config, &circuit).map_err(fail)?;
    write_atomic(&state.key_path(&id), &bytes).map_err(fail)?;
    let row = ModelRow {
        model_id: id.clone(),
        name: loaded.key.model_name().to_owned(),
        parameters: loaded.key.n_params(),
        security_bits: bits,
        spec: serde_json::to_string(&loaded.spec).map_err(fail)?,
    };
    state.store.put_model(&row).map_err(fail)?;
    state.remember(&id, Arc::new(loaded));
    Ok(row)
}

/// The entries `from_seq .. to_seq` an audit request names (times resolved on the log), and
/// the times asked for.
pub fn audit_window(state: &AppState, req: &AuditRequest) -> Result<audit::window::Window, String> {
    let log = state.audit.read();
    let (from_seq, to_seq) = match (&req.from, &req.to, req.from_seq, req.to_seq) {
        (Some(a), Some(b), None, None) => {
            let r = log.seq_range_for_time(
                audit::time::parse_rfc3339(a)?,
                audit::time::parse_rfc3339(b)?,
            );
            (r.start, r.end)
        }
        (None, None, Some(a), b) => (a, b.unwrap_or(log.len())),
        _ => return Err("give from and to (RFC 3339), or from_seq [and to_seq]".into()),
    };
    if from_seq >= to_seq || to_seq > log.len() {
        return Err(format!(
            "the window {from_seq}..{to_seq} is empty or beyond the log's {} entries",
            log.len()
        ));
    }
    Ok(audit::window::Window {
        from_seq,
        to_seq,
        from_time: req.from.clone(),
        to_time: req.to.clone(),
    })
}

async fn run_audit(state: &Arc<AppState>, job: JobRow) -> Result<(), ModelError> {
    let req: AuditRequest = serde_json::from_str(&job.input).map_err(fail)?;
    let m = state
        .loaded(&req.model_id)
        .await?
        .ok_or_else(|| fail("the job's model is not registered"))?;
    let window = audit_window(state, &req).map_err(fail)?;
    let data = {
        let log = state.audit.read();
        audit::window::WindowData::collect(&log, window.from_seq, window.to_seq).map_err(fail)?
    };
    let out = state.report_dir(&job.job_id);
    // A rerun after a crash starts the folder afresh.
    let _ = std::fs::remove_dir_all(&out);
    let progress_state = state.clone();
    let id = job.job_id.clone();
    tokio::task::spawn_blocking(move || {
        let progress = |done: u64, total: u64| {
            let _ = progress_state
                .queue
                .set_progress(&id, done as f64 / total.max(1) as f64);
        };
        // Sealed entries need the recipient's key, which the server does not hold: they are
        // listed as failed here and proved offline by the recipient (`audit prove`).
        model_service::window::prove_window(data, window, &m, &out, None, &progress)
    })
    .await
    .map_err(|e| fail(format!("the window prover stopped: {e}")))?
    .map_err(fail)?;
    complete(state, &job.job_id, None)?;
    Ok(())
}

/// Marks a running job completed (with the model a setup made); `false` if it was cancelled
/// meanwhile.
fn complete(state: &AppState, job_id: &str, model_id: Option<&str>) -> Result<bool, ModelError> {
    let detail = Detail {
        error: None,
        model_id,
    };
    state
        .queue
        .transition(job_id, Status::Running, Status::Completed, detail)
        .map_err(fail)
}
