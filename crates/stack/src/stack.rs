//! Stack-level operations on one compose project: `down`, `status`, `restart`, and what `up`
//! (in `up.rs`: networks, volumes and containers in dependency order, idempotently) shares.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};

use super::compose::{ListOrMap, LoadedCompose};
use super::engine::{ContainerStatus, Engine};
use super::error::{StackError, is_not_found};
use super::health::ProbeSpec;
use super::labels;
use super::readiness::{Prober, ReadyCheck};
use super::spec::scoped;
pub use super::up::{UpEvent, UpReport, WaitPolicy};

/// Graceful stop timeout used by `down`, `restart` and recreation, in seconds (SIGTERM, then
/// SIGKILL). A service whose `stop_grace_period` is longer (monerod: 60 s, to close its
/// database cleanly) gets its own.
pub const STOP_TIMEOUT_SECS: u32 = 30;

/// The stop timeout for one container: the longer of [`STOP_TIMEOUT_SECS`] and the container's
/// own StopTimeout (from `stop_grace_period`).
async fn stop_timeout(engine: &Engine, id: &str) -> i32 {
    let own = engine
        .inspect(id)
        .await
        .ok()
        .and_then(|i| i.config)
        .and_then(|c| c.stop_timeout)
        .unwrap_or(0);
    (STOP_TIMEOUT_SECS as i64).max(own) as i32
}

/// What [`stop_and_remove`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// The container was stopped (or already stopped) and removed.
    Removed,
    /// It no longer existed when the stop was sent.
    AlreadyGone,
}

/// Stops a container gracefully ([`stop_timeout`], then SIGKILL) and force-removes it
/// (`POST /containers/{id}/stop`, `DELETE /containers/{id}?force=1`). `name` is for messages.
pub(crate) async fn stop_and_remove(
    engine: &Engine,
    id: &str,
    name: &str,
) -> Result<Removal, StackError> {
    let stop = StopContainerOptionsBuilder::default()
        .t(stop_timeout(engine, id).await)
        .build();
    match engine.docker().stop_container(id, Some(stop)).await {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => return Ok(Removal::AlreadyGone),
        // 304 "already stopped" is not an error.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => {}
        Err(e) => return Err(engine.err(format!("stop {name}"), e)),
    }
    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
    let removed = engine.docker().remove_container(id, Some(rm)).await;
    gone_unless_error(engine, &format!("remove {name}"), removed)?;
    Ok(Removal::Removed)
}

/// Accepts a removal that succeeded or found nothing to remove (404); else the engine error
/// for `action`.
fn gone_unless_error(
    engine: &Engine,
    action: &str,
    removed: Result<(), bollard::errors::Error>,
) -> Result<(), StackError> {
    found(engine, action, removed).map(drop)
}

/// `Ok(true)` when an inspect call found the object, `Ok(false)` when the engine answered 404,
/// else the engine error for `action`.
fn found<T>(
    engine: &Engine,
    action: &str,
    inspected: Result<T, bollard::errors::Error>,
) -> Result<bool, StackError> {
    match inspected {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(engine.err(action, e)),
    }
}

/// The two kinds of project-scoped objects `up` creates besides containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Network,
    Volume,
}

impl ObjectKind {
    /// The word used in messages ("network", "volume").
    fn noun(self) -> &'static str {
        match self {
            ObjectKind::Network => "network",
            ObjectKind::Volume => "volume",
        }
    }
}

/// The compose file's definition of a network or volume; an absent or empty one is the default.
fn declared<T: Clone + Default>(defs: &BTreeMap<String, Option<T>>, name: &str) -> T {
    defs.get(name).cloned().flatten().unwrap_or_default()
}

/// One compose project: the parsed file, the project name and the enabled profiles.
#[derive(Debug, Clone)]
pub struct Project {
    /// Parsed compose file.
    pub compose: LoadedCompose,
    /// Project name (the `com.docker.compose.project` label; prefix of every object name).
    pub name: String,
    /// Enabled profiles (`--profile`).
    pub profiles: Vec<String>,
}

impl Project {
    /// Services to start for `requested` (empty = all enabled): the requested ones and their
    /// dependencies, in start order.
    ///
    /// # Errors
    /// [`StackError::Invalid`] for unknown or profile-disabled services.
    pub fn selection(&self, requested: &[String]) -> Result<Vec<String>, StackError> {
        let enabled = self.compose.file.enabled_services(&self.profiles);
        if requested.is_empty() {
            return self.compose.file.start_order(&enabled);
        }
        for r in requested {
            self.compose.file.service(r)?;
            if !enabled.contains(r) {
                return Err(StackError::Invalid(format!(
                    "service {r} is in a profile that is not enabled (use --profile)"
                )));
            }
        }
        // Add dependencies transitively.
        let mut set: BTreeSet<String> = requested.iter().cloned().collect();
        let mut stack: Vec<String> = requested.to_vec();
        while let Some(s) = stack.pop() {
            for dep in self.compose.file.services[&s].dependencies().keys() {
                if set.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        let set: Vec<String> = set.into_iter().collect();
        self.compose.file.start_order(&set)
    }

    /// Refuses to reuse a network of the same name that another project (or a human) made.
    pub(crate) async fn check_owned_network(
        &self,
        engine: &Engine,
        net: &str,
    ) -> Result<(), StackError> {
        let full = scoped(&self.name, net);
        match engine.docker().inspect_network(&full, None).await {
            Ok(info) => {
                let owner = info
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(labels::PROJECT))
                    .cloned();
                if owner.as_deref() != Some(self.name.as_str()) {
                    return Err(StackError::Invalid(format!(
                        "network {full} exists but does not belong to project {} (label {}={}); remove it or choose another --project",
                        self.name,
                        labels::PROJECT,
                        owner.unwrap_or_default()
                    )));
                }
                Ok(())
            }
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine.err(format!("inspect network {full}"), e)),
        }
    }

    /// Creates the project network or volume `name` when it is missing; true when it was
    /// created (`GET /networks/{id}` + `POST /networks/create`, `GET /volumes/{name}` +
    /// `POST /volumes/create`).
    pub(crate) async fn ensure_object(
        &self,
        engine: &Engine,
        kind: ObjectKind,
        name: &str,
    ) -> Result<bool, StackError> {
        let full = scoped(&self.name, name);
        let what = format!("{} {full}", kind.noun());
        let inspected = match kind {
            ObjectKind::Network => engine.docker().inspect_network(&full, None).await.map(drop),
            ObjectKind::Volume => engine.docker().inspect_volume(&full).await.map(drop),
        };
        if found(engine, &format!("inspect {what}"), inspected)? {
            return Ok(false);
        }
        let created = match kind {
            ObjectKind::Network => {
                let def = declared(&self.compose.file.networks, name);
                let own = labels::network_labels(&self.name, name);
                let req = NetworkCreateRequest {
                    name: full.clone(),
                    driver: Some(def.driver.clone().unwrap_or_else(|| "bridge".into())),
                    internal: Some(def.internal),
                    labels: Some(self.object_labels(def.labels.as_ref(), own)),
                    ..Default::default()
                };
                engine.docker().create_network(req).await.map(drop)
            }
            ObjectKind::Volume => {
                let def = declared(&self.compose.file.volumes, name);
                let own = labels::volume_labels(&self.name, name);
                let req = VolumeCreateRequest {
                    name: Some(full.clone()),
                    driver: Some(def.driver.clone().unwrap_or_else(|| "local".into())),
                    labels: Some(self.object_labels(def.labels.as_ref(), own)),
                    ..Default::default()
                };
                engine.docker().create_volume(req).await.map(drop)
            }
        };
        created.map_err(|e| engine.err(format!("create {what}"), e))?;
        Ok(true)
    }

    /// The labels of a project network or volume: those the compose file declares for it
    /// (interpolated), overridden by the compose labels mmctl owns (`own`).
    fn object_labels(
        &self,
        declared: Option<&ListOrMap>,
        own: HashMap<String, String>,
    ) -> HashMap<String, String> {
        let mut l: HashMap<String, String> = declared
            .map(|l| l.resolve(&self.compose.variables).into_iter().collect())
            .unwrap_or_default();
        l.extend(own);
        l
    }

    /// `http://HOST:PORT` for every published port of the given services, from the engine's
    /// actual bindings (so ephemeral ports show their real number).
    pub async fn published_urls(
        &self,
        engine: &Engine,
        services: &[String],
    ) -> Result<Vec<PublishedUrl>, StackError> {
        let mut urls = Vec::new();
        for svc in services {
            if self.compose.file.services[svc].ports.is_empty() {
                continue;
            }
            let Some(id) = engine
                .find_service_container(&self.name, svc)
                .await?
                .and_then(|c| c.id)
            else {
                continue;
            };
            let info = engine.inspect(&id).await?;
            let ports = info
                .network_settings
                .and_then(|n| n.ports)
                .unwrap_or_default();
            let mut sorted: Vec<_> = ports.into_iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            for (container_port, bindings) in sorted {
                for b in bindings.unwrap_or_default() {
                    let ip = match b.host_ip.as_deref() {
                        None | Some("") | Some("0.0.0.0") => "127.0.0.1".to_string(),
                        Some(ip) if ip.contains(':') => format!("[{ip}]"),
                        Some(ip) => ip.to_string(),
                    };
                    let scheme = if container_port.starts_with("443/")
                        || container_port.starts_with("8443/")
                    {
                        "https"
                    } else {
                        "http"
                    };
                    urls.push(PublishedUrl {
                        service: svc.clone(),
                        container_port: container_port.clone(),
                        url: format!("{scheme}://{ip}:{}", b.host_port.unwrap_or_default()),
                    });
                }
            }
        }
        Ok(urls)
    }

    /// Status of every container of the project, plus `missing` rows for enabled services
    /// without a container. Sorted by service name.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn status(&self, engine: &Engine) -> Result<Vec<ServiceStatus>, StackError> {
        let mut rows = project_status(engine, &self.name).await?;
        for svc in self.compose.file.enabled_services(&self.profiles) {
            if !rows.iter().any(|r| r.service == svc) {
                rows.push(ServiceStatus {
                    service: svc,
                    container: None,
                });
            }
        }
        rows.sort_by(|a, b| a.service.cmp(&b.service));
        Ok(rows)
    }

    /// Restarts one service's container (SIGTERM, 30 s, SIGKILL, start) and, with a timeout,
    /// waits until it is ready again (its probe answers or Docker says healthy:
    /// [`Engine::wait_ready`]).
    ///
    /// # Errors
    /// [`StackError::Invalid`] (unknown service), [`StackError::NoContainer`], engine errors,
    /// [`StackError::Timeout`].
    pub async fn restart(
        &self,
        engine: &Engine,
        service: &str,
        wait: WaitPolicy,
    ) -> Result<(), StackError> {
        self.compose.file.service(service)?;
        let id = engine
            .require_service_container(&self.name, service)
            .await?;
        let opts = RestartContainerOptionsBuilder::default()
            .t(stop_timeout(engine, &id).await)
            .build();
        engine
            .docker()
            .restart_container(&id, Some(opts))
            .await
            .map_err(|e| engine.err(format!("restart {service}"), e))?;
        if let WaitPolicy::WaitHealthy(t) = wait {
            let probe: Option<ProbeSpec> =
                self.compose.file.services[service].extension("x-mmkt-probe")?;
            let prober = Prober::for_engine(engine)?;
            let check = ReadyCheck::for_service(prober.as_ref(), probe.as_ref());
            engine.wait_ready(service, &id, t, check).await?;
        }
        Ok(())
    }

    /// Stop order for `down`: services absent from the file first, then reverse start order.
    pub fn stop_order(&self, present: &[String]) -> Vec<String> {
        let all: Vec<String> = self.compose.file.services.keys().cloned().collect();
        let start = self.compose.file.start_order(&all).unwrap_or(all);
        let mut out: Vec<String> = present
            .iter()
            .filter(|s| !start.contains(s))
            .cloned()
            .collect();
        out.extend(start.into_iter().rev().filter(|s| present.contains(s)));
        out
    }
}

/// One published port of a running service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishedUrl {
    /// Service name.
    pub service: String,
    /// Container port and protocol, e.g. `8443/tcp`.
    pub container_port: String,
    /// Where the host reaches it, e.g. `https://127.0.0.1:8443`.
    pub url: String,
}

/// A service and its container's status (`None` = no container).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub service: String,
    /// Container status, when a container exists.
    pub container: Option<ContainerStatus>,
}

/// Status rows for every container labelled with `project` (no compose file needed).
///
/// # Errors
/// [`StackError::Engine`] / [`StackError::Unreachable`].
pub async fn project_status(
    engine: &Engine,
    project: &str,
) -> Result<Vec<ServiceStatus>, StackError> {
    let mut rows = Vec::new();
    for c in engine.project_containers(project, None).await? {
        let Some(id) = c.id.clone() else { continue };
        let service = labels::of(&c, labels::SERVICE);
        let info = match engine.inspect(&id).await {
            Ok(i) => i,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        rows.push(ServiceStatus {
            service,
            container: Some(ContainerStatus::from_inspect(&info)),
        });
    }
    Ok(rows)
}

/// Whether `down` deletes the project's named volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumePolicy {
    /// Keep volumes (default: they hold the database, wallets and chain).
    Keep,
    /// Remove them too (`--volumes`): destroys data.
    Remove,
}

/// What `down` removed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DownReport {
    /// Containers removed (names).
    pub containers: Vec<String>,
    /// Networks removed.
    pub networks: Vec<String>,
    /// Volumes removed (empty unless [`VolumePolicy::Remove`]).
    pub volumes: Vec<String>,
}

/// Stops (SIGTERM, `STOP_TIMEOUT_SECS` or the service's longer grace period, SIGKILL) and
/// removes every container of `project`
/// in `order` (services not listed go first), then its networks, and its volumes if asked.
/// Objects are found by the `com.docker.compose.project` label only.
///
/// # Errors
/// [`StackError::Engine`] / [`StackError::Unreachable`].
pub async fn down(
    engine: &Engine,
    project: &str,
    order: &[String],
    volumes: VolumePolicy,
    on_progress: &mut (dyn FnMut(&str) + Send),
) -> Result<DownReport, StackError> {
    let mut report = DownReport::default();
    let mut containers = engine.project_containers(project, None).await?;
    let rank = |c: &bollard::models::ContainerSummary| {
        let svc = labels::of(c, labels::SERVICE);
        order
            .iter()
            .position(|s| *s == svc)
            .map(|p| p + 1)
            .unwrap_or(0)
    };
    containers.sort_by_key(rank);
    for c in containers {
        let Some(id) = c.id.clone() else { continue };
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or(id.clone());
        on_progress(&format!("stopping {name}"));
        if stop_and_remove(engine, &id, &name).await? == Removal::AlreadyGone {
            continue;
        }
        on_progress(&format!("removed {name}"));
        report.containers.push(name);
    }
    let filters = labels::filter(project, None);
    let nets = engine
        .docker()
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine.err("list networks", e))?;
    for n in nets {
        let name = n.name.unwrap_or_default();
        let removed = engine.docker().remove_network(&name).await;
        gone_unless_error(engine, &format!("remove network {name}"), removed)?;
        on_progress(&format!("removed network {name}"));
        report.networks.push(name);
    }
    if volumes == VolumePolicy::Remove {
        let vols = engine
            .docker()
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|e| engine.err("list volumes", e))?;
        for v in vols.volumes.unwrap_or_default() {
            let rm = RemoveVolumeOptionsBuilder::default().force(false).build();
            let removed = engine.docker().remove_volume(&v.name, Some(rm)).await;
            gone_unless_error(engine, &format!("remove volume {}", v.name), removed)?;
            on_progress(&format!("removed volume {}", v.name));
            report.volumes.push(v.name);
        }
    }
    Ok(report)
}
