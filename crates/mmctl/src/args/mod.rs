//! Arguments shared by several subcommands (clap `Args` groups), so each is defined once:
//! the global options and which stack to act on here; the backup-side argument groups in
//! `backup.rs` and their key groups (age, signing) in `keys.rs`.

use std::path::PathBuf;

use clap::Args;
use mmkt_stack::{Engine, EngineConfig, Project};

use crate::exit::classify_stack;

mod backup;
mod keys;

pub use backup::*;
pub use keys::*;

/// Options every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Docker Engine endpoint: unix:///var/run/docker.sock, tcp://host:2376 (TLS via
    /// DOCKER_CERT_PATH) or ssh://user@host. Overrides the environment's MMKT_DOCKER_HOST,
    /// which overrides DOCKER_HOST.
    #[arg(long, global = true)]
    pub docker_host: Option<String>,
    /// Log verbosity for mmctl's own diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, env = "MMCTL_LOG", default_value = "warn")]
    pub log: String,
    /// node-exporter's textfile directory for the freshness metrics of backup, drill and deploy
    /// runs (mmctl_<job>.prom). Default: the config file's metrics_textfile_dir, else the running
    /// stack's node-textfile volume on a local engine, else not written (said on stderr).
    #[arg(long, global = true, env = "MMKT_METRICS_TEXTFILE_DIR")]
    pub metrics_textfile_dir: Option<PathBuf>,
}

impl GlobalArgs {
    /// The engine a command acting on `stack` uses: --docker-host, else the environment's
    /// MMKT_DOCKER_HOST (process environment, then the env file); `None` leaves the choice to
    /// DOCKER_HOST, then the default socket ([`EngineConfig::from_host_and_env`]). An ignored
    /// DOCKER_HOST is named on stderr. An unreadable env file is a usage error (exit 2).
    pub fn engine_host(&self, stack: Option<&StackArgs>) -> anyhow::Result<Option<String>> {
        if let Some(host) = non_empty(self.docker_host.clone()) {
            return Ok(Some(host));
        }
        let Some(stack) = stack else {
            return Ok(None);
        };
        let env_file = stack.env_file().filter(|f| f.is_file());
        let named =
            mmkt_stack::engine::environment_host(env_file.as_deref()).map_err(classify_stack)?;
        if let (Some(host), Some(ambient)) = (&named, non_empty(std::env::var("DOCKER_HOST").ok()))
            && host != &ambient
        {
            eprintln!(
                "note: using the environment's engine {host} ({}); DOCKER_HOST={ambient} is ignored (pass --docker-host to override)",
                mmkt_stack::engine::HOST_VARIABLE
            );
        }
        Ok(named)
    }
}

/// Connects to the engine named by `docker_host` (see [`GlobalArgs::engine_host`]), else
/// DOCKER_HOST, else the platform default socket. Errors carry the exit-code marker of
/// [`classify_stack`] (unreachable daemon, refused certificate, ssh failure: 3).
pub async fn connect(docker_host: Option<&str>) -> anyhow::Result<Engine> {
    Engine::connect(&EngineConfig::from_host_and_env(docker_host))
        .await
        .map_err(classify_stack)
}

/// Environment used when --env is not given.
pub const DEFAULT_ENV: &str = "development";

/// Which stack to act on.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// Compose file (the single source of truth for the stack).
    #[arg(long = "file", default_value = mmkt_stack::DEFAULT_COMPOSE_FILE, env = "MMCTL_COMPOSE_FILE")]
    pub file: PathBuf,
    /// Environment: reads <compose dir>/env/NAME.env (development, staging, production) for
    /// ${VARIABLE} values; the process environment overrides it. Default: development (when
    /// that file exists; a compose file without env/ then uses its own defaults).
    #[arg(long, env = "MMCTL_ENV")]
    pub env: Option<String>,
    /// Compose project name: prefix of container, network and volume names, and the
    /// com.docker.compose.project label.
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmkt_stack::DEFAULT_PROJECT)]
    pub project: String,
    /// Enable services of this profile too (repeatable), e.g. --profile observability.
    #[arg(long = "profile", env = "COMPOSE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<String>,
}

impl StackArgs {
    /// Loads and validates the compose project (no Docker access). A bad file is a usage error.
    pub fn load(&self) -> anyhow::Result<Project> {
        mmkt_stack::load_project(
            &self.file,
            self.env_name().as_deref(),
            &self.project,
            &self.profiles,
        )
        .map_err(classify_stack)
    }

    /// Loads the project and checks that it defines `service` (unknown service: usage error).
    pub fn load_with_service(&self, service: &str) -> anyhow::Result<Project> {
        let project = self.load()?;
        project
            .compose
            .file
            .service(service)
            .map_err(classify_stack)?;
        Ok(project)
    }

    /// The env file of the environment in effect, if any (it may not exist: [`StackArgs::load`]
    /// reports an unknown environment).
    pub fn env_file(&self) -> Option<PathBuf> {
        self.env_name()
            .map(|name| mmkt_stack::env_file_path(&self.file, &name))
    }

    /// The environment in effect: the one asked for, else `development` when its file exists.
    pub fn env_name(&self) -> Option<String> {
        if let Some(e) = &self.env {
            return Some(e.clone());
        }
        let default = mmkt_stack::env_file_path(&self.file, DEFAULT_ENV);
        default.is_file().then(|| DEFAULT_ENV.to_string())
    }
}
