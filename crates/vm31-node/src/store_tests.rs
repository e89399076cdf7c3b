//! The store without proofs: [`Verified`] transactions built by hand.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use stwo::core::fields::m31::M31;
use vm31::tx::Deployment;
use vm31::{encrypt, Commitment, MerkleTree, Note, Nullifier, SpendingKey};

use super::*;
use crate::api::code;
use crate::verify::{LedgerEntry, Verified};

const DEPLOYMENT: Deployment = Deployment {
    chain_id: 9,
    pool_id: [4; 32],
};

struct Maker {
    rng: ChaCha20Rng,
    sk: SpendingKey,
    n: u64,
}

impl Maker {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let sk = SpendingKey::random(&mut rng);
        Self { rng, sk, n: 0 }
    }

    fn leaf(&mut self, amount: u64) -> (Commitment, vm31::Ciphertext) {
        let me = self.sk.address();
        let note = Note::new(me.public_key, M31(0), amount, &mut self.rng);
        let ct = encrypt(&note, &me.encryption_key, &mut self.rng).unwrap();
        (note.commitment(), ct)
    }

    fn tx(&mut self, kind: &'static str) -> Verified {
        self.n += 1;
        let mut tx_id = [0u8; 32];
        tx_id[..8].copy_from_slice(&self.n.to_le_bytes());
        Verified {
            tx_id,
            kind,
            submission: self.n.to_le_bytes().to_vec(),
            anchor: None,
            nullifiers: Vec::new(),
            leaves: Vec::new(),
            ledger: Vec::new(),
        }
    }

    fn deposit(&mut self, amount: u64) -> Verified {
        let mut tx = self.tx("deposit");
        tx.leaves.push(self.leaf(amount));
        tx.ledger.push(LedgerEntry {
            asset: 0,
            role: "deposit",
            account: [1; 32],
            amount,
        });
        tx
    }

    fn withdraw(&mut self, anchor: vm31::Digest, nullifier: u32, amount: u64) -> Verified {
        let mut tx = self.tx("withdraw");
        tx.anchor = Some(anchor);
        tx.nullifiers.push(Nullifier([M31(nullifier); 8]));
        tx.leaves.push(self.leaf(0));
        tx.ledger.push(LedgerEntry {
            asset: 0,
            role: "withdraw",
            account: [2; 32],
            amount,
        });
        tx
    }
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(&dir.join("pool.sqlite"), &DEPLOYMENT).unwrap()
}

fn code_of(outcome: &Result<crate::api::Receipt, RpcError>) -> Option<i64> {
    outcome.as_ref().err().map(|e| e.code)
}

#[test]
fn a_refused_transaction_leaves_nothing_and_the_group_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut m = Maker::new();
    let first = m.deposit(100);
    store.apply_group(&[first]).unwrap();
    assert!(store.seal().unwrap());
    let anchor = store.state.frontier.root();

    let ok = m.withdraw(anchor, 1, 30);
    let again = m.withdraw(anchor, 1, 10); // the same nullifier
    let too_much = m.withdraw(anchor, 2, 1_000); // more than the pool holds
    let mut duplicate = m.deposit(5);
    duplicate.leaves[0].0 = store_leaf(&store, 0); // a commitment already in the tree
    let unknown = m.withdraw([M31(0); 8], 3, 1);
    let after = m.deposit(7);
    let group = [ok, again, too_much, duplicate, unknown, after];
    let outcomes = store.apply_group(&group).unwrap();
    let codes: Vec<_> = outcomes.iter().map(code_of).collect();
    assert_eq!(
        codes,
        [
            None,
            Some(code::NULLIFIER_SPENT),
            Some(code::INSUFFICIENT_POOL_BALANCE),
            Some(code::DUPLICATE_COMMITMENT),
            Some(code::UNKNOWN_ROOT),
            None
        ]
    );
    // Deposit 100, withdraw 30, deposit 7; leaves: 1 + 1 change + 1.
    assert_eq!(store.state.balances[&0], 77);
    assert_eq!(store.state.frontier.len(), 3);
    assert_eq!(store.state.nullifiers_spent, 1);
    store.check_integrity().unwrap();

    // Reopened, the database holds exactly that.
    let state = store.state.clone();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.state.frontier, state.frontier);
    assert_eq!(store.state.balances, state.balances);
    assert_eq!(store.state.nullifiers_spent, 1);
    store.check_integrity().unwrap();
}

fn store_leaf(store: &Store, index: i64) -> Commitment {
    let bytes: Vec<u8> = store
        .conn
        .query_row(
            "SELECT commitment FROM leaves WHERE idx = ?1",
            [index],
            |r| r.get(0),
        )
        .unwrap();
    Commitment(digest_from_bytes(&bytes).unwrap())
}

#[test]
fn replay_gets_the_original_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut m = Maker::new();
    let deposit = m.deposit(10);
    let first = store.apply_group(std::slice::from_ref(&deposit)).unwrap();
    let receipt = first[0].clone().unwrap();
    let again = store.apply_group(&[deposit]).unwrap();
    let error = again[0].clone().unwrap_err();
    assert_eq!(error.code, code::ALREADY_APPLIED);
    let data: crate::api::Receipt = serde_json::from_value(error.data.unwrap()).unwrap();
    assert_eq!(data, receipt);
    assert_eq!(store.state.frontier.len(), 1);
}

#[test]
fn window_moves_per_sealed_block_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut m = Maker::new();
    assert!(!store.seal().unwrap(), "nothing to seal");
    let deposits: Vec<_> = (0..150).map(|i| m.deposit(i + 1)).collect();
    store.apply_group(&deposits[..1]).unwrap();
    store.seal().unwrap();
    let anchor = store.state.frontier.root();
    // 149 more deposits in one block: one more root, the anchor stays.
    store.apply_group(&deposits[1..]).unwrap();
    store.seal().unwrap();
    assert_eq!(store.state.height, 2);
    assert!(store.state.window.check(&anchor).is_ok());
    // 100 more blocks evict it.
    for i in 0..100 {
        store.apply_group(&[m.deposit(1000 + i)]).unwrap();
        assert!(store.seal().unwrap());
    }
    assert!(store.state.window.check(&anchor).is_err());
    assert_eq!(store.state.sealed.len(), WINDOW);
    // A restart rebuilds the same window.
    let state = store.state.clone();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.state.window, state.window);
    assert_eq!(store.state.sealed, state.sealed);
    // And the tree matches a full tree of the same leaves.
    let mut tree = MerkleTree::new();
    for i in 0..store.state.frontier.len() {
        tree.append(store_leaf(&store, i as i64)).unwrap();
    }
    assert_eq!(tree.root(), store.state.frontier.root());
}

#[test]
fn tampered_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut m = Maker::new();
    store.apply_group(&[m.deposit(5), m.deposit(6)]).unwrap();
    store
        .conn
        .execute(
            "UPDATE leaves SET commitment = ?1 WHERE idx = 0",
            [digest_bytes(&[M31(0); 8])],
        )
        .unwrap();
    assert!(matches!(
        store.check_integrity(),
        Err(NodeError::Corrupt(_))
    ));
    drop(store);
    // Another deployment on the same file is refused by name.
    let other = Deployment {
        chain_id: 10,
        ..DEPLOYMENT
    };
    let err = Store::open(&dir.path().join("pool.sqlite"), &other)
        .err()
        .unwrap();
    assert!(matches!(err, NodeError::WrongDeployment { .. }), "{err}");

    // A ledger that disagrees with the balances.
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store.apply_group(&[m.deposit(5)]).unwrap();
    store.check_integrity().unwrap();
    store
        .conn
        .execute(
            "UPDATE ledger SET amount = ?1 WHERE seq = 1",
            [7u64.to_be_bytes().to_vec()],
        )
        .unwrap();
    assert!(matches!(
        store.check_integrity(),
        Err(NodeError::Corrupt(_))
    ));
}
