//! Arguments and helpers shared by the stack subcommands (up, down, status, health, logs,
//! restart, image): which compose file/environment/project, the engine connection, error
//! classification into exit codes, and plain-or-colour output.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use mmctl::docker::{self, Engine, EngineConfig, Project, StackError};

use crate::exit::{DockerUnreachable, UsageError};

/// Environment used when --env is not given.
pub const DEFAULT_ENV: &str = "development";

/// Which stack to act on.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// Compose file (the single source of truth for the stack).
    #[arg(long = "file", default_value = docker::DEFAULT_COMPOSE_FILE, env = "MMCTL_COMPOSE_FILE")]
    pub file: PathBuf,
    /// Environment: reads <compose dir>/env/NAME.env (development, staging, production) for
    /// ${VARIABLE} values; the process environment overrides it. Default: development (when
    /// that file exists; a compose file without env/ then uses its own defaults).
    #[arg(long, env = "MMCTL_ENV")]
    pub env: Option<String>,
    /// Compose project name: prefix of container, network and volume names, and the
    /// com.docker.compose.project label.
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = docker::DEFAULT_PROJECT)]
    pub project: String,
    /// Enable services of this profile too (repeatable), e.g. --profile observability.
    #[arg(long = "profile", env = "COMPOSE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<String>,
}

impl StackArgs {
    /// Loads and validates the compose project (no Docker access).
    pub fn load(&self) -> anyhow::Result<Project> {
        docker::load_project(
            &self.file,
            self.env_name().as_deref(),
            &self.project,
            &self.profiles,
        )
        .map_err(classify)
    }

    /// The environment in effect: the one asked for, else `development` when its file exists.
    pub fn env_name(&self) -> Option<String> {
        if let Some(e) = &self.env {
            return Some(e.clone());
        }
        let default = docker::env_file_path(&self.file, DEFAULT_ENV);
        default.is_file().then(|| DEFAULT_ENV.to_string())
    }
}

/// Connects to the engine named by --docker-host / DOCKER_HOST.
pub async fn connect(docker_host: Option<&str>) -> anyhow::Result<Engine> {
    Engine::connect(&EngineConfig::from_host_and_env(docker_host))
        .await
        .map_err(classify)
}

/// Maps a library error to anyhow with the exit-code marker for its class:
/// invalid input -> 2, unreachable daemon -> 3, anything else -> 1.
pub fn classify(err: StackError) -> anyhow::Error {
    match err {
        StackError::Invalid(_) | StackError::ComposeSyntax { .. } => {
            anyhow::Error::new(UsageError(err.to_string()))
        }
        StackError::Read { .. } => anyhow::Error::new(UsageError(err.to_string())),
        StackError::Unreachable { endpoint, reason } => {
            anyhow::Error::new(DockerUnreachable { endpoint, reason })
        }
        other => anyhow::Error::new(other),
    }
}

/// Terminal styling: colour only when stdout is a terminal and NO_COLOR is not set.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Detects the terminal and NO_COLOR.
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// Green text (success).
    pub fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }

    /// Red text (failure).
    pub fn bad(&self, s: &str) -> String {
        self.paint("31", s)
    }

    /// Yellow text (in progress / changed).
    pub fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Human-readable duration since an RFC 3339 timestamp, e.g. "3h12m".
pub fn uptime_since(started_at: &str) -> Option<String> {
    let started =
        time::OffsetDateTime::parse(started_at, &time::format_description::well_known::Rfc3339)
            .ok()?;
    let secs = (time::OffsetDateTime::now_utc() - started)
        .whole_seconds()
        .max(0);
    Some(match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    })
}
