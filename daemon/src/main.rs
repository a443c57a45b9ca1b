//! The `imedge` binary: `imedge serve` runs a node, `imedge token` mints a
//! token, `imedge ring` names the node that owns a user.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use imedge::config::{Config, FsyncPolicy, ServeArgs, StoreSpec};
use imedge::server;
use imedge::store::memory::MemoryStore;
use imedge::store::redis::{RedisOptions, RedisStore, RedisTarget};
use imedge::store::sqlite::{Fsync, SqliteOptions, SqliteStore};
use imedge::store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// imedge: an instant-messaging edge daemon.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node.
    Serve(ServeArgs),
    /// Print a token for a user, signed with the node's secret.
    Token {
        /// The user id.
        #[arg(long)]
        uid: i64,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Print the node that owns each user: the one nginx's `hash $im_key consistent` picks.
    Ring {
        /// Config file with the [cluster] section.
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
        /// User ids (repeatable or comma-separated).
        #[arg(long, required = true, value_delimiter = ',',
              value_parser = clap::value_parser!(u64).range(1..=i64::MAX as u64))]
        uid: Vec<u64>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve(&args),
        Command::Token { uid, ttl, serve } => {
            let cfg = Config::load(&serve)?;
            let secret = cfg.resolve_secret()?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            println!("{}", imedge::auth::mint(&secret, uid, now + ttl));
            Ok(())
        }
        Command::Ring { config, uid } => {
            let cfg = Config::from_file(&config)?;
            let cluster = cfg
                .cluster
                .with_context(|| format!("{}: no [cluster] section", config.display()))?;
            for line in cluster.owner_lines(&uid)? {
                println!("{line}");
            }
            Ok(())
        }
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let cfg = Config::load(args)?;
    let store_spec = cfg.store_spec()?;
    if args.check_config {
        println!("config ok");
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cfg.log).context("bad log filter")?,
        )
        .with_writer(std::io::stderr)
        .init();
    let secret = cfg.resolve_secret()?;
    let store: Arc<dyn Store> = match store_spec {
        StoreSpec::Memory => Arc::new(MemoryStore::new(cfg.retention_messages, 4 << 20)),
        StoreSpec::Sqlite(path) => {
            let options = SqliteOptions {
                retain: cfg.retention_messages,
                retain_days: cfg.retention_days,
                fsync: match cfg.fsync {
                    FsyncPolicy::Full => Fsync::Full,
                    FsyncPolicy::Normal => Fsync::Normal,
                    FsyncPolicy::Off => Fsync::Off,
                },
                ..SqliteOptions::default()
            };
            let store = SqliteStore::open(&path, options)?;
            tracing::info!(path = %path.display(), fsync = ?cfg.fsync, "sqlite store open");
            Arc::new(store)
        }
        StoreSpec::Redis(url) => open_redis(RedisTarget::Server(url), &cfg)?,
        StoreSpec::RedisCluster(nodes) => open_redis(RedisTarget::Cluster(nodes), &cfg)?,
    };
    server::run(cfg, secret, store, |addr| {
        // Scripts and tests read the bound address (port 0 resolves here).
        println!("imedge listening on {addr}");
        let _ = std::io::stdout().flush();
    })
}

/// The Redis store with the configured retention.
fn open_redis(target: RedisTarget, cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let options = RedisOptions {
        retain: cfg.retention_messages,
        retain_days: cfg.retention_days,
        ..RedisOptions::default()
    };
    Ok(Arc::new(RedisStore::open(&target, options)?))
}
