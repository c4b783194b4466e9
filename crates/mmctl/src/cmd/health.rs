//! `mmctl health`: probe every service for real; exit 0 when all are healthy, 1 otherwise.

use clap::Args;
use mmkt_stack::health;

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_stack};
use crate::output::Style;

/// Probe every service (HTTP, JSON-RPC) and report failures.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl health                 # human-readable, one line per check
  mmctl health --json          # [{service, healthy, checks: [{name, ok, detail}]}]
  mmctl health && echo all good

Probes: server GET /health and /ready; monerod get_info; each wallet-rpc get_version
(POST /json_rpc, digest auth when WALLET_RPC_LOGIN is set in the container); prometheus and
alertmanager GET /-/healthy; node-exporter GET /metrics with the data volumes' filesystem;
blackbox-exporter a probe of nginx's TLS endpoint answering probe_success (its value shown);
nginx's pin must name a running server container (else run `mmctl up`);
every container must run and not be unhealthy. Probes reach
internal services through their container IP on the project network (no published ports).
Exit codes: 0 all healthy, 1 at least one failure (each is named), 2 bad input, 3 Docker unreachable.")]
pub struct HealthArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl health`: probes every service (`mmkt_stack::health::check`); a failed probe
/// is [`Outcome::CheckFailed`].
pub async fn run(args: HealthArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let engine = connect(docker_host).await?;
    let mut results = health::check(&project, &engine)
        .await
        .map_err(classify_stack)?;
    // Whether nginx's pin names a running server container (mmkt_deploy::pin).
    mmkt_deploy::pin::probe(&engine, &project.name)
        .await
        .record(&mut results);
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.healthy)
        .map(|r| r.service.as_str())
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        let style = Style::detect();
        for r in &results {
            for c in &r.checks {
                let mark = if c.ok {
                    style.ok("ok  ")
                } else {
                    style.bad("FAIL")
                };
                println!("{mark} {:<20} {:<14} {}", r.service, c.name, c.detail);
            }
        }
    }
    if failed.is_empty() {
        if !args.json {
            println!("all {} services healthy", results.len());
        }
        return Ok(Outcome::Success);
    }
    eprintln!("unhealthy: {}", failed.join(", "));
    Ok(Outcome::CheckFailed)
}
