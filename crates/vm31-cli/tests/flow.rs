//! The whole flow through the `vm31` binary over real sockets: a node on port 0, two wallets,
//! deposit, transfer, scan, partial withdraw with a relayer fee, and the errors a user meets.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_vm31");

struct NodeProcess {
    child: Child,
    url: String,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(dir: &Path, interval_ms: u64) -> NodeProcess {
    let mut child = Command::new(BIN)
        .args(["node", "--db"])
        .arg(dir.join("pool.sqlite"))
        .args(["--bind", "127.0.0.1:0", "--block-interval-ms"])
        .arg(interval_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    NodeProcess {
        child,
        url: format!("http://{addr}"),
    }
}

struct User {
    wallet: PathBuf,
    password: PathBuf,
}

impl User {
    fn new(dir: &Path, name: &str, password: &str) -> Self {
        Self::create(dir, name, password, None)
    }

    /// Restores a wallet from `phrase` under a new name.
    fn restore(dir: &Path, name: &str, password: &str, phrase: &str) -> Self {
        Self::create(dir, name, password, Some(phrase))
    }

    /// `wallet create` (with `--restore` from `phrase`); the printed phrase is kept beside it.
    fn create(dir: &Path, name: &str, password: &str, phrase: Option<&str>) -> Self {
        let password_file = dir.join(format!("{name}.pw"));
        std::fs::write(&password_file, format!("{password}\n")).expect("write");
        let user = Self {
            wallet: dir.join(name),
            password: password_file,
        };
        let phrase_file = user.wallet.with_extension("phrase");
        let mut args = vec![
            "wallet",
            "create",
            "--kdf-memory-kib",
            "1024",
            "--kdf-passes",
            "1",
        ];
        if let Some(phrase) = phrase {
            std::fs::write(&phrase_file, phrase).expect("write");
            args.extend(["--restore", phrase_file.to_str().expect("path")]);
        }
        let out = user.run(None, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        if phrase.is_none() {
            std::fs::write(&phrase_file, &out.stderr).expect("write");
        }
        user
    }

    /// The seed phrase `wallet create` printed.
    fn phrase(&self) -> String {
        let printed = std::fs::read_to_string(self.wallet.with_extension("phrase")).expect("read");
        printed
            .lines()
            .last()
            .expect("phrase line")
            .trim()
            .to_string()
    }

    fn run(&self, node: Option<&NodeProcess>, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--wallet")
            .arg(&self.wallet)
            .arg("--password-file")
            .arg(&self.password)
            .arg("--quiet");
        if let Some(node) = node {
            cmd.args(["--node", &node.url]);
        }
        cmd.args(args).output().expect("run vm31")
    }

    fn ok(&self, node: &NodeProcess, args: &[&str]) -> String {
        let out = self.run(Some(node), args);
        assert!(out.status.success(), "vm31 {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    fn info(&self) -> serde_json::Value {
        let out = self.run(None, &["wallet", "info", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("json")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn status(node: &NodeProcess) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["--node", &node.url, "pool-status", "--json"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Waits until every note the node holds is sealed.
fn sealed(node: &NodeProcess) -> serde_json::Value {
    for _ in 0..400 {
        let s = status(node);
        if s["sealed_tree_size"] == s["tree_size"] {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("node never sealed");
}

#[test]
fn two_wallets_deposit_transfer_scan_and_withdraw_with_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path(), 100);
    let a = User::new(dir.path(), "a", "correct horse");
    let b = User::new(dir.path(), "b", "battery staple");

    a.ok(&node, &["deposit", "--amount", "1000"]);
    sealed(&node);
    let b_address = b.info()["address"].as_str().expect("address").to_string();
    a.ok(&node, &["transfer", "--to", &b_address, "--amount", "300"]);
    sealed(&node);
    b.ok(&node, &["scan"]);
    assert_eq!(b.info()["balances"]["0"], 300);

    let recipient = "ab".repeat(32);
    let relayer = "cd".repeat(32);
    b.ok(
        &node,
        &[
            "withdraw",
            "--to",
            &recipient,
            "--amount",
            "120",
            "--relayer",
            &relayer,
            "--fee",
            "5",
        ],
    );
    sealed(&node);
    b.ok(&node, &["scan"]);
    a.ok(&node, &["scan"]);
    assert_eq!(b.info()["balances"]["0"], 175, "change of the withdrawal");
    assert_eq!(a.info()["balances"]["0"], 700, "change of the transfer");
    let s = sealed(&node);
    assert_eq!(
        s["tree_size"], 4,
        "deposit 1 + transfer 2 + withdraw change 1"
    );
    assert_eq!(
        s["nullifiers_spent"], 3,
        "transfer: the note and a dummy; withdraw: one note"
    );
    assert_eq!(s["balances"]["0"], "875", "1000 in, 120 + 5 out");

    // What users get wrong.
    let out = b.run(
        Some(&node),
        &["transfer", "--to", &b_address, "--amount", "1000"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("insufficient funds"));

    let wrong = User {
        wallet: b.wallet.clone(),
        password: a.password.clone(),
    };
    let out = wrong.run(None, &["wallet", "info"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("wrong password"));

    let out = a.run(None, &["--node", "http://127.0.0.1:1", "scan"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot reach pool node"));

    let out = a.run(
        Some(&node),
        &["transfer", "--to", "vm31nonsense", "--amount", "1"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("address"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn batch_file_runs_operations_in_order_waiting_for_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path(), 100);
    let a = User::new(dir.path(), "a", "pw-a");
    let b = User::new(dir.path(), "b", "pw-b");
    let b_address = b.info()["address"].as_str().expect("address").to_string();
    let ops = serde_json::json!([
        {"op": "deposit", "amount": 500},
        {"op": "transfer", "to": b_address, "amount": 100},
        // Needs the change of the transfer: the batch waits for its block.
        {"op": "transfer", "to": b_address, "amount": 350},
        {"op": "withdraw", "to": "ee".repeat(32), "amount": 40},
    ]);
    let file = dir.path().join("ops.json");
    std::fs::write(&file, ops.to_string()).expect("write");
    let out = a.ok(&node, &["batch", "--tx-file", file.to_str().expect("path")]);
    assert_eq!(out.lines().count(), 4, "{out}");
    sealed(&node);
    a.ok(&node, &["scan"]);
    b.ok(&node, &["scan"]);
    assert_eq!(b.info()["balances"]["0"], 450);
    assert_eq!(a.info()["balances"]["0"], 10);

    let lone_relayer = serde_json::json!([
        {"op": "withdraw", "to": "ee".repeat(32), "amount": 1, "relayer": "cd".repeat(32)},
    ]);
    std::fs::write(&file, lone_relayer.to_string()).expect("write");
    let out = a.run(
        Some(&node),
        &["batch", "--tx-file", file.to_str().expect("path")],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("relayer and fee come together"));

    std::fs::write(&file, "[{\"op\": \"teleport\"}]").expect("write");
    let out = a.run(
        Some(&node),
        &["batch", "--tx-file", file.to_str().expect("path")],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("expected a JSON list"));
}

#[test]
fn restored_wallet_finds_the_same_notes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path(), 100);
    let a = User::new(dir.path(), "a", "pw-a");
    a.ok(&node, &["deposit", "--amount", "77"]);
    a.ok(&node, &["deposit", "--amount", "23", "--asset", "3"]);
    sealed(&node);
    a.ok(&node, &["scan"]);
    let phrase = a.phrase();
    assert_eq!(phrase.split_whitespace().count(), 24, "{phrase}");
    let again = User::restore(dir.path(), "a-restored", "another password", &phrase);
    assert_eq!(again.info()["address"], a.info()["address"]);
    again.ok(&node, &["scan"]);
    assert_eq!(again.info()["balances"], a.info()["balances"]);
    assert_eq!(again.info()["balances"]["3"], 23);

    // A damaged phrase is refused with a reason.
    let mut words: Vec<&str> = phrase.split_whitespace().collect();
    words.swap(0, 1);
    let phrase_file = dir.path().join("bad.phrase");
    std::fs::write(&phrase_file, words.join(" ")).expect("write");
    let bad = User {
        wallet: dir.path().join("bad"),
        password: a.password.clone(),
    };
    let out = bad.run(
        None,
        &[
            "wallet",
            "create",
            "--restore",
            phrase_file.to_str().expect("path"),
        ],
    );
    assert!(!out.status.success());
    assert!(!text(&out.stderr).is_empty());
}
