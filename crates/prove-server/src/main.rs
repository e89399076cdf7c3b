//! `prove-server --bind 127.0.0.1:8080 --data-dir DIR [--workers N] [--api-key-file F]`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use prove_server::ServerConfig;

#[derive(Parser)]
#[command(
    name = "prove-server",
    version,
    about = "HTTP API for proving ML inference"
)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// Folder of the database, keys and proof results.
    #[arg(long)]
    data_dir: PathBuf,
    /// Proofs running at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: u64,
    /// Jobs queued or running at most (503 beyond).
    #[arg(long, default_value_t = 256)]
    max_queue: usize,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = 16 << 20)]
    max_body: usize,
    /// Models whose weight files exceed this many bytes are set up as a background job.
    #[arg(long, default_value_t = 16 << 20)]
    inline_setup_bytes: u64,
    /// Seal the inputs and outputs the audit log records for this X25519 public key (hex;
    /// `prove-model audit keygen` makes one). The tensors' hashes stay in clear.
    #[arg(long)]
    audit_recipient: Option<String>,
    /// A file holding the API key every /api request must carry (x-api-key).
    #[arg(long)]
    api_key_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let api_key = match &args.api_key_file {
        Some(f) => {
            let k = std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .trim()
                .to_owned();
            anyhow::ensure!(!k.is_empty(), "{}: empty API key", f.display());
            Some(k)
        }
        None => None,
    };
    let audit_recipient = args
        .audit_recipient
        .as_deref()
        .map(audit::seal::RecipientKey::from_hex)
        .transpose()
        .context("--audit-recipient")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        bind: addr,
        data_dir: args.data_dir,
        workers: args.workers as usize,
        max_queue: args.max_queue,
        max_body: args.max_body,
        inline_setup_bytes: args.inline_setup_bytes,
        audit_recipient,
        api_key,
        proof: zkml::ProofConfig::default(),
    };
    println!("listening on {addr}");
    prove_server::serve(listener, config).await
}
