//! The wallet's SQLite store, `DIR/wallet.sqlite` (WAL, `synchronous = FULL`, schema version in
//! `user_version`): the scanned frontier, owned notes with their nullifiers and status, and the
//! witness of every unspent note. No keys are stored here, and every row about our notes is
//! sealed ([`crate::seal`]): notes and witnesses encrypted, positions, commitments and
//! nullifiers replaced by keyed tags. A scanned page is applied in one transaction, so a crash
//! resumes from the last page; reservations are conditional updates in a transaction, so two
//! processes never reserve the same note.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use thiserror::Error;
use vm31::canonical::m31s_to_le_bytes;
use vm31::{Digest, Frontier, Note, Nullifier};

use crate::seal::StoreKey;
use crate::witness::NoteWitness;

/// Name of the database inside the wallet directory.
pub const FILE_NAME: &str = "wallet.sqlite";
/// The schema this build writes; newer ones are refused.
pub const SCHEMA_VERSION: i64 = 2;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const SCAN_NEXT: &str = "scan_next";

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE frontier (id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
CREATE TABLE notes (
    tag BLOB PRIMARY KEY,
    commitment BLOB NOT NULL UNIQUE,
    nullifier BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('unspent', 'reserved', 'spent')),
    reserved_by TEXT,
    CHECK ((status = 'reserved') = (reserved_by IS NOT NULL))
);
CREATE TABLE witnesses (
    tag BLOB PRIMARY KEY REFERENCES notes (tag) ON DELETE CASCADE,
    sealed BLOB NOT NULL
);
";

/// Errors of the wallet store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("wallet database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("wallet database has schema version {found}; this build reads up to {supported}")]
    NewerSchema { found: i64, supported: i64 },
    /// The note is reserved by another transaction or already spent.
    #[error("note at position {position} is already reserved or spent")]
    AlreadyReserved { position: u64 },
    #[error("the wallet holds no note at position {position}")]
    UnknownNote { position: u64 },
    /// A scan page that does not continue the stored state.
    #[error("inconsistent scan page: {what}")]
    InconsistentPage { what: String },
    /// Stored bytes that do not decode.
    #[error("corrupt wallet database: {what}")]
    Corrupt { what: String },
}

/// Where an owned note stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoteStatus {
    Unspent,
    /// Selected as an input of a transaction not yet seen on the pool.
    Reserved,
    Spent,
}

impl NoteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspent => "unspent",
            Self::Reserved => "reserved",
            Self::Spent => "spent",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "unspent" => Ok(Self::Unspent),
            "reserved" => Ok(Self::Reserved),
            "spent" => Ok(Self::Spent),
            _ => Err(corrupt(format!("note status {s:?}"))),
        }
    }
}

/// A note found while scanning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedNote {
    pub position: u64,
    pub note: Note,
    pub nullifier: Nullifier,
}

/// An unspent note with what spending it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedNoteRecord {
    pub position: u64,
    pub note: Note,
    pub nullifier: Nullifier,
    pub witness: NoteWitness,
}

/// What one page of scanning changes.
#[derive(Clone, Debug)]
pub struct ScanPage {
    /// The next leaf index to scan (the frontier's length).
    pub next_index: u64,
    pub frontier: Frontier,
    pub new_notes: Vec<OwnedNote>,
    /// The witness of every owned note not yet spent (new ones included), brought up to
    /// `next_index`.
    pub witnesses: Vec<(u64, NoteWitness)>,
    /// Nullifiers published in the page.
    pub spent_nullifiers: Vec<Nullifier>,
}

/// The scanned state: next leaf index, frontier and the witnesses of unspent notes.
pub type ScanState = (u64, Frontier, Vec<(u64, NoteWitness)>);

/// An open wallet database.
#[derive(Debug)]
pub struct WalletStore {
    conn: Connection,
    key: StoreKey,
}

/// What a sealed note row holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedNote {
    position: u64,
    note: Note,
    nullifier: Nullifier,
}

impl WalletStore {
    /// Opens `DIR/wallet.sqlite` with the wallet's store key, creating the schema in a new file.
    pub fn open(dir: &Path, key: StoreKey) -> Result<Self, StoreError> {
        let conn = Connection::open(dir.join(FILE_NAME))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Self { conn, key };
        let tx = store.write()?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        match version {
            0 => {
                tx.execute_batch(SCHEMA)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            SCHEMA_VERSION => {}
            1 => {
                return Err(corrupt(
                    "a wallet database of the first version (notes in clear); create the wallet again from its seed phrase".into(),
                ))
            }
            found if found > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                })
            }
            found => return Err(corrupt(format!("schema version {found}"))),
        }
        tx.commit()?;
        Ok(store)
    }

    /// Where the next scan starts.
    pub fn scan_state(&self) -> Result<ScanState, StoreError> {
        let next_index = self.scan_next()?;
        let frontier = self
            .conn
            .query_row("SELECT state FROM frontier WHERE id = 0", [], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .optional()?
            .map(|bytes| decode::<Frontier>(&bytes, "frontier"))
            .transpose()?
            .unwrap_or_default();
        let mut stmt = self.conn.prepare(
            "SELECT w.tag, w.sealed FROM witnesses w JOIN notes n USING (tag)
             WHERE n.status <> 'spent'",
        )?;
        let mut witnesses = stmt
            .query_map([], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
            })?
            .map(|row| {
                let (tag, sealed) = row?;
                let witness: NoteWitness = self.open_row(b"witness", &tag, &sealed)?;
                Ok((u64::from(witness.position()), witness))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        witnesses.sort_by_key(|(position, _)| *position);
        Ok((next_index, frontier, witnesses))
    }

    /// Stores a scanned page in one transaction, after checking that it continues the stored
    /// state: the frontier has `next_index` leaves and does not go back, every witness is at
    /// the frontier's root, and every note not spent has its witness in the page.
    pub fn apply_scan_page(&mut self, page: &ScanPage) -> Result<(), StoreError> {
        check_page(page, self.scan_next()?)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCAN_NEXT, page.next_index.to_be_bytes().as_slice()],
        )?;
        tx.execute(
            "INSERT INTO frontier (id, state) VALUES (0, ?1)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            [encode(&page.frontier)?],
        )?;
        let key = &self.key;
        for owned in &page.new_notes {
            // A commitment or nullifier the wallet already holds is ignored (see vm31::note).
            let tag = position_tag(key, owned.position);
            let record = SealedNote {
                position: owned.position,
                note: owned.note,
                nullifier: owned.nullifier,
            };
            tx.execute(
                "INSERT OR IGNORE INTO notes (tag, commitment, nullifier, sealed, status)
                 VALUES (?1, ?2, ?3, ?4, 'unspent')",
                params![
                    tag,
                    key.tag(b"commitment", &digest_bytes(&owned.note.commitment().0)),
                    nullifier_tag(key, &owned.nullifier),
                    seal_row(key, b"note", &tag, &record)?,
                ],
            )?;
        }
        for (position, witness) in &page.witnesses {
            let tag = position_tag(key, *position);
            tx.execute(
                "INSERT INTO witnesses (tag, sealed)
                 SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM notes WHERE tag = ?1)
                 ON CONFLICT (tag) DO UPDATE SET sealed = excluded.sealed",
                params![tag, seal_row(key, b"witness", &tag, witness)?],
            )?;
        }
        mark_spent(&tx, key, &page.spent_nullifiers)?;
        let updated: BTreeSet<Vec<u8>> = page
            .witnesses
            .iter()
            .map(|(p, _)| position_tag(key, *p))
            .collect();
        let live = live_tags(&tx)?;
        if live.iter().any(|t| !updated.contains(t)) {
            return Err(inconsistent(
                "the page lacks the witness of an unspent note".into(),
            ));
        }
        tx.commit()?;
        Ok(())
    }

    /// Sum of unspent notes per asset id.
    pub fn balances(&self) -> Result<BTreeMap<u32, u128>, StoreError> {
        let mut balances = BTreeMap::new();
        for (record, _) in self.unspent(false)? {
            *balances.entry(record.note.asset_id.0).or_insert(0u128) +=
                u128::from(record.note.amount);
        }
        Ok(balances)
    }

    /// Unspent notes of `asset` with their witnesses, smallest amount first.
    pub fn spendable(&self, asset: u32) -> Result<Vec<OwnedNoteRecord>, StoreError> {
        let mut records: Vec<OwnedNoteRecord> = self
            .unspent(true)?
            .into_iter()
            .filter(|(record, _)| record.note.asset_id.0 == asset)
            .map(|(record, witness)| {
                let position = record.position;
                let witness =
                    witness.ok_or_else(|| corrupt(format!("note at {position} has no witness")))?;
                Ok(OwnedNoteRecord {
                    position,
                    note: record.note,
                    nullifier: record.nullifier,
                    witness,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        records.sort_by_key(|r| (r.note.amount, r.position));
        Ok(records)
    }

    /// Every unspent note, opened, with its witness if `witnesses`.
    fn unspent(
        &self,
        witnesses: bool,
    ) -> Result<Vec<(SealedNote, Option<NoteWitness>)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT n.tag, n.sealed, w.sealed
             FROM notes n LEFT JOIN witnesses w USING (tag) WHERE n.status = 'unspent'",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Option<Vec<u8>>>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (tag, note, witness) = row?;
            let record: SealedNote = self.open_row(b"note", &tag, &note)?;
            let witness = match (witnesses, witness) {
                (true, Some(w)) => Some(self.open_row(b"witness", &tag, &w)?),
                _ => None,
            };
            Ok((record, witness))
        })
        .collect()
    }

    fn open_row<T: serde::de::DeserializeOwned>(
        &self,
        kind: &[u8],
        tag: &[u8],
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let ad = [kind, tag].concat();
        let bytes = self
            .key
            .open(&ad, sealed)
            .map_err(|e| corrupt(e.to_string()))?;
        decode(&bytes, std::str::from_utf8(kind).unwrap_or("row"))
    }

    /// The status of the note at `position` and the tag it is reserved by, if any.
    pub fn note_status(
        &self,
        position: u64,
    ) -> Result<Option<(NoteStatus, Option<String>)>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT status, reserved_by FROM notes WHERE tag = ?1",
                [position_tag(&self.key, position)],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?)),
            )
            .optional()?;
        row.map(|(status, tag)| Ok((NoteStatus::parse(&status)?, tag)))
            .transpose()
    }

    /// Reserves all of `positions` for the transaction `tx_tag`, or none of them.
    pub fn reserve(&mut self, positions: &[u64], tx_tag: &str) -> Result<(), StoreError> {
        let tags: Vec<Vec<u8>> = positions
            .iter()
            .map(|&p| position_tag(&self.key, p))
            .collect();
        let tx = self.write()?;
        for (&position, tag) in positions.iter().zip(&tags) {
            let changed = tx.execute(
                "UPDATE notes SET status = 'reserved', reserved_by = ?2
                 WHERE tag = ?1 AND status = 'unspent'",
                params![tag, tx_tag],
            )?;
            if changed == 0 {
                let exists = tx
                    .query_row("SELECT 1 FROM notes WHERE tag = ?1", [tag], |_| Ok(()))
                    .optional()?
                    .is_some();
                return Err(if exists {
                    StoreError::AlreadyReserved { position }
                } else {
                    StoreError::UnknownNote { position }
                });
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes the notes reserved by `tx_tag` unspent again; returns how many.
    pub fn release(&mut self, tx_tag: &str) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE notes SET status = 'unspent', reserved_by = NULL
             WHERE status = 'reserved' AND reserved_by = ?1",
            [tx_tag],
        )?)
    }

    /// Makes every reserved note unspent again (reservations left by an interrupted command);
    /// returns how many. Notes whose spend did reach the pool are marked spent by the next scan.
    pub fn release_all(&mut self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE notes SET status = 'unspent', reserved_by = NULL WHERE status = 'reserved'",
            [],
        )?)
    }

    /// Marks the owned notes with these nullifiers spent and drops their witnesses; returns how
    /// many notes changed.
    pub fn mark_spent_by_nullifiers(
        &mut self,
        nullifiers: &[Nullifier],
    ) -> Result<usize, StoreError> {
        let tags: Vec<Vec<u8>> = nullifiers
            .iter()
            .map(|n| nullifier_tag(&self.key, n))
            .collect();
        let tx = self.write()?;
        let changed = mark_spent_tags(&tx, &tags)?;
        tx.commit()?;
        Ok(changed)
    }

    /// A value of the free-form `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Sets a value of the `meta` table (`scan_next` is the store's own).
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn scan_next(&self) -> Result<u64, StoreError> {
        match self.meta(SCAN_NEXT)? {
            None => Ok(0),
            Some(bytes) => u64_from_be(&bytes, SCAN_NEXT),
        }
    }

    /// A write transaction that takes the lock at once (no upgrade deadlock between processes).
    fn write(&mut self) -> Result<Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

fn check_page(page: &ScanPage, previous: u64) -> Result<(), StoreError> {
    if page.frontier.len() != page.next_index {
        return Err(inconsistent(format!(
            "next index {} but the frontier holds {} leaves",
            page.next_index,
            page.frontier.len()
        )));
    }
    if page.next_index < previous {
        return Err(inconsistent(format!(
            "next index {} is behind the stored {previous}",
            page.next_index
        )));
    }
    let root = page.frontier.root();
    for (position, witness) in &page.witnesses {
        if u64::from(witness.position()) != *position
            || witness.tree_len() != page.next_index
            || witness.root() != root
        {
            return Err(inconsistent(format!(
                "witness of the note at {position} is not at the frontier's root"
            )));
        }
    }
    for owned in &page.new_notes {
        let position = owned.position;
        if position >= page.next_index {
            return Err(inconsistent(format!(
                "note position {position} beyond the tree"
            )));
        }
        let witnessed = page
            .witnesses
            .iter()
            .any(|(p, w)| *p == position && w.leaf() == owned.note.commitment());
        if !witnessed {
            return Err(inconsistent(format!(
                "no witness for the commitment of the new note at {position}"
            )));
        }
    }
    Ok(())
}

fn mark_spent(
    tx: &Transaction<'_>,
    key: &StoreKey,
    nullifiers: &[Nullifier],
) -> Result<usize, StoreError> {
    let tags: Vec<Vec<u8>> = nullifiers.iter().map(|n| nullifier_tag(key, n)).collect();
    mark_spent_tags(tx, &tags)
}

fn mark_spent_tags(tx: &Transaction<'_>, tags: &[Vec<u8>]) -> Result<usize, StoreError> {
    let mut changed = 0;
    for tag in tags {
        changed += tx.execute(
            "UPDATE notes SET status = 'spent', reserved_by = NULL
             WHERE nullifier = ?1 AND status <> 'spent'",
            [tag],
        )?;
    }
    tx.execute(
        "DELETE FROM witnesses WHERE tag IN (SELECT tag FROM notes WHERE status = 'spent')",
        [],
    )?;
    Ok(changed)
}

fn live_tags(tx: &Transaction<'_>) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut stmt = tx.prepare("SELECT tag FROM notes WHERE status <> 'spent'")?;
    let tags = stmt
        .query_map([], |row| row.get::<_, Vec<u8>>(0))?
        .collect::<Result<_, _>>()?;
    Ok(tags)
}

fn position_tag(key: &StoreKey, position: u64) -> Vec<u8> {
    key.tag(b"position", &position.to_be_bytes())
}

fn nullifier_tag(key: &StoreKey, nullifier: &Nullifier) -> Vec<u8> {
    key.tag(b"nullifier", &digest_bytes(&nullifier.0))
}

fn seal_row<T: serde::Serialize>(
    key: &StoreKey,
    kind: &[u8],
    tag: &[u8],
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    Ok(key.seal(&[kind, tag].concat(), &encode(value)?))
}

fn digest_bytes(digest: &Digest) -> Vec<u8> {
    m31s_to_le_bytes(digest)
}

fn u64_from_be(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt(format!("{what} of {} bytes", bytes.len())))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serialize(value).map_err(|e| corrupt(format!("encoding: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    bincode::deserialize(bytes).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt { what }
}

fn inconsistent(what: String) -> StoreError {
    StoreError::InconsistentPage { what }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
