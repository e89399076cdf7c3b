//! What the node tests share: a `vm31 node` process (killed on drop), a JSON-RPC client, deposits
//! and one-input spends proved for a deployment, and a mirror of the sealed tree built from
//! `pool_getNotes` (for spend paths and for checking the node's roots).
//!
//! Proofs are deterministic in their seeds. The deposits most tests need are proved once per
//! test binary, on all cores, for [`DEPLOYMENT`] ([`shared_deposits`]): every test runs its own
//! node on its own database, so one proof serves them all.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde_json::{json, Value};
use stwo::core::fields::m31::M31;
use vm31::stark::ProofError;
use vm31::tx::{
    prove_deposit, prove_spend, Deployment, DepositStatement, ExternalData, SpendInput,
    SpendStatement, SpendWitness,
};
use vm31::{ciphertext_hash, encrypt, Address, Commitment, MerkleTree, Note, SpendingKey};
use vm31_node::api::{
    CiphertextHex, NoteEntry, NotesPage, PoolStatus, Receipt, RpcError, Submission,
};

const BIN: &str = env!("CARGO_BIN_EXE_vm31");

/// How long a node may take to print its address, or to seal what a test waits for.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The deployment the tests prove for unless they test another one.
pub const DEPLOYMENT: Deployment = Deployment {
    chain_id: 31,
    pool_id: [0x5a; 32],
};

/// The paying account of the tests' deposits.
pub const DEPOSITOR: [u8; 32] = [0xd0; 32];

/// How a test's node runs (the `vm31 node` flags).
#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub deployment: Deployment,
    pub block_interval_ms: u64,
    pub fee_assets: Vec<u32>,
    pub min_deposit: u64,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            deployment: DEPLOYMENT,
            block_interval_ms: 50,
            fee_assets: vec![0, 1],
            min_deposit: 1,
        }
    }
}

/// A running `vm31 node`; killed (SIGKILL) and reaped on drop. Its stderr goes to `node.log`
/// beside the database, quoted when the node fails to start.
pub struct NodeProcess {
    child: Child,
    pub url: String,
}

impl NodeProcess {
    /// Starts a node on `db` and waits (at most [`TIMEOUT`]) for its `listening on` line.
    pub fn start(db: &Path, options: &NodeOptions) -> Self {
        let log_path = log_path(db);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open node log");
        let fee_assets: Vec<String> = options.fee_assets.iter().map(u32::to_string).collect();
        let mut child = Command::new(BIN)
            .arg("node")
            .arg("--db")
            .arg(db)
            .args(["--bind", "127.0.0.1:0"])
            .args(["--chain-id", &options.deployment.chain_id.to_string()])
            .args(["--pool-id", &hex::encode(options.deployment.pool_id)])
            .args([
                "--block-interval-ms",
                &options.block_interval_ms.to_string(),
            ])
            .args(["--fee-assets", &fee_assets.join(",")])
            .args(["--min-deposit", &options.min_deposit.to_string()])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start vm31 node");
        let stdout = child.stdout.take().expect("node stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the first line, then drains stdout until the node exits.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let first = rx.recv_timeout(TIMEOUT);
        let addr = match &first {
            Ok(Some(Ok(line))) => line.strip_prefix("listening on ").map(str::to_string),
            _ => None,
        };
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("node did not start ({first:?}); its stderr:\n{log}");
        };
        Self {
            child,
            url: format!("http://{addr}/"),
        }
    }

    /// SIGKILL: the node gets no chance to flush or shut down.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn log_path(db: &Path) -> PathBuf {
    db.with_file_name("node.log")
}

/// A JSON-RPC 2.0 client on one keep-alive agent.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    url: String,
}

impl Client {
    pub fn new(url: &str) -> Self {
        Self {
            agent: ureq::AgentBuilder::new().timeout(TIMEOUT).build(),
            url: url.to_string(),
        }
    }

    /// Posts `body` as is; the decoded response, or why none came back (the connection failed,
    /// or the body was cut off).
    pub fn post_raw(&self, body: &str) -> Result<Value, String> {
        let response = self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/json")
            .send_string(body)
            .map_err(|e| e.to_string())?;
        response.into_json().map_err(|e| e.to_string())
    }

    /// One call; the outer `Err` when no response came back at all.
    pub fn try_call(&self, method: &str, params: Value) -> Result<Result<Value, RpcError>, String> {
        let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = self.post_raw(&request.to_string())?;
        Ok(outcome(response))
    }

    /// One call; panics if the node does not answer.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: no response: {e}"))
    }

    pub fn submit(&self, submission: &Submission) -> Result<Receipt, RpcError> {
        let params = serde_json::to_value(submission).expect("submission as JSON");
        self.call("pool_submit", params)
            .map(|v| decode(v, "receipt"))
    }

    pub fn status(&self) -> PoolStatus {
        decode(
            self.call("pool_status", Value::Null).expect("pool_status"),
            "pool status",
        )
    }

    pub fn notes(&self, from: u64) -> NotesPage {
        decode(
            self.call("pool_getNotes", json!({ "from": from }))
                .expect("pool_getNotes"),
            "notes page",
        )
    }

    /// Polls `pool_status` until `done` holds (panics after [`TIMEOUT`]).
    pub fn wait_until(&self, what: &str, done: impl Fn(&PoolStatus) -> bool) -> PoolStatus {
        let start = Instant::now();
        loop {
            let status = self.status();
            if done(&status) {
                return status;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "timed out waiting for {what}; last status {status:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until at least `size` leaves are sealed.
    pub fn wait_sealed(&self, size: u64) -> PoolStatus {
        self.wait_until(&format!("{size} sealed leaves"), |s| {
            s.sealed_tree_size >= size
        })
    }
}

/// A response's result, or its error object.
pub fn outcome(response: Value) -> Result<Value, RpcError> {
    match response.get("result") {
        Some(result) => Ok(result.clone()),
        None => Err(decode(response["error"].clone(), "error object")),
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> T {
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what} does not decode ({e}): {value}"))
}

/// The error of `result`, which must carry `code`.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, RpcError>, code: i64) -> RpcError {
    match result {
        Ok(v) => panic!("expected error {code}, got a result: {v:?}"),
        Err(e) => {
            assert_code(&e, code);
            e
        }
    }
}

/// `e` carries `code` and says something.
#[track_caller]
pub fn assert_code(e: &RpcError, code: i64) {
    assert_eq!(e.code, code, "expected error {code}, got {e:?}");
    assert!(!e.message.is_empty(), "error {code} without a message");
}

/// A wallet's keys.
pub struct Owner {
    pub key: SpendingKey,
    pub address: Address,
}

impl Owner {
    pub fn new(seed: u64) -> Self {
        let key = SpendingKey::random(&mut ChaCha20Rng::seed_from_u64(seed));
        let address = key.address();
        Self { key, address }
    }
}

/// A proved deposit and the note it creates.
#[derive(Clone, Debug)]
pub struct Deposit {
    pub note: Note,
    pub submission: Submission,
}

impl Deposit {
    pub fn commitment(&self) -> Commitment {
        self.note.commitment()
    }
}

/// A deposit of `amount` of `asset` to `owner`, paid by `account`, proved for `deployment`.
pub fn deposit(
    deployment: &Deployment,
    owner: &Address,
    asset: u32,
    amount: u64,
    account: [u8; 32],
    seed: u64,
) -> Deposit {
    let rng = &mut ChaCha20Rng::seed_from_u64(seed);
    let note = Note::new(owner.public_key, M31(asset), amount, rng);
    let ciphertext = encrypt(&note, &owner.encryption_key, rng).expect("encrypt");
    let statement = DepositStatement {
        amount,
        asset_id: note.asset_id,
        commitment: note.commitment(),
        ciphertext_hash: ciphertext_hash(&ciphertext),
        external: ExternalData {
            recipient: account,
            ..ExternalData::default()
        },
    };
    let proof = prove_deposit(&statement, deployment, &note, rng).expect("prove deposit");
    Deposit {
        note,
        submission: Submission::Deposit {
            statement,
            ciphertext: CiphertextHex::from(&ciphertext),
            proof: hex::encode(proof.to_bytes().expect("proof bytes")),
        },
    }
}

/// The owner of [`shared_deposits`].
pub const SHARED_OWNER_SEED: u64 = 1;
/// How many shared deposits there are.
pub const N_SHARED: usize = 120;

/// Amount of shared deposit `i`.
pub fn shared_amount(i: usize) -> u64 {
    1_000 + i as u64
}

/// [`N_SHARED`] deposits of asset 0 to [`SHARED_OWNER_SEED`]'s owner, proved once per test
/// binary for [`DEPLOYMENT`], on all cores.
pub fn shared_deposits() -> &'static [Deposit] {
    static DEPOSITS: OnceLock<Vec<Deposit>> = OnceLock::new();
    DEPOSITS.get_or_init(|| {
        let owner = Owner::new(SHARED_OWNER_SEED).address;
        let start = Instant::now();
        let deposits: Vec<Deposit> = (0..N_SHARED)
            .into_par_iter()
            .map(|i| {
                deposit(
                    &DEPLOYMENT,
                    &owner,
                    0,
                    shared_amount(i),
                    DEPOSITOR,
                    10_000 + i as u64,
                )
            })
            .collect();
        eprintln!(
            "{N_SHARED} shared deposits proved in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        deposits
    })
}

/// A spend of `note` (at leaf `index` of `tree`, owned by `owner`) and a dummy input into two
/// notes of `outputs` back to `owner`, on `tree`'s root. The real input's nullifier comes first.
/// The prover's own witness check may refuse it.
pub fn spend(
    deployment: &Deployment,
    owner: &Owner,
    note: &Note,
    index: u32,
    tree: &MerkleTree,
    outputs: [u64; 2],
    external: ExternalData,
    seed: u64,
) -> Result<Submission, ProofError> {
    let rng = &mut ChaCha20Rng::seed_from_u64(seed);
    let real = SpendInput {
        spending_key: owner.key.clone(),
        note: *note,
        index,
        path: tree.path(index).expect("leaf in the mirror"),
        dummy: false,
    };
    let dummy = SpendInput::dummy(&owner.key, note.asset_id, rng);
    let outputs =
        outputs.map(|amount| Note::new(owner.address.public_key, note.asset_id, amount, rng));
    let ciphertexts =
        outputs.map(|n| encrypt(&n, &owner.address.encryption_key, rng).expect("encrypt"));
    let statement = SpendStatement {
        root: tree.root(),
        nullifiers: [real.nullifier(), dummy.nullifier()],
        output_commitments: outputs.map(|n| n.commitment()),
        ciphertext_hashes: [
            ciphertext_hash(&ciphertexts[0]),
            ciphertext_hash(&ciphertexts[1]),
        ],
        external,
    };
    let witness = SpendWitness {
        inputs: [real, dummy],
        outputs,
    };
    let proof = prove_spend(&statement, deployment, &witness, rng)?;
    Ok(Submission::Spend {
        statement,
        ciphertexts: [
            CiphertextHex::from(&ciphertexts[0]),
            CiphertextHex::from(&ciphertexts[1]),
        ],
        proof: hex::encode(proof.to_bytes().expect("proof bytes")),
    })
}

/// How many nullifiers `submission` reveals.
pub fn n_nullifiers(submission: &Submission) -> u64 {
    match submission {
        Submission::Deposit { .. } => 0,
        Submission::Withdraw { .. } => 1,
        Submission::Spend { statement, .. } => statement.nullifiers.len() as u64,
    }
}

/// The node's sealed leaves, rebuilt into a tree whose root is checked against each page's.
pub struct Mirror {
    pub tree: MerkleTree,
    pub notes: Vec<NoteEntry>,
}

impl Mirror {
    /// Every sealed leaf of the node behind `client`.
    pub fn fetch(client: &Client) -> Self {
        let mut tree = MerkleTree::new();
        let mut notes = Vec::new();
        loop {
            let page = client.notes(tree.len());
            for entry in &page.notes {
                assert_eq!(entry.index, tree.len(), "pages are contiguous");
                tree.append(Commitment(entry.commitment)).expect("append");
            }
            assert_eq!(
                page.root,
                tree.root(),
                "the page's root is the mirror's after {} leaves",
                page.next
            );
            notes.extend(page.notes);
            if page.next >= page.sealed_tree_size {
                return Self { tree, notes };
            }
        }
    }

    /// The leaf index of `commitment`.
    pub fn index_of(&self, commitment: &Commitment) -> u32 {
        let index = self
            .notes
            .iter()
            .position(|n| n.commitment == commitment.0)
            .expect("commitment among the sealed leaves");
        u32::try_from(index).expect("index fits u32")
    }
}

/// A temporary directory and the database path in it.
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("pool.sqlite");
    (dir, db)
}
