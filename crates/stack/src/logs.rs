//! A service container's output, streamed from the Engine API
//! (`GET /containers/{id}/logs`), and the `--since` syntax that selects where it starts.

use std::ops::ControlFlow;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;

use super::engine::Engine;
use super::error::StackError;

/// Which logs to read and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsRequest {
    /// Compose project name (the `com.docker.compose.project` label).
    pub project: String,
    /// Service whose container's output to read.
    pub service: String,
    /// Whether the stream ends at the current end of the log or keeps waiting for output.
    pub follow: Follow,
    /// Only output written at or after this Unix time, in seconds (see [`parse_since`]).
    pub since_unix_secs: Option<i32>,
    /// Number of lines from the end, or `all`.
    pub tail: String,
    /// Whether each line gets the engine's RFC 3339 timestamp prefix.
    pub timestamps: Timestamps,
}

/// Whether [`stream_logs`] stops at the current end of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Return once the existing output has been delivered.
    Stop,
    /// Keep streaming new output until the container stops or the sink asks to stop.
    Follow,
}

/// Whether lines carry the engine's timestamp prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamps {
    /// Lines as the process wrote them.
    Plain,
    /// Each line prefixed with its RFC 3339 (nanosecond) timestamp.
    Prefixed,
}

/// Which stream of the container a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    /// The process's stdout (also console output of a TTY container).
    Stdout,
    /// The process's stderr.
    Stderr,
}

/// Parses a `--since` value into Unix seconds: an RFC 3339 time, or a compose duration ago
/// (`30s`, `10m`, `2h`). The Engine API takes a 32-bit Unix time, so the result is clamped to
/// `0..=i32::MAX` instead of wrapping.
///
/// # Errors
/// [`StackError::Invalid`] naming the value and the accepted forms.
pub fn parse_since(s: &str) -> Result<i32, StackError> {
    let clamp = |t: i64| i32::try_from(t.max(0)).unwrap_or(i32::MAX);
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(clamp(t.unix_timestamp()));
    }
    let ns = super::spec::parse_duration(s).map_err(|_| {
        StackError::Invalid(format!(
            "--since {s:?}: use a duration (30s, 10m, 2h) or an RFC 3339 time"
        ))
    })?;
    Ok(clamp(
        time::OffsetDateTime::now_utc().unix_timestamp() - ns / 1_000_000_000,
    ))
}

/// Streams the output of the service's container to `sink`, chunk by chunk, as the engine
/// delivers it (`GET /containers/{id}/logs?stdout=1&stderr=1`). The sink returns
/// [`ControlFlow::Break`] to stop early (for example when its reader went away).
///
/// # Errors
/// [`StackError::NoContainer`] when the service has no container, [`StackError::Engine`] /
/// [`StackError::Unreachable`] when reading fails.
pub async fn stream_logs<F>(
    engine: &Engine,
    request: &LogsRequest,
    sink: &mut F,
) -> Result<(), StackError>
where
    F: FnMut(LogSource, &[u8]) -> ControlFlow<()>,
{
    let id = engine
        .require_service_container(&request.project, &request.service)
        .await?;
    let mut opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(request.follow == Follow::Follow)
        .timestamps(request.timestamps == Timestamps::Prefixed)
        .tail(&request.tail);
    if let Some(s) = request.since_unix_secs {
        opts = opts.since(s);
    }
    let mut stream = engine.docker().logs(&id, Some(opts.build()));
    while let Some(item) = stream.next().await {
        let item = item.map_err(|e| engine.err(format!("read logs of {}", request.service), e))?;
        let flow = match item {
            LogOutput::StdErr { message } => sink(LogSource::Stderr, &message),
            other => sink(LogSource::Stdout, &other.into_bytes()),
        };
        if flow.is_break() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_rfc3339_and_durations_and_clamps() {
        assert_eq!(parse_since("2026-11-21T19:00:00Z").unwrap(), 1_795_287_600);
        assert_eq!(parse_since("1960-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_since("2099-01-01T00:00:00Z").unwrap(), i32::MAX);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let ten_min_ago = i64::from(parse_since("10m").unwrap());
        assert!(
            (now - 600 - ten_min_ago).abs() <= 2,
            "{ten_min_ago} vs {now}"
        );
        let err = parse_since("yesterday-ish").unwrap_err().to_string();
        assert!(err.contains("--since \"yesterday-ish\""), "{err}");
    }
}
