//! The connected Docker Engine (endpoints and transports are in `endpoint.rs`) and the container-level
//! operations the rest of the stack library (and mmkt-backup) reuse: find a service's container
//! by its compose labels, stop/start it, wait until it is healthy, inspect it, exec a command in it.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerSummary, HealthStatusEnum};
use bollard::query_parameters::{ListContainersOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::StreamExt;

use super::endpoint;
pub use super::endpoint::{DEFAULT_HOST, EngineConfig, HOST_VARIABLE, TlsFiles, environment_host};
use super::error::StackError;
use super::labels;
use super::readiness::ReadyCheck;

/// How long the first request (`GET /version`) may take before the engine counts as
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A connected, version-negotiated Docker Engine client plus the endpoint it talks to.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

impl Engine {
    /// Connects, negotiates the API version (Debian's engine speaks 1.41) and pings, over the
    /// endpoint's transport: unix socket, tcp (TLS with the DOCKER_CERT_PATH files when
    /// configured) or ssh (the local `ssh` client runs `docker system dial-stdio` remotely).
    ///
    /// Engine API: `GET /version`, `GET /_ping`.
    ///
    /// # Errors
    /// [`StackError::Unreachable`] when no connection can be made, with a
    /// [`ConnectFailure`](crate::error::ConnectFailure) saying why (no answer, unusable TLS
    /// files, a certificate refused on either side, plain HTTP to a TLS port, ssh failure);
    /// [`StackError::Invalid`] for an endpoint scheme other than unix, tcp, http, https or ssh,
    /// or an ssh endpoint with a port; [`StackError::Engine`] when the engine answers the
    /// first request with an error of its own.
    pub async fn connect(config: &EngineConfig) -> Result<Engine, StackError> {
        let endpoint = config.host.clone();
        let (docker, scheme) = endpoint::open(config)?;
        let negotiate = |docker: Docker| async {
            tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
                .await
                .map_err(|_| {
                    let reason = format!("no answer within {} s", CONNECT_TIMEOUT.as_secs());
                    StackError::unreachable(&endpoint, scheme.silent_failure(), reason)
                })
        };
        let docker = match negotiate(docker.clone()).await? {
            Ok(docker) => docker,
            // A TLS 1.3 engine that refuses the client certificate sends its alert after the
            // handshake; when the connection dies before the request goes out, hyper reports a
            // cancelled request and the alert is lost. Ask once more on a new connection, so
            // the refusal (or the answer) is seen.
            Err(e) if endpoint::cancelled_before_sending(&e) => {
                negotiate(docker).await?.map_err(|e| {
                    endpoint::connect_error(&endpoint, scheme, "negotiate the API version", e)
                })?
            }
            Err(e) => {
                return Err(endpoint::connect_error(
                    &endpoint,
                    scheme,
                    "negotiate the API version",
                    e,
                ));
            }
        };
        docker
            .ping()
            .await
            .map_err(|e| endpoint::connect_error(&endpoint, scheme, "ping", e))?;
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

    /// Polls a container (once a second, and at once after each of its exits) until Docker
    /// reports it healthy — or, without a healthcheck, it has been running for 2 s — or
    /// `timeout` passes: [`Engine::wait_ready`] with [`ReadyCheck::DockerHealth`], which
    /// documents the crash-loop and exit handling.
    ///
    /// # Errors
    /// [`StackError::ServiceFailed`] when the container exits and will not be restarted, or
    /// keeps restarting; [`StackError::Timeout`] (with the last health output) otherwise.
    pub async fn wait_healthy(
        &self,
        service: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<(), StackError> {
        self.wait_ready(service, id, timeout, ReadyCheck::DockerHealth)
            .await
            .map(drop)
    }

    /// The error for a container that keeps exiting: `restarts` seen while waiting, the exit
    /// code of its last run (`code`, as printed) and its last output lines.
    pub(crate) async fn crash_loop_error(
        &self,
        service: &str,
        id: &str,
        restarts: i64,
        code: &str,
    ) -> StackError {
        StackError::ServiceFailed {
            service: service.into(),
            detail: format!(
                "it keeps exiting ({restarts} restarts while waiting, last exit code {code}); last output: {}",
                self.tail_logs(id, 5).await
            ),
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
        self.exec_with_input(container, cmd, user, None).await
    }

    /// [`Engine::exec`], writing `input` (when given) to the command's standard input first:
    /// how a secret reaches a command without appearing on any command line or in the
    /// container's environment (`docker inspect` shows neither stdin nor its bytes).
    ///
    /// # Errors
    /// As [`Engine::exec`]; [`StackError::ExecInput`] when the input cannot be written.
    pub async fn exec_with_input(
        &self,
        container: &str,
        cmd: &[&str],
        user: Option<&str>,
        input: Option<&[u8]>,
    ) -> Result<ExecOutput, StackError> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        use tokio::io::AsyncWriteExt;
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdin: Some(input.is_some()),
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
            StartExecResults::Attached {
                mut output,
                input: mut stdin,
            } => {
                if let Some(bytes) = input {
                    let written = async {
                        stdin.write_all(bytes).await?;
                        stdin.flush().await?;
                        stdin.shutdown().await
                    };
                    written.await.map_err(|source| StackError::ExecInput {
                        container: container.to_string(),
                        source,
                    })?;
                }
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
