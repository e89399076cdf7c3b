//! The pool's state in SQLite: leaves and frontier, nullifiers, blocks, the public ledger and the
//! shielded supply per asset.
//!
//! `journal_mode = WAL`, `synchronous = FULL`: a transaction is durable when `COMMIT` returns,
//! and the node acknowledges nothing before. Each pool transaction is applied inside its own
//! `SAVEPOINT` (all of it or none of it) within a group committed at once; uniqueness of
//! nullifiers and commitments is enforced by the database (`PRIMARY KEY`, `UNIQUE`), not by a
//! cache, so two spends of one note cannot both be applied whatever the interleaving.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use vm31::{Commitment, Digest, Frontier, Nullifier, RootWindow};

use crate::api::{code, RpcError, SealedRoot};
use crate::error::NodeError;
use crate::verify::{LedgerEntry, Verified};

/// Schema version in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;
/// Sealed roots kept in the window.
pub const WINDOW: usize = vm31::merkle::ROOT_WINDOW_LEN;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE txs (seq INTEGER PRIMARY KEY, tx_id BLOB NOT NULL UNIQUE, kind TEXT NOT NULL,
                  first_leaf INTEGER NOT NULL, n_leaves INTEGER NOT NULL,
                  submission BLOB NOT NULL, received_ms INTEGER NOT NULL);
CREATE TABLE leaves (idx INTEGER PRIMARY KEY CHECK (idx >= 0 AND idx < 1048576),
                     commitment BLOB NOT NULL UNIQUE, ciphertext BLOB NOT NULL,
                     root_after BLOB NOT NULL, tx_seq INTEGER NOT NULL REFERENCES txs(seq));
CREATE TABLE nullifiers (nullifier BLOB PRIMARY KEY, tx_seq INTEGER NOT NULL REFERENCES txs(seq),
                         leaf INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX nullifiers_leaf ON nullifiers(leaf);
CREATE TABLE frontier (id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
CREATE TABLE blocks (height INTEGER PRIMARY KEY, root BLOB NOT NULL,
                     tree_size INTEGER NOT NULL UNIQUE, sealed_ms INTEGER NOT NULL);
CREATE TABLE ledger (seq INTEGER PRIMARY KEY, tx_seq INTEGER NOT NULL REFERENCES txs(seq),
                     asset INTEGER NOT NULL, role TEXT NOT NULL, account BLOB NOT NULL,
                     amount BLOB NOT NULL);
CREATE TABLE balances (asset INTEGER PRIMARY KEY, amount BLOB NOT NULL);
";

/// Digest as 32 bytes (8 × u32 LE).
pub fn digest_bytes(d: &Digest) -> Vec<u8> {
    d.iter().flat_map(|x| x.0.to_le_bytes()).collect()
}

/// The digest stored by [`digest_bytes`].
pub fn digest_from_bytes(bytes: &[u8]) -> Result<Digest, NodeError> {
    if bytes.len() != 32 {
        return Err(NodeError::Corrupt("digest of the wrong length".into()));
    }
    let mut out = vm31::merkle::EMPTY_LEAF;
    for (o, chunk) in out.iter_mut().zip(bytes.chunks(4)) {
        let v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        *o = vm31::canonical::m31_from_u32(v)
            .map_err(|_| NodeError::Corrupt("non-canonical digest".into()))?;
    }
    Ok(out)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the writer keeps in memory: always the committed state.
#[derive(Clone, Debug)]
pub struct State {
    pub frontier: Frontier,
    pub window: RootWindow,
    /// The window's roots with their heights, oldest first.
    pub sealed: Vec<SealedRoot>,
    pub height: u64,
    pub sealed_tree_size: u64,
    pub nullifiers_spent: u64,
    pub balances: BTreeMap<u32, u128>,
}

/// The database and the committed state.
pub struct Store {
    conn: Connection,
    pub state: State,
}

/// Opens a database connection with the node's settings.
pub fn connect(path: &Path) -> Result<Connection, NodeError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the pool at `path` for `deployment`; a database made for
    /// another deployment is refused.
    pub fn open(path: &Path, deployment: &vm31::tx::Deployment) -> Result<Self, NodeError> {
        let mut conn = connect(path)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        match version {
            0 => {
                let tx = conn.transaction()?;
                tx.execute_batch(SCHEMA)?;
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('deployment', ?1)",
                    [serde_json::to_vec(deployment)
                        .map_err(|e| NodeError::Corrupt(e.to_string()))?],
                )?;
                let empty = Frontier::new();
                tx.execute(
                    "INSERT INTO frontier (id, state) VALUES (0, ?1)",
                    [frontier_blob(&empty)?],
                )?;
                tx.execute(
                    "INSERT INTO blocks (height, root, tree_size, sealed_ms) VALUES (0, ?1, 0, ?2)",
                    params![digest_bytes(&empty.root()), now_ms()],
                )?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
                tx.commit()?;
            }
            SCHEMA_VERSION => {}
            other => {
                return Err(NodeError::Corrupt(format!(
                    "database schema version {other}; this node reads version {SCHEMA_VERSION}"
                )))
            }
        }
        let stored: Vec<u8> =
            conn.query_row("SELECT value FROM meta WHERE key = 'deployment'", [], |r| {
                r.get(0)
            })?;
        let stored: vm31::tx::Deployment =
            serde_json::from_slice(&stored).map_err(|e| NodeError::Corrupt(e.to_string()))?;
        if stored != *deployment {
            return Err(NodeError::WrongDeployment {
                stored: Box::new(stored),
            });
        }
        let state = load_state(&conn)?;
        Ok(Self { conn, state })
    }

    /// Reads the deployment a database was created for, without opening it for writing.
    pub fn stored_deployment(path: &Path) -> Result<Option<vm31::tx::Deployment>, NodeError> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = connect(path)?;
        let value: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'deployment'", [], |r| {
                r.get(0)
            })
            .optional()
            .or_else(|e| match e {
                rusqlite::Error::SqliteFailure(..) => Ok(None),
                e => Err(e),
            })?;
        value
            .map(|v| serde_json::from_slice(&v).map_err(|e| NodeError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Applies `group` in one SQLite transaction, each item in its own savepoint; returns each
    /// item's outcome once the group is durable. On a commit failure nothing is applied and the
    /// in-memory state is unchanged.
    pub fn apply_group(
        &mut self,
        group: &[Verified],
    ) -> Result<Vec<Result<crate::api::Receipt, RpcError>>, NodeError> {
        let mut next = self.state.clone();
        let tx = self.conn.transaction()?;
        let mut outcomes = Vec::with_capacity(group.len());
        for item in group {
            let before = next.clone();
            tx.execute_batch("SAVEPOINT item")?;
            match apply_one(&tx, &mut next, item) {
                Ok(receipt) => {
                    tx.execute_batch("RELEASE item")?;
                    outcomes.push(Ok(receipt));
                }
                Err(ApplyError::Refused(e)) => {
                    tx.execute_batch("ROLLBACK TO item; RELEASE item")?;
                    next = before;
                    outcomes.push(Err(e));
                }
                Err(ApplyError::Db(e)) => return Err(e),
            }
        }
        tx.execute(
            "UPDATE frontier SET state = ?1 WHERE id = 0",
            [frontier_blob(&next.frontier)?],
        )?;
        tx.commit()?;
        self.state = next;
        Ok(outcomes)
    }

    /// Seals the open block if the tree grew since the last seal: its root joins the window.
    pub fn seal(&mut self) -> Result<bool, NodeError> {
        let size = self.state.frontier.len();
        if size == self.state.sealed_tree_size {
            return Ok(false);
        }
        let height = self.state.height + 1;
        let root = self.state.frontier.root();
        self.conn.execute(
            "INSERT INTO blocks (height, root, tree_size, sealed_ms) VALUES (?1, ?2, ?3, ?4)",
            params![height as i64, digest_bytes(&root), size as i64, now_ms()],
        )?;
        let state = &mut self.state;
        state.height = height;
        state.sealed_tree_size = size;
        state.window.push(root);
        state.sealed.push(SealedRoot {
            height,
            root,
            tree_size: size,
        });
        if state.sealed.len() > WINDOW {
            state.sealed.remove(0);
        }
        Ok(true)
    }

    /// Rebuilds the tree from every stored leaf and checks it against the stored frontier and
    /// each leaf's recorded root; checks the balances against the ledger.
    pub fn check_integrity(&self) -> Result<(), NodeError> {
        let mut frontier = Frontier::new();
        let mut stmt = self
            .conn
            .prepare("SELECT idx, commitment, root_after FROM leaves ORDER BY idx")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let idx: i64 = row.get(0)?;
            if idx as u64 != frontier.len() {
                return Err(NodeError::Corrupt(format!("leaf {idx} out of sequence")));
            }
            let cm = Commitment(digest_from_bytes(&row.get::<_, Vec<u8>>(1)?)?);
            frontier
                .append(cm)
                .map_err(|e| NodeError::Corrupt(e.to_string()))?;
            if frontier.root() != digest_from_bytes(&row.get::<_, Vec<u8>>(2)?)? {
                return Err(NodeError::Corrupt(format!("root after leaf {idx} differs")));
            }
        }
        if frontier != self.state.frontier {
            return Err(NodeError::Corrupt(
                "stored frontier differs from the leaves".into(),
            ));
        }
        let mut sums: BTreeMap<u32, i128> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT asset, role, amount FROM ledger")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let asset: u32 = row.get(0)?;
            let role: String = row.get(1)?;
            let amount = i128::from(u64_from_blob(&row.get::<_, Vec<u8>>(2)?)?);
            let sign = if role == "deposit" { 1 } else { -1 };
            *sums.entry(asset).or_default() += sign * amount;
        }
        for (asset, balance) in &self.state.balances {
            if sums.get(asset).copied().unwrap_or(0) != *balance as i128 {
                return Err(NodeError::Corrupt(format!(
                    "balance of asset {asset} differs from the ledger"
                )));
            }
        }
        Ok(())
    }
}

fn frontier_blob(frontier: &Frontier) -> Result<Vec<u8>, NodeError> {
    serde_json::to_vec(frontier).map_err(|e| NodeError::Corrupt(e.to_string()))
}

pub fn u64_from_blob(bytes: &[u8]) -> Result<u64, NodeError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| NodeError::Corrupt("amount of the wrong length".into()))?;
    Ok(u64::from_be_bytes(arr))
}

fn u128_from_blob(bytes: &[u8]) -> Result<u128, NodeError> {
    let arr: [u8; 16] = bytes
        .try_into()
        .map_err(|_| NodeError::Corrupt("balance of the wrong length".into()))?;
    Ok(u128::from_be_bytes(arr))
}

fn load_state(conn: &Connection) -> Result<State, NodeError> {
    let blob: Vec<u8> =
        conn.query_row("SELECT state FROM frontier WHERE id = 0", [], |r| r.get(0))?;
    let frontier: Frontier =
        serde_json::from_slice(&blob).map_err(|e| NodeError::Corrupt(e.to_string()))?;
    let n_leaves: i64 = conn.query_row("SELECT COUNT(*) FROM leaves", [], |r| r.get(0))?;
    if n_leaves as u64 != frontier.len() {
        return Err(NodeError::Corrupt(format!(
            "{n_leaves} leaves stored, frontier of {}",
            frontier.len()
        )));
    }
    let mut stmt =
        conn.prepare("SELECT height, root, tree_size FROM blocks ORDER BY height DESC LIMIT ?1")?;
    let mut sealed = Vec::new();
    let mut rows = stmt.query([WINDOW as i64])?;
    while let Some(row) = rows.next()? {
        sealed.push(SealedRoot {
            height: row.get::<_, i64>(0)? as u64,
            root: digest_from_bytes(&row.get::<_, Vec<u8>>(1)?)?,
            tree_size: row.get::<_, i64>(2)? as u64,
        });
    }
    sealed.reverse();
    let last = sealed
        .last()
        .cloned()
        .ok_or_else(|| NodeError::Corrupt("no sealed block".into()))?;
    let nullifiers_spent: i64 =
        conn.query_row("SELECT COUNT(*) FROM nullifiers", [], |r| r.get(0))?;
    let mut balances = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT asset, amount FROM balances")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        balances.insert(
            row.get::<_, u32>(0)?,
            u128_from_blob(&row.get::<_, Vec<u8>>(1)?)?,
        );
    }
    Ok(State {
        frontier,
        window: RootWindow::from_roots(sealed.iter().map(|s| s.root)),
        height: last.height,
        sealed_tree_size: last.tree_size,
        sealed,
        nullifiers_spent: nullifiers_spent as u64,
        balances,
    })
}

enum ApplyError {
    /// The transaction is refused; the savepoint is rolled back.
    Refused(RpcError),
    /// The database failed; the whole group is abandoned.
    Db(NodeError),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Db(e.into())
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

fn refused(code: i64, message: impl Into<String>) -> ApplyError {
    ApplyError::Refused(RpcError::new(code, message))
}

fn apply_one(
    tx: &Transaction<'_>,
    state: &mut State,
    item: &Verified,
) -> Result<crate::api::Receipt, ApplyError> {
    let tx_id_hex = hex::encode(item.tx_id);
    if let Some(receipt) = existing_receipt(tx, &item.tx_id)? {
        return Err(ApplyError::Refused(
            RpcError::new(code::ALREADY_APPLIED, "transaction already applied")
                .with_data(serde_json::to_value(receipt).unwrap_or(serde_json::Value::Null)),
        ));
    }
    if let Some(root) = &item.anchor {
        if state.window.check(root).is_err() {
            return Err(refused(
                code::UNKNOWN_ROOT,
                "unknown root: not among the sealed roots of the window",
            ));
        }
    }
    let first_leaf = state.frontier.len();
    tx.execute(
        "INSERT INTO txs (tx_id, kind, first_leaf, n_leaves, submission, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            item.tx_id.to_vec(),
            item.kind,
            first_leaf as i64,
            item.leaves.len() as i64,
            item.submission,
            now_ms()
        ],
    )?;
    let seq = tx.last_insert_rowid();
    for nullifier in &item.nullifiers {
        let inserted = tx.execute(
            "INSERT INTO nullifiers (nullifier, tx_seq, leaf) VALUES (?1, ?2, ?3)",
            params![digest_bytes(&nullifier.0), seq, first_leaf as i64],
        );
        match inserted {
            Ok(_) => state.nullifiers_spent += 1,
            Err(e) if is_unique_violation(&e) => {
                return Err(ApplyError::Refused(
                    RpcError::new(code::NULLIFIER_SPENT, "nullifier already spent")
                        .with_data(serde_json::json!({ "nullifier": nullifier_json(nullifier) })),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut leaf_indices = Vec::with_capacity(item.leaves.len());
    for (commitment, ciphertext) in &item.leaves {
        let index = state
            .frontier
            .append(*commitment)
            .map_err(|_| refused(code::TREE_FULL, "the commitment tree is full"))?;
        let ct = serde_json::to_vec(&crate::api::CiphertextHex::from(ciphertext))
            .map_err(|e| ApplyError::Db(NodeError::Corrupt(e.to_string())))?;
        let inserted = tx.execute(
            "INSERT INTO leaves (idx, commitment, ciphertext, root_after, tx_seq)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                i64::from(index),
                digest_bytes(&commitment.0),
                ct,
                digest_bytes(&state.frontier.root()),
                seq
            ],
        );
        match inserted {
            Ok(_) => leaf_indices.push(u64::from(index)),
            Err(e) if is_unique_violation(&e) => {
                return Err(refused(
                    code::DUPLICATE_COMMITMENT,
                    "a note with this commitment is already in the tree",
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    for entry in &item.ledger {
        apply_ledger(tx, state, seq, entry)?;
    }
    Ok(crate::api::Receipt {
        tx_id: tx_id_hex,
        leaf_indices,
        tree_size: state.frontier.len(),
    })
}

fn nullifier_json(n: &Nullifier) -> serde_json::Value {
    serde_json::to_value(n).unwrap_or(serde_json::Value::Null)
}

fn apply_ledger(
    tx: &Transaction<'_>,
    state: &mut State,
    seq: i64,
    entry: &LedgerEntry,
) -> Result<(), ApplyError> {
    let balance = state.balances.entry(entry.asset).or_default();
    let amount = u128::from(entry.amount);
    *balance = if entry.role == "deposit" {
        balance
            .checked_add(amount)
            .ok_or_else(|| refused(code::POLICY, "pool balance overflow"))?
    } else {
        balance.checked_sub(amount).ok_or_else(|| {
            refused(
                code::INSUFFICIENT_POOL_BALANCE,
                format!(
                    "the pool holds less of asset {} than this takes out",
                    entry.asset
                ),
            )
        })?
    };
    tx.execute(
        "INSERT INTO ledger (tx_seq, asset, role, account, amount) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            seq,
            entry.asset,
            entry.role,
            entry.account.to_vec(),
            entry.amount.to_be_bytes().to_vec()
        ],
    )?;
    tx.execute(
        "INSERT INTO balances (asset, amount) VALUES (?1, ?2)
         ON CONFLICT(asset) DO UPDATE SET amount = excluded.amount",
        params![entry.asset, balance.to_be_bytes().to_vec()],
    )?;
    Ok(())
}

/// The receipt of an applied transaction, if `tx_id` was applied.
pub fn existing_receipt(
    conn: &Connection,
    tx_id: &[u8; 32],
) -> Result<Option<crate::api::Receipt>, rusqlite::Error> {
    let row: Option<(i64, i64)> = conn
        .query_row(
            "SELECT first_leaf, n_leaves FROM txs WHERE tx_id = ?1",
            [tx_id.to_vec()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.map(|(first, n)| crate::api::Receipt {
        tx_id: hex::encode(tx_id),
        leaf_indices: (first as u64..(first + n) as u64).collect(),
        tree_size: (first + n) as u64,
    }))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
