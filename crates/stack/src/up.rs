//! `Project::up`: every image and plan checked first, then networks and volumes, then each
//! service's container converged as soon as its dependencies allow (independent services at
//! the same time) and waited for until ready by its probe (`readiness.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::engine::{ContainerStatus, Engine};
use super::error::{StackError, is_not_found};
use super::health::ProbeSpec;
use super::labels;
use super::readiness::{Prober, ReadyCheck, ServiceReady};
use super::receivers::deliver::{ConfigReport, PendingConfig};
use super::spec::{ContainerPlan, plan_service, scoped};
use super::stack::{ObjectKind, Project, PublishedUrl, stop_and_remove};

/// Whether `up` waits for every service to be ready before returning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Wait (like `docker compose up --wait`) up to the timeout for each service.
    WaitHealthy(Duration),
    /// Return once containers are started; `service_healthy` dependencies are still honoured.
    NoWait,
}

/// What `up` did to one object; reported through the progress callback. Services start
/// concurrently, so events of independent services interleave; a service's own events come
/// in order (waiting, then created/started, then ready).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpEvent {
    /// A project network was created.
    NetworkCreated(String),
    /// A project volume was created.
    VolumeCreated(String),
    /// A dependency is being waited for (service, dependency): it is started, not ready yet.
    WaitingFor(String, String),
    /// The service's container did not exist and was created and started.
    Created(String),
    /// The definition (config hash) changed: the old container was replaced.
    Recreated(String),
    /// The container existed with the same definition but was not running: started.
    Started(String),
    /// The container exists with the same definition and runs: nothing done.
    Unchanged(String),
    /// The service is ready: what showed it, and after how long.
    Ready(ServiceReady),
    /// A service's config was rendered from its template and the secrets
    /// (`x-mmkt-alertmanager-config`), and written into its volume when it changed (a running
    /// container is then restarted: [`UpEvent::Restarted`]).
    ConfigRendered(ConfigReport),
    /// The container was running with the same definition, but its rendered config changed:
    /// restarted so it reads the new file.
    Restarted(String),
}

/// Summary of an `up`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UpReport {
    /// Services in start order.
    pub services: Vec<String>,
    /// Published ports: service, container port (e.g. `8080/tcp`) and URL
    /// (e.g. `http://127.0.0.1:8080`).
    pub urls: Vec<PublishedUrl>,
    /// Number of containers created, recreated or started (0 on an idempotent re-run).
    pub changed: usize,
    /// Every service waited for, in start order, with its ready times.
    pub ready: Vec<ServiceReady>,
}

/// How far one service has come during an `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Pending,
    Started,
    Ready,
}

/// One `up` in progress: what every service's task shares.
struct Run<'a> {
    project: &'a Project,
    engine: &'a Engine,
    plans: BTreeMap<String, ContainerPlan>,
    probes: BTreeMap<String, ProbeSpec>,
    phases: BTreeMap<String, watch::Sender<Phase>>,
    /// Services whose readiness is waited for (all with [`WaitPolicy::WaitHealthy`], else
    /// those a `service_healthy` dependency names).
    waited: BTreeSet<String>,
    timeout: Duration,
    /// Services whose rendered config file was rewritten by this run.
    rewritten: BTreeSet<String>,
    prober: Option<Prober>,
    began: Instant,
    changed: AtomicUsize,
    on_event: Mutex<&'a mut (dyn FnMut(UpEvent) + Send)>,
}

impl Run<'_> {
    fn emit(&self, event: UpEvent) {
        let mut on_event = self.on_event.lock().unwrap_or_else(|p| p.into_inner());
        on_event(event);
    }

    fn has_reached(&self, service: &str, phase: Phase) -> bool {
        *self.phases[service].borrow() >= phase
    }

    async fn reached(&self, service: &str, phase: Phase) {
        let mut rx = self.phases[service].subscribe();
        // The senders live as long as the run, so the wait ends only by reaching the phase.
        let _ = rx.wait_for(|p| *p >= phase).await;
    }

    /// A service with dependencies and no container yet gets its container created at once
    /// (started once they allow), so a dependency's readiness is followed by a start alone,
    /// as docker compose creates every container first. Returns the new container's ID. An
    /// existing container is left alone until then: a changed one is replaced only once its
    /// dependencies are ready.
    async fn create_early(&self, svc: &str) -> Result<Option<String>, StackError> {
        let service = &self.project.compose.file.services[svc];
        if service.dependencies().is_empty() {
            return Ok(None);
        }
        let name = &self.project.name;
        if self
            .engine
            .find_service_container(name, svc)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        Ok(Some(self.engine.create_planned(&self.plans[svc]).await?))
    }

    /// One service: its dependencies' conditions, its container, then its readiness.
    async fn service(&self, svc: &str) -> Result<Option<ServiceReady>, StackError> {
        let created = self.create_early(svc).await?;
        let deps = self.project.compose.file.services[svc].dependencies();
        for (dep, condition) in &deps {
            self.reached(dep, Phase::Started).await;
            match condition.as_str() {
                "service_healthy" => {
                    if !self.has_reached(dep, Phase::Ready) {
                        self.emit(UpEvent::WaitingFor(svc.into(), dep.clone()));
                    }
                    self.reached(dep, Phase::Ready).await;
                }
                "service_completed_successfully" => {
                    self.emit(UpEvent::WaitingFor(svc.into(), dep.clone()));
                    let name = &self.project.name;
                    let dep_id = self.engine.require_service_container(name, dep).await?;
                    wait_exited_ok(self.engine, dep, &dep_id, self.timeout).await?;
                }
                _ => {}
            }
        }
        let event = match created {
            Some(id) => {
                self.engine
                    .start_created(&id, &self.plans[svc].name)
                    .await?;
                UpEvent::Created(svc.to_string())
            }
            None => self.project.converge(self.engine, &self.plans[svc]).await?,
        };
        let event = match event {
            UpEvent::Unchanged(s) if self.rewritten.contains(&s) => {
                self.project
                    .restart(self.engine, &s, WaitPolicy::NoWait)
                    .await?;
                UpEvent::Restarted(s)
            }
            other => other,
        };
        if !matches!(event, UpEvent::Unchanged(_)) {
            self.changed.fetch_add(1, Ordering::Relaxed);
        }
        self.emit(event);
        let started = Instant::now();
        self.phases[svc].send_replace(Phase::Started);
        if !self.waited.contains(svc) {
            return Ok(None);
        }
        let id = self
            .engine
            .require_service_container(&self.project.name, svc)
            .await?;
        let check = ReadyCheck::for_service(self.prober.as_ref(), self.probes.get(svc));
        let signal = self
            .engine
            .wait_ready(svc, &id, self.timeout, check)
            .await?;
        self.phases[svc].send_replace(Phase::Ready);
        let ready = ServiceReady {
            service: svc.to_string(),
            signal,
            since_start_ms: millis(started.elapsed()),
            since_up_ms: millis(self.began.elapsed()),
        };
        self.emit(UpEvent::Ready(ready.clone()));
        Ok(Some(ready))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Project {
    /// Brings the project up: validates everything (the secrets the selected services need in
    /// this environment, rendered configs, images present, plans build, probes parse), then
    /// creates missing networks and volumes, writes the rendered configs into their volumes
    /// (`receivers::deliver`) and the secret files into theirs (`secret_files`), then
    /// converges every service's container (create, recreate or start) as soon as its
    /// dependencies allow: after a
    /// `service_started` dependency's container is started, a `service_healthy` one is ready
    /// (its `x-mmkt-probe` answered, or Docker says healthy: [`Engine::wait_ready`]), a
    /// `service_completed_successfully` one exited 0. Independent services start at the same
    /// time; a new container of a service with dependencies is created at once and only
    /// started then. With [`WaitPolicy::WaitHealthy`] every service is waited for until ready.
    ///
    /// Engine API: `GET /images/{name}/json`, `POST /networks/create`, `POST /volumes/create`,
    /// `POST /containers/create`, `POST /networks/{id}/connect`, `POST /containers/{id}/start`,
    /// `POST /containers/{id}/stop`, `DELETE /containers/{id}`, `GET /containers/{id}/json`.
    ///
    /// # Errors
    /// [`StackError::SecretsMissing`], [`StackError::SecretMalformed`],
    /// [`StackError::ImageMissing`] / [`StackError::Invalid`] before anything is created;
    /// [`StackError::Engine`], [`StackError::Timeout`] (a service not ready within its
    /// timeout: `dep_timeout` for dependencies under [`WaitPolicy::NoWait`], else the
    /// policy's), [`StackError::ServiceFailed`] during. The first failure stops the others.
    pub async fn up(
        &self,
        engine: &Engine,
        requested: &[String],
        wait: WaitPolicy,
        dep_timeout: Duration,
        on_event: &mut (dyn FnMut(UpEvent) + Send),
    ) -> Result<UpReport, StackError> {
        let began = Instant::now();
        let order = self.selection(requested)?;
        let configs = self.check_secrets_of(&order)?;
        let secret_files = super::secret_files::plan(&self.compose, &order)?;
        let (plans, probes) = self.preflight(engine, &order).await?;
        self.create_objects(engine, &order, on_event).await?;
        let rewritten = self.write_configs(engine, &configs).await?;
        self.write_secret_files(engine, &secret_files).await?;
        for config in configs {
            on_event(UpEvent::ConfigRendered(ConfigReport {
                written: rewritten.contains(&config.service),
                integrations: config.rendered.integrations().to_vec(),
                unset: config.rendered.unset().to_vec(),
                service: config.service,
            }));
        }
        let (waited, timeout) = match wait {
            WaitPolicy::WaitHealthy(timeout) => (self.waited_all(&order), timeout),
            WaitPolicy::NoWait => (self.waited_as_dependencies(&order), dep_timeout),
        };
        let run = Run {
            project: self,
            engine,
            plans,
            probes,
            phases: order
                .iter()
                .map(|s| (s.clone(), watch::Sender::new(Phase::Pending)))
                .collect(),
            waited,
            timeout,
            rewritten,
            prober: Prober::for_engine(engine)?,
            began,
            changed: AtomicUsize::new(0),
            on_event: Mutex::new(on_event),
        };
        let ready = futures_util::future::try_join_all(order.iter().map(|s| run.service(s)))
            .await?
            .into_iter()
            .flatten()
            .collect();
        Ok(UpReport {
            urls: self.published_urls(engine, &order).await?,
            changed: run.changed.into_inner(),
            services: order,
            ready,
        })
    }

    /// Checks, before anything touches the engine, the secrets `up` would need for
    /// `requested` (every enabled service when empty): each service's `x-mmkt-secrets`
    /// ([`super::required_secrets`]) and its rendered config ([`super::receivers`]). `up`
    /// checks the same; a caller that writes anything before `up` (a bootstrap certificate)
    /// calls this first.
    ///
    /// # Errors
    /// [`StackError::SecretsMissing`], [`StackError::SecretMalformed`], [`StackError::Invalid`]
    /// (unknown service, a bad template), [`StackError::Read`] (the template).
    pub fn check_secrets(&self, requested: &[String]) -> Result<(), StackError> {
        self.check_secrets_of(&self.selection(requested)?).map(drop)
    }

    /// [`Project::check_secrets`] for the services of `order`, returning the rendered configs.
    fn check_secrets_of(&self, order: &[String]) -> Result<Vec<PendingConfig>, StackError> {
        super::required_secrets::check(&self.compose, order)?;
        self.render_configs(order)
    }

    /// Every service but the one-shot jobs others wait on to complete.
    fn waited_all(&self, order: &[String]) -> BTreeSet<String> {
        let jobs = self.dependencies_with(order, "service_completed_successfully");
        order
            .iter()
            .filter(|s| !jobs.contains(*s))
            .cloned()
            .collect()
    }

    /// The services a `service_healthy` dependency names.
    fn waited_as_dependencies(&self, order: &[String]) -> BTreeSet<String> {
        self.dependencies_with(order, "service_healthy")
    }

    fn dependencies_with(&self, order: &[String], condition: &str) -> BTreeSet<String> {
        order
            .iter()
            .flat_map(|s| self.compose.file.services[s].dependencies())
            .filter(|(_, c)| c == condition)
            .map(|(dep, _)| dep)
            .collect()
    }

    /// Checks, without creating anything, that every image of the requested services (and
    /// their dependencies) is present and every plan and probe is valid: what [`Project::up`]
    /// checks first, for callers that write into the project's volumes before `up`.
    ///
    /// Engine API: `GET /images/{name}/json`.
    ///
    /// # Errors
    /// [`StackError::ImageMissing`], [`StackError::Invalid`], [`StackError::Engine`].
    pub async fn check_images(
        &self,
        engine: &Engine,
        requested: &[String],
    ) -> Result<(), StackError> {
        let order = self.selection(requested)?;
        self.preflight(engine, &order).await.map(|_| ())
    }

    /// Every image present, every plan and probe valid; nothing is created before this.
    async fn preflight(
        &self,
        engine: &Engine,
        order: &[String],
    ) -> Result<(BTreeMap<String, ContainerPlan>, BTreeMap<String, ProbeSpec>), StackError> {
        let mut plans = BTreeMap::new();
        let mut probes = BTreeMap::new();
        for svc in order {
            let service = &self.compose.file.services[svc];
            let image = service.image_ref().to_string();
            let image_id = match engine.docker().inspect_image(&image).await {
                Ok(info) => info.id.unwrap_or_default(),
                Err(e) if is_not_found(&e) => {
                    return Err(StackError::ImageMissing {
                        service: svc.clone(),
                        image,
                    });
                }
                Err(e) => return Err(engine.err(format!("inspect image {image}"), e)),
            };
            plans.insert(
                svc.clone(),
                plan_service(&self.compose, &self.name, svc, &image_id)?,
            );
            let probe: Option<ProbeSpec> = service.extension("x-mmkt-probe")?;
            if let Some(probe) = probe {
                probes.insert(svc.clone(), probe);
            }
        }
        for net in self.networks_of(order) {
            self.check_owned_network(engine, &net).await?;
        }
        Ok((plans, probes))
    }

    /// The project networks the services join.
    fn networks_of(&self, order: &[String]) -> BTreeSet<String> {
        order
            .iter()
            .flat_map(|s| self.compose.file.services[s].network_names())
            .collect()
    }

    /// Creates the missing networks and named volumes of the services, concurrently.
    async fn create_objects(
        &self,
        engine: &Engine,
        order: &[String],
        on_event: &mut (dyn FnMut(UpEvent) + Send),
    ) -> Result<(), StackError> {
        let volumes: BTreeSet<String> = order
            .iter()
            .flat_map(|s| self.compose.file.services[s].volumes.iter())
            .filter_map(|v| match super::spec::parse_volume(v) {
                Ok(super::spec::VolumeSpec {
                    source: super::spec::MountSource::Named(n),
                    ..
                }) => Some(n),
                _ => None,
            })
            .collect();
        // All at once: each is a round trip to the engine, and none needs another.
        let networks = self
            .networks_of(order)
            .into_iter()
            .map(|n| (ObjectKind::Network, n));
        let objects: Vec<(ObjectKind, String)> = networks
            .chain(volumes.into_iter().map(|v| (ObjectKind::Volume, v)))
            .collect();
        let created = futures_util::future::try_join_all(
            objects
                .iter()
                .map(|(kind, name)| self.ensure_object(engine, *kind, name)),
        )
        .await?;
        for ((kind, name), created) in objects.iter().zip(created) {
            if !created {
                continue;
            }
            let full = scoped(&self.name, name);
            on_event(match kind {
                ObjectKind::Network => UpEvent::NetworkCreated(full),
                ObjectKind::Volume => UpEvent::VolumeCreated(full),
            });
        }
        Ok(())
    }

    /// Makes one service's container match its plan. Returns what was done.
    async fn converge(&self, engine: &Engine, plan: &ContainerPlan) -> Result<UpEvent, StackError> {
        let svc = &plan.service;
        let existing = engine.find_service_container(&self.name, svc).await?;
        if let Some(c) = &existing {
            let id = c.id.clone().unwrap_or_default();
            if labels::of(c, labels::CONFIG_HASH) == plan.config_hash {
                let running = c.state.map(|s| s.to_string() == "running").unwrap_or(false);
                if running {
                    return Ok(UpEvent::Unchanged(svc.clone()));
                }
                engine
                    .docker()
                    .start_container(&id, None)
                    .await
                    .map_err(|e| engine.err(format!("start {svc}"), e))?;
                return Ok(UpEvent::Started(svc.clone()));
            }
            stop_and_remove(engine, &id, svc).await?;
        }
        engine.start_planned(plan).await?;
        Ok(if existing.is_some() {
            UpEvent::Recreated(svc.clone())
        } else {
            UpEvent::Created(svc.clone())
        })
    }
}

/// Polls a one-shot container once a second until it exited with code 0.
async fn wait_exited_ok(
    engine: &Engine,
    service: &str,
    id: &str,
    timeout: Duration,
) -> Result<(), StackError> {
    let deadline = Instant::now() + timeout;
    loop {
        let st = ContainerStatus::from_inspect(&engine.inspect(id).await?);
        if st.state == "exited" {
            return match st.exit_code {
                Some(0) => Ok(()),
                code => Err(StackError::ServiceFailed {
                    service: service.into(),
                    detail: format!("exited with code {}", code.unwrap_or(-1)),
                }),
            };
        }
        if Instant::now() >= deadline {
            return Err(StackError::Timeout {
                service: service.into(),
                wanted: "completed".into(),
                seconds: timeout.as_secs(),
                last: st.describe(),
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
