//! Logging setup: tracing with JSON lines in staging/production, text in development; filter from
//! `RUST_LOG` (default `info`, `debug` for mmkt in development). Colours (ANSI escape codes)
//! only when stderr is a terminal, so log files, pipes and journald get plain text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{Environment, LogFormat};

/// Installs the global tracing subscriber. Safe to call more than once (later calls do nothing).
pub fn init(env: Environment) {
    let default = match env {
        Environment::Development => "info,mmkt_server=debug,monero_rpc=debug",
        Environment::Staging => "info",
        Environment::Production => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match env.log_format() {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
