//! `vm31`: run a shielded pool node, and a wallet that uses it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod node_cmd;
mod wallet_cmd;

use wallet_cmd::{Common, DepositArgs, Op, PaymentArgs, WalletCommand};

#[derive(Debug, Parser)]
#[command(name = "vm31", version, about = "VM31 shielded pool: node and wallet")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pool node: verify transactions, keep the pool in SQLite, serve JSON-RPC.
    Node(node_cmd::NodeArgs),
    /// Create a wallet or show its address and balances.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Deposit a public amount into a new note of this wallet.
    Deposit(DepositArgs),
    /// Pay an address from this wallet's notes (change comes back to the wallet).
    Transfer(PaymentArgs),
    /// Withdraw to a public account (part of one note; the rest stays as change).
    Withdraw(PaymentArgs),
    /// Fetch new notes since the last scan and keep ours.
    Scan,
    /// The node's state (tree, blocks, root window, supply).
    PoolStatus {
        #[arg(long)]
        json: bool,
    },
    /// Run a JSON list of operations: {"op": "deposit"|"transfer"|"withdraw", ...}.
    Batch {
        #[arg(long)]
        tx_file: PathBuf,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let common = &cli.common;
    match cli.command {
        Command::Node(args) => node_cmd::run(args),
        Command::Wallet(command) => wallet_cmd::create(common, command),
        Command::Deposit(args) => wallet_cmd::single(common, Op::Deposit(args)),
        Command::Transfer(args) => wallet_cmd::single(common, Op::Transfer(args)),
        Command::Withdraw(args) => wallet_cmd::single(common, Op::Withdraw(args)),
        Command::Scan => wallet_cmd::scan_cmd(common),
        Command::PoolStatus { json } => wallet_cmd::pool_status(common, json),
        Command::Batch { tx_file } => wallet_cmd::batch(common, &tx_file),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = wallet_cmd::hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(wallet_cmd::exit_code(&e))
        }
    }
}
