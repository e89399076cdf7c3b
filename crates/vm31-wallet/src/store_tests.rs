use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use stwo::core::fields::m31::M31;
use vm31::{verify_membership, SpendingKey};

use super::*;

fn key() -> StoreKey {
    StoreKey::from_bytes([7; 32])
}

/// A pool and a wallet scanning it: `leaf` adds a note to the next page (ours or someone
/// else's), `page` builds the page from the store's state as a scanner would.
struct Pool {
    rng: ChaCha20Rng,
    sk: SpendingKey,
    other: SpendingKey,
    pending: Vec<(Note, bool)>,
    spent: Vec<Nullifier>,
    /// Leaf position of every note added, by commitment.
    positions: Vec<(Note, u32)>,
}

impl Pool {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let sk = SpendingKey::random(&mut rng);
        let other = SpendingKey::random(&mut rng);
        Self {
            rng,
            sk,
            other,
            pending: Vec::new(),
            spent: Vec::new(),
            positions: Vec::new(),
        }
    }

    fn leaf(&mut self, ours: bool, asset: u32, amount: u64) -> Note {
        let owner = if ours { &self.sk } else { &self.other }.public_key();
        let note = Note::new(owner, M31(asset), amount, &mut self.rng);
        self.pending.push((note, ours));
        self.positions.push((note, self.positions.len() as u32));
        note
    }

    fn spend(&mut self, note: &Note) {
        let position = self.position(note);
        self.spent.push(note.nullifier(&self.sk, position));
    }

    fn position(&self, note: &Note) -> u32 {
        self.positions
            .iter()
            .find(|(n, _)| n == note)
            .map(|(_, p)| *p)
            .unwrap()
    }

    fn page(&mut self, store: &WalletStore) -> ScanPage {
        let (_, mut frontier, mut witnesses) = store.scan_state().unwrap();
        let mut new_notes = Vec::new();
        for (note, ours) in std::mem::take(&mut self.pending) {
            let cm = note.commitment();
            frontier.append(cm).unwrap();
            for (_, witness) in &mut witnesses {
                witness.append(cm).unwrap();
            }
            if ours {
                let witness = NoteWitness::from_frontier(&frontier).unwrap();
                let position = u64::from(witness.position());
                witnesses.push((position, witness));
                new_notes.push(OwnedNote {
                    position,
                    note,
                    nullifier: note.nullifier(&self.sk, position as u32),
                });
            }
        }
        ScanPage {
            next_index: frontier.len(),
            frontier,
            new_notes,
            witnesses,
            spent_nullifiers: std::mem::take(&mut self.spent),
        }
    }
}

fn amounts(records: &[OwnedNoteRecord]) -> Vec<u64> {
    records.iter().map(|r| r.note.amount).collect()
}

#[test]
fn reopen_persists() {
    let dir = tempfile::tempdir().unwrap();
    let mut pool = Pool::new();
    let mut store = WalletStore::open(dir.path(), key()).unwrap();
    assert_eq!(store.scan_state().unwrap().0, 0);
    pool.leaf(false, 1, 9);
    pool.leaf(true, 1, 100);
    pool.leaf(true, 1, 5);
    pool.leaf(false, 2, 9);
    pool.leaf(true, 2, 3);
    pool.leaf(true, 1, 7);
    let page = pool.page(&store);
    store.apply_scan_page(&page).unwrap();
    store.set_meta("deployment", b"pool-1").unwrap();
    drop(store);

    let mut store = WalletStore::open(dir.path(), key()).unwrap();
    let (next, frontier, witnesses) = store.scan_state().unwrap();
    assert_eq!(next, 6);
    assert_eq!(frontier, page.frontier);
    assert_eq!(witnesses, page.witnesses);
    assert_eq!(store.meta("deployment").unwrap().unwrap(), b"pool-1");
    assert_eq!(
        store.balances().unwrap(),
        BTreeMap::from([(1, 112), (2, 3)])
    );
    let spendable = store.spendable(1).unwrap();
    assert_eq!(amounts(&spendable), [5, 7, 100]);
    for record in &spendable {
        let witness = &record.witness;
        assert_eq!(witness.leaf(), record.note.commitment());
        assert_eq!(
            record.nullifier,
            record.note.nullifier(&pool.sk, record.position as u32)
        );
        let path = witness.path();
        verify_membership(
            &frontier.root(),
            &witness.leaf().0,
            witness.position(),
            &path,
        )
        .unwrap();
    }

    // A second page on the reopened store moves every witness along.
    pool.leaf(false, 1, 1);
    pool.leaf(true, 1, 50);
    store.apply_scan_page(&pool.page(&store)).unwrap();
    let (next, frontier, witnesses) = store.scan_state().unwrap();
    assert_eq!((next, witnesses.len()), (8, 5));
    for (_, witness) in &witnesses {
        assert_eq!(witness.root(), frontier.root());
    }
    assert_eq!(amounts(&store.spendable(1).unwrap()), [5, 7, 50, 100]);
}

#[test]
fn reserve_twice_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut pool = Pool::new();
    let mut store = WalletStore::open(dir.path(), key()).unwrap();
    for amount in [10, 20, 30] {
        pool.leaf(true, 0, amount);
    }
    store.apply_scan_page(&pool.page(&store)).unwrap();
    let mut other_process = WalletStore::open(dir.path(), key()).unwrap();

    store.reserve(&[0], "tx1").unwrap();
    assert!(matches!(
        other_process.reserve(&[0], "tx2"),
        Err(StoreError::AlreadyReserved { position: 0 })
    ));
    // All or nothing: note 1 stays unspent when note 0 cannot be reserved.
    assert!(matches!(
        other_process.reserve(&[1, 0], "tx3"),
        Err(StoreError::AlreadyReserved { position: 0 })
    ));
    assert_eq!(
        store.note_status(1).unwrap(),
        Some((NoteStatus::Unspent, None))
    );
    assert_eq!(
        store.note_status(0).unwrap(),
        Some((NoteStatus::Reserved, Some("tx1".into())))
    );
    assert!(matches!(
        store.reserve(&[7], "tx4"),
        Err(StoreError::UnknownNote { position: 7 })
    ));
    assert_eq!(amounts(&store.spendable(0).unwrap()), [20, 30]);
    assert_eq!(store.balances().unwrap(), BTreeMap::from([(0, 50)]));

    assert_eq!(store.release("tx2").unwrap(), 0);
    assert_eq!(store.release("tx1").unwrap(), 1);
    other_process.reserve(&[0, 1], "tx2").unwrap();
    assert_eq!(store.balances().unwrap(), BTreeMap::from([(0, 30)]));
}

#[test]
fn balances_count_unspent_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut pool = Pool::new();
    let mut store = WalletStore::open(dir.path(), key()).unwrap();
    assert!(store.balances().unwrap().is_empty());
    let big = pool.leaf(true, 4, u64::MAX);
    pool.leaf(true, 4, u64::MAX);
    let small = pool.leaf(true, 5, 1);
    let spent_at_once = pool.leaf(true, 5, 2);
    pool.spend(&spent_at_once);
    store.apply_scan_page(&pool.page(&store)).unwrap();
    assert_eq!(
        store.balances().unwrap(),
        BTreeMap::from([(4, 2 * u128::from(u64::MAX)), (5, 1)])
    );
    assert_eq!(store.scan_state().unwrap().2.len(), 3);

    // Spent through a later page (while reserved) and directly.
    store.reserve(&[0], "tx").unwrap();
    pool.spend(&big);
    pool.leaf(false, 4, 1);
    store.apply_scan_page(&pool.page(&store)).unwrap();
    assert_eq!(
        store.note_status(0).unwrap(),
        Some((NoteStatus::Spent, None))
    );
    assert_eq!(store.release("tx").unwrap(), 0);
    let nullifier = small.nullifier(&pool.sk, pool.position(&small));
    assert_eq!(store.mark_spent_by_nullifiers(&[nullifier]).unwrap(), 1);
    assert_eq!(store.mark_spent_by_nullifiers(&[nullifier]).unwrap(), 0);
    assert_eq!(
        store.balances().unwrap(),
        BTreeMap::from([(4, u128::from(u64::MAX))])
    );
    let (_, _, witnesses) = store.scan_state().unwrap();
    assert_eq!(witnesses.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [1]);
}

#[test]
fn inconsistent_page_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut pool = Pool::new();
    let mut store = WalletStore::open(dir.path(), key()).unwrap();
    pool.leaf(true, 0, 1);
    pool.leaf(true, 0, 2);
    let good = pool.page(&store);
    let mut cases = Vec::new();
    let mut page = good.clone();
    page.next_index += 1;
    cases.push(page);
    let mut page = good.clone();
    page.witnesses.pop();
    cases.push(page);
    let mut page = good.clone();
    page.witnesses[0].1 = page.witnesses[1].1.clone();
    cases.push(page);
    let mut page = good.clone();
    page.new_notes[0].position = 5;
    cases.push(page);
    for page in &cases {
        assert!(matches!(
            store.apply_scan_page(page),
            Err(StoreError::InconsistentPage { .. })
        ));
        assert_eq!(store.scan_state().unwrap().0, 0);
        assert!(store.balances().unwrap().is_empty());
    }
    store.apply_scan_page(&good).unwrap();
    // A page that leaves a note's witness behind.
    pool.leaf(false, 0, 3);
    let mut page = pool.page(&store);
    page.witnesses.remove(0);
    assert!(matches!(
        store.apply_scan_page(&page),
        Err(StoreError::InconsistentPage { .. })
    ));
    assert_eq!(store.scan_state().unwrap().0, 2);
    // A page that rewinds the tree.
    let mut stale = Pool::new();
    stale.leaf(false, 0, 1);
    let mut page =
        stale.page(&WalletStore::open(tempfile::tempdir().unwrap().path(), key()).unwrap());
    page.witnesses.clone_from(&good.witnesses);
    assert!(matches!(
        store.apply_scan_page(&page),
        Err(StoreError::InconsistentPage { .. })
    ));
}

#[test]
fn newer_schema_fails() {
    let dir = tempfile::tempdir().unwrap();
    drop(WalletStore::open(dir.path(), key()).unwrap());
    let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    conn.pragma_update(None, "user_version", 3).unwrap();
    drop(conn);
    assert!(matches!(
        WalletStore::open(dir.path(), key()),
        Err(StoreError::NewerSchema {
            found: 3,
            supported: 2
        })
    ));
}

#[test]
fn rows_are_sealed_and_open_only_with_the_wallet_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut pool = Pool::new();
    let mut store = WalletStore::open(dir.path(), key()).unwrap();
    let note = pool.leaf(true, 9, 123_456_789);
    for amount in [5, 6, 7] {
        pool.leaf(false, 9, amount);
    }
    store.apply_scan_page(&pool.page(&store)).unwrap();
    drop(store);
    // Nothing of the note is in the file in clear: no commitment, no amount, no position column.
    // (The frontier, public pool data, holds the last leaf and subtree roots; three leaves after
    // ours keep our commitment out of it.)
    let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
    let wal = std::fs::read(dir.path().join(format!("{FILE_NAME}-wal"))).unwrap_or_default();
    let haystack = [bytes, wal].concat();
    let needles = [
        digest_bytes(&note.commitment().0),
        note.amount.to_be_bytes().to_vec(),
        note.amount.to_le_bytes().to_vec(),
    ];
    for needle in needles {
        assert!(
            !haystack
                .windows(needle.len())
                .any(|w| w == needle.as_slice()),
            "found {needle:?} in clear"
        );
    }
    // Another key cannot read the notes.
    let other = WalletStore::open(dir.path(), StoreKey::from_bytes([8; 32])).unwrap();
    assert!(matches!(other.balances(), Err(StoreError::Corrupt { .. })));
    let store = WalletStore::open(dir.path(), key()).unwrap();
    assert_eq!(
        store.balances().unwrap(),
        BTreeMap::from([(9, 123_456_789)])
    );
}

#[test]
fn release_all_frees_reservations_of_an_interrupted_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut pool = Pool::new();
    let mut store = WalletStore::open(dir.path(), key()).unwrap();
    pool.leaf(true, 1, 10);
    pool.leaf(true, 1, 20);
    store.apply_scan_page(&pool.page(&store)).unwrap();
    store.reserve(&[0, 1], "crashed").unwrap();
    assert!(store.balances().unwrap().is_empty());
    assert_eq!(store.release_all().unwrap(), 2);
    assert_eq!(store.balances().unwrap(), BTreeMap::from([(1, 30)]));
    assert_eq!(store.release_all().unwrap(), 0);
}
