//! The server's state in SQLite (WAL mode, synchronous FULL): models and jobs. Files beside it
//! (keys, proof results) are written atomically before the row that points to them commits,
//! so after a crash a row never names a missing or half-written file.

use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "queued" => Status::Queued,
            "running" => Status::Running,
            "completed" => Status::Completed,
            "cancelled" => Status::Cancelled,
            _ => Status::Failed,
        }
    }
}

/// A registered model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelRow {
    pub model_id: String,
    pub name: String,
    pub parameters: u64,
    pub security_bits: u32,
    /// How to rebuild it (JSON of [`crate::models::ModelSpec`]).
    #[serde(skip)]
    pub spec: String,
}

/// A prove job.
#[derive(Clone, Debug, Serialize)]
pub struct JobRow {
    pub job_id: String,
    pub model_id: String,
    pub status: Status,
    pub progress: f64,
    pub error: Option<String>,
    #[serde(skip)]
    pub input: String,
}

/// The database.
pub struct Store {
    conn: Mutex<Connection>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

type Res<T> = Result<T, rusqlite::Error>;

impl Store {
    /// Opens (creating) the database at `path` in WAL mode.
    pub fn open(path: &Path) -> Res<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS models (
                 id TEXT PRIMARY KEY, name TEXT NOT NULL, parameters INTEGER NOT NULL,
                 security_bits INTEGER NOT NULL, spec TEXT NOT NULL, created INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS jobs (
                 id TEXT PRIMARY KEY, model_id TEXT NOT NULL REFERENCES models(id),
                 input TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL,
                 error TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created);",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Res<T>) -> Res<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }

    /// Adds a model (a second setup of the same digest keeps the first row).
    pub fn put_model(&self, m: &ModelRow) -> Res<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO models VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    m.model_id,
                    m.name,
                    m.parameters as i64,
                    m.security_bits,
                    m.spec,
                    now()
                ],
            )
            .map(drop)
        })
    }

    pub fn model(&self, id: &str) -> Res<Option<ModelRow>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, name, parameters, security_bits, spec FROM models WHERE id = ?1",
                [id],
                |r| {
                    Ok(ModelRow {
                        model_id: r.get(0)?,
                        name: r.get(1)?,
                        parameters: r.get::<_, i64>(2)? as u64,
                        security_bits: r.get(3)?,
                        spec: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Queues a job unless `max_queued` jobs are already waiting; `false` when full.
    pub fn add_job(&self, id: &str, model_id: &str, input: &str, max_queued: usize) -> Res<bool> {
        self.with(|c| {
            let queued: i64 = c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')",
                [],
                |r| r.get(0),
            )?;
            if queued as usize >= max_queued {
                return Ok(false);
            }
            let t = now();
            c.execute(
                "INSERT INTO jobs VALUES (?1, ?2, ?3, 'queued', 0, NULL, ?4, ?4)",
                params![id, model_id, input, t],
            )?;
            Ok(true)
        })
    }

    pub fn job(&self, id: &str) -> Res<Option<JobRow>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, model_id, status, progress, error, input FROM jobs WHERE id = ?1",
                [id],
                |r| {
                    Ok(JobRow {
                        job_id: r.get(0)?,
                        model_id: r.get(1)?,
                        status: Status::parse(&r.get::<_, String>(2)?),
                        progress: r.get(3)?,
                        error: r.get(4)?,
                        input: r.get(5)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Moves a job from `from` to `to` (with an error for a failure); `false` if it was not
    /// in `from` (cancelled meanwhile).
    pub fn transition(&self, id: &str, from: Status, to: Status, error: Option<&str>) -> Res<bool> {
        self.with(|c| {
            let progress = if to == Status::Completed { 1.0 } else { 0.0 };
            let n = c.execute(
                "UPDATE jobs SET status = ?3, error = ?4, updated = ?5,
                     progress = CASE WHEN ?3 = 'completed' THEN ?6 ELSE progress END
                 WHERE id = ?1 AND status = ?2",
                params![id, from.as_str(), to.as_str(), error, now(), progress],
            )?;
            Ok(n == 1)
        })
    }

    pub fn set_progress(&self, id: &str, progress: f64) -> Res<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET progress = ?2, updated = ?3 WHERE id = ?1 AND status = 'running'",
                params![id, progress, now()],
            )
            .map(drop)
        })
    }

    /// After a restart: jobs that were running go back to the queue; returns every queued
    /// job, oldest first.
    pub fn recover(&self) -> Res<Vec<String>> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'queued', progress = 0 WHERE status = 'running'",
                [],
            )?;
            let mut st =
                c.prepare("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created")?;
            let ids = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Res<Vec<_>>>()?;
            Ok(ids)
        })
    }
}
