//! The blue/green switch shared by deploy and rollback: start green from its plan without
//! the networks it shares with nginx (so the `server` name nginx resolves per request still
//! means blue only, and nginx needs no pin; pinned to blue's IP instead when green's first
//! network is one of nginx's), wait for `/ready`, smoke it, connect those networks and pin
//! nginx to green's IP there (kept-alive connections), move the runner lease, watch green's
//! 5xx rate (rolling back to blue, still running, on a breach), drain and remove blue, and
//! unpin nginx: two nginx reloads per deploy. Any failure before the switch completes removes
//! green and leaves blue serving.

use std::time::Duration;

use mmkt_stack::Engine;
use mmkt_stack::spec::ContainerPlan;

use crate::error::DeployError;
use crate::lease::{Handover, hand_over};
use crate::nginx::{Upstream, nginx_address, nginx_container, nginx_networks, point};
use crate::report::{DeployOutcome, Step, StepStatus, Steps};
use crate::settings::DeploySettings;
use crate::target::{Running, smoke, wait_ready};
use crate::watch::{Verdict, watch};

/// The server port nginx reaches a container on: that of its `MMKT_BIND` (8080 without one).
pub fn server_port(plan: &ContainerPlan) -> u16 {
    plan.body
        .env
        .iter()
        .flatten()
        .find_map(|e| e.strip_prefix("MMKT_BIND="))
        .and_then(|b| b.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(8080)
}

/// Whether blue still serves when the switch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlueState {
    /// Blue serves until the switch (a deploy, a rollback that keeps the database).
    Serving,
    /// Blue was stopped for a `--restore-db` rollback: there is no running version to fall
    /// back to, so the watch is skipped and blue is removed without a drain.
    Stopped,
}

/// `plan` without the extra networks nginx is on (`shared`, full names), and those networks
/// with their aliases, to connect once green passed its checks.
fn defer_networks(
    plan: &ContainerPlan,
    shared: &[String],
) -> (ContainerPlan, Vec<(String, Vec<String>)>) {
    let mut plan = plan.clone();
    let (deferred, kept) = std::mem::take(&mut plan.extra_networks)
        .into_iter()
        .partition(|(net, _)| shared.contains(net));
    plan.extra_networks = kept;
    (plan, deferred)
}

/// Whether green is on a network of nginx from its start (its create-time network is one).
fn visible_at_start(plan: &ContainerPlan, shared: &[String]) -> bool {
    plan.body
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.as_ref())
        .is_some_and(|e| e.keys().any(|net| shared.contains(net)))
}

/// One switch from `blue` to the container `plan` describes.
pub(crate) struct Switch<'a> {
    pub engine: &'a Engine,
    pub project: &'a str,
    pub settings: &'a DeploySettings,
    pub blue: &'a Running,
    pub blue_state: BlueState,
    pub plan: &'a ContainerPlan,
}

impl Switch<'_> {
    /// Runs the steps Pin..Unpin, reporting each in `steps`.
    ///
    /// # Errors
    /// The failing step's error, after green was removed (blue keeps serving).
    pub async fn run(&self, steps: &mut Steps<'_>) -> Result<DeployOutcome, DeployError> {
        let engine = self.engine;
        let port = server_port(self.plan);
        let green = &self.plan.name;
        let nginx = nginx_container(engine, self.project).await?;
        let shared = match &nginx {
            Some(n) => nginx_networks(engine, n).await?,
            None => Vec::new(),
        };
        let (plan, deferred) = defer_networks(self.plan, &shared);

        steps.start(Step::Pin);
        // Blue by its IP on nginx's network; the service name when it has none (a blue stopped
        // for `--restore-db`: once green is gone, the name means blue again).
        let blue_pin = match nginx_address(engine, &self.blue.id, &shared, port).await? {
            Some(address) => Upstream::Pinned {
                container: &self.blue.release.container,
                address,
            },
            None => Upstream::Service,
        };
        // nginx as far as it must be unpinned when green is abandoned before the switch.
        let pinned = match &nginx {
            Some(n) if visible_at_start(&plan, &shared) => {
                let Upstream::Pinned { address, .. } = blue_pin else {
                    return Err(DeployError::Stack(format!(
                        "green would join nginx's network at its start, but {} has no address there to pin nginx to: put the compose `server` service on a network nginx is not on first (deploy/docker-compose.yml)",
                        self.blue.release.container
                    )));
                };
                point(engine, n, blue_pin).await?;
                steps.end(
                    StepStatus::Ok,
                    format!(
                        "nginx pinned to {} at {address}",
                        self.blue.release.container
                    ),
                );
                Some(n.as_str())
            }
            Some(_) => {
                steps.end(
                    StepStatus::Skipped,
                    format!(
                        "green joins nginx's network(s) {} only after its checks: no pin needed",
                        deferred
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                None
            }
            None => {
                steps.end(StepStatus::Skipped, "no running nginx container");
                None
            }
        };

        steps.start(Step::Green);
        let green_id = match engine.start_planned(&plan).await {
            Ok(id) => id,
            Err(e) => {
                let _ = engine.remove_container(green, green).await;
                self.unpin(pinned).await;
                return Err(e.into());
            }
        };
        steps.end(
            StepStatus::Ok,
            format!(
                "started {green} ({})",
                self.plan.body.image.as_deref().unwrap_or("")
            ),
        );

        steps.start(Step::Ready);
        let timeout = Duration::from_secs(self.settings.ready_timeout_secs);
        if let Err(e) = wait_ready(engine, &green_id, green, timeout).await {
            return Err(self.abandon(pinned, &green_id, e).await);
        }
        steps.end(StepStatus::Ok, "GET /ready 200");

        steps.start(Step::Smoke);
        match smoke(engine, &green_id, green).await {
            Ok(passed) => steps.end(StepStatus::Ok, passed),
            Err(e) => return Err(self.abandon(pinned, &green_id, e).await),
        }

        steps.start(Step::Switch);
        if let Err(e) = engine.connect_networks(&green_id, green, &deferred).await {
            return Err(self.abandon(pinned, &green_id, e.into()).await);
        }
        match &nginx {
            Some(n) => {
                let address = match nginx_address(engine, &green_id, &shared, port).await {
                    Ok(Some(address)) => address,
                    Ok(None) => {
                        let e = DeployError::Stack(format!(
                            "{green} has no address on nginx's network(s) {} after joining them: check `docker network inspect`",
                            shared.join(", ")
                        ));
                        return Err(self.abandon(pinned, &green_id, e).await);
                    }
                    Err(e) => return Err(self.abandon(pinned, &green_id, e).await),
                };
                let pin = Upstream::Pinned {
                    container: green,
                    address,
                };
                if let Err(e) = point(engine, n, pin).await {
                    let _ = point(engine, n, blue_pin).await;
                    return Err(self.abandon(nginx.as_deref(), &green_id, e).await);
                }
                steps.end(
                    StepStatus::Ok,
                    format!(
                        "nginx -t ok, reloaded: traffic goes to {green} at {address} (kept-alive connections)"
                    ),
                );
            }
            None => steps.end(StepStatus::Skipped, "no running nginx container"),
        }

        steps.start(Step::Lease);
        let lease_timeout = Duration::from_secs(self.settings.lease_timeout_secs);
        match hand_over(engine, &self.blue.id, &green_id, lease_timeout).await {
            Ok(Handover::Moved) => steps.end(
                StepStatus::Ok,
                format!("{green} holds the escrow runner lease"),
            ),
            Ok(Handover::Disabled) => steps.end(
                StepStatus::Skipped,
                "escrow runner disabled (no wallet-rpc configured)",
            ),
            Err(e) => {
                self.back_to_blue(nginx.as_deref(), blue_pin, &green_id)
                    .await;
                return Err(self.abandon(nginx.as_deref(), &green_id, e).await);
            }
        }

        steps.start(Step::Watch);
        if self.blue_state == BlueState::Stopped {
            steps.end(
                StepStatus::Skipped,
                "blue is stopped (--restore-db): no running version to fall back to",
            );
        } else if self.settings.watch_secs > 0 {
            match watch(engine, &green_id, self.settings).await? {
                Verdict::Healthy(c) => steps.end(
                    StepStatus::Ok,
                    format!(
                        "{} s: {} of {} requests answered 5xx",
                        self.settings.watch_secs, c.errors, c.total
                    ),
                ),
                Verdict::Breached(reason) => {
                    steps.end(StepStatus::Failed, reason.clone());
                    steps.start(Step::Rollback);
                    self.back_to_blue(nginx.as_deref(), blue_pin, &green_id)
                        .await;
                    let _ = engine.remove_container(&green_id, green).await;
                    self.unpin(nginx.as_deref()).await;
                    steps.end(
                        StepStatus::Ok,
                        format!(
                            "traffic and lease back on {}; {green} removed",
                            self.blue.release.container
                        ),
                    );
                    return Ok(DeployOutcome::RolledBack { reason });
                }
            }
        } else {
            steps.end(StepStatus::Skipped, "MMKT_DEPLOY_WATCH_SECS=0");
        }

        steps.start(Step::Drain);
        let drain_secs = match self.blue_state {
            BlueState::Serving => self.settings.drain_secs,
            BlueState::Stopped => 0,
        };
        tokio::time::sleep(Duration::from_secs(drain_secs)).await;
        engine
            .remove_container(&self.blue.id, &self.blue.release.container)
            .await?;
        steps.end(
            StepStatus::Ok,
            format!(
                "{} stopped and removed after {} s; image {} kept",
                self.blue.release.container, drain_secs, self.blue.release.version
            ),
        );

        steps.start(Step::Unpin);
        match &nginx {
            Some(n) => {
                point(engine, n, Upstream::Service).await?;
                steps.end(StepStatus::Ok, "nginx back on the service name");
            }
            None => steps.end(StepStatus::Skipped, "no running nginx container"),
        }
        Ok(DeployOutcome::Deployed)
    }

    /// Traffic and lease back to blue (best effort). A stopped blue gets only the traffic:
    /// it takes the lease itself once started again.
    async fn back_to_blue(&self, nginx: Option<&str>, blue_pin: Upstream<'_>, green_id: &str) {
        if let Some(n) = nginx {
            let _ = point(self.engine, n, blue_pin).await;
        }
        if self.blue_state == BlueState::Stopped {
            return;
        }
        let timeout = Duration::from_secs(self.settings.lease_timeout_secs);
        let _ = hand_over(self.engine, green_id, &self.blue.id, timeout).await;
    }

    /// Removes green and unpins nginx (best effort), then gives back `e`.
    async fn abandon(&self, nginx: Option<&str>, green_id: &str, e: DeployError) -> DeployError {
        let _ = self
            .engine
            .remove_container(green_id, &self.plan.name)
            .await;
        self.unpin(nginx).await;
        e
    }

    /// nginx back on the service name (best effort).
    async fn unpin(&self, nginx: Option<&str>) {
        if let Some(n) = nginx {
            let _ = point(self.engine, n, Upstream::Service).await;
        }
    }
}
