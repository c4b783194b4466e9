//! `mmkt-stack`, the stack library: everything mmkt's tooling does with Docker, through the
//! Engine API (bollard; no docker CLI). It parses and validates `deploy/docker-compose.yml`,
//! reconciles the containers, networks and volumes of a compose project with it (up, down,
//! restart, status), probes health, builds and moves offline images, and streams logs. It is
//! the only crate of the workspace that talks to the engine: `mmctl` and `mmkt-backup` go
//! through it.
//!
//! - [`compose`]: the compose-file subset, parsed with serde_norway into typed structs;
//!   [`interpolate`]: `${VAR:-default}` and env files.
//! - [`spec`]: one service -> an Engine API container-create body + config hash; [`labels`]:
//!   the compose labels that make `docker ps` / `docker-compose ps` see our containers.
//! - [`endpoint`]: which engine (flag, the environment's `MMKT_DOCKER_HOST`, `DOCKER_HOST`,
//!   default socket) and its transport (unix socket, tcp + TLS, ssh); [`engine`]: the
//!   connected engine and reusable container operations
//!   (find a service's container by label, stop/start, wait healthy, exec, inspect); `exits`:
//!   a container's exit codes from its `die` events (for wait healthy's crash-loop report).
//! - [`stack`]: `up` (in `up`: services started as soon as their dependencies are ready,
//!   independent ones concurrently), `down`, `status`, `restart`; [`readiness`]: a service
//!   is ready when its `x-mmkt-probe` answers (or Docker says healthy); [`health`]: real
//!   probes ([`metrics_probe`]: the series an exporter's probe requires); [`image`]:
//!   offline base image, builds, save/load; [`tarstream`]: streamed tar bodies; [`logs`]:
//!   a service's output, streamed.
//! - [`files`]: container directories downloaded/uploaded as tar; [`ready`]: the server's
//!   `/health` and `/ready` polled over HTTP or from inside its container.
//! - [`container`]: one container started from a plan (blue/green), stopped or removed by ID;
//!   [`exec_http`]: one HTTP request from inside the server's container; [`volume`]: labelled
//!   volumes (atomic markers) and a file in a volume, through the Engine API.
//! - [`arbiter`]: arbiter accounts through the server's own `create-arbiter`, run in its
//!   container (password on stdin); [`dev`]: the development stack's faucet, miner and demo
//!   data (development only).
//! - [`tor`]: the `tor` service's onion address and hidden-service keys, checked, read and
//!   written through the archive endpoints.
//! - [`tls`]: nginx's certificate: status, the self-signed bootstrap one, a checked
//!   install with `nginx -t` before the reload, certbot in a one-shot container.
//! - [`urls`]: which published URLs answer, with the scheme that answers (`mmctl up`).
//! - [`environments`]: services bound to environments (`x-mmkt-environments`), refused
//!   elsewhere when the project is loaded.
//! - [`logging`]: a service's `logging:` (json-file rotation) as `HostConfig.LogConfig`.
//! - [`receivers`]: Alertmanager's config rendered from its template and the receiver secrets,
//!   written into its volume at `up`; [`required_secrets`]: a service's `x-mmkt-secrets`,
//!   refused empty outside development.
//!
//! Errors are [`StackError`].

pub mod arbiter;
pub mod compose;
pub mod container;
pub mod db_key;
pub mod dev;
pub mod endpoint;
pub mod engine;
pub mod environments;
pub mod error;
pub mod exec_http;
mod exits;
pub mod files;
pub mod health;
pub mod image;
pub mod interpolate;
pub mod labels;
pub mod logging;
pub mod logs;
pub mod metrics_probe;
pub mod mounts;
pub mod readiness;
pub mod ready;
pub mod receivers;
pub mod required_secrets;
pub mod secret_files;
pub mod spec;
pub mod stack;
pub mod tarstream;
pub mod tls;
pub mod tor;
mod up;
pub mod urls;
pub mod volume;

pub use engine::{Engine, EngineConfig, StartOutcome, StopOutcome};
pub use error::{ConnectFailure, StackError};
pub use stack::Project;

/// Default compose project name (prefix of container, network and volume names).
pub const DEFAULT_PROJECT: &str = "mmkt";

/// Default compose file, relative to the current directory (the repository root).
pub const DEFAULT_COMPOSE_FILE: &str = "deploy/docker-compose.yml";

/// Env file for environment `name`: `<compose dir>/env/<name>.env`.
pub fn env_file_path(compose_file: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = compose_file.parent().unwrap_or(std::path::Path::new("."));
    dir.join("env").join(format!("{name}.env"))
}

/// Loads the project: resolves the env file for `env` (refusing unknown names with the list of
/// available ones), parses and validates the compose file.
///
/// # Errors
/// [`StackError::Invalid`] (unknown environment or project name), [`StackError::Read`],
/// [`StackError::ComposeSyntax`].
pub fn load_project(
    compose_file: &std::path::Path,
    env: Option<&str>,
    project: &str,
    profiles: &[String],
) -> Result<Project, StackError> {
    load_project_with_secrets(compose_file, env, project, profiles, Default::default())
}

/// Like [`load_project`], with `secrets` (the environment's decrypted secrets file, see
/// `mmkt-secrets`) as interpolation variables over the env file's values and under the
/// process environment's ([`compose::load_with_secrets`]).
///
/// # Errors
/// As [`load_project`].
pub fn load_project_with_secrets(
    compose_file: &std::path::Path,
    env: Option<&str>,
    project: &str,
    profiles: &[String],
    secrets: std::collections::BTreeMap<String, String>,
) -> Result<Project, StackError> {
    if project.is_empty()
        || !project
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(StackError::Invalid(format!(
            "invalid project name {project:?}: use lowercase letters, digits, - and _"
        )));
    }
    let env_path = match env {
        None => None,
        Some(name) => {
            let p = env_file_path(compose_file, name);
            if !p.is_file() {
                let dir = p.parent().map(|d| d.to_path_buf()).unwrap_or_default();
                let mut known: Vec<String> = std::fs::read_dir(&dir)
                    .map(|rd| {
                        rd.flatten()
                            .filter_map(|e| {
                                e.file_name()
                                    .to_str()
                                    .and_then(|n| n.strip_suffix(".env"))
                                    .map(str::to_string)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                known.sort();
                return Err(StackError::Invalid(format!(
                    "unknown environment {name:?}: {} does not exist (available: {})",
                    p.display(),
                    known.join(", ")
                )));
            }
            Some(p)
        }
    };
    let compose = compose::load_with_secrets(compose_file, env_path.as_deref(), secrets)?;
    for p in profiles {
        if !compose
            .file
            .services
            .values()
            .any(|s| s.profiles.contains(p))
        {
            return Err(StackError::Invalid(format!(
                "no service uses profile {p:?}"
            )));
        }
    }
    environments::check_enabled(&compose, profiles)?;
    Ok(Project {
        compose,
        name: project.to_string(),
        profiles: profiles.to_vec(),
    })
}
