//! `mmctl logs SERVICE`: print (or follow) a service's container output.

use std::io::Write;

use bollard::query_parameters::LogsOptionsBuilder;
use clap::Args;
use futures_util::StreamExt;

use super::stack_common::{StackArgs, classify, connect};
use crate::exit::{Outcome, UsageError};

/// Show a service's logs (stdout and stderr of its container).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl logs server
  mmctl logs wallet-rpc-buyer --since 10m
  mmctl logs monerod --follow --tail 50
  mmctl logs server --since 2026-11-21T19:00:00Z

Exit codes: 0 ok, 1 failed, 2 unknown service or bad --since, 3 Docker unreachable.")]
pub struct LogsArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Service whose logs to show.
    pub service: String,
    /// Keep streaming new output until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only output since then: a duration ago (30s, 10m, 2h) or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines from the end ("all" for everything).
    #[arg(long, default_value = "all")]
    pub tail: String,
    /// Prefix each line with its timestamp.
    #[arg(long, short = 't')]
    pub timestamps: bool,
}

/// Parses --since into Unix seconds.
fn since_epoch(s: &str) -> anyhow::Result<i32> {
    // The Engine API takes a 32-bit Unix time: clamp instead of wrapping.
    let clamp = |t: i64| i32::try_from(t.max(0)).unwrap_or(i32::MAX);
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(clamp(t.unix_timestamp()));
    }
    let ns = mmctl::docker::spec::parse_duration(s).map_err(|_| {
        UsageError(format!(
            "--since {s:?}: use a duration (30s, 10m, 2h) or an RFC 3339 time"
        ))
    })?;
    Ok(clamp(
        time::OffsetDateTime::now_utc().unix_timestamp() - ns / 1_000_000_000,
    ))
}

pub async fn run(args: LogsArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    project
        .compose
        .file
        .service(&args.service)
        .map_err(classify)?;
    let since = args.since.as_deref().map(since_epoch).transpose()?;
    let engine = connect(docker_host).await?;
    let id = engine
        .require_service_container(&project.name, &args.service)
        .await
        .map_err(classify)?;
    let mut opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(args.follow)
        .timestamps(args.timestamps)
        .tail(&args.tail);
    if let Some(s) = since {
        opts = opts.since(s);
    }
    let mut stream = engine.docker().logs(&id, Some(opts.build()));
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    while let Some(item) = stream.next().await {
        let item =
            item.map_err(|e| classify(engine.err(format!("read logs of {}", args.service), e)))?;
        match item {
            bollard::container::LogOutput::StdErr { message } => {
                let _ = stderr.write_all(&message);
            }
            other => {
                if stdout.write_all(&other.into_bytes()).is_err() {
                    break; // stdout closed (e.g. piped into head)
                }
            }
        }
    }
    let _ = stdout.flush();
    Ok(Outcome::Success)
}
