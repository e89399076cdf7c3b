//! Read-only queries, each on its own connection (WAL lets readers run beside the writer).

use std::path::Path;

use rusqlite::OptionalExtension;
use vm31::{Commitment, Nullifier};

use crate::api::{CiphertextHex, NoteEntry, NotesPage, MAX_PAGE};
use crate::error::NodeError;
use crate::store::{connect, digest_bytes, digest_from_bytes};

/// Sealed leaves from `from` (at most `limit`), their root and the nullifiers of the
/// transactions that created them. `sealed_tree_size` bounds what is served.
pub fn notes_page(
    db: &Path,
    from: u64,
    limit: u64,
    sealed_tree_size: u64,
) -> Result<NotesPage, NodeError> {
    let conn = connect(db)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let end = sealed_tree_size.min(from.saturating_add(limit));
    let mut notes = Vec::new();
    let mut root = None;
    if from < end {
        let mut stmt = conn.prepare(
            "SELECT idx, commitment, ciphertext, root_after FROM leaves
             WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )?;
        let mut rows = stmt.query([from as i64, end as i64])?;
        while let Some(row) = rows.next()? {
            let index = row.get::<_, i64>(0)? as u64;
            let commitment = Commitment(digest_from_bytes(&row.get::<_, Vec<u8>>(1)?)?);
            let ciphertext: CiphertextHex = serde_json::from_slice(&row.get::<_, Vec<u8>>(2)?)
                .map_err(|e| NodeError::Corrupt(e.to_string()))?;
            root = Some(digest_from_bytes(&row.get::<_, Vec<u8>>(3)?)?);
            notes.push(NoteEntry {
                index,
                commitment: commitment.0,
                ciphertext,
            });
        }
    }
    let next = from.max(from + notes.len() as u64);
    let root = match root {
        Some(r) => r,
        None => root_at(&conn, next)?,
    };
    let mut stmt = conn
        .prepare("SELECT nullifier FROM nullifiers WHERE leaf >= ?1 AND leaf < ?2 ORDER BY leaf")?;
    let mut rows = stmt.query([from as i64, next as i64])?;
    let mut nullifiers = Vec::new();
    while let Some(row) = rows.next()? {
        nullifiers.push(Nullifier(digest_from_bytes(&row.get::<_, Vec<u8>>(0)?)?));
    }
    Ok(NotesPage {
        notes,
        nullifiers,
        next,
        root,
        sealed_tree_size,
    })
}

/// The root of the tree of its first `size` leaves.
fn root_at(conn: &rusqlite::Connection, size: u64) -> Result<vm31::Digest, NodeError> {
    if size == 0 {
        return Ok(vm31::Frontier::new().root());
    }
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT root_after FROM leaves WHERE idx = ?1",
            [(size - 1) as i64],
            |r| r.get(0),
        )
        .optional()?;
    match blob {
        Some(b) => digest_from_bytes(&b),
        None => Err(NodeError::Corrupt(format!("no leaf {}", size - 1))),
    }
}

/// Whether `nullifier` was spent.
pub fn nullifier_spent(db: &Path, nullifier: &Nullifier) -> Result<bool, NodeError> {
    let conn = connect(db)?;
    let found: Option<i64> = conn
        .query_row(
            "SELECT tx_seq FROM nullifiers WHERE nullifier = ?1",
            [digest_bytes(&nullifier.0)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}
