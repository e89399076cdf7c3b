//! The node's errors (JSON-RPC errors are [`crate::api::RpcError`]).

use thiserror::Error;

/// Why the node could not open or keep its database.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("database is inconsistent: {0}")]
    Corrupt(String),
    #[error("this database belongs to another pool: chain {}, pool {}", stored.chain_id, hex::encode(stored.pool_id))]
    WrongDeployment { stored: Box<vm31::tx::Deployment> },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the node's writer stopped")]
    WriterStopped,
}
