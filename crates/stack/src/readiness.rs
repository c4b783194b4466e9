//! When a started container counts as ready: its service's `x-mmkt-probe` answers (polled from
//! the host every [`PROBE_INTERVAL`]), or Docker reports it healthy, whichever comes first; a
//! service without a probe waits for Docker's health (or, without a healthcheck, 2 s of
//! running). An exit that will not be restarted, or a crash loop, ends the wait at once.
//!
//! Probing directly means `mmctl up` starts a dependent as soon as its dependency answers,
//! instead of waiting for Docker's next healthcheck run (its `interval`, 10 s in
//! `deploy/docker-compose.yml`). The Docker healthcheck stays: `docker ps` shows it and the
//! restart policy acts on it; it is the only signal for an engine on another machine, whose
//! container addresses this host cannot reach ([`probes_reach`]).

use std::time::Duration;

use serde::Serialize;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use super::endpoint::Scheme;
use super::engine::{ContainerStatus, Engine, last_health_output};
use super::error::StackError;
use super::exits::ExitWatch;
use super::health::{ProbeSpec, container_env, container_ip, probe, probe_client};

/// How often a probe is sent while waiting for a service to be ready.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// How long one probe request may take (a container that is still starting refuses the
/// connection at once; this bounds one that accepted it and hangs).
pub const PROBE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the container is inspected when only Docker's health can tell (no probe).
const HEALTH_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Restarts observed while waiting after which a service counts as crash-looping.
const CRASH_LOOP_RESTARTS: i64 = 3;

/// How long a container without a healthcheck (and without a probe) must have been running to
/// count as started.
const MIN_UPTIME_WITHOUT_HEALTHCHECK: Duration = Duration::from_secs(2);

/// What showed that a service is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadySignal {
    /// Its `x-mmkt-probe` answered (every path 2xx, `get_info` status OK, `get_version`).
    Probe,
    /// Docker's healthcheck reported `healthy` first.
    DockerHealthy,
    /// No probe and no healthcheck: it has been running for 2 s.
    Running,
}

impl ReadySignal {
    /// A few words for reports: "probe answered", "Docker healthy", "running".
    pub fn describe(self) -> &'static str {
        match self {
            ReadySignal::Probe => "probe answered",
            ReadySignal::DockerHealthy => "Docker healthy",
            ReadySignal::Running => "running",
        }
    }
}

/// The HTTP client the readiness probes share ([`PROBE_ATTEMPT_TIMEOUT`] per request).
#[derive(Debug, Clone)]
pub struct Prober {
    http: reqwest::Client,
}

impl Prober {
    /// A prober for the containers of `engine`, or `None` when this host cannot reach them
    /// ([`probes_reach`]): then readiness is Docker's health alone.
    ///
    /// # Errors
    /// [`StackError::Invalid`] when the HTTP client cannot be built (TLS backend).
    pub fn for_engine(engine: &Engine) -> Result<Option<Prober>, StackError> {
        if !probes_reach(engine.endpoint()) {
            return Ok(None);
        }
        Ok(Some(Prober {
            http: probe_client(PROBE_ATTEMPT_TIMEOUT)?,
        }))
    }

    /// Runs `spec` once against the container `info` describes: `Ok` when every check
    /// passed, else what the first failing one saw.
    async fn answers(
        &self,
        info: &bollard::models::ContainerInspectResponse,
        spec: &ProbeSpec,
    ) -> Result<(), String> {
        let Some(ip) = container_ip(info) else {
            return Err("the container has no IP address".into());
        };
        // A starting service refuses probes; monero-rpc would log each refusal as a warning,
        // so the attempt runs without a subscriber (the last answer goes into the timeout).
        let env = container_env(info);
        let checks = probe(&self.http, &ip, spec, &env, PROBE_ATTEMPT_TIMEOUT)
            .with_subscriber(NoSubscriber::default())
            .await;
        match checks.into_iter().find(|c| !c.ok) {
            None => Ok(()),
            Some(failed) => Err(format!("{}: {}", failed.name, failed.detail)),
        }
    }
}

/// Whether this host reaches the containers of the engine at `endpoint` by their addresses:
/// a unix socket, or tcp to a loopback address (`127.0.0.0/8`, `localhost`, `[::1]`). The
/// container address of an engine on another machine would be routed, if at all, to this
/// host's own Docker networks, where another container may hold it.
pub fn probes_reach(endpoint: &str) -> bool {
    match Scheme::of(endpoint) {
        Some(Scheme::Unix) => true,
        Some(Scheme::Tcp) => {
            let authority = endpoint.split_once("://").map_or("", |(_, rest)| rest);
            let authority = authority.split('/').next().unwrap_or("");
            let host = match authority.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or(""),
                None => authority.split(':').next().unwrap_or(""),
            };
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(Scheme::Ssh) | None => false,
    }
}

/// How [`Engine::wait_ready`] decides that a container is ready.
#[derive(Debug, Clone, Copy)]
pub enum ReadyCheck<'a> {
    /// Docker's health status only (or 2 s of running without a healthcheck).
    DockerHealth,
    /// The service's probe or Docker's health, whichever says so first.
    Probe(&'a Prober, &'a ProbeSpec),
}

impl<'a> ReadyCheck<'a> {
    /// The check for a service: its probe when it has one (`spec`) and the engine's containers
    /// can be probed (`prober`), else Docker's health.
    pub fn for_service(prober: Option<&'a Prober>, spec: Option<&'a ProbeSpec>) -> ReadyCheck<'a> {
        match (prober, spec) {
            (Some(prober), Some(spec)) => ReadyCheck::Probe(prober, spec),
            _ => ReadyCheck::DockerHealth,
        }
    }

    fn interval(self) -> Duration {
        match self {
            ReadyCheck::DockerHealth => HEALTH_POLL_INTERVAL,
            ReadyCheck::Probe(..) => PROBE_INTERVAL,
        }
    }
}

impl Engine {
    /// Waits until container `id` of `service` is ready by `check`, or `timeout` passes.
    /// Between attempts it sleeps [`PROBE_INTERVAL`] with a probe (1 s without), waking at
    /// once when the container exits. A container that keeps restarting (3 restarts) fails as
    /// soon as the exit code of its last run is known, with that code and its last output.
    ///
    /// Engine API: `GET /containers/{id}/json`; `GET /events` (the container's `die` events,
    /// whose `exitCode` gives a run's exit code even when every inspect catches the container
    /// running again); `GET /containers/{id}/logs?tail=5`. The probe itself goes to the
    /// container's address (see [`crate::health`]).
    ///
    /// # Errors
    /// [`StackError::ServiceFailed`] when the container exits and will not be restarted, or
    /// keeps restarting; [`StackError::Timeout`] (wanted "healthy", with the last state, the
    /// last healthcheck output and the last probe answer) otherwise.
    pub async fn wait_ready(
        &self,
        service: &str,
        id: &str,
        timeout: Duration,
        check: ReadyCheck<'_>,
    ) -> Result<ReadySignal, StackError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let first = self.inspect(id).await?;
        let first_restart_count = first.restart_count.unwrap_or(0);
        let mut exits = ExitWatch::open(self.docker(), id, &first);
        let mut last_probe = None;
        loop {
            let info = self.inspect(id).await?;
            // A crash loop will not heal by waiting: report it with the last run's exit code
            // (once known: the die event of a run may still be on its way) and output lines.
            let restarts = info.restart_count.unwrap_or(0) - first_restart_count;
            let crash_loop = restarts >= CRASH_LOOP_RESTARTS;
            if crash_loop && let Some(code) = exits.last_code(&info) {
                return Err(self
                    .crash_loop_error(service, id, restarts, &code.to_string())
                    .await);
            }
            let status = ContainerStatus::from_inspect(&info);
            // A crash loop is not "up" because one of its runs lasts.
            if !crash_loop {
                if status.health.as_deref() == Some("healthy") {
                    return Ok(ReadySignal::DockerHealthy);
                }
                match check {
                    ReadyCheck::Probe(prober, spec) if status.state == "running" => {
                        match prober.answers(&info, spec).await {
                            Ok(()) => return Ok(ReadySignal::Probe),
                            Err(seen) => last_probe = Some(seen),
                        }
                    }
                    ReadyCheck::Probe(..) => {}
                    // Without a healthcheck, "up" means running and not exiting right away.
                    ReadyCheck::DockerHealth
                        if status.health.is_none()
                            && status
                                .uptime()
                                .is_some_and(|up| up >= MIN_UPTIME_WITHOUT_HEALTHCHECK) =>
                    {
                        return Ok(ReadySignal::Running);
                    }
                    ReadyCheck::DockerHealth => {}
                }
            }
            if exited_for_good(&info, &status) {
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
                if crash_loop {
                    return Err(self
                        .crash_loop_error(service, id, restarts, "unknown")
                        .await);
                }
                let mut last = status.describe();
                if let Some(out) = last_health_output(&info) {
                    last.push_str(&format!("; last healthcheck output: {out}"));
                }
                if let Some(seen) = &last_probe {
                    last.push_str(&format!("; last probe: {seen}"));
                }
                return Err(StackError::Timeout {
                    service: service.into(),
                    wanted: "healthy".into(),
                    seconds: timeout.as_secs(),
                    last,
                });
            }
            // Either outcome means: look again.
            let _ = tokio::time::timeout(check.interval(), exits.next_exit()).await;
        }
    }
}

/// The container has exited (or died) and its restart policy will not start it again.
fn exited_for_good(
    info: &bollard::models::ContainerInspectResponse,
    status: &ContainerStatus,
) -> bool {
    let policy = info
        .host_config
        .as_ref()
        .and_then(|h| h.restart_policy.as_ref())
        .and_then(|p| p.name)
        .map(|n| n.to_string())
        .unwrap_or_default();
    (status.state == "exited" || status.state == "dead") && (policy.is_empty() || policy == "no")
}

/// One service's readiness in an `up` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceReady {
    /// Service name.
    pub service: String,
    /// What showed it ready.
    pub signal: ReadySignal,
    /// Milliseconds from its container's start by this `up` (or, for a container left
    /// running, from the start of its wait) until it was ready: the service's own start time.
    pub since_start_ms: u64,
    /// Milliseconds from the beginning of `up` until it was ready.
    pub since_up_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_engines_have_their_containers_probed() {
        for local in [
            "unix:///var/run/docker.sock",
            "tcp://127.0.0.1:2376",
            "https://127.0.0.2:2376",
            "tcp://localhost:2375",
            "tcp://[::1]:2376",
        ] {
            assert!(probes_reach(local), "{local}");
        }
        for remote in [
            "tcp://10.0.0.5:2376",
            "https://engine.example:2376",
            "tcp://127.example.org:2376",
            "tcp://[2001:db8::1]:2376",
            "ssh://deploy@127.0.0.1",
            "ssh://deploy@engine",
            "/var/run/docker.sock",
            "",
        ] {
            assert!(!probes_reach(remote), "{remote}");
        }
    }

    #[test]
    fn signals_are_described_for_reports() {
        assert_eq!(ReadySignal::Probe.describe(), "probe answered");
        assert_eq!(ReadySignal::DockerHealthy.describe(), "Docker healthy");
        assert_eq!(ReadySignal::Running.describe(), "running");
        let json = serde_json::to_string(&ReadySignal::DockerHealthy).unwrap();
        assert_eq!(json, "\"docker_healthy\"");
    }
}
