//! Helpers shared by the CLI tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::process::{Command, Output};

/// Runs the real `prove-model` binary with a cache directory private to this test process,
/// under cargo's target folder (weight commitments of real checkpoints are gigabytes; they
/// must not pile up in the system's temporary folder).
pub fn run(args: &[&str]) -> Output {
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-cache-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_prove-model"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap()
}

/// The process's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The process's standard output and error as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
