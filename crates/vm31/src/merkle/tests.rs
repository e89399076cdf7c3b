use proptest::prelude::*;
use stwo::core::fields::m31::{M31, P};

use super::*;
use crate::note::Commitment;

fn leaf(i: u32) -> Commitment {
    Commitment(std::array::from_fn(|j| M31(i * 8 + j as u32 + 1)))
}

fn digest(seed: u32) -> Digest {
    std::array::from_fn(|j| M31((seed.wrapping_mul(0x9e37_79b9) ^ j as u32) % P))
}

#[test]
fn empty_roots_chain() {
    assert_eq!(empty_root(0), EMPTY_LEAF);
    for level in 0..TREE_DEPTH {
        assert_eq!(
            empty_root(level + 1),
            compress(&empty_root(level), &empty_root(level))
        );
    }
    assert_eq!(MerkleTree::new().root(), empty_root(TREE_DEPTH));
    assert_eq!(Frontier::new().root(), empty_root(TREE_DEPTH));
}

#[test]
fn paths_at_first_indices_work() {
    let mut tree = MerkleTree::new();
    for i in 0..3 {
        assert_eq!(tree.append(leaf(i)).unwrap(), i);
    }
    let root = tree.root();
    for i in 0..3 {
        let path = tree.path(i).unwrap();
        verify_membership(&root, &leaf(i).0, i, &path).unwrap();
    }
    // Leaf 1's first sibling is leaf 0; leaf 2's is the empty leaf.
    assert_eq!(tree.path(1).unwrap().0[0], leaf(0).0);
    assert_eq!(tree.path(2).unwrap().0[0], EMPTY_LEAF);
    assert!(tree.path(3).is_err());
}

#[test]
fn frontier_agrees_with_tree() {
    let mut tree = MerkleTree::new();
    let mut frontier = Frontier::new();
    for i in 0..70 {
        assert_eq!(
            frontier.append(leaf(i)).unwrap(),
            tree.append(leaf(i)).unwrap()
        );
        assert_eq!(frontier.root(), tree.root(), "after leaf {i}");
        let (index, path) = frontier.last_path().unwrap();
        assert_eq!(index, i);
        assert_eq!(path, tree.path(i).unwrap());
    }
    let (len, last, ommers) = frontier.to_parts();
    assert_eq!(Frontier::from_parts(len, last, ommers).unwrap(), frontier);
}

#[test]
fn forged_path_fails() {
    let mut tree = MerkleTree::new();
    for i in 0..5 {
        tree.append(leaf(i)).unwrap();
    }
    let root = tree.root();
    let path = tree.path(3).unwrap();
    verify_membership(&root, &leaf(3).0, 3, &path).unwrap();
    // Wrong leaf, wrong index, a changed sibling, a stale root.
    assert_eq!(
        verify_membership(&root, &leaf(4).0, 3, &path),
        Err(Error::RootMismatch { index: 3 })
    );
    assert!(verify_membership(&root, &leaf(3).0, 2, &path).is_err());
    assert!(verify_membership(&root, &leaf(3).0, 3 + (1 << 19), &path).is_err());
    for level in 0..TREE_DEPTH {
        let mut forged = path;
        forged.0[level][0] += M31(1);
        assert!(
            verify_membership(&root, &leaf(3).0, 3, &forged).is_err(),
            "level {level}"
        );
    }
    tree.append(leaf(5)).unwrap();
    assert!(verify_membership(&tree.root(), &leaf(3).0, 3, &path).is_err());
    assert_eq!(
        verify_membership(&root, &leaf(3).0, 1 << 20, &path),
        Err(Error::LeafIndexOutOfRange {
            index: 1 << 20,
            capacity: TREE_CAPACITY
        })
    );
}

/// The last index, 2^20 - 1, without 2^20 appends: restore a frontier holding 2^20 - 1 leaves
/// (arbitrary subtree roots as ommers) and append one more.
#[test]
fn last_index_works_and_full_tree_refuses() {
    let ommers: [Digest; TREE_DEPTH] = std::array::from_fn(|l| digest(l as u32 + 1));
    let mut frontier = Frontier::from_parts(TREE_CAPACITY - 1, digest(99), ommers).unwrap();
    let index = frontier.append(leaf(7)).unwrap();
    assert_eq!(u64::from(index), TREE_CAPACITY - 1);
    let (last, path) = frontier.last_path().unwrap();
    assert_eq!(last, index);
    verify_membership(&frontier.root(), &leaf(7).0, index, &path).unwrap();
    // Every sibling of the last leaf is a left sibling; index 2^20 - 2 was the old last leaf.
    assert_eq!(path.0[0], digest(99));
    assert_eq!(path.0[TREE_DEPTH - 1], ommers[TREE_DEPTH - 1]);
    assert!(verify_membership(&frontier.root(), &leaf(7).0, index - 1, &path).is_err());
    let root = frontier.root();
    assert_eq!(
        frontier.append(leaf(8)),
        Err(Error::TreeFull {
            capacity: TREE_CAPACITY
        })
    );
    assert_eq!(frontier.root(), root);
    assert!(Frontier::from_parts(TREE_CAPACITY + 1, digest(1), ommers).is_err());
}

#[test]
fn root_window_evicts_oldest() {
    let mut window = RootWindow::new();
    for i in 0..=ROOT_WINDOW_LEN as u32 {
        window.push(digest(i));
    }
    assert_eq!(window.len(), ROOT_WINDOW_LEN);
    assert_eq!(
        window.check(&digest(0)),
        Err(Error::UnknownRoot {
            window: ROOT_WINDOW_LEN
        })
    );
    for i in 1..=ROOT_WINDOW_LEN as u32 {
        window.check(&digest(i)).unwrap();
    }
    assert_eq!(window.latest(), Some(digest(ROOT_WINDOW_LEN as u32)));
    assert!(window.check(&digest(1000)).is_err());
}

#[test]
fn serde_round_trips_and_rejects_non_canonical() {
    let mut tree = MerkleTree::new();
    let mut frontier = Frontier::new();
    let mut window = RootWindow::new();
    for i in 0..5 {
        tree.append(leaf(i)).unwrap();
        frontier.append(leaf(i)).unwrap();
        window.push(tree.root());
    }
    let path = tree.path(2).unwrap();
    let json = serde_json::to_string(&path).unwrap();
    assert_eq!(serde_json::from_str::<MerklePath>(&json).unwrap(), path);
    let bytes = bincode::serialize(&path).unwrap();
    assert_eq!(bincode::deserialize::<MerklePath>(&bytes).unwrap(), path);
    let mut bad: serde_json::Value = serde_json::from_str(&json).unwrap();
    bad[0] = P.into();
    assert!(serde_json::from_value::<MerklePath>(bad.clone()).is_err());
    bad[0] = (P - 1).into();
    assert!(serde_json::from_value::<MerklePath>(bad).is_ok());

    let back: MerkleTree = serde_json::from_str(&serde_json::to_string(&tree).unwrap()).unwrap();
    assert_eq!(back.root(), tree.root());
    let back: Frontier = bincode::deserialize(&bincode::serialize(&frontier).unwrap()).unwrap();
    assert_eq!(back, frontier);
    let back: RootWindow = serde_json::from_str(&serde_json::to_string(&window).unwrap()).unwrap();
    assert_eq!(back, window);
}

fn tree_length() -> impl Strategy<Value = u32> {
    prop_oneof![
        (0..=11u32).prop_map(|k| (1 << k) - 1),
        (0..=11u32).prop_map(|k| 1 << k),
        0..=2048u32,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn frontier_matches_tree(len in tree_length()) {
        let mut tree = MerkleTree::new();
        let mut frontier = Frontier::new();
        for i in 0..len {
            tree.append(leaf(i)).unwrap();
            frontier.append(leaf(i)).unwrap();
        }
        prop_assert_eq!(frontier.len(), u64::from(len));
        prop_assert_eq!(frontier.root(), tree.root());
        if let Some((index, path)) = frontier.last_path() {
            prop_assert_eq!(index, len - 1);
            prop_assert_eq!(path, tree.path(index).unwrap());
        }
        let (n, last, ommers) = frontier.to_parts();
        prop_assert_eq!(&Frontier::from_parts(n, last, ommers).unwrap(), &frontier);
    }
}

/// A tree of `2^20 - 1` equal leaves `x`, restored from parts (its ommers are the all-`x`
/// subtree roots), against a root folded by hand; one more `x` gives the all-`x` root.
#[test]
fn frontier_at_capacity_minus_one_matches_reference() {
    let x = leaf(9).0;
    let mut roots = vec![x];
    for level in 0..TREE_DEPTH {
        roots.push(compress(&roots[level], &roots[level]));
    }
    // Leaf 2^20 - 2 is the last: a left child at level 0, a right child above.
    let mut expected = compress(&x, &EMPTY_LEAF);
    for level in 1..TREE_DEPTH {
        expected = compress(&roots[level], &expected);
    }
    let ommers: [Digest; TREE_DEPTH] = std::array::from_fn(|l| roots[l]);
    let mut frontier = Frontier::from_parts(TREE_CAPACITY - 1, x, ommers).unwrap();
    assert_eq!(frontier.root(), expected);
    // The level-0 ommer is meaningless for an even last index and is dropped.
    assert_eq!(frontier.to_parts().2[0], EMPTY_LEAF);
    frontier.append(Commitment(x)).unwrap();
    assert_eq!(frontier.root(), roots[TREE_DEPTH]);
}
