//! The wallet commands: `wallet create|info`, `deposit`, `transfer`, `withdraw`, `scan`,
//! `pool-status`, `batch`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::OsRng;
use serde::Deserialize;
use serde_json::json;
use vm31_api::PoolStatus;
use vm31_wallet::{address, KdfParams, NodeClient, Relay, Wallet, WalletError};

/// Options every wallet command takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The pool node's JSON-RPC URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:9031")]
    pub node: String,
    /// The wallet directory (default `$HOME/.vm31`).
    #[arg(long, global = true)]
    pub wallet: Option<PathBuf>,
    /// Read the wallet password from the first line of this file (else prompt).
    #[arg(long, global = true)]
    pub password_file: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a wallet: a new 24-word seed phrase (or `--restore`), encrypted with a password.
    Create {
        /// Restore from a seed phrase read from this file instead of drawing a new one.
        #[arg(long)]
        restore: Option<PathBuf>,
        /// Argon2id memory in KiB (default 65536; lower only for tests).
        #[arg(long, default_value_t = 65536)]
        kdf_memory_kib: u32,
        /// Argon2id passes.
        #[arg(long, default_value_t = 3)]
        kdf_passes: u32,
    },
    /// Address and balances (of scanned, unspent notes).
    Info {
        #[arg(long)]
        json: bool,
    },
}

/// A deposit, as command-line flags or a batch entry.
#[derive(Debug, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositArgs {
    #[arg(long)]
    pub amount: u64,
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub asset: u32,
    /// The paying public account (64 hex digits; zero if omitted).
    #[arg(long)]
    #[serde(default)]
    pub from: Option<String>,
}

/// A payment out of the wallet (a transfer or a withdrawal), as flags or a batch entry.
#[derive(Debug, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentArgs {
    /// Recipient: an address (`vm31…`, see `vm31 wallet info`) for a transfer, a public account
    /// (64 hex digits) for a withdrawal.
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    pub amount: u64,
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub asset: u32,
    /// Relayer account (64 hex digits), paid `--fee`.
    #[arg(long, requires = "fee")]
    #[serde(default)]
    pub relayer: Option<String>,
    /// Fee paid to the relayer, in the transaction's asset.
    #[arg(long, requires = "relayer")]
    #[serde(default)]
    pub fee: Option<u64>,
}

fn account(text: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|e| anyhow!("{what} must be 64 hex digits: {e}"))?;
    Ok(out)
}

impl PaymentArgs {
    fn relay(&self) -> anyhow::Result<Relay> {
        match (&self.relayer, self.fee) {
            (Some(r), Some(fee)) => Ok(Relay {
                relayer: account(r, "--relayer")?,
                fee,
            }),
            (None, None) => Ok(Relay::default()),
            _ => bail!("relayer and fee come together"),
        }
    }
}

impl Common {
    /// `--wallet`, else `$HOME/.vm31`, else `.vm31` here.
    fn wallet_dir(&self) -> PathBuf {
        match (&self.wallet, std::env::var_os("HOME")) {
            (Some(dir), _) => dir.clone(),
            (None, Some(home)) => PathBuf::from(home).join(".vm31"),
            (None, None) => PathBuf::from(".vm31"),
        }
    }
}

fn password(common: &Common, confirm: bool) -> anyhow::Result<Vec<u8>> {
    if let Some(path) = &common.password_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let line = text.lines().next().unwrap_or("").to_string();
        if line.is_empty() {
            bail!("{} holds an empty password", path.display());
        }
        return Ok(line.into_bytes());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: pass --password-file or run in a terminal");
    }
    let first = rpassword::prompt_password("wallet password: ")?;
    if confirm && rpassword::prompt_password("again: ")? != first {
        bail!("the passwords differ");
    }
    Ok(first.into_bytes())
}

fn open(common: &Common) -> anyhow::Result<Wallet> {
    Ok(Wallet::open(
        &common.wallet_dir(),
        &password(common, false)?,
    )?)
}

fn spinner(common: &Common, message: &str) -> ProgressBar {
    if common.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Scans with a progress bar; returns the report.
fn scan(common: &Common, wallet: &mut Wallet, client: &NodeClient) -> anyhow::Result<()> {
    let bar = if common.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(0);
        if let Ok(style) =
            ProgressStyle::with_template("scanning {bar:30} {pos}/{len} notes ({per_sec}) {msg}")
        {
            bar.set_style(style);
        }
        bar
    };
    let start = Instant::now();
    let report = wallet.scan(client, |p| {
        bar.set_length(p.total);
        bar.set_position(p.scanned);
        bar.set_message(format!("{} ours", p.found));
    })?;
    bar.finish_and_clear();
    if !common.quiet {
        eprintln!(
            "scanned {} notes in {:.2} s: {} new of ours, {} spent; tree of {}",
            report.scanned,
            start.elapsed().as_secs_f64(),
            report.found,
            report.spent,
            report.tree_size
        );
    }
    Ok(())
}

pub fn create(common: &Common, command: WalletCommand) -> anyhow::Result<()> {
    match command {
        WalletCommand::Create {
            restore,
            kdf_memory_kib,
            kdf_passes,
        } => {
            let phrase = restore
                .map(|p| {
                    std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
                })
                .transpose()?;
            let params = KdfParams {
                m_kib: kdf_memory_kib,
                t: kdf_passes,
                p: 4,
            };
            if params.is_weak() {
                eprintln!("warning: Argon2id memory below 19 MiB makes the password easy to guess");
            }
            let pw = password(common, true)?;
            let (wallet, mnemonic) = Wallet::create(
                &common.wallet_dir(),
                &pw,
                phrase.as_deref(),
                params,
                &mut OsRng,
            )?;
            println!("address: {}", address::encode(&wallet.address()));
            if phrase.is_none() {
                eprintln!("seed phrase (write it down; it is the only backup):\n{mnemonic}");
            }
            Ok(())
        }
        WalletCommand::Info { json } => {
            let wallet = open(common)?;
            let address = address::encode(&wallet.address());
            let balances = wallet.balances()?;
            if json {
                let balances: serde_json::Map<String, serde_json::Value> = balances
                    .iter()
                    .map(|(a, b)| {
                        let v =
                            u64::try_from(*b).map_or_else(|_| json!(b.to_string()), |b| json!(b));
                        (a.to_string(), v)
                    })
                    .collect();
                println!("{}", json!({ "address": address, "balances": balances }));
            } else {
                println!("address: {address}");
                if balances.is_empty() {
                    println!("no funds (run `vm31 scan` to see new notes)");
                }
                for (asset, amount) in balances {
                    println!("asset {asset}: {amount}");
                }
            }
            Ok(())
        }
    }
}

pub fn scan_cmd(common: &Common) -> anyhow::Result<()> {
    let client = NodeClient::new(&common.node);
    let mut wallet = open(common)?;
    scan(common, &mut wallet, &client)?;
    let released = wallet.release_stale_reservations()?;
    if released > 0 && !common.quiet {
        eprintln!("released {released} note(s) reserved by an interrupted command");
    }
    Ok(())
}

pub fn pool_status(common: &Common, as_json: bool) -> anyhow::Result<()> {
    let client = NodeClient::new(&common.node);
    let status: serde_json::Value = client.call("pool_status", &json!({}))?;
    if as_json {
        println!("{status}");
        return Ok(());
    }
    let s: PoolStatus = serde_json::from_value(status)?;
    println!(
        "pool {} on chain {} (proof version {})",
        s.pool_id, s.chain_id, s.proof_version
    );
    println!(
        "tree {} notes ({} sealed), block {}, {} nullifiers spent",
        s.tree_size, s.sealed_tree_size, s.block_height, s.nullifiers_spent
    );
    println!(
        "root window: {} sealed roots, blocks every {} ms",
        s.root_window.len(),
        s.block_interval_ms
    );
    for (asset, amount) in &s.balances {
        println!("shielded asset {asset}: {amount}");
    }
    Ok(())
}

/// One operation of a batch file.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Deposit(DepositArgs),
    Transfer(PaymentArgs),
    Withdraw(PaymentArgs),
}

/// Waits until the node has sealed everything it holds (so change notes become spendable).
fn wait_for_seal(client: &NodeClient, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let s: PoolStatus = client.call("pool_status", &json!({}))?;
        if s.sealed_tree_size == s.tree_size {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("the node did not seal a block within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs one operation: scan, then build, prove and submit; if funds are missing and the node
/// has unsealed notes, waits for the seal, rescans and retries once.
pub fn run_op(
    common: &Common,
    wallet: &mut Wallet,
    client: &NodeClient,
    op: &Op,
) -> anyhow::Result<String> {
    let rng = &mut OsRng;
    let mut attempt = |wallet: &mut Wallet| -> Result<vm31_wallet::Sent, anyhow::Error> {
        Ok(match op {
            Op::Deposit(d) => {
                let from = d
                    .from
                    .as_deref()
                    .map(|f| account(f, "from"))
                    .transpose()?
                    .unwrap_or([0; 32]);
                wallet.deposit(client, d.amount, d.asset, from, rng)?
            }
            Op::Transfer(p) => {
                let to = address::decode(&p.to).map_err(|e| anyhow!("--to: {e}"))?;
                wallet.transfer(client, &to, p.amount, p.asset, p.relay()?, rng)?
            }
            Op::Withdraw(p) => {
                let to = account(&p.to, "--to")?;
                wallet.withdraw(client, p.amount, p.asset, to, p.relay()?, rng)?
            }
        })
    };
    if !matches!(op, Op::Deposit(_)) {
        scan(common, wallet, client)?;
    }
    let bar = spinner(common, "proving and submitting");
    let mut outcome = attempt(wallet);
    // Funds still in an unsealed block, or an anchor the pool has moved past: wait for the
    // block, rescan and try once more.
    let retry = |e: &anyhow::Error| match e.downcast_ref::<WalletError>() {
        Some(WalletError::InsufficientFunds { .. }) => true,
        Some(WalletError::Client(vm31_wallet::ClientError::Rpc(rpc))) => {
            rpc.code == vm31_api::code::UNKNOWN_ROOT
        }
        _ => false,
    };
    if matches!(&outcome, Err(e) if retry(e)) {
        wait_for_seal(client, Duration::from_secs(60))?;
        scan(common, wallet, client)?;
        outcome = attempt(wallet);
    }
    bar.finish_and_clear();
    let sent = outcome?;
    Ok(format!(
        "accepted: tx {}, new leaves {:?}, change {}",
        sent.receipt.tx_id, sent.receipt.leaf_indices, sent.change
    ))
}

pub fn single(common: &Common, op: Op) -> anyhow::Result<()> {
    let client = NodeClient::new(&common.node);
    let mut wallet = open(common)?;
    println!("{}", run_op(common, &mut wallet, &client, &op)?);
    Ok(())
}

pub fn batch(common: &Common, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let ops: Vec<Op> = serde_json::from_str(&text)
        .with_context(|| format!("{}: expected a JSON list of operations", file.display()))?;
    let client = NodeClient::new(&common.node);
    let mut wallet = open(common)?;
    for (i, op) in ops.iter().enumerate() {
        let line = run_op(common, &mut wallet, &client, op)
            .with_context(|| format!("operation {} of {}", i + 1, ops.len()))?;
        println!("{}/{}: {line}", i + 1, ops.len());
    }
    Ok(())
}

/// What to do about a refusal by the node, where there is something to do.
pub fn hint(e: &anyhow::Error) -> Option<&'static str> {
    use vm31_api::code;
    let rpc = match e.downcast_ref::<WalletError>() {
        Some(WalletError::Client(vm31_wallet::ClientError::Rpc(rpc))) => rpc,
        _ => match e.downcast_ref::<vm31_wallet::ClientError>() {
            Some(vm31_wallet::ClientError::Rpc(rpc)) => rpc,
            _ => return None,
        },
    };
    match rpc.code {
        code::NULLIFIER_SPENT => {
            Some("a note was already spent (from another device?); run `vm31 scan` and retry")
        }
        code::UNKNOWN_ROOT => Some("the pool moved past this wallet's view; run `vm31 scan`"),
        code::BUSY => Some("the node is overloaded; retry in a moment"),
        code::POLICY => {
            Some("the node's policy refused it; `vm31 pool-status` shows its fee assets")
        }
        code::UNSUPPORTED_VERSION => Some("the node runs another protocol version"),
        _ => None,
    }
}

/// The exit code for an error: 3 wrong password, 4 insufficient funds, 5 node unreachable,
/// 6 refused by the node, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    use vm31_wallet::{ClientError, KeyFileError};
    match e.downcast_ref::<WalletError>() {
        Some(WalletError::KeyFile(KeyFileError::WrongPassword)) => 3,
        Some(WalletError::InsufficientFunds { .. } | WalletError::TooFragmented { .. }) => 4,
        Some(WalletError::Client(ClientError::Unreachable { .. })) => 5,
        Some(WalletError::Client(ClientError::Rpc(_))) => 6,
        _ => match e.downcast_ref::<ClientError>() {
            Some(ClientError::Unreachable { .. }) => 5,
            Some(ClientError::Rpc(_)) => 6,
            _ => 1,
        },
    }
}
