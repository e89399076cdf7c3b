//! Helpers shared by the CLI tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::process::{Command, Output};

/// Runs the real `prove-model` binary with a cache directory private to this test process.
pub fn run(args: &[&str]) -> Output {
    let cache = std::env::temp_dir().join(format!("stwo-ml-cli-test-{}", std::process::id()));
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
