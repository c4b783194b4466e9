//! `mmctl down`: stop (30 s grace) and remove the stack's containers and networks.

use clap::Args;
use mmkt_stack::stack::{VolumePolicy, down};

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_stack};

/// Stop and remove the stack (volumes are kept unless --volumes).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl down                 # keep the database, wallets and chain (named volumes)
  mmctl down --volumes       # ALSO DELETE the volumes: database, wallet files, chain
  mmctl down -p mmkt-staging

Containers get SIGTERM and 30 s to exit (monero-wallet-rpc saves its wallets) before SIGKILL.
The server stops before the wallet RPCs and monerod. Exit codes: 0 ok, 1 failed, 3 Docker unreachable.")]
pub struct DownArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Also remove the project's named volumes (database, wallets, chain): data is lost.
    #[arg(long)]
    pub volumes: bool,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl down`: removes the project's containers and networks (and volumes when asked)
/// through `mmkt_stack::stack::down`, printing progress or a JSON report.
pub async fn run(args: DownArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    // The compose file only orders the shutdown; down works from labels even if it is gone.
    let order = match args.stack.load() {
        Ok(p) => {
            let all: Vec<String> = p.compose.file.services.keys().cloned().collect();
            p.stop_order(&all)
        }
        Err(_) => Vec::new(),
    };
    let engine = connect(docker_host).await?;
    let policy = if args.volumes {
        VolumePolicy::Remove
    } else {
        VolumePolicy::Keep
    };
    let json = args.json;
    let mut progress = |line: &str| {
        if !json {
            println!("{line}");
        }
    };
    let report = down(&engine, &args.stack.project, &order, policy, &mut progress)
        .await
        .map_err(classify_stack)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.containers.is_empty() && report.networks.is_empty() {
        println!(
            "project {} has no containers or networks; nothing to do",
            args.stack.project
        );
    } else if policy == VolumePolicy::Keep {
        println!("volumes kept (use --volumes to delete them)");
    }
    Ok(Outcome::Success)
}
