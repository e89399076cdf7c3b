//! `prove-model audit prove` and `audit verify`: prove a window of an inference log (the one
//! `prove-server` keeps in `<data-dir>/audit`) against a model's key, and check the report
//! folder offline.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use audit::seal::RecipientSecret;

use crate::setup::read_key;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Replay and prove every entry of a window of the log; write proofs, report.json and
    /// report.html into --out.
    Prove {
        /// The log folder (`<server data-dir>/audit`). It is read, never written: a torn tail
        /// of a live log is left to its writer.
        #[arg(long)]
        log: PathBuf,
        /// Window start, RFC 3339 UTC (`2026-12-07T17:00:00Z`), inclusive.
        #[arg(long, requires = "to", conflicts_with_all = ["from_seq", "to_seq"])]
        from: Option<String>,
        /// Window end, RFC 3339 UTC, exclusive.
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Window start as an entry number, inclusive.
        #[arg(long, required_unless_present = "from")]
        from_seq: Option<u64>,
        /// Window end as an entry number, exclusive (default: the log's end).
        #[arg(long)]
        to_seq: Option<u64>,
        /// The model's verifying key, as `prove-server` made it (`GET /api/v1/models/{id}/vk`):
        /// it records how to rebuild the model.
        #[arg(long)]
        vk: PathBuf,
        /// Report folder to write.
        #[arg(long, default_value = "audit-report")]
        out: PathBuf,
        /// The recipient's secret key file (`audit keygen`), for a log whose records are
        /// sealed (`prove-server --audit-recipient`); the proofs are sealed to it in turn.
        #[arg(long)]
        decrypt_key: Option<PathBuf>,
    },
    /// Check a report folder offline: each proof, each inclusion, the consistency of the
    /// roots, the report hash, and that no entry is missing, changed or moved.
    Verify {
        /// The report folder.
        report_dir: PathBuf,
        /// The model's verifying key.
        #[arg(long)]
        vk: PathBuf,
        /// A log root you hold (an `/infer` answer's `log_size:log_root`, or a published
        /// head): the report's root at that size must be it. Repeatable.
        #[arg(long = "trusted-root", value_name = "SIZE:HEX")]
        trusted_roots: Vec<String>,
        /// The recipient's secret key file, to open and check sealed proofs (without it
        /// their entries' hashes and inclusion are checked, the proofs counted as unchecked).
        #[arg(long)]
        decrypt_key: Option<PathBuf>,
    },
    /// Make a recipient key pair for sealed logs: the secret into --out (mode 0600), the
    /// public key (for `prove-server --audit-recipient`) printed.
    Keygen {
        #[arg(long, default_value = "audit-recipient.key")]
        out: PathBuf,
    },
}

fn read_secret(path: Option<&Path>) -> Result<Option<RecipientSecret>> {
    let Some(path) = path else { return Ok(None) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    RecipientSecret::from_hex(&text)
        .map(Some)
        .with_context(|| format!("{} is not a recipient key", path.display()))
}

fn keygen(out: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = RecipientSecret::generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing key is never overwritten)",
                out.display()
            )
        })?;
    writeln!(f, "{}", key.to_hex())?;
    f.sync_all()?;
    println!(
        "secret key -> {} (keep it; it opens the sealed records)",
        out.display()
    );
    println!("public key: {}", key.public().to_hex());
    Ok(())
}

pub fn run(cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Prove {
            log,
            from,
            to,
            from_seq,
            to_seq,
            vk,
            out,
            decrypt_key,
        } => {
            let secret = read_secret(decrypt_key.as_deref())?;
            prove(
                &log,
                (from, to),
                (from_seq, to_seq),
                &vk,
                &out,
                secret.as_ref(),
            )
        }
        AuditCommand::Verify {
            report_dir,
            vk,
            trusted_roots,
            decrypt_key,
        } => {
            let secret = read_secret(decrypt_key.as_deref())?;
            verify(&report_dir, &vk, &trusted_roots, secret.as_ref())
        }
        AuditCommand::Keygen { out } => keygen(&out),
    }
}

fn prove(
    log_dir: &Path,
    (from, to): (Option<String>, Option<String>),
    (from_seq, to_seq): (Option<u64>, Option<u64>),
    vk: &Path,
    out: &Path,
    secret: Option<&RecipientSecret>,
) -> Result<()> {
    let key = read_key(vk)?;
    let spec = key
        .setup
        .settings
        .iter()
        .find(|(k, _)| k == "spec")
        .map(|(_, v)| v.clone())
        .with_context(|| {
            format!(
                "{} records no model spec: audit prove needs a key made by prove-server",
                vk.display()
            )
        })?;
    let spec: model_service::ModelSpec =
        serde_json::from_str(&spec).context("the key's model spec")?;
    let (log, opened) = audit::Log::open_read_only(log_dir)
        .with_context(|| format!("opening the log {}", log_dir.display()))?;
    if let Some(t) = opened.torn_tail {
        eprintln!(
            "note: the log ends in an incomplete append ({} bytes at {}:{}), not read",
            t.bytes_cut, t.segment, t.offset
        );
    }
    let window = match (&from, &to, from_seq) {
        (Some(a), Some(b), _) => {
            let a_ms = audit::time::parse_rfc3339(a).map_err(anyhow::Error::msg)?;
            let b_ms = audit::time::parse_rfc3339(b).map_err(anyhow::Error::msg)?;
            let r = log.seq_range_for_time(a_ms, b_ms);
            (r.start, r.end)
        }
        (_, _, Some(a)) => (a, to_seq.unwrap_or(log.len())),
        _ => bail!("give --from and --to, or --from-seq"),
    };
    if window.0 >= window.1 || window.1 > log.len() {
        bail!(
            "the window {}..{} holds no entry of the log's {}",
            window.0,
            window.1,
            log.len()
        );
    }
    eprintln!("rebuilding the model from the key's spec ...");
    let m = model_service::load(spec, key).map_err(|e| anyhow::anyhow!("{e}"))?;
    let data = audit::window::WindowData::collect(&log, window.0, window.1)?;
    let bar = ProgressBar::new(window.1 - window.0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries proved {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let w = audit::window::Window {
        from_seq: window.0,
        to_seq: window.1,
        from_time: from,
        to_time: to,
    };
    let progress = |done: u64, _: u64| bar.set_position(done);
    let report = model_service::window::prove_window(data, w, &m, out, secret, &progress)?;
    bar.finish_and_clear();
    let t = &report.totals;
    println!(
        "audited entries {}..{}: {} proved, {} output mismatches, {} other models, {} failed; proving {:.2} s ({:.1} entries/s), wall {:.2} s",
        report.window.from_seq,
        report.window.to_seq,
        t.proved,
        t.output_mismatch,
        t.other_model,
        t.failed,
        t.prove_seconds,
        t.proved as f64 / t.prove_seconds.max(1e-9),
        t.wall_seconds
    );
    println!(
        "log root at {}: {}",
        report.start.size,
        hex::encode(report.start.root)
    );
    println!(
        "log root at {}: {}",
        report.end.size,
        hex::encode(report.end.root)
    );
    println!("report hash {} -> {}", report.report_hash, out.display());
    Ok(())
}

fn parse_trusted(s: &str) -> Result<audit::window::SignedSize> {
    let (size, root) = s
        .split_once(':')
        .with_context(|| format!("{s}: expected SIZE:HEX"))?;
    let size = size.parse().with_context(|| format!("{s}: bad size"))?;
    let root: [u8; 32] = hex::decode(root)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{s}: the root must be 32 bytes of hex"))?;
    Ok(audit::window::SignedSize { size, root })
}

fn verify(
    dir: &Path,
    vk: &Path,
    trusted: &[String],
    secret: Option<&RecipientSecret>,
) -> Result<()> {
    let key = read_key(vk)?;
    let trusted = trusted
        .iter()
        .map(|s| parse_trusted(s))
        .collect::<Result<Vec<_>>>()?;
    let t = std::time::Instant::now();
    let s = audit::check::check_report(dir, &key.vk, &trusted, secret)
        .with_context(|| format!("checking {}", dir.display()))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    for p in &s.problems {
        eprintln!("problem: {p}");
    }
    if !s.output_mismatch.is_empty() {
        println!(
            "served outputs the model does not reproduce: entries {:?}",
            s.output_mismatch
        );
    }
    if !s.is_valid() {
        bail!(
            "{}: the report does not check ({} problems)",
            dir.display(),
            s.problems.len()
        );
    }
    if s.sealed_unchecked > 0 {
        println!(
            "{} proofs are sealed for a recipient and were not checked (give --decrypt-key); their entries' hashes and inclusion were",
            s.sealed_unchecked
        );
    }
    println!(
        "valid: {} entries, {} proofs verified, {} output mismatches, {} other models, {} failed, in {ms:.0} ms",
        s.entries,
        s.proved,
        s.output_mismatch.len(),
        s.other_model,
        s.failed
    );
    Ok(())
}
