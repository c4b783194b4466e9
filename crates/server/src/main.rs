//! mmkt-server binary: `serve` (default), `create-arbiter`, `seed-bench`. Configuration comes from
//! `MMKT_*` environment variables (see docs/API.md and `mmkt_server::config`).

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use mmkt_server::auth::password::Password;
use mmkt_server::config::Config;
use mmkt_server::db::key::{self, KeyOrigin};
use mmkt_server::db::users::{self, InsertOutcome, Role};
use mmkt_server::db::{Db, listings};
use mmkt_server::memory::{self, AllocatorSetup};
use mmkt_server::routes::auth::check_username;
use mmkt_server::{AppState, telemetry};
use rusqlite::TransactionBehavior;

#[derive(Debug, Parser)]
#[command(name = "mmkt-server", version, about = "mmkt marketplace API server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API on MMKT_BIND (the default when no subcommand is given).
    Serve,
    /// Create an arbiter account (arbiters cannot self-register). The password is read from
    /// MMKT_ARBITER_PASSWORD, else from the first line of standard input.
    CreateArbiter {
        /// Username, 3-32 chars of [A-Za-z0-9_.-].
        #[arg(long)]
        username: String,
    },
    /// Insert N listings (and a `bench_vendor` account) for the server benchmark (scripts/bench-server.sh).
    /// Refused when MMKT_ENV=production.
    SeedBench {
        /// Number of listings to insert.
        #[arg(long, default_value_t = 10_000)]
        listings: u32,
    },
}

fn open_db(config: &Config) -> anyhow::Result<Db> {
    let (db_key, origin) = key::load_or_create(&config.db_key_file, config.key_file_policy)
        .context("loading the database key (MMKT_DB_KEY_FILE)")?;
    if origin == KeyOrigin::Generated {
        tracing::warn!(path = %config.db_key_file.display(), "generated a new database key file (development only); back it up");
    }
    Db::open(&config.db_path, &db_key, config.db_pool_size)
        .with_context(|| format!("opening database {}", config.db_path.display()))
}

fn main() -> anyhow::Result<()> {
    // First, before the runtime starts its threads: freed password-hash blocks go back to the
    // kernel instead of staying in malloc arenas (mmkt_server::memory).
    let allocator = memory::return_freed_memory();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(allocator))
}

async fn run(allocator: AllocatorSetup) -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env().context("invalid configuration")?;
    telemetry::init(config.env);
    if allocator == AllocatorSetup::Refused {
        tracing::warn!(
            "glibc refused the fixed mmap threshold; memory freed after a burst of logins may stay resident"
        );
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::CreateArbiter { username } => create_arbiter(&config, &username).await,
        Command::SeedBench { listings } => seed_bench(&config, listings),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind;
    let env = config.env;
    let db = open_db(&config)?;
    let state = AppState::new(config, db).context("building wallet RPC clients")?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind} (MMKT_BIND)"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(bind = %local, env = env.as_str(), "mmkt-server listening");
    mmkt_server::serve(listener, state, shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("mmkt-server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; draining connections");
}

async fn create_arbiter(config: &Config, username: &str) -> anyhow::Result<()> {
    check_username(username).map_err(|e| anyhow::anyhow!("{e}"))?;
    let password = match std::env::var("MMKT_ARBITER_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the arbiter password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let password = Password::new(password);
    if let Err(message) = password.check_new() {
        bail!("arbiter password {message}");
    }
    let db = open_db(config)?;
    let hash = mmkt_server::routes::auth::hash_password(password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let owned = username.to_owned();
    let outcome = db
        .run("insert", "users", move |conn| {
            users::insert(conn, &owned, &hash, Role::Arbiter)
        })
        .await?;
    match outcome {
        InsertOutcome::Created(user) => {
            println!("created arbiter {} (id {})", user.username, user.id);
            Ok(())
        }
        InsertOutcome::UsernameTaken => bail!("username {username} is taken; choose another"),
    }
}

fn seed_bench(config: &Config, count: u32) -> anyhow::Result<()> {
    if config.env == mmkt_server::config::Environment::Production {
        bail!("seed-bench writes test listings; refused with MMKT_ENV=production");
    }
    let db = open_db(config)?;
    let mut conn = db.connection()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let vendor = match users::find_with_hash(&tx, "bench_vendor")? {
        Some((user, _)) => user,
        None => match users::insert(&tx, "bench_vendor", "!", Role::Vendor)? {
            InsertOutcome::Created(user) => user,
            InsertOutcome::UsernameTaken => bail!("bench_vendor appeared concurrently; rerun"),
        },
    };
    let words = [
        "monero", "privacy", "hardware", "wallet", "sticker", "book", "cable", "node", "miner",
        "ledger",
    ];
    for i in 0..count {
        let fields = listings::ListingFields {
            title: format!(
                "Bench {} {} #{i}",
                words[i as usize % words.len()],
                words[(i as usize / 7) % words.len()]
            ),
            description: format!(
                "Benchmark listing {i}: {} item, seeded by mmkt-server seed-bench.",
                words[i as usize % 3]
            ),
            price_atomic: 1_000_000_000 + u64::from(i),
            stock: 100,
        };
        listings::insert(&tx, vendor.id, &fields)?;
    }
    tx.commit()?;
    println!(
        "inserted {count} listings for vendor bench_vendor (id {})",
        vendor.id
    );
    Ok(())
}
