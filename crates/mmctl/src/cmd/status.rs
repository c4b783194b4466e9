//! `mmctl status`: one line per service: container, state, health, image, uptime.

use clap::Args;

use super::stack_common::{StackArgs, classify, connect, uptime_since};
use crate::exit::Outcome;

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

pub async fn run(args: StatusArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let engine = connect(docker_host).await?;
    let rows = project.status(&engine).await.map_err(classify)?;
    if args.json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let c = r.container.as_ref();
                let uptime = c
                    .filter(|c| c.state == "running")
                    .and_then(|c| c.started_at.as_deref())
                    .and_then(|s| {
                        time::OffsetDateTime::parse(
                            s,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                        .map(|t| (time::OffsetDateTime::now_utc() - t).whole_seconds().max(0))
                    });
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
                let uptime = if c.state == "running" {
                    c.started_at.as_deref().and_then(uptime_since)
                } else {
                    None
                };
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
