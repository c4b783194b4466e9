//! `mmctl logs SERVICE`: print (or follow) a service's container output.

use std::io::Write;
use std::ops::ControlFlow;

use clap::Args;
use mmkt_stack::logs::{Follow, LogSource, LogsRequest, Timestamps, parse_since, stream_logs};

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_stack};

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

/// Runs `mmctl logs`: streams the service's output (`mmkt_stack::logs::stream_logs`), its
/// stdout to stdout and its stderr to stderr.
pub async fn run(args: LogsArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load_with_service(&args.service)?;
    let since = args
        .since
        .as_deref()
        .map(parse_since)
        .transpose()
        .map_err(classify_stack)?;
    let request = LogsRequest {
        project: project.name,
        service: args.service,
        follow: if args.follow {
            Follow::Follow
        } else {
            Follow::Stop
        },
        since_unix_secs: since,
        tail: args.tail,
        timestamps: if args.timestamps {
            Timestamps::Prefixed
        } else {
            Timestamps::Plain
        },
    };
    let engine = connect(docker_host).await?;
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let mut sink = |source: LogSource, bytes: &[u8]| match source {
        LogSource::Stderr => {
            let _ = stderr.write_all(bytes);
            ControlFlow::Continue(())
        }
        // stdout closed (e.g. piped into head): stop reading.
        LogSource::Stdout => match stdout.write_all(bytes) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        },
    };
    stream_logs(&engine, &request, &mut sink)
        .await
        .map_err(classify_stack)?;
    let _ = stdout.flush();
    Ok(Outcome::Success)
}
