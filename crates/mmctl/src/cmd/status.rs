//! `mmctl status`: one line per service: container, state, health, image, uptime.

use clap::Args;

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_stack};
use crate::output::format_uptime;

/// Show the state of every service.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl status
  mmctl status --json | jq '.[] | select(.state != \"running\")'

Exit codes: 0 (the status was read, whatever it is), 2 bad input, 3 Docker unreachable.
Use `mmctl health` for a pass/fail check.")]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Machine-readable output: an array of {service, container, state, health, image, started_at, uptime_seconds}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl status`: one row per service from `mmkt_stack::Project::status`, as a table or
/// JSON. Always [`Outcome::Success`] once the status was read.
pub async fn run(args: StatusArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let engine = connect(docker_host).await?;
    let rows = project.status(&engine).await.map_err(classify_stack)?;
    if args.json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let c = r.container.as_ref();
                let uptime = c.and_then(|c| c.uptime()).map(|d| d.as_secs());
                serde_json::json!({
                    "service": r.service,
                    "container": c.map(|c| c.name.clone()),
                    "container_id": c.map(|c| c.id.clone()),
                    "state": c.map(|c| c.state.clone()).unwrap_or_else(|| "missing".into()),
                    "health": c.and_then(|c| c.health.clone()),
                    "image": c.map(|c| c.image.clone()),
                    "started_at": c.and_then(|c| c.started_at.clone()),
                    "uptime_seconds": uptime,
                    "exit_code": c.and_then(|c| c.exit_code),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(Outcome::Success);
    }
    println!(
        "{:<20} {:<32} {:<11} {:<10} {:<28} UPTIME",
        "SERVICE", "CONTAINER", "STATE", "HEALTH", "IMAGE"
    );
    for r in &rows {
        match &r.container {
            None => println!(
                "{:<20} {:<32} {:<11} {:<10} {:<28} -",
                r.service, "-", "missing", "-", "-"
            ),
            Some(c) => {
                let uptime = c.uptime().map(format_uptime);
                let state = match c.exit_code {
                    Some(code) if c.state != "running" => format!("{}({code})", c.state),
                    _ => c.state.clone(),
                };
                println!(
                    "{:<20} {:<32} {:<11} {:<10} {:<28} {}",
                    r.service,
                    c.name,
                    state,
                    c.health.as_deref().unwrap_or("-"),
                    c.image,
                    uptime.unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    Ok(Outcome::Success)
}
