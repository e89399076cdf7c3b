//! `vm31 node`: open (or create) the pool database and serve JSON-RPC until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use vm31::tx::Deployment;
use vm31_node::{Node, NodeConfig, Policy};

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The pool database (SQLite; created on first run).
    #[arg(long, default_value = "pool.sqlite")]
    pub db: PathBuf,
    /// Address to listen on (port 0 picks a free port; the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:9031")]
    pub bind: SocketAddr,
    /// Chain (or network) identifier bound into every proof.
    #[arg(long, default_value_t = 1)]
    pub chain_id: u64,
    /// Pool identifier, 64 hex digits (random on first run, then read from the database).
    #[arg(long)]
    pub pool_id: Option<String>,
    /// Blocks are sealed every this many milliseconds (if anything happened); the root window
    /// holds the last 100 sealed roots.
    #[arg(long, default_value_t = 2000)]
    pub block_interval_ms: u64,
    /// Assets a spend may pay its relayer fee in, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub fee_assets: Vec<u32>,
    /// Smallest deposit accepted.
    #[arg(long, default_value_t = 1)]
    pub min_deposit: u64,
    /// Transactions committed together at most.
    #[arg(long, default_value_t = 64)]
    pub max_group: usize,
    /// Proofs verified at once (default: the number of cores).
    #[arg(long)]
    pub verify_threads: Option<usize>,
}

fn parse_pool_id(text: &str) -> anyhow::Result<[u8; 32]> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id).context("--pool-id must be 64 hex digits")?;
    Ok(id)
}

pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let stored = vm31_node::store::Store::stored_deployment(&args.db)
        .with_context(|| format!("reading {}", args.db.display()))?;
    let pool_id = match (&args.pool_id, stored) {
        (Some(text), _) => parse_pool_id(text)?,
        (None, Some(d)) => d.pool_id,
        (None, None) => rand::random(),
    };
    let deployment = Deployment {
        chain_id: args.chain_id,
        pool_id,
    };
    if let Some(stored) = stored {
        if stored != deployment {
            bail!(
                "{} belongs to chain {} pool {}; refusing to serve it as chain {} pool {}",
                args.db.display(),
                stored.chain_id,
                hex::encode(stored.pool_id),
                deployment.chain_id,
                hex::encode(deployment.pool_id)
            );
        }
    }
    let mut config = NodeConfig::new(args.db.clone(), deployment);
    config.policy = Policy {
        fee_assets: args.fee_assets.clone(),
        min_deposit: args.min_deposit,
    };
    config.block_interval = Duration::from_millis(args.block_interval_ms.max(1));
    config.max_group = args.max_group;
    if let Some(n) = args.verify_threads {
        config.verify_threads = n;
    }
    let node = Node::open(config).with_context(|| format!("opening {}", args.db.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("binding {}", args.bind))?;
        println!("listening on {}", listener.local_addr()?);
        eprintln!(
            "pool {} on chain {}, database {}",
            hex::encode(deployment.pool_id),
            deployment.chain_id,
            args.db.display()
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        vm31_node::rpc::serve(node, listener, shutdown)
            .await
            .context("serving")
    })
}
