//! Connection to the Docker Engine (unix socket, or tcp with TLS) and the container-level
//! operations the rest of the stack library (and mmkt-backup) reuse: find a service's container
//! by its compose labels, stop/start it, wait until it is healthy, inspect it, exec a command in it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerSummary, HealthStatusEnum};
use bollard::query_parameters::{ListContainersOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::StreamExt;

use super::error::StackError;
use super::labels;

/// Default endpoint when neither `--docker-host` nor `DOCKER_HOST` is given.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Restarts observed while waiting for health after which a service counts as crash-looping.
const CRASH_LOOP_RESTARTS: i64 = 3;

/// How long a container without a healthcheck must have been running to count as started.
const MIN_UPTIME_WITHOUT_HEALTHCHECK: Duration = Duration::from_secs(2);

/// Request timeout for Engine API calls, in seconds (builds stream for longer; the timeout
/// covers waiting for the response to start).
const REQUEST_TIMEOUT_SECS: u64 = 600;

/// A connected, version-negotiated Docker Engine client plus the endpoint it talks to.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

/// TLS material for `tcp://` endpoints: `ca.pem`, `cert.pem`, `key.pem` in one directory
/// (the docker CLI's DOCKER_CERT_PATH layout).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Directory holding ca.pem, cert.pem and key.pem.
    pub cert_dir: PathBuf,
}

/// How to reach the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `unix:///path`, `tcp://host:port` or `https://host:port`.
    pub host: String,
    /// TLS files for tcp; `None` = plain HTTP (only sensible on a trusted link).
    pub tls: Option<TlsFiles>,
}

impl EngineConfig {
    /// Builds the config from `--docker-host` (or DOCKER_HOST, resolved by clap) and the docker
    /// CLI's TLS variables: TLS is used for tcp when DOCKER_TLS_VERIFY is set or DOCKER_CERT_PATH
    /// is given; DOCKER_CERT_PATH defaults to ~/.docker.
    pub fn from_host_and_env(host: Option<&str>) -> Self {
        let host = host
            .filter(|h| !h.is_empty())
            .unwrap_or(DEFAULT_HOST)
            .to_string();
        let verify = std::env::var("DOCKER_TLS_VERIFY")
            .map(|v| !v.is_empty() && v != "0")
            .unwrap_or(false);
        let cert_path = std::env::var_os("DOCKER_CERT_PATH").map(PathBuf::from);
        let is_tcp = host.starts_with("tcp://") || host.starts_with("https://");
        let tls = if is_tcp && (verify || cert_path.is_some() || host.starts_with("https://")) {
            let cert_dir = cert_path.unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                    .join(".docker")
            });
            Some(TlsFiles { cert_dir })
        } else {
            None
        };
        EngineConfig { host, tls }
    }
}

impl Engine {
    /// Connects, negotiates the API version (Debian's engine speaks 1.41) and pings.
    ///
    /// Engine API: `GET /version`, `GET /_ping`.
    ///
    /// # Errors
    /// [`StackError::Unreachable`] when the daemon does not answer or the TLS files are missing;
    /// [`StackError::Invalid`] for an endpoint scheme other than unix, tcp, http or https.
    pub async fn connect(config: &EngineConfig) -> Result<Engine, StackError> {
        let endpoint = config.host.clone();
        let unreachable = |reason: String| StackError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        };
        let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
            if !Path::new(path).exists() {
                return Err(unreachable(format!("socket {path} does not exist")));
            }
            Docker::connect_with_unix(&endpoint, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            match &config.tls {
                Some(tls) => {
                    // reqwest and bollard both enable rustls; pick the provider explicitly.
                    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                    let (key, cert, ca) =
                        (tls.cert_dir.join("key.pem"), tls.cert_dir.join("cert.pem"), tls.cert_dir.join("ca.pem"));
                    for f in [&key, &cert, &ca] {
                        if !f.exists() {
                            return Err(unreachable(format!(
                                "TLS file {} is missing (set DOCKER_CERT_PATH to the directory with ca.pem, cert.pem, key.pem)",
                                f.display()
                            )));
                        }
                    }
                    Docker::connect_with_ssl(&endpoint, &key, &cert, &ca, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                }
                None => Docker::connect_with_http(&endpoint, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION),
            }
        } else {
            return Err(StackError::Invalid(format!(
                "unsupported Docker host {endpoint:?}: use unix:///path/to/docker.sock or tcp://host:port"
            )));
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = tokio::time::timeout(Duration::from_secs(20), docker.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 20 s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Engine { docker, endpoint })
    }

    /// The bollard client, for operations this module does not wrap.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The endpoint this engine was reached at (for messages).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Wraps a bollard error with what we were doing (transport errors become Unreachable).
    pub fn err(&self, action: impl Into<String>, e: bollard::errors::Error) -> StackError {
        StackError::engine(action, &self.endpoint, e)
    }

    /// All containers (running or not) of a compose project, optionally one service only.
    ///
    /// Engine API: `GET /containers/json?all=1&filters={"label":[...]}`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn project_containers(
        &self,
        project: &str,
        service: Option<&str>,
    ) -> Result<Vec<ContainerSummary>, StackError> {
        let filters = labels::filter(project, service);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        self.docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.err("list containers", e))
    }

    /// The container of `service` in `project`, if one exists (running or not).
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn find_service_container(
        &self,
        project: &str,
        service: &str,
    ) -> Result<Option<ContainerSummary>, StackError> {
        Ok(self
            .project_containers(project, Some(service))
            .await?
            .into_iter()
            .next())
    }

    /// Like [`Engine::find_service_container`] but a missing container is an error
    /// ([`StackError::NoContainer`]); returns the container ID.
    ///
    /// # Errors
    /// [`StackError::NoContainer`], [`StackError::Engine`], [`StackError::Unreachable`].
    pub async fn require_service_container(
        &self,
        project: &str,
        service: &str,
    ) -> Result<String, StackError> {
        self.find_service_container(project, service)
            .await?
            .and_then(|c| c.id)
            .ok_or_else(|| StackError::NoContainer {
                project: project.into(),
                service: service.into(),
            })
    }

    /// Full inspect data of a container (`GET /containers/{id}/json`).
    ///
    /// # Errors
    /// [`StackError::Engine`] (404 when it does not exist) / [`StackError::Unreachable`].
    pub async fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, StackError> {
        self.docker
            .inspect_container(id, None)
            .await
            .map_err(|e| self.err(format!("inspect container {id}"), e))
    }

    /// The service's container ID and whether it is running (`GET /containers/{id}/json`).
    async fn service_container_state(
        &self,
        project: &str,
        service: &str,
    ) -> Result<(String, bool), StackError> {
        let id = self.require_service_container(project, service).await?;
        let running = self
            .inspect(&id)
            .await?
            .state
            .and_then(|s| s.running)
            .unwrap_or(false);
        Ok((id, running))
    }

    /// Gracefully stops a service's container: SIGTERM, then SIGKILL after `timeout_secs`
    /// (`POST /containers/{id}/stop?t=N`). Used by backup/restore to quiesce the server or a
    /// wallet-rpc before copying its files.
    ///
    /// # Errors
    /// [`StackError::NoContainer`], [`StackError::Engine`], [`StackError::Unreachable`].
    pub async fn stop_service(
        &self,
        project: &str,
        service: &str,
        timeout_secs: u32,
    ) -> Result<StopOutcome, StackError> {
        let (id, running) = self.service_container_state(project, service).await?;
        if !running {
            return Ok(StopOutcome::AlreadyStopped);
        }
        let opts = StopContainerOptionsBuilder::default()
            .t(timeout_secs as i32)
            .build();
        self.docker
            .stop_container(&id, Some(opts))
            .await
            .map_err(|e| self.err(format!("stop {service}"), e))?;
        Ok(StopOutcome::Stopped)
    }

    /// Starts a service's existing container (`POST /containers/{id}/start`).
    ///
    /// # Errors
    /// [`StackError::NoContainer`], [`StackError::Engine`], [`StackError::Unreachable`].
    pub async fn start_service(
        &self,
        project: &str,
        service: &str,
    ) -> Result<StartOutcome, StackError> {
        let (id, running) = self.service_container_state(project, service).await?;
        if running {
            return Ok(StartOutcome::AlreadyRunning);
        }
        self.docker
            .start_container(&id, None)
            .await
            .map_err(|e| self.err(format!("start {service}"), e))?;
        Ok(StartOutcome::Started)
    }

    /// Polls a container (once a second) until it is healthy — or, without a healthcheck, has
    /// been running for 2 s — or `timeout` passes. A container that keeps restarting (3 restarts)
    /// fails at once, with its last output lines.
    ///
    /// # Errors
    /// [`StackError::ServiceFailed`] when the container exits and will not be restarted,
    /// [`StackError::Timeout`] (with the last health output) otherwise.
    pub async fn wait_healthy(
        &self,
        service: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<(), StackError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let first_restart_count = self.inspect(id).await?.restart_count.unwrap_or(0);
        loop {
            let info = self.inspect(id).await?;
            // A crash loop will not heal by waiting: report it with the last output lines.
            let restarts = info.restart_count.unwrap_or(0) - first_restart_count;
            if restarts >= CRASH_LOOP_RESTARTS {
                let st = ContainerStatus::from_inspect(&info);
                return Err(StackError::ServiceFailed {
                    service: service.into(),
                    detail: format!(
                        "it keeps exiting ({restarts} restarts while waiting, last exit code {}); last output: {}",
                        st.exit_code.unwrap_or(-1),
                        self.tail_logs(id, 5).await
                    ),
                });
            }
            let status = ContainerStatus::from_inspect(&info);
            match status.health.as_deref() {
                Some("healthy") => return Ok(()),
                // Without a healthcheck, "up" means running and not exiting right away.
                None if status
                    .uptime()
                    .is_some_and(|up| up >= MIN_UPTIME_WITHOUT_HEALTHCHECK) =>
                {
                    return Ok(());
                }
                _ => {}
            }
            let restarting = status.state == "restarting";
            let policy = info
                .host_config
                .as_ref()
                .and_then(|h| h.restart_policy.as_ref())
                .and_then(|p| p.name)
                .map(|n| n.to_string())
                .unwrap_or_default();
            if (status.state == "exited" || status.state == "dead")
                && !restarting
                && (policy.is_empty() || policy == "no")
            {
                return Err(StackError::ServiceFailed {
                    service: service.into(),
                    detail: format!(
                        "container {} exited with code {}; last output: {}",
                        status.name,
                        status.exit_code.unwrap_or(-1),
                        self.tail_logs(id, 5).await
                    ),
                });
            }
            if tokio::time::Instant::now() >= deadline {
                let mut last = status.describe();
                if let Some(out) = last_health_output(&info) {
                    last.push_str(&format!("; last healthcheck output: {out}"));
                }
                return Err(StackError::Timeout {
                    service: service.into(),
                    wanted: "healthy".into(),
                    seconds: timeout.as_secs(),
                    last,
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The last `lines` lines of a container's output (stdout and stderr), joined with ` | `,
    /// for error messages (`GET /containers/{id}/logs?tail=N`). Empty when unavailable.
    pub async fn tail_logs(&self, id: &str, lines: usize) -> String {
        let opts = bollard::query_parameters::LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(id, Some(opts));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        let out: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        out.join(" | ").chars().take(1000).collect()
    }

    /// Runs a command inside a running container and collects its output
    /// (`POST /containers/{id}/exec`, `POST /exec/{id}/start`, `GET /exec/{id}/json`).
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`]. A non-zero exit is not an error:
    /// check [`ExecOutput::exit_code`].
    pub async fn exec(
        &self,
        container: &str,
        cmd: &[&str],
        user: Option<&str>,
    ) -> Result<ExecOutput, StackError> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    user: user.map(str::to_string),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.err(format!("exec in {container}"), e))?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        match self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| self.err(format!("exec in {container}"), e))?
        {
            StartExecResults::Attached { mut output, .. } => {
                while let Some(chunk) = output.next().await {
                    match chunk
                        .map_err(|e| self.err(format!("read exec output in {container}"), e))?
                    {
                        bollard::container::LogOutput::StdOut { message } => {
                            stdout.extend_from_slice(&message)
                        }
                        bollard::container::LogOutput::StdErr { message } => {
                            stderr.extend_from_slice(&message)
                        }
                        _ => {}
                    }
                }
            }
            StartExecResults::Detached => {}
        }
        let inspect = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| self.err("inspect exec", e))?;
        Ok(ExecOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            stdout,
            stderr,
        })
    }
}

/// Result of [`Engine::stop_service`] (not stopping an already-stopped container is not a failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The container was running and is now stopped.
    Stopped,
    /// It was not running; nothing was done.
    AlreadyStopped,
}

/// Result of [`Engine::start_service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// The container was started.
    Started,
    /// It was already running; nothing was done.
    AlreadyRunning,
}

/// Output of [`Engine::exec`].
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// The command's exit code (-1 if the engine did not report one).
    pub exit_code: i64,
    /// Raw stdout bytes.
    pub stdout: Vec<u8>,
    /// Raw stderr bytes.
    pub stderr: Vec<u8>,
}

/// A container's state in the shape `status` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerStatus {
    /// Container ID (full).
    pub id: String,
    /// Container name without the leading `/`.
    pub name: String,
    /// Engine state: created, running, restarting, exited, paused, dead.
    pub state: String,
    /// Healthcheck status (starting, healthy, unhealthy), or `None` without a healthcheck.
    pub health: Option<String>,
    /// Image reference the container was created from.
    pub image: String,
    /// When it was last started (RFC 3339), if ever.
    pub started_at: Option<String>,
    /// Exit code of the last run, when not running.
    pub exit_code: Option<i64>,
}

impl ContainerStatus {
    /// Extracts the status from inspect data.
    pub fn from_inspect(info: &ContainerInspectResponse) -> Self {
        let state = info.state.as_ref();
        let health = state
            .and_then(|s| s.health.as_ref())
            .and_then(|h| h.status)
            .and_then(|s| match s {
                HealthStatusEnum::EMPTY | HealthStatusEnum::NONE => None,
                other => Some(other.to_string()),
            });
        let state_name = state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into());
        ContainerStatus {
            id: info.id.clone().unwrap_or_default(),
            name: info
                .name
                .clone()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            health,
            image: info
                .config
                .as_ref()
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            started_at: state
                .and_then(|s| s.started_at.clone())
                .filter(|s| !s.starts_with("0001-")),
            exit_code: if state_name == "running" {
                None
            } else {
                state.and_then(|s| s.exit_code)
            },
            state: state_name,
        }
    }

    /// How long the container has been running (from its StartedAt); `None` when it is not
    /// running or the start time is unknown.
    pub fn uptime(&self) -> Option<Duration> {
        if self.state != "running" {
            return None;
        }
        let started = time::OffsetDateTime::parse(
            self.started_at.as_deref()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        let secs = (time::OffsetDateTime::now_utc() - started).as_seconds_f64();
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }

    /// "running (healthy)", "exited (code 137)", ...
    pub fn describe(&self) -> String {
        match (&self.health, self.exit_code) {
            (Some(h), _) if self.state == "running" => format!("running ({h})"),
            (_, Some(code)) if self.state != "running" => format!("{} (code {code})", self.state),
            _ => self.state.clone(),
        }
    }
}

/// The output of the most recent healthcheck run, trimmed, if any.
pub fn last_health_output(info: &ContainerInspectResponse) -> Option<String> {
    let log = info.state.as_ref()?.health.as_ref()?.log.as_ref()?;
    let last = log.last()?;
    let out = last.output.clone().unwrap_or_default();
    let out = out.trim();
    if out.is_empty() {
        return Some(format!("exit code {}", last.exit_code.unwrap_or(-1)));
    }
    Some(out.chars().take(300).collect())
}
