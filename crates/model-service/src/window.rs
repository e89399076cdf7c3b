//! Proving a window of the audit log: every entry of `from_seq .. to_seq` is replayed on the
//! model (its recomputed output must equal the logged one, else it is listed as a mismatch and
//! not proved), proved against the key, and written with its inclusion proof into a report
//! folder: `proofs/<seq>.bin`, `report.json` and `report.html`.

use std::path::Path;
use std::time::Instant;

use audit::record::{Logged, PROOF_CONTEXT};
use audit::seal::{seal, RecipientSecret};
use audit::window::{EntryReport, Report, Totals, Verdict, Window, WindowData, REPORT_VERSION};
use audit::{InferenceInput, InferenceOutput};

use crate::{infer, prove_prepared, write_atomic, Loaded};

/// Why a window cannot be proved (a single entry's failure is a verdict, not this).
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("the window {from}..{to} is empty or beyond the log's {len} entries")]
    Range { from: u64, to: u64, len: u64 },
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
}

/// One entry replayed and proved: its verdict, proof file and proving time. Sealed records
/// are opened with `secret`, and their proof is sealed to the same recipient.
fn prove_entry(
    m: &Loaded,
    entry: &audit::Entry,
    out: &Path,
    secret: Option<&RecipientSecret>,
) -> (Verdict, Option<String>, f64, Option<usize>) {
    let t = Instant::now();
    if entry.model_digest != m.key.vk.digest() {
        return (Verdict::OtherModel, None, 0.0, None);
    }
    let mut argmax = None;
    let mut run = || -> Result<(Verdict, Option<String>), String> {
        let logged_in = Logged::<InferenceInput>::parse(&entry.input)
            .map_err(|e| format!("the logged input: {e}"))?;
        let logged_out = Logged::<InferenceOutput>::parse(&entry.output)
            .map_err(|e| format!("the logged output: {e}"))?;
        let sealed = matches!(logged_in, Logged::Sealed(_));
        let logged_in = logged_in.open(secret)?;
        let logged_out = logged_out.open(secret)?;
        if !sealed {
            argmax = logged_out.argmax();
        }
        let (input, output, prepared) = infer(m, &logged_in.request).map_err(|e| e.to_string())?;
        if input.tensors != logged_in.tensors {
            return Err("the request replays to other input tensors than the logged ones".into());
        }
        if output != logged_out {
            return Ok((Verdict::OutputMismatch, None));
        }
        let bytes = prove_prepared(m, prepared, &()).map_err(|e| e.to_string())?;
        let (name, bytes) = match (sealed, secret) {
            (true, Some(k)) => {
                let s = seal(&k.public(), PROOF_CONTEXT, &bytes).map_err(|e| e.to_string())?;
                let json = serde_json::to_vec(&s).map_err(|e| e.to_string())?;
                (format!("proofs/{:012}.bin.sealed", entry.seq), json)
            }
            _ => (format!("proofs/{:012}.bin", entry.seq), bytes),
        };
        write_atomic(&out.join(&name), &bytes).map_err(|e| e.to_string())?;
        Ok((Verdict::Proved, Some(name)))
    };
    let (verdict, file) = run().unwrap_or_else(|e| (Verdict::Failed(e), None));
    (verdict, file, t.elapsed().as_secs_f64() * 1e3, argmax)
}

/// Proves the window's entries (read by [`WindowData::collect`]) on `m`, writing the report
/// folder `out`; `progress(done, total)` after each entry. Records sealed for a recipient
/// need `secret`; their proofs are sealed to it in turn.
pub fn prove_window(
    data: WindowData,
    window: Window,
    m: &Loaded,
    out: &Path,
    secret: Option<&RecipientSecret>,
    progress: &dyn Fn(u64, u64),
) -> Result<Report, WindowError> {
    let (from, to) = (window.from_seq, window.to_seq);
    if from >= to || data.end.size != to || data.entries.len() as u64 != to - from {
        return Err(WindowError::Range {
            from,
            to,
            len: data.end.size,
        });
    }
    let wall = Instant::now();
    std::fs::create_dir_all(out.join("proofs"))?;
    let mut entries = Vec::new();
    let mut totals = Totals::default();
    for (entry, inclusion) in data.entries.into_iter().zip(data.inclusion) {
        let (verdict, proof_file, prove_ms, argmax) = prove_entry(m, &entry, out, secret);
        totals.entries += 1;
        match &verdict {
            Verdict::Proved => totals.proved += 1,
            Verdict::OutputMismatch => totals.output_mismatch += 1,
            Verdict::OtherModel => totals.other_model += 1,
            Verdict::Failed(_) => totals.failed += 1,
        }
        totals.prove_seconds += prove_ms / 1e3;
        entries.push(EntryReport {
            seq: entry.seq,
            time: audit::time::format_ms(entry.timestamp_ms),
            timestamp_ms: entry.timestamp_ms,
            model_digest: entry.model_digest,
            prev_hash: entry.prev_hash,
            input: String::from_utf8_lossy(&entry.input).into_owned(),
            output: String::from_utf8_lossy(&entry.output).into_owned(),
            entry_hash: entry.hash(),
            input_hash: entry.input_hash(),
            output_hash: entry.output_hash(),
            argmax,
            inclusion,
            proof_file,
            verdict,
            prove_ms,
        });
        progress(entry.seq - from + 1, to - from);
    }
    totals.wall_seconds = wall.elapsed().as_secs_f64();
    let report = Report {
        format: "stwo-ml/audit-report".into(),
        version: REPORT_VERSION,
        model_digest: m.key.vk.digest(),
        start: data.start,
        end: data.end,
        consistency: data.consistency,
        window,
        entries,
        totals,
        created: audit::time::format_ms(audit::time::now_ms()),
        report_hash: String::new(),
    }
    .seal();
    let json = serde_json::to_vec_pretty(&report).map_err(std::io::Error::other)?;
    write_atomic(&out.join("report.json"), &json)?;
    write_atomic(
        &out.join("report.html"),
        audit::html::render(&report).as_bytes(),
    )?;
    Ok(report)
}
