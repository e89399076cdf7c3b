use proptest::prelude::*;
use stwo::core::fields::m31::M31;
use vm31::{verify_membership, MerkleTree};

use super::*;

fn leaf(i: u64) -> Commitment {
    Commitment(std::array::from_fn(|j| M31((i * 8 + j as u64 + 1) as u32)))
}

/// Appends `before` leaves, the note, then `after` leaves to a tree, a frontier and the note's
/// witness, checking the witness against the tree after every leaf (a serde round trip midway).
fn check_witness(before: u64, after: u64) {
    let mut tree = MerkleTree::new();
    let mut frontier = Frontier::new();
    for i in 0..=before {
        tree.append(leaf(i)).unwrap();
        frontier.append(leaf(i)).unwrap();
    }
    let mut witness = NoteWitness::from_frontier(&frontier).unwrap();
    let position = before as u32;
    assert_eq!(witness.position(), position);
    assert_eq!(witness.leaf(), leaf(before));
    for i in before + 1..=before + after {
        tree.append(leaf(i)).unwrap();
        frontier.append(leaf(i)).unwrap();
        witness.append(leaf(i)).unwrap();
        if i == before + after / 2 {
            let bytes = bincode::serialize(&witness).unwrap();
            witness = bincode::deserialize(&bytes).unwrap();
        }
        check_against(&witness, &tree, &frontier);
    }
    check_against(&witness, &tree, &frontier);
}

fn check_against(witness: &NoteWitness, tree: &MerkleTree, frontier: &Frontier) {
    let position = witness.position();
    let path = witness.path();
    assert_eq!(path, tree.path(position).unwrap(), "position {position}");
    assert_eq!(witness.root(), frontier.root());
    assert_eq!(witness.tree_len(), frontier.len());
    verify_membership(&frontier.root(), &witness.leaf().0, position, &path).unwrap();
}

#[test]
fn witness_at_power_of_two_boundaries_works() {
    for k in 0..=10u32 {
        for position in [(1u64 << k) - 1, 1 << k] {
            check_witness(position, (1 << k) + 3);
        }
    }
}

fn position() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0..=10u32).prop_map(|k| (1u64 << k) - 1),
        (0..=10u32).prop_map(|k| 1u64 << k),
        0..1100u64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn witness_matches_tree(before in position(), after in 0..600u64) {
        check_witness(before, after);
    }
}

/// The last two positions, without 2^20 appends: a frontier of `2^20 - 1` equal leaves `x`
/// (its ommers are the all-`x` subtree roots) gets its last leaf.
#[test]
fn witness_at_capacity_works_and_full_tree_refuses() {
    let x = leaf(5);
    let mut roots = vec![x.0];
    for l in 0..TREE_DEPTH {
        roots.push(compress(&roots[l], &roots[l]));
    }
    let ommers: [Digest; TREE_DEPTH] = std::array::from_fn(|l| roots[l]);
    let mut frontier = Frontier::from_parts(TREE_CAPACITY - 1, x.0, ommers).unwrap();
    let mut witness = NoteWitness::from_frontier(&frontier).unwrap();
    assert_eq!(u64::from(witness.position()), TREE_CAPACITY - 2);
    assert_eq!(witness.root(), frontier.root());
    frontier.append(x).unwrap();
    witness.append(x).unwrap();
    assert_eq!(witness.root(), roots[TREE_DEPTH]);
    assert_eq!(witness.path().0.to_vec(), roots[..TREE_DEPTH].to_vec());
    assert_eq!(witness.tree_len(), TREE_CAPACITY);
    assert!(witness.append(x).is_err());

    let mut last = NoteWitness::from_frontier(&frontier).unwrap();
    assert_eq!(u64::from(last.position()), TREE_CAPACITY - 1);
    assert_eq!(last.root(), roots[TREE_DEPTH]);
    assert_eq!(
        last.append(x),
        Err(vm31::Error::TreeFull {
            capacity: TREE_CAPACITY
        })
    );
    let back: NoteWitness = serde_json::from_str(&serde_json::to_string(&last).unwrap()).unwrap();
    assert_eq!(back, last);
}

#[test]
fn empty_frontier_has_no_witness() {
    assert!(NoteWitness::from_frontier(&Frontier::new()).is_none());
}

#[test]
fn malformed_witness_fails() {
    let mut frontier = Frontier::new();
    for i in 0..6 {
        frontier.append(leaf(i)).unwrap();
    }
    // Position 5 = 0b101: two left siblings; right siblings at levels 1, 3, 4, ...
    let mut witness = NoteWitness::from_frontier(&frontier).unwrap();
    witness.append(leaf(6)).unwrap();
    let good: serde_json::Value = serde_json::to_value(&witness).unwrap();
    assert_eq!(
        serde_json::from_value::<NoteWitness>(good.clone()).unwrap(),
        witness
    );
    let edits: [fn(&mut serde_json::Value); 6] = [
        |v| v["position"] = (1u64 << 20).into(),
        |v| v["left"].as_array_mut().unwrap().truncate(1),
        |v| v["cursor_len"] = 2.into(),
        |v| v["cursor"] = serde_json::json!([]),
        |v| v["leaf"][0] = ((1u64 << 31) - 1).into(),
        |v| v["filled"] = serde_json::json!(vec![[0; 8]; 19]),
    ];
    for edit in edits {
        let mut bad = good.clone();
        edit(&mut bad);
        assert!(
            serde_json::from_value::<NoteWitness>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Appending a page at once equals appending its leaves one by one.
    #[test]
    fn page_append_matches_leaf_appends(before in position(), gap in 0..40u64, page in 1..700u64) {
        let mut frontier = Frontier::new();
        for i in 0..=before {
            frontier.append(leaf(i)).unwrap();
        }
        let mut one_by_one = NoteWitness::from_frontier(&frontier).unwrap();
        for i in before + 1..before + 1 + gap {
            one_by_one.append(leaf(i)).unwrap();
        }
        let mut paged = one_by_one.clone();
        let start = before + 1 + gap;
        let leaves: Vec<_> = (start..start + page).map(|i| leaf(i).0).collect();
        for i in start..start + page {
            one_by_one.append(leaf(i)).unwrap();
        }
        paged.append_page(&PageNodes::new(start, &leaves)).unwrap();
        prop_assert_eq!(paged.path(), one_by_one.path());
        prop_assert_eq!(paged.root(), one_by_one.root());
        prop_assert_eq!(paged.tree_len(), start + page);
    }
}
