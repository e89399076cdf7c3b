//! The job queue, behind a small trait: where jobs wait and how workers take them.
//!
//! The embedded implementation is the server's SQLite database ([`crate::store::Store`]): a
//! worker claims the oldest queued job in one `UPDATE ... RETURNING` statement, so two workers
//! never take the same job. When one machine is not enough, the same trait fits a shared
//! engine: PostgreSQL claiming with `SELECT ... FOR UPDATE SKIP LOCKED` and a lease per running
//! job (see `docs/scale-out.md`), so several prover machines pull from one queue without a
//! protocol of our own.

use serde::Serialize;
use utoipa::ToSchema;

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Proves an inference on a registered model.
    Prove,
    /// Sets a model up (scales, weight commitment, key) when that takes long.
    Setup,
    /// Proves a window of the audit log and writes its report.
    Audit,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Prove => "prove",
            JobKind::Setup => "setup",
            JobKind::Audit => "audit",
        }
    }

    pub fn parse(s: &str) -> JobKind {
        match s {
            "setup" => JobKind::Setup,
            "audit" => JobKind::Audit,
            _ => JobKind::Prove,
        }
    }
}

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Status {
        match s {
            "queued" => Status::Queued,
            "running" => Status::Running,
            "completed" => Status::Completed,
            "cancelled" => Status::Cancelled,
            _ => Status::Failed,
        }
    }
}

/// A job as stored.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobRow {
    pub job_id: String,
    pub kind: JobKind,
    /// The model proved on; for a setup job, the model it made (once completed).
    pub model_id: Option<String>,
    pub status: Status,
    pub progress: f64,
    pub error: Option<String>,
    /// The prove input or the setup request (JSON text).
    #[serde(skip)]
    pub input: String,
}

/// A new job.
pub struct NewJob<'a> {
    pub job_id: &'a str,
    pub kind: JobKind,
    pub model_id: Option<&'a str>,
    pub input: &'a str,
}

/// The queue's storage failed.
#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct QueueError(pub String);

/// Where jobs wait and how workers take them.
pub trait JobQueue: Send + Sync {
    /// Queues a job unless `max_pending` jobs are queued or running; `false` when full.
    fn submit(&self, job: NewJob<'_>, max_pending: usize) -> Result<bool, QueueError>;
    /// Takes the oldest queued job and marks it running, atomically: a job is claimed once.
    fn claim(&self) -> Result<Option<JobRow>, QueueError>;
    /// Records a running job's progress (0 to 1).
    fn set_progress(&self, job_id: &str, progress: f64) -> Result<(), QueueError>;
    /// Moves a job from `from` to `to`, recording an error or the model a setup made; `false`
    /// when the job was not in `from` (cancelled meanwhile).
    fn transition(
        &self,
        job_id: &str,
        from: Status,
        to: Status,
        detail: Detail<'_>,
    ) -> Result<bool, QueueError>;
    /// A job by id.
    fn job(&self, job_id: &str) -> Result<Option<JobRow>, QueueError>;
    /// After a crash: jobs left running are queued again; returns how many are queued.
    fn requeue_interrupted(&self) -> Result<usize, QueueError>;
}

/// What a transition records.
#[derive(Clone, Copy, Debug, Default)]
pub struct Detail<'a> {
    pub error: Option<&'a str>,
    pub model_id: Option<&'a str>,
}

impl<'a> Detail<'a> {
    pub fn error(e: &'a str) -> Self {
        Self {
            error: Some(e),
            model_id: None,
        }
    }
}
