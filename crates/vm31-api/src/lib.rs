//! The JSON-RPC interface of a vm31 pool node: request parameters, results and error codes,
//! shared by the node (`vm31-node`) and its clients (`vm31-wallet`), so a client links neither
//! the node's database nor its HTTP server.
//!
//! Digests are arrays of 8 canonical `u32`; byte strings (accounts, pool id, ciphertexts,
//! proofs) are lowercase hex.

use serde::{Deserialize, Serialize};
use vm31::tx::{DepositStatement, SpendStatement, WithdrawStatement};
use vm31::{Ciphertext, Digest, Nullifier};

/// JSON-RPC error codes of the pool (the standard ones are `-32700..-32600`).
pub mod code {
    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    /// The proof does not verify for this statement and deployment.
    pub const PROOF_REJECTED: i64 = -32001;
    /// The statement's root is not among the sealed roots of the window.
    pub const UNKNOWN_ROOT: i64 = -32002;
    /// A nullifier was already spent.
    pub const NULLIFIER_SPENT: i64 = -32003;
    /// A commitment is already in the tree (each note must be unique).
    pub const DUPLICATE_COMMITMENT: i64 = -32004;
    /// Refused by the pool's policy (fee asset, minimum deposit, zero withdrawal, ...).
    pub const POLICY: i64 = -32005;
    /// The pool holds less of an asset than a transaction takes out.
    pub const INSUFFICIENT_POOL_BALANCE: i64 = -32006;
    /// The tree is full.
    pub const TREE_FULL: i64 = -32007;
    /// A proof of another format version.
    pub const UNSUPPORTED_VERSION: i64 = -32008;
    /// The node is overloaded; retry later.
    pub const BUSY: i64 = -32009;
    /// This exact transaction was already applied (`data` carries its receipt).
    pub const ALREADY_APPLIED: i64 = -32010;
}

/// A note ciphertext in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiphertextHex {
    pub ephemeral_key: String,
    pub body: String,
}

impl From<&Ciphertext> for CiphertextHex {
    fn from(c: &Ciphertext) -> Self {
        Self {
            ephemeral_key: hex::encode(c.ephemeral_key),
            body: hex::encode(&c.body),
        }
    }
}

impl CiphertextHex {
    /// The ciphertext, or what is wrong with the hex.
    pub fn decode(&self) -> Result<Ciphertext, String> {
        let mut ephemeral_key = [0u8; 32];
        hex::decode_to_slice(&self.ephemeral_key, &mut ephemeral_key)
            .map_err(|e| format!("ephemeral_key: {e}"))?;
        let body = hex::decode(&self.body).map_err(|e| format!("body: {e}"))?;
        if body.len() != vm31::encryption::CIPHERTEXT_BODY_LEN {
            return Err(format!(
                "ciphertext body of {} bytes, expected {}",
                body.len(),
                vm31::encryption::CIPHERTEXT_BODY_LEN
            ));
        }
        Ok(Ciphertext {
            ephemeral_key,
            body,
        })
    }
}

/// The transaction of a `pool_submit`. The ciphertext hashes inside the statements are checked
/// against the ciphertexts sent with them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Submission {
    Deposit {
        statement: DepositStatement,
        ciphertext: CiphertextHex,
        proof: String,
    },
    Withdraw {
        statement: WithdrawStatement,
        /// The change note's ciphertext.
        ciphertext: CiphertextHex,
        proof: String,
    },
    Spend {
        statement: SpendStatement,
        /// One per output note.
        ciphertexts: [CiphertextHex; 2],
        proof: String,
    },
}

impl Submission {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deposit { .. } => "deposit",
            Self::Withdraw { .. } => "withdraw",
            Self::Spend { .. } => "spend",
        }
    }
}

/// Result of an accepted `pool_submit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// BLAKE2b-256 of the canonical submission, hex.
    pub tx_id: String,
    /// Leaf index of each new note, in order.
    pub leaf_indices: Vec<u64>,
    /// Tree size after the transaction.
    pub tree_size: u64,
}

/// One sealed root of the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRoot {
    pub height: u64,
    pub root: Digest,
    pub tree_size: u64,
}

/// Result of `pool_status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStatus {
    pub proof_version: u16,
    pub chain_id: u64,
    pub pool_id: String,
    /// Leaves in the tree, sealed or not.
    pub tree_size: u64,
    /// Leaves in sealed blocks: what scanners see and what anchors cover.
    pub sealed_tree_size: u64,
    pub current_root: Digest,
    pub block_height: u64,
    /// Sealed roots a transaction may use, oldest first.
    pub root_window: Vec<SealedRoot>,
    pub block_interval_ms: u64,
    pub fee_assets: Vec<u32>,
    pub nullifiers_spent: u64,
    /// Shielded supply per asset (decimal strings: amounts are up to 2^64 · 2^20).
    pub balances: std::collections::BTreeMap<u32, String>,
}

/// Parameters of `pool_getNotes`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetNotesParams {
    pub from: u64,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// One leaf as scanners see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteEntry {
    pub index: u64,
    pub commitment: Digest,
    pub ciphertext: CiphertextHex,
}

/// Result of `pool_getNotes`: sealed leaves `from..next`, the root of the tree of `next` leaves
/// (a scanner checks its own frontier against it) and the nullifiers spent by the transactions
/// that created those leaves (every transaction creates at least one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotesPage {
    pub notes: Vec<NoteEntry>,
    pub nullifiers: Vec<Nullifier>,
    pub next: u64,
    pub root: Digest,
    pub sealed_tree_size: u64,
}

/// Parameters of `pool_isNullifierSpent`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NullifierParams {
    pub nullifier: Nullifier,
}

/// Parameters of `pool_getRoot` (empty: the latest sealed root; with `root`: is it in the
/// window).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetRootParams {
    #[serde(default)]
    pub root: Option<Digest>,
}

/// Largest page of `pool_getNotes`.
pub const MAX_PAGE: u64 = 5000;

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}
