//! `mmctl restart SERVICE`: graceful restart of one service's container.

use std::time::Duration;

use clap::Args;
use mmkt_stack::stack::WaitPolicy;

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_stack};

/// Restart one service (SIGTERM, 30 s grace, start) and wait until it is healthy.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl restart wallet-rpc-buyer
  mmctl restart server --no-wait

Restart keeps the container (and its definition); use `mmctl up` to apply compose changes.
Exit codes: 0 ok, 1 failed or not healthy in time, 2 unknown service, 3 Docker unreachable.")]
pub struct RestartArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Service to restart.
    pub service: String,
    /// Do not wait for the service to be healthy again.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for health.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// Runs `mmctl restart`: restarts one service (`mmkt_stack::Project::restart`) and, unless
/// `--no-wait`, waits until it is healthy.
pub async fn run(args: RestartArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load_with_service(&args.service)?;
    let engine = connect(docker_host).await?;
    let wait = if args.no_wait {
        WaitPolicy::NoWait
    } else {
        WaitPolicy::WaitHealthy(Duration::from_secs(args.timeout))
    };
    println!("restarting {} (30 s grace period)", args.service);
    project
        .restart(&engine, &args.service, wait)
        .await
        .map_err(classify_stack)?;
    println!(
        "{} restarted{}",
        args.service,
        if args.no_wait { "" } else { " and healthy" }
    );
    Ok(Outcome::Success)
}
