//! Offline check of a report folder against a verifying key (`prove-model audit verify`):
//! the report hash, the consistency of the roots at the window's ends, that the window holds
//! every entry once and in order, each entry's hash, chain link and inclusion proof, and each
//! proof (verified against the key, its public inputs and outputs equal to the logged ones).
//! Every problem is named (entry, what failed); none stops the others being checked.

use std::collections::BTreeSet;
use std::path::Path;

use zkml::proof::ProofFile;
use zkml::VerifyingKey;

use crate::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use crate::record::{tensors_hash, InferenceInput, InferenceOutput, Logged, PROOF_CONTEXT};
use crate::seal::{open, RecipientSecret, Sealed};
use crate::window::{EntryReport, Report, SignedSize, Verdict, REPORT_VERSION};

/// Largest `report.json` read (bytes).
const MAX_REPORT_BYTES: u64 = 1 << 30;
/// Largest proof file read (bytes).
const MAX_PROOF_BYTES: u64 = 1 << 30;

/// The report cannot be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("report.json: {0}")]
    Parse(String),
    #[error("the report is for model {report}, the key is {key}")]
    OtherKey { report: String, key: String },
}

/// What the check found.
#[derive(Clone, Debug, Default)]
pub struct CheckSummary {
    pub entries: u64,
    /// Entries whose proof verified.
    pub proved: u64,
    /// Entries whose served output the model does not reproduce (a finding, listed).
    pub output_mismatch: Vec<u64>,
    pub other_model: u64,
    pub failed: u64,
    /// Proofs sealed for a recipient, not checked for want of the recipient's key (their
    /// entries' hashes and inclusion are checked).
    pub sealed_unchecked: u64,
    /// Everything that does not check, by name; empty when the report holds.
    pub problems: Vec<String>,
}

impl CheckSummary {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, CheckError> {
    let err = |source| CheckError::Read {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(err)?.len();
    if len > limit {
        return Err(err(std::io::Error::other(format!(
            "{len} bytes, more than the {limit} allowed"
        ))));
    }
    std::fs::read(path).map_err(err)
}

/// Checks the report in `dir` against `key`; `trusted` are log roots the caller holds (from
/// `/infer` answers or a published head) that must match the report's where the sizes meet.
/// Sealed proofs are opened with `secret` when given, else counted as unchecked.
pub fn check_report(
    dir: &Path,
    key: &VerifyingKey,
    trusted: &[SignedSize],
    secret: Option<&RecipientSecret>,
) -> Result<CheckSummary, CheckError> {
    let bytes = read_limited(&dir.join("report.json"), MAX_REPORT_BYTES)?;
    let report: Report =
        serde_json::from_slice(&bytes).map_err(|e| CheckError::Parse(e.to_string()))?;
    if report.version != REPORT_VERSION {
        return Err(CheckError::Parse(format!(
            "report version {}, this verifier reads {REPORT_VERSION}",
            report.version
        )));
    }
    let digest = key.digest();
    if report.model_digest != digest {
        return Err(CheckError::OtherKey {
            report: hex::encode(report.model_digest),
            key: hex::encode(digest),
        });
    }
    let mut s = CheckSummary {
        entries: report.entries.len() as u64,
        ..CheckSummary::default()
    };
    let p = &mut s.problems;
    if report.content_hash() != report.report_hash {
        p.push("the report hash does not match the report's content (edited)".into());
    }
    check_ends(&report, trusted, p);
    check_window(&report, p);
    let mut prev: Option<&EntryReport> = None;
    for e in &report.entries {
        check_entry(dir, (key, secret), &report, e, prev, &mut s);
        prev = Some(e);
    }
    check_totals(&report, &mut s);
    Ok(s)
}

/// The window's ends: sizes, the consistency proof, the caller's trusted roots.
fn check_ends(r: &Report, trusted: &[SignedSize], p: &mut Vec<String>) {
    if r.start.size != r.window.from_seq || r.end.size != r.window.to_seq {
        p.push(format!(
            "the roots are for sizes {} and {}, the window is entries {}..{}",
            r.start.size, r.end.size, r.window.from_seq, r.window.to_seq
        ));
    }
    if let Err(e) = verify_consistency(
        r.start.size,
        r.end.size,
        &r.start.root,
        &r.end.root,
        &r.consistency,
    ) {
        p.push(format!(
            "the log at size {} is not an extension of the log at size {}: {e}",
            r.end.size, r.start.size
        ));
    }
    for t in trusted {
        let ours = [&r.start, &r.end].into_iter().find(|x| x.size == t.size);
        match ours {
            Some(x) if x.root == t.root => {}
            Some(_) => p.push(format!(
                "the log root at size {} is not the trusted one {} (the log was rewritten)",
                t.size,
                hex::encode(t.root)
            )),
            None => p.push(format!(
                "the trusted root is for size {}; the report covers sizes {} and {}",
                t.size, r.start.size, r.end.size
            )),
        }
    }
}

/// Every seq of the window once, in order.
fn check_window(r: &Report, p: &mut Vec<String>) {
    let want: BTreeSet<u64> = (r.window.from_seq..r.window.to_seq).collect();
    let mut seen = BTreeSet::new();
    for e in &r.entries {
        if !want.contains(&e.seq) {
            p.push(format!("entry {} lies outside the window", e.seq));
        } else if !seen.insert(e.seq) {
            p.push(format!("entry {} appears twice", e.seq));
        }
    }
    for missing in want.difference(&seen) {
        p.push(format!(
            "entry {missing} is missing from the report (dropped)"
        ));
    }
    for w in r.entries.windows(2) {
        if w[1].seq <= w[0].seq {
            p.push(format!(
                "entries {} and {} are out of order (reordered)",
                w[0].seq, w[1].seq
            ));
        }
    }
}

fn check_entry(
    dir: &Path,
    (key, secret): (&VerifyingKey, Option<&RecipientSecret>),
    r: &Report,
    e: &EntryReport,
    prev: Option<&EntryReport>,
    s: &mut CheckSummary,
) {
    let entry = e.entry();
    let hash = entry.hash();
    let seq = e.seq;
    let p = &mut s.problems;
    if hash != e.entry_hash {
        p.push(format!(
            "entry {seq}: its fields do not hash to its entry hash (changed)"
        ));
    }
    if entry.input_hash() != e.input_hash || entry.output_hash() != e.output_hash {
        p.push(format!("entry {seq}: input or output hash does not match"));
    }
    if let Some(prev) = prev.filter(|x| x.seq + 1 == seq) {
        if e.prev_hash != prev.entry_hash {
            p.push(format!(
                "entry {seq}: does not chain to entry {} (log rewritten)",
                prev.seq
            ));
        }
    }
    if let Err(err) = verify_inclusion(
        &leaf_hash(&hash),
        seq,
        r.end.size,
        &e.inclusion,
        &r.end.root,
    ) {
        p.push(format!(
            "entry {seq}: not in the log of size {} at this position ({err})",
            r.end.size
        ));
    }
    let ours = e.model_digest == r.model_digest;
    match &e.verdict {
        Verdict::Proved if ours => match check_proof(dir, key, secret, e) {
            Ok(true) => s.proved += 1,
            Ok(false) => s.sealed_unchecked += 1,
            Err(why) => s.problems.push(format!("entry {seq}: {why}")),
        },
        Verdict::Proved => s.problems.push(format!(
            "entry {seq}: marked proved but logged for another model"
        )),
        Verdict::OtherModel if !ours => s.other_model += 1,
        Verdict::OtherModel => s.problems.push(format!(
            "entry {seq}: marked as another model's but logged for this one"
        )),
        Verdict::OutputMismatch => s.output_mismatch.push(seq),
        Verdict::Failed(_) => s.failed += 1,
    }
}

/// The entry's proof verifies against the key, about exactly the logged tensors (matched by
/// their hashes, which a sealed record keeps in clear). `Ok(false)`: a sealed proof and no key.
fn check_proof(
    dir: &Path,
    key: &VerifyingKey,
    secret: Option<&RecipientSecret>,
    e: &EntryReport,
) -> Result<bool, String> {
    let name = e
        .proof_file
        .as_deref()
        .ok_or("marked proved but has no proof file")?;
    if name.contains("..") || Path::new(name).is_absolute() {
        return Err(format!("proof file {name}: outside the report folder"));
    }
    let input = Logged::<InferenceInput>::parse(e.input.as_bytes())
        .map_err(|x| format!("logged input is not an inference record: {x}"))?;
    let output = Logged::<InferenceOutput>::parse(e.output.as_bytes())
        .map_err(|x| format!("logged output is not an inference record: {x}"))?;
    let mut bytes = read_limited(&dir.join(name), MAX_PROOF_BYTES).map_err(|x| x.to_string())?;
    if name.ends_with(".sealed") {
        let Some(secret) = secret else {
            return Ok(false);
        };
        let sealed: Sealed = serde_json::from_slice(&bytes)
            .map_err(|x| format!("proof file {name}: not a sealed file: {x}"))?;
        bytes =
            open(secret, PROOF_CONTEXT, &sealed).map_err(|x| format!("proof file {name}: {x}"))?;
    }
    let file = ProofFile::decode(&bytes).map_err(|x| format!("proof file {name}: {x}"))?;
    if tensors_hash(&file.inputs()) != input.tensors_hash() {
        return Err("the proof is about another input than the logged one".into());
    }
    if tensors_hash(&file.outputs()) != output.tensors_hash() {
        return Err("the proof is about another output than the logged one".into());
    }
    zkml::verify_outputs(key, &file.inputs(), &file.outputs(), &file.proof)
        .map_err(|x| format!("the proof does not verify: {x}"))?;
    Ok(true)
}

fn check_totals(r: &Report, s: &mut CheckSummary) {
    let t = &r.totals;
    let counted = (
        s.entries,
        s.proved + s.sealed_unchecked,
        s.output_mismatch.len() as u64,
        s.other_model,
        s.failed,
    );
    if (
        t.entries,
        t.proved,
        t.output_mismatch,
        t.other_model,
        t.failed,
    ) != counted
        && s.problems.is_empty()
    {
        s.problems
            .push("the report's totals do not match its entries".into());
    }
}
