//! The server's state in SQLite (WAL mode, synchronous FULL): models and jobs. Files beside it
//! (keys, proof results) are written atomically before the row that points to them commits,
//! so after a crash a row never names a missing or half-written file.

use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::queue::{Detail, JobKind, JobQueue, JobRow, NewJob, QueueError, Status};

/// A registered model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelRow {
    pub model_id: String,
    pub name: String,
    pub parameters: u64,
    pub security_bits: u32,
    /// How to rebuild it (JSON of [`model_service::ModelSpec`]).
    #[serde(skip)]
    pub spec: String,
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

/// The layout this server writes (`PRAGMA user_version`); older ones are upgraded at open.
const SCHEMA_VERSION: i64 = 2;

fn store_err(e: rusqlite::Error) -> QueueError {
    QueueError(e.to_string())
}

fn job_row(r: &rusqlite::Row<'_>) -> Res<JobRow> {
    Ok(JobRow {
        job_id: r.get(0)?,
        kind: JobKind::parse(&r.get::<_, String>(1)?),
        model_id: r.get(2)?,
        status: Status::parse(&r.get::<_, String>(3)?),
        progress: r.get(4)?,
        error: r.get(5)?,
        input: r.get(6)?,
    })
}

const JOB_COLUMNS: &str = "id, kind, model_id, status, progress, error, input";

impl Store {
    /// Opens (creating or upgrading) the database at `path` in WAL mode.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        anyhow::ensure!(
            version <= SCHEMA_VERSION,
            "{}: database schema version {version} is newer than this server's ({SCHEMA_VERSION})",
            path.display()
        );
        if version < SCHEMA_VERSION {
            let tx = conn.transaction()?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS models (
                     id TEXT PRIMARY KEY, name TEXT NOT NULL, parameters INTEGER NOT NULL,
                     security_bits INTEGER NOT NULL, spec TEXT NOT NULL, created INTEGER NOT NULL);",
            )?;
            // Version 1 had prove jobs only, each with a model.
            let v1: bool = tx.query_row(
                "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'",
                [],
                |r| r.get(0),
            )?;
            if v1 {
                tx.execute_batch(
                    "ALTER TABLE jobs RENAME TO jobs_v1; DROP INDEX IF EXISTS jobs_status;",
                )?;
            }
            tx.execute_batch(
                "CREATE TABLE jobs (
                     id TEXT PRIMARY KEY, kind TEXT NOT NULL, model_id TEXT,
                     input TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL,
                     error TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);
                 CREATE INDEX jobs_status ON jobs(status, created);",
            )?;
            if v1 {
                tx.execute_batch(
                    "INSERT INTO jobs SELECT id, 'prove', model_id, input, status, progress,
                         error, created, updated FROM jobs_v1;
                     DROP TABLE jobs_v1;",
                )?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
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
}

impl JobQueue for Store {
    fn submit(&self, job: NewJob<'_>, max_pending: usize) -> Result<bool, QueueError> {
        self.with(|c| {
            let pending: i64 = c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')",
                [],
                |r| r.get(0),
            )?;
            if pending as usize >= max_pending {
                return Ok(false);
            }
            c.execute(
                "INSERT INTO jobs VALUES (?1, ?2, ?3, ?4, 'queued', 0, NULL, ?5, ?5)",
                params![
                    job.job_id,
                    job.kind.as_str(),
                    job.model_id,
                    job.input,
                    now()
                ],
            )?;
            Ok(true)
        })
        .map_err(store_err)
    }

    fn claim(&self) -> Result<Option<JobRow>, QueueError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "UPDATE jobs SET status = 'running', progress = 0, updated = ?1
                     WHERE id = (SELECT id FROM jobs WHERE status = 'queued'
                                 ORDER BY created, id LIMIT 1)
                     RETURNING {JOB_COLUMNS}"
                ),
                [now()],
                job_row,
            )
            .optional()
        })
        .map_err(store_err)
    }

    fn set_progress(&self, job_id: &str, progress: f64) -> Result<(), QueueError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET progress = ?2, updated = ?3 WHERE id = ?1 AND status = 'running'",
                params![job_id, progress, now()],
            )
            .map(drop)
        })
        .map_err(store_err)
    }

    fn transition(
        &self,
        job_id: &str,
        from: Status,
        to: Status,
        detail: Detail<'_>,
    ) -> Result<bool, QueueError> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE jobs SET status = ?3, error = ?4, updated = ?5,
                     progress = CASE WHEN ?3 = 'completed' THEN 1.0 ELSE progress END,
                     model_id = COALESCE(?6, model_id)
                 WHERE id = ?1 AND status = ?2",
                params![
                    job_id,
                    from.as_str(),
                    to.as_str(),
                    detail.error,
                    now(),
                    detail.model_id
                ],
            )?;
            Ok(n == 1)
        })
        .map_err(store_err)
    }

    fn job(&self, job_id: &str) -> Result<Option<JobRow>, QueueError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                [job_id],
                job_row,
            )
            .optional()
        })
        .map_err(store_err)
    }

    fn requeue_interrupted(&self) -> Result<usize, QueueError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'queued', progress = 0 WHERE status = 'running'",
                [],
            )?;
            c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE status = 'queued'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
        })
        .map_err(store_err)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_version_1_database_is_upgraded_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT NOT NULL,
                     parameters INTEGER NOT NULL, security_bits INTEGER NOT NULL,
                     spec TEXT NOT NULL, created INTEGER NOT NULL);
                 CREATE TABLE jobs (id TEXT PRIMARY KEY, model_id TEXT NOT NULL REFERENCES models(id),
                     input TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL,
                     error TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);
                 CREATE INDEX jobs_status ON jobs(status, created);
                 INSERT INTO models VALUES ('m1', 'mlp', 1, 96, '{}', 1);
                 INSERT INTO jobs VALUES ('j1', 'm1', '[1]', 'running', 0.5, NULL, 1, 1);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.requeue_interrupted().unwrap(), 1);
        let job = store.claim().unwrap().unwrap();
        assert_eq!(
            (job.job_id.as_str(), job.kind, job.model_id.as_deref()),
            ("j1", JobKind::Prove, Some("m1"))
        );
        assert!(store.claim().unwrap().is_none(), "a job is claimed once");
        drop(store);
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 9)
            .unwrap();
        let e = Store::open(&path).err().unwrap().to_string();
        assert!(e.contains("newer"), "{e}");
    }
}
