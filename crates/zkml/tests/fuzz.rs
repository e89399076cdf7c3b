//! Fuzzing the proof decoder and the verifier from a valid proof of the tiny MLP: byte-level
//! mutations of the binary file (bit flips, byte writes, length-like words, truncation,
//! extension, splices) and structured ones of the decoded file (every number, array, enum tag
//! and subtree of its JSON form: field elements, `Vec` lengths, node indices, commitments),
//! re-encoded. Decoding and verifying never panic, and a proof that verifies is the original
//! (same statement, same proof).
//!
//! `cargo test -p zkml --release --test fuzz -- --ignored` runs the long version.
#![allow(clippy::unwrap_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use model::examples::{self, random_input};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::Value;
use zkml::proof::{ProofFile, PROOF_VERSION};
use zkml::{verify, CommittedModel, ProofConfig, ProofFormat, VerifyingKey};

/// The valid proof everything starts from, and the paths into its JSON form.
struct Base {
    vk: VerifyingKey,
    file: ProofFile,
    binary: Vec<u8>,
    json: Value,
    /// JSON pointers of every number, of every array, and of every single-key object (an enum
    /// variant).
    numbers: Vec<String>,
    arrays: Vec<String>,
    variants: Vec<String>,
    all: Vec<String>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let m = CommittedModel::new(
            examples::by_name("tiny-mlp").unwrap(),
            ProofConfig::default(),
        )
        .unwrap();
        let x = random_input(&m.graph, 3);
        let (y, proof) = zkml::prove(&m, &x, &()).unwrap();
        let file = ProofFile::new(&m, x, y, proof);
        verify(&m.vk, &file.input, &file.output, &file.proof).unwrap();
        let binary = file.encode(ProofFormat::Binary).unwrap();
        let json = serde_json::to_value(&file).unwrap();
        let mut b = Base {
            vk: m.vk.clone(),
            file,
            binary,
            json,
            numbers: Vec::new(),
            arrays: Vec::new(),
            variants: Vec::new(),
            all: Vec::new(),
        };
        let json = b.json.clone();
        collect_paths(&json, String::new(), &mut b);
        b
    })
}

fn collect_paths(v: &Value, path: String, b: &mut Base) {
    b.all.push(path.clone());
    match v {
        Value::Number(_) => b.numbers.push(path),
        Value::Array(items) => {
            b.arrays.push(path.clone());
            for (i, item) in items.iter().enumerate() {
                collect_paths(item, format!("{path}/{i}"), b);
            }
        }
        Value::Object(map) => {
            if map.len() == 1 {
                b.variants.push(path.clone());
            }
            for (k, item) in map {
                collect_paths(item, format!("{path}/{k}"), b);
            }
        }
        _ => {}
    }
}

/// Names of the enum variants in a proof (layer proofs; `AddConst` and `Relabel` are unit
/// variants, strings in JSON).
const VARIANTS: &[&str] = &[
    "MatMul",
    "AddBias",
    "Add",
    "Mul",
    "Eval",
    "Pair",
    "Evals",
    "SoftmaxMax",
    "SoftmaxExp",
    "SoftmaxDiv",
    "ZeroPadding",
];

/// Values that sit on the edges of the decoder's checks: zero, one, `p - 1`, `p`, `p + 1`,
/// the `u8`, `u32` and `u64` limits, and a length just past an array's end.
fn interesting(rng: &mut ChaCha8Rng, old: u64) -> u64 {
    const P: u64 = (1 << 31) - 1;
    match rng.gen_range(0..12) {
        0 => 0,
        1 => 1,
        2 => P - 1,
        3 => P,
        4 => P + 1,
        5 => 255,
        6 => 256,
        7 => u32::MAX as u64,
        8 => u64::MAX,
        9 => old.wrapping_add(1),
        10 => old.wrapping_sub(1),
        _ => rng.gen_range(0..P),
    }
}

fn pick<'a>(rng: &mut ChaCha8Rng, paths: &'a [String]) -> &'a str {
    &paths[rng.gen_range(0..paths.len())]
}

/// One structured mutation of `v`.
fn mutate_json(rng: &mut ChaCha8Rng, b: &Base, v: &mut Value) {
    match rng.gen_range(0..10) {
        // A number: a field-element coordinate, a byte of a commitment, a node index, a
        // shape, a value of the statement.
        0..=4 => {
            if let Some(n) = v.pointer_mut(pick(rng, &b.numbers)) {
                let old = n.as_u64().unwrap_or(0);
                *n = match rng.gen_range(0..8) {
                    0 => Value::from(-(rng.gen_range(1..1000i64))),
                    1..=3 => Value::from(interesting(rng, old)),
                    // A value of the same type (a byte stays a byte, a field element canonical):
                    // these decode and reach the verifier.
                    4 | 5 if old < 256 => Value::from(rng.gen_range(0..256u64)),
                    _ if old < 256 => Value::from(old ^ 1),
                    _ => Value::from(rng.gen_range(0..(1u64 << 31) - 1)),
                };
            }
        }
        // An array: drop, duplicate or swap elements, empty it, or grow it.
        5..=7 => {
            if let Some(Value::Array(items)) = v.pointer_mut(pick(rng, &b.arrays)) {
                let n = items.len();
                match rng.gen_range(0..5) {
                    0 if n > 0 => {
                        items.remove(rng.gen_range(0..n));
                    }
                    1 if n > 0 => {
                        let i = rng.gen_range(0..n);
                        let item = items[i].clone();
                        items.insert(i, item);
                    }
                    2 if n > 1 => items.swap(rng.gen_range(0..n), rng.gen_range(0..n)),
                    3 => items.clear(),
                    _ if n > 0 => {
                        let item = items[n - 1].clone();
                        items.push(item);
                    }
                    _ => {}
                }
            }
        }
        // An enum variant's tag.
        8 => {
            if let Some(Value::Object(map)) = v.pointer_mut(pick(rng, &b.variants)) {
                if let Some((k, inner)) = map.iter().next().map(|(k, i)| (k.clone(), i.clone())) {
                    map.remove(&k);
                    map.insert(VARIANTS[rng.gen_range(0..VARIANTS.len())].into(), inner);
                }
            }
        }
        // A splice: one subtree copied over another.
        _ => {
            let from = b.json.pointer(pick(rng, &b.all)).cloned();
            if let (Some(from), Some(to)) = (from, v.pointer_mut(pick(rng, &b.all))) {
                *to = from;
            }
        }
    }
}

/// One byte-level mutation of the binary file (the header is left alone half the time).
fn mutate_bytes(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let header = if rng.gen_bool(0.5) { 12 } else { 0 };
    let n = bytes.len();
    let pos = |rng: &mut ChaCha8Rng| rng.gen_range(header..n);
    match rng.gen_range(0..8) {
        0 => {
            let i = pos(rng);
            bytes[i] ^= 1 << rng.gen_range(0..8);
        }
        1 => {
            let i = pos(rng);
            bytes[i] = rng.gen();
        }
        // A length-like word: bincode writes lengths and indices as little-endian u64 / u32.
        2 => {
            let i = rng.gen_range(header..n - 8);
            let old = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
            let new = interesting(rng, old);
            bytes[i..i + 8].copy_from_slice(&new.to_le_bytes());
        }
        3 => bytes.truncate(pos(rng)),
        4 => {
            let extra = rng.gen_range(1..64);
            bytes.extend((0..extra).map(|_| rng.gen::<u8>()));
        }
        // Splice: a range copied over another place.
        5 => {
            let (a, c) = (pos(rng), pos(rng));
            let len = rng.gen_range(1..256).min(n - a).min(n - c);
            let chunk = bytes[a..a + len].to_vec();
            bytes[c..c + len].copy_from_slice(&chunk);
        }
        // A range deleted or duplicated.
        6 => {
            let a = pos(rng);
            let len = rng.gen_range(1..64).min(n - a);
            bytes.drain(a..a + len);
        }
        _ => {
            let a = pos(rng);
            let len = rng.gen_range(1..64).min(n - a);
            let chunk = bytes[a..a + len].to_vec();
            bytes.splice(a..a, chunk);
        }
    }
}

/// What became of one mutated file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    DecodeRefused,
    VerifyRefused,
    /// Decoded to the original file and verified.
    Original,
}

const OUTCOMES: [Outcome; 3] = [
    Outcome::DecodeRefused,
    Outcome::VerifyRefused,
    Outcome::Original,
];

/// Decodes and verifies `bytes`; panics (caught by the caller) on an accepted proof that is not
/// the original.
fn check(b: &Base, bytes: &[u8]) -> Outcome {
    let Ok(file) = ProofFile::decode(bytes) else {
        return Outcome::DecodeRefused;
    };
    // The binary encoding of whatever decoded reads back the same.
    let again = file.encode(ProofFormat::Binary).unwrap();
    assert_eq!(
        ProofFile::decode(&again).unwrap(),
        file,
        "binary round trip"
    );
    if verify(&b.vk, &file.input, &file.output, &file.proof).is_err() {
        return Outcome::VerifyRefused;
    }
    assert!(
        file.input == b.file.input && file.output == b.file.output,
        "a proof verified for a changed statement"
    );
    assert!(file.proof == b.file.proof, "a changed proof verified");
    Outcome::Original
}

/// Case `seed`: a byte-level mutation of the binary file (even seeds) or a structured one of
/// the JSON form (odd seeds), one to three mutations deep.
fn case(b: &Base, seed: u64) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let depth = rng.gen_range(1..=3);
    if seed.is_multiple_of(2) {
        let mut bytes = b.binary.clone();
        for _ in 0..depth {
            if bytes.len() > 16 {
                mutate_bytes(&mut rng, &mut bytes);
            }
        }
        check(b, &bytes)
    } else {
        let mut v = b.json.clone();
        for _ in 0..depth {
            mutate_json(&mut rng, b, &mut v);
        }
        check(b, &serde_json::to_vec(&v).unwrap())
    }
}

/// Runs cases `0..n` in parallel; fails naming every seed that panicked.
fn run(n: u64) {
    let b = base();
    let t = std::time::Instant::now();
    let results: Vec<(u64, Result<Outcome, String>)> = (0..n)
        .into_par_iter()
        .map(|seed| {
            let r = catch_unwind(AssertUnwindSafe(|| case(b, seed))).map_err(|e| {
                e.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            });
            (seed, r)
        })
        .collect();
    let count = |o: Outcome| results.iter().filter(|r| r.1 == Ok(o)).count();
    // Per kind (bytes, JSON): decoder refusals, verifier refusals, originals.
    let by_kind = |k: u64| {
        OUTCOMES.map(|o| {
            let of_kind = results.iter().filter(|r| r.0 % 2 == k);
            of_kind.filter(|r| r.1 == Ok(o)).count()
        })
    };
    eprintln!(
        "{n} cases in {:.1} s; refused by the decoder / by the verifier / the original: bytes {:?}, structured {:?}",
        t.elapsed().as_secs_f64(),
        by_kind(0),
        by_kind(1)
    );
    let failed: Vec<_> = results.iter().filter(|r| r.1.is_err()).collect();
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    // The fuzz reaches the verifier: many mutations decode, and all of those are refused.
    assert!(count(Outcome::VerifyRefused) > n as usize / 10);
}

#[test]
fn base_file_is_current_and_its_json_form_decodes() {
    let b = base();
    assert_eq!(&b.binary[8..12], &PROOF_VERSION.to_le_bytes());
    let json = serde_json::to_vec(&b.json).unwrap();
    assert_eq!(check(b, &json), Outcome::Original);
    assert_eq!(check(b, &b.binary), Outcome::Original);
}

#[test]
fn mutated_proofs_never_panic_nor_verify() {
    run(10_000);
}

#[test]
#[ignore = "long: 100,000 cases"]
fn mutated_proofs_never_panic_nor_verify_100k() {
    run(100_000);
}
