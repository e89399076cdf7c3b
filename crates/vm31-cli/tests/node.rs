//! The pool node as a process (`vm31 node`) under adversarial clients: racing double spends,
//! replayed and redirected proofs, proofs for another deployment, fees in a worthless asset,
//! anchors under a flood of deposits and after 100 blocks, `kill -9` in the middle of
//! submissions, and malformed JSON-RPC.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::{json, Value};
use stwo::core::fields::m31::M31;
use vm31::stark::ProofError;
use vm31::tx::{Deployment, ExternalData};
use vm31_node::api::{code, Receipt, RpcError, Submission};

use common::{
    assert_code, deposit, expect_code, n_nullifiers, shared_amount, shared_deposits, spend,
    temp_db, Client, Deposit, Mirror, NodeOptions, NodeProcess, Owner, DEPLOYMENT, DEPOSITOR,
    N_SHARED, SHARED_OWNER_SEED, TIMEOUT,
};

/// Submits `deposits` to a node, waits until they are sealed and returns the mirror of its tree.
fn deposit_and_seal(client: &Client, deposits: &[Deposit]) -> Mirror {
    let mut size = 0;
    for d in deposits {
        size = client.submit(&d.submission).expect("deposit").tree_size;
    }
    client.wait_sealed(size);
    Mirror::fetch(client)
}

/// A spend of `d` (a shared deposit in `mirror`, beside a dummy input) into `first` and the
/// rest, with no fee.
fn split(mirror: &Mirror, d: &Deposit, first: u64, seed: u64) -> Submission {
    let owner = Owner::new(SHARED_OWNER_SEED);
    let index = mirror.index_of(&d.commitment());
    let outputs = [first, d.note.amount - first];
    spend(
        &DEPLOYMENT,
        &owner,
        &d.note,
        index,
        &mirror.tree,
        outputs,
        ExternalData::default(),
        seed,
    )
    .expect("prove spend")
}

fn with_external(submission: &Submission, edit: impl Fn(&mut ExternalData)) -> Submission {
    let mut changed = submission.clone();
    match &mut changed {
        Submission::Deposit { statement, .. } => edit(&mut statement.external),
        Submission::Withdraw { statement, .. } => edit(&mut statement.external),
        Submission::Spend { statement, .. } => edit(&mut statement.external),
    }
    changed
}

/// Whether the node has spent the nullifier of the spend's real (first) input.
fn nullifier_spent(client: &Client, submission: &Submission) -> bool {
    let Submission::Spend { statement, .. } = submission else {
        panic!("not a spend");
    };
    let params = json!({ "nullifier": statement.nullifiers[0] });
    let answer = client
        .call("pool_isNullifierSpent", params)
        .expect("pool_isNullifierSpent");
    answer["spent"].as_bool().expect("spent is a bool")
}

#[test]
fn concurrent_double_spend_exactly_one_accepted() {
    const ROUNDS: usize = 3;
    let (_dir, db) = temp_db();
    let node = NodeProcess::start(&db, &NodeOptions::default());
    let client = node.client();
    let notes = &shared_deposits()[..ROUNDS];
    let mirror = deposit_and_seal(&client, notes);
    // Two different spends of each note (different outputs, so different transactions).
    let spends: Vec<[Submission; 2]> = notes
        .par_iter()
        .enumerate()
        .map(|(i, d)| [1, 2].map(|k| split(&mirror, d, 100 * k, 100 + 10 * i as u64 + k)))
        .collect();
    for (round, pair) in spends.iter().enumerate() {
        assert_ne!(
            serde_json::to_value(&pair[0]).expect("json"),
            serde_json::to_value(&pair[1]).expect("json")
        );
        let before = client.status();
        let barrier = Barrier::new(pair.len());
        let outcomes: Vec<Result<Receipt, RpcError>> = std::thread::scope(|s| {
            let racers: Vec<_> = pair
                .iter()
                .map(|submission| {
                    let (barrier, client) = (&barrier, Client::new(&node.url));
                    s.spawn(move || {
                        client.status(); // connect before the race
                        barrier.wait();
                        client.submit(submission)
                    })
                })
                .collect();
            racers
                .into_iter()
                .map(|r| r.join().expect("racer"))
                .collect()
        });
        let (accepted, refused): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
        assert_eq!(accepted.len(), 1, "round {round}: {accepted:?} {refused:?}");
        let refused = refused.into_iter().next().expect("one refused");
        expect_code(refused, code::NULLIFIER_SPENT);
        let after = client.status();
        let revealed = n_nullifiers(&pair[0]);
        assert_eq!(after.nullifiers_spent, before.nullifiers_spent + revealed);
        assert_eq!(after.tree_size, before.tree_size + 2);
        let receipt = accepted.into_iter().next().expect("one").expect("accepted");
        assert_eq!(receipt.tree_size, after.tree_size);
        assert!(nullifier_spent(&client, &pair[0]));
    }
}

#[test]
fn replayed_and_redirected_proofs_are_rejected() {
    let (_dir, db) = temp_db();
    let node = NodeProcess::start(&db, &NodeOptions::default());
    let client = node.client();
    let d = &shared_deposits()[0];

    // A deposit whose paying account is changed no longer verifies.
    let redirected = with_external(&d.submission, |e| e.recipient = [0xee; 32]);
    expect_code(client.submit(&redirected), code::PROOF_REJECTED);
    let receipt = client.submit(&d.submission).expect("deposit");
    let before = client.status();
    let replay = expect_code(client.submit(&d.submission), code::ALREADY_APPLIED);
    let data = replay.data.expect("the replay carries the receipt");
    let first: Receipt = serde_json::from_value(data).expect("receipt");
    assert_eq!(first, receipt);
    let after = client.status();
    assert_eq!(after.tree_size, before.tree_size);
    assert_eq!(after.current_root, before.current_root);
    assert_eq!(after.balances, before.balances);

    client.wait_sealed(receipt.tree_size);
    let mirror = Mirror::fetch(&client);
    let (original, again) = rayon::join(
        || split(&mirror, d, 300, 200),
        || split(&mirror, d, 400, 201),
    );
    // Before the original is applied: a relayer cannot take it over, with or without a fee.
    for (relayer, fee) in [([0xaa; 32], 0), ([0xaa; 32], 5)] {
        let redirected = with_external(&original, |e| {
            e.relayer = relayer;
            e.fee = fee;
        });
        expect_code(client.submit(&redirected), code::PROOF_REJECTED);
    }
    assert!(!nullifier_spent(&client, &original));
    let receipt = client.submit(&original).expect("spend");
    assert_eq!(receipt.leaf_indices, vec![1, 2]);
    let before = client.status();
    let replay = expect_code(client.submit(&original), code::ALREADY_APPLIED);
    let first: Receipt = serde_json::from_value(replay.data.expect("receipt")).expect("receipt");
    assert_eq!(first, receipt);
    // Another proof of the same note: a new transaction, same nullifier.
    expect_code(client.submit(&again), code::NULLIFIER_SPENT);
    let after = client.status();
    assert_eq!(after.nullifiers_spent, n_nullifiers(&original));
    assert_eq!(after.tree_size, before.tree_size);
    assert_eq!(after.current_root, before.current_root);
}

#[test]
fn proof_for_another_deployment_is_rejected() {
    let mut other_pool = DEPLOYMENT;
    other_pool.pool_id[31] ^= 1;
    let other_chain = Deployment {
        chain_id: DEPLOYMENT.chain_id + 1,
        ..DEPLOYMENT
    };
    let deployments = [DEPLOYMENT, other_pool, other_chain];
    let dirs = deployments.map(|_| temp_db());
    let nodes: Vec<NodeProcess> = deployments
        .iter()
        .zip(&dirs)
        .map(|(deployment, (_, db))| {
            let options = NodeOptions {
                deployment: *deployment,
                ..NodeOptions::default()
            };
            NodeProcess::start(db, &options)
        })
        .collect();
    let [a, b, c] = [0, 1, 2].map(|i| nodes[i].client());
    for (client, deployment) in [(&a, DEPLOYMENT), (&b, other_pool), (&c, other_chain)] {
        let status = client.status();
        assert_eq!(status.chain_id, deployment.chain_id);
        assert_eq!(status.pool_id, hex::encode(deployment.pool_id));
    }

    let for_a = &shared_deposits()[0];
    expect_code(b.submit(&for_a.submission), code::PROOF_REJECTED);
    expect_code(c.submit(&for_a.submission), code::PROOF_REJECTED);
    a.submit(&for_a.submission)
        .expect("accepted where it was proved for");

    let owner = Owner::new(SHARED_OWNER_SEED).address;
    let for_b = deposit(&other_pool, &owner, 0, 500, DEPOSITOR, 300);
    expect_code(a.submit(&for_b.submission), code::PROOF_REJECTED);
    expect_code(c.submit(&for_b.submission), code::PROOF_REJECTED);
    b.submit(&for_b.submission)
        .expect("accepted where it was proved for");

    assert_eq!(a.status().tree_size, 1);
    assert_eq!(b.status().tree_size, 1);
    assert_eq!(c.status().tree_size, 0);
}

#[test]
fn fee_in_worthless_asset_is_refused() {
    const WORTHLESS: u32 = 5;
    let (_dir, db) = temp_db();
    let options = NodeOptions {
        fee_assets: vec![0],
        ..NodeOptions::default()
    };
    let node = NodeProcess::start(&db, &options);
    let client = node.client();
    let owner = Owner::new(4);
    let d = deposit(&DEPLOYMENT, &owner.address, WORTHLESS, 100, DEPOSITOR, 400);
    let mirror = deposit_and_seal(&client, std::slice::from_ref(&d));
    let index = mirror.index_of(&d.commitment());
    let relayer = [0x7e; 32];
    let spend_with = |outputs, fee, fee_asset, seed| {
        let external = ExternalData {
            relayer,
            fee,
            fee_asset: M31(fee_asset),
            ..ExternalData::default()
        };
        spend(
            &DEPLOYMENT,
            &owner,
            &d.note,
            index,
            &mirror.tree,
            outputs,
            external,
            seed,
        )
    };

    // Notes of asset 5 cannot pay a fee in asset 0: there is no proof to send.
    let err = spend_with([60, 30], 10, 0, 401).expect_err("no proof of a fee in another asset");
    assert!(
        matches!(err, ProofError::WitnessMismatch { .. }),
        "unexpected error {err:?}"
    );
    // A fee in asset 5 itself is provable, but the pool does not take asset 5 for fees.
    let worthless = spend_with([60, 30], 10, WORTHLESS, 402).expect("a fee in the notes' asset");
    let refused = expect_code(client.submit(&worthless), code::POLICY);
    assert!(refused.message.contains("fee"), "{refused:?}");
    assert!(!nullifier_spent(&client, &worthless));
    // The same spend without a fee is fine.
    let free = spend_with([70, 30], 0, WORTHLESS, 403).expect("no fee");
    client.submit(&free).expect("a spend without a fee");
    let status = client.status();
    assert_eq!(status.nullifiers_spent, n_nullifiers(&free));
    let expected = BTreeMap::from([(WORTHLESS, "100".to_string())]);
    assert_eq!(status.balances, expected);
}

#[test]
fn hundred_deposits_do_not_evict_an_anchor() {
    const FLOOD: usize = 100;
    const CLIENTS: usize = 4;
    let (_dir, db) = temp_db();
    let options = NodeOptions {
        block_interval_ms: 1000,
        ..NodeOptions::default()
    };
    let node = NodeProcess::start(&db, &options);
    let client = node.client();
    let deposits = shared_deposits();
    let mirror = deposit_and_seal(&client, &deposits[..1]);
    let anchored = client.status();
    let anchored_at = Instant::now();
    let anchor = mirror.tree.root();
    assert_eq!(anchored.root_window.last().map(|r| r.root), Some(anchor));
    let pending = split(&mirror, &deposits[0], 1, 500);

    let next = AtomicUsize::new(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            let (next, client) = (&next, Client::new(&node.url));
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i > FLOOD {
                    return;
                }
                client.submit(&deposits[i].submission).expect("deposit");
            });
        }
    });
    let flood_s = start.elapsed().as_secs_f64();
    let flooded = client.status();
    assert_eq!(flooded.tree_size, 1 + FLOOD as u64);
    client
        .submit(&pending)
        .expect("the anchor is still in the window");
    let after = client.status();
    // One seal per interval at most, however many transactions arrive (plus one of slack for
    // where the timer stood when the anchor was sealed).
    let intervals = anchored_at.elapsed().as_millis() as u64 / options.block_interval_ms;
    let blocks = after.block_height - anchored.block_height;
    assert!(
        blocks <= intervals + 2 && blocks < 20,
        "{FLOOD} deposits in {flood_s:.1} s took {blocks} blocks in {intervals} intervals: \
         blocks must seal on the timer"
    );
    assert_eq!(after.nullifiers_spent, n_nullifiers(&pending));
}

#[test]
fn anchor_expires_after_100_blocks() {
    const WINDOW: u64 = 100;
    let (_dir, db) = temp_db();
    let options = NodeOptions {
        block_interval_ms: 20,
        ..NodeOptions::default()
    };
    let node = NodeProcess::start(&db, &options);
    let client = node.client();
    let deposits = shared_deposits();
    let mirror = deposit_and_seal(&client, &deposits[..1]);
    let anchor = mirror.tree.root();
    let anchored_height = client
        .status()
        .root_window
        .iter()
        .find(|r| r.root == anchor)
        .expect("the mirror's root is sealed")
        .height;
    let pending = split(&mirror, &deposits[0], 1, 600);

    // One deposit per block: each must seal before the next is sent.
    let mut height = client.status().block_height;
    for d in &deposits[1..=WINDOW as usize + 1] {
        client.submit(&d.submission).expect("deposit");
        let status = client.wait_until("the next block", |s| s.block_height > height);
        assert_eq!(status.block_height, height + 1, "one block per deposit");
        height = status.block_height;
        let in_window = status.root_window.iter().any(|r| r.root == anchor);
        let age = height - anchored_height;
        assert_eq!(in_window, age < WINDOW, "anchor {age} blocks old");
        assert!(status.root_window.len() as u64 <= WINDOW);
    }
    let status = client.status();
    assert_eq!(status.root_window.len() as u64, WINDOW);
    let root = client
        .call("pool_getRoot", json!({ "root": anchor }))
        .expect("pool_getRoot");
    assert_eq!(root["in_window"], false);
    expect_code(client.submit(&pending), code::UNKNOWN_ROOT);
    assert!(!nullifier_spent(&client, &pending));
}

#[test]
fn sigkill_during_submissions_loses_nothing_acknowledged() {
    const CLIENTS: usize = 3;
    const KILL_AFTER: usize = 40;
    let deposits = shared_deposits();
    let (_dir, db) = temp_db();
    let options = NodeOptions::default();
    let mut node = NodeProcess::start(&db, &options);
    let url = node.url.clone();

    let next = AtomicUsize::new(0);
    let acked: Mutex<Vec<(usize, Receipt)>> = Mutex::new(Vec::new());
    let unanswered: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let refused: Mutex<Vec<(usize, RpcError)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            let client = Client::new(&url);
            let (next, acked, unanswered, refused) = (&next, &acked, &unanswered, &refused);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= N_SHARED {
                    return;
                }
                let params = serde_json::to_value(&deposits[i].submission).expect("json");
                match client.try_call("pool_submit", params) {
                    Ok(Ok(receipt)) => {
                        let receipt = serde_json::from_value(receipt).expect("receipt");
                        acked.lock().expect("lock").push((i, receipt));
                    }
                    Ok(Err(e)) => refused.lock().expect("lock").push((i, e)),
                    Err(_) => {
                        unanswered.lock().expect("lock").push(i);
                        return;
                    }
                }
            });
        }
        let start = Instant::now();
        while acked.lock().expect("lock").len() < KILL_AFTER {
            assert!(
                start.elapsed() < TIMEOUT,
                "no {KILL_AFTER} acknowledgements"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        node.kill();
    });
    let acked = acked.into_inner().expect("lock");
    let unanswered = unanswered.into_inner().expect("lock");
    let refused = refused.into_inner().expect("lock");
    assert!(refused.is_empty(), "refused before the kill: {refused:?}");
    assert!(
        acked.len() < N_SHARED,
        "everything was acknowledged before the kill"
    );
    eprintln!(
        "killed after {} acknowledged, {} unanswered",
        acked.len(),
        unanswered.len()
    );

    let node = NodeProcess::start(&db, &options);
    let client = node.client();
    let restarted = client.status();
    let size = restarted.tree_size;
    client.wait_sealed(size);
    let mirror = Mirror::fetch(&client);
    assert_eq!(mirror.tree.len(), size);
    let position: BTreeMap<[u32; 8], u64> = mirror
        .notes
        .iter()
        .map(|n| (n.commitment.map(|x| x.0), n.index))
        .collect();
    assert_eq!(position.len() as u64, size, "duplicate commitments");
    for (i, receipt) in &acked {
        let at = receipt.leaf_indices[0];
        assert_eq!(receipt.leaf_indices.len(), 1);
        assert_eq!(
            mirror.notes[at as usize].commitment,
            deposits[*i].commitment().0,
            "acknowledged deposit {i} is not at its leaf {at}"
        );
    }
    let acked_ids: BTreeSet<usize> = acked.iter().map(|(i, _)| *i).collect();
    let in_tree: BTreeSet<usize> = (0..N_SHARED)
        .filter(|&i| position.contains_key(&deposits[i].commitment().0.map(|x| x.0)))
        .collect();
    let extra: BTreeSet<usize> = in_tree.difference(&acked_ids).copied().collect();
    assert!(
        extra.iter().all(|i| unanswered.contains(i)),
        "leaves of deposits never sent: {extra:?} (unanswered {unanswered:?})"
    );
    assert_eq!(size as usize, acked.len() + extra.len());
    assert_eq!(
        size as usize,
        in_tree.len(),
        "leaves not from these deposits"
    );

    // Everything again: what was applied is recognised, the rest is applied once.
    let outcomes: Vec<Result<Receipt, RpcError>> = deposits
        .par_iter()
        .with_max_len(1)
        .map_init(
            || Client::new(&node.url),
            |client, d| client.submit(&d.submission),
        )
        .collect();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(_) => assert!(!in_tree.contains(&i), "deposit {i} applied twice"),
            Err(e) => {
                assert_code(&e, code::ALREADY_APPLIED);
                assert!(in_tree.contains(&i), "deposit {i} refused: {e:?}");
                let receipt: Receipt =
                    serde_json::from_value(e.data.expect("receipt")).expect("receipt");
                let at = position[&deposits[i].commitment().0.map(|x| x.0)];
                assert_eq!(receipt.leaf_indices, vec![at]);
            }
        }
    }
    let status = client.wait_sealed(N_SHARED as u64);
    assert_eq!(status.tree_size, N_SHARED as u64);
    let mirror = Mirror::fetch(&client);
    assert_eq!(mirror.tree.len(), N_SHARED as u64);
    assert_eq!(mirror.tree.root(), status.current_root);
    let all: BTreeSet<[u32; 8]> = mirror
        .notes
        .iter()
        .map(|n| n.commitment.map(|x| x.0))
        .collect();
    let expected: BTreeSet<[u32; 8]> = deposits
        .iter()
        .map(|d| d.commitment().0.map(|x| x.0))
        .collect();
    assert_eq!(all, expected);
    let total: u64 = (0..N_SHARED).map(shared_amount).sum();
    assert_eq!(
        status.balances,
        BTreeMap::from([(0, total.to_string())]),
        "shielded supply is the sum of the deposits"
    );
    assert_eq!(status.nullifiers_spent, 0);
}

#[test]
fn malformed_requests_get_clear_errors() {
    let (_dir, db) = temp_db();
    let node = NodeProcess::start(&db, &NodeOptions::default());
    let client = node.client();
    let assert_error = |response: &Value, code: i64| {
        let e =
            common::outcome(response.clone()).expect_err(&format!("an error response: {response}"));
        assert_code(&e, code);
    };

    let garbage = client.post_raw("{this is not json").expect("answered");
    assert_error(&garbage, code::PARSE);
    assert_eq!(garbage["id"], Value::Null);
    let not_2_0 = json!({ "jsonrpc": "1.0", "id": 3, "method": "pool_status" });
    let old = client.post_raw(&not_2_0.to_string()).expect("answered");
    assert_error(&old, code::INVALID_REQUEST);
    expect_code(client.call("pool_mint", json!({})), code::METHOD_NOT_FOUND);
    expect_code(
        client.call("pool_getNotes", json!({ "from": "zero" })),
        code::INVALID_PARAMS,
    );
    expect_code(
        client.call("pool_submit", json!({ "kind": "teleport" })),
        code::INVALID_PARAMS,
    );

    let d = &shared_deposits()[0];
    let Submission::Deposit {
        statement,
        ciphertext,
        proof,
    } = &d.submission
    else {
        panic!("a deposit");
    };
    for cut in [proof.len() / 2, proof.len() - 1, 16] {
        let truncated = Submission::Deposit {
            statement: *statement,
            ciphertext: ciphertext.clone(),
            proof: proof[..cut].to_string(),
        };
        let e = client.submit(&truncated).expect_err("a truncated proof");
        assert!(
            [code::PROOF_REJECTED, code::INVALID_PARAMS].contains(&e.code),
            "proof cut to {cut} hex digits: {e:?}"
        );
        assert!(!e.message.is_empty());
        assert_eq!(client.status().tree_size, 0);
    }
    client.submit(&d.submission).expect("the whole proof");

    let batch = json!([
        { "jsonrpc": "2.0", "id": "a", "method": "pool_status" },
        { "jsonrpc": "2.0", "id": "b", "method": "pool_nope" },
    ]);
    let answers = client.post_raw(&batch.to_string()).expect("answered");
    let answers = answers.as_array().expect("a batch answer is an array");
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0]["id"], "a");
    assert_eq!(answers[0]["result"]["tree_size"], 1);
    assert_eq!(answers[1]["id"], "b");
    assert_error(&answers[1], code::METHOD_NOT_FOUND);
}
