//! The blue/green switch shared by deploy and rollback: start green from its plan without
//! the networks it shares with nginx (so the `server` name the relay resolves per request
//! still means blue only; nginx pinned to blue's IP first when green's first network is one
//! of nginx's), wait for `/ready`, smoke it, connect those networks and pin nginx to green's
//! IP there (kept-alive connections), move the runner lease, watch green's 5xx rate (rolling
//! back to blue, still running, on a breach), drain and remove blue. The run ends with nginx
//! pinned, the steady state `mmctl up` keeps too: to green, or to blue when it rolled back or
//! failed (one nginx reload per deploy). Any failure before the switch completes removes green
//! and leaves blue serving.

use std::time::Duration;

use mmkt_stack::Engine;
use mmkt_stack::spec::ContainerPlan;

use crate::error::DeployError;
use crate::lease::{Handover, hand_over};
use crate::nginx::{
    PinChange, Upstream, ensure, nginx_container, nginx_networks, point, server_address,
};
use crate::report::{DeployOutcome, Step, StepStatus, Steps};
use crate::settings::DeploySettings;
use crate::target::{Running, smoke, wait_ready};
use crate::watch::{Verdict, watch};

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
    /// Runs the steps Pin..Drain, reporting each in `steps`.
    ///
    /// # Errors
    /// The failing step's error, after green was removed (blue keeps serving).
    pub async fn run(&self, steps: &mut Steps<'_>) -> Result<DeployOutcome, DeployError> {
        let engine = self.engine;
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
        let blue_pin = match server_address(engine, &self.blue.id, &shared).await? {
            Some(address) => Upstream::Pinned {
                container: &self.blue.release.container,
                address,
            },
            None => Upstream::Service,
        };
        let nginx = nginx.as_deref();
        match nginx {
            Some(n) if visible_at_start(&plan, &shared) => {
                let Upstream::Pinned { address, .. } = blue_pin else {
                    return Err(DeployError::Stack(format!(
                        "green would join nginx's network at its start, but {} has no address there to pin nginx to: put the compose `server` service on a network nginx is not on first (deploy/docker-compose.yml)",
                        self.blue.release.container
                    )));
                };
                let already = match ensure(engine, n, blue_pin).await? {
                    PinChange::Written => "",
                    PinChange::Unchanged => " (already)",
                };
                steps.end(
                    StepStatus::Ok,
                    format!(
                        "nginx pinned to {} at {address}{already}",
                        self.blue.release.container
                    ),
                );
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
            }
            None => steps.end(StepStatus::Skipped, "no running nginx container"),
        }

        steps.start(Step::Green);
        let green_id = match engine.start_planned(&plan).await {
            Ok(id) => id,
            Err(e) => return Err(self.abandon(nginx, blue_pin, green, e.into()).await),
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
            return Err(self.abandon(nginx, blue_pin, &green_id, e).await);
        }
        steps.end(StepStatus::Ok, "GET /ready 200");

        steps.start(Step::Smoke);
        match smoke(engine, &green_id, green).await {
            Ok(passed) => steps.end(StepStatus::Ok, passed),
            Err(e) => return Err(self.abandon(nginx, blue_pin, &green_id, e).await),
        }

        steps.start(Step::Switch);
        if let Err(e) = engine.connect_networks(&green_id, green, &deferred).await {
            return Err(self.abandon(nginx, blue_pin, &green_id, e.into()).await);
        }
        match nginx {
            Some(n) => {
                let address = match server_address(engine, &green_id, &shared).await {
                    Ok(Some(address)) => address,
                    Ok(None) => {
                        let e = DeployError::Stack(format!(
                            "{green} has no address on nginx's network(s) {} after joining them: check `docker network inspect`",
                            shared.join(", ")
                        ));
                        return Err(self.abandon(nginx, blue_pin, &green_id, e).await);
                    }
                    Err(e) => return Err(self.abandon(nginx, blue_pin, &green_id, e).await),
                };
                let pin = Upstream::Pinned {
                    container: green,
                    address,
                };
                if let Err(e) = point(engine, n, pin).await {
                    return Err(self.abandon(nginx, blue_pin, &green_id, e).await);
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
                self.back_to_blue(nginx, blue_pin, &green_id).await;
                return Err(self.abandon(nginx, blue_pin, &green_id, e).await);
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
                    self.back_to_blue(nginx, blue_pin, &green_id).await;
                    let _ = engine.remove_container(&green_id, green).await;
                    steps.end(
                        StepStatus::Ok,
                        format!(
                            "traffic (nginx pinned to it) and lease back on {}; {green} removed",
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

    /// Removes green and leaves nginx pinned to blue (`blue_pin`, written only when the pin
    /// files hold something else; best effort), then gives back `e`.
    async fn abandon(
        &self,
        nginx: Option<&str>,
        blue_pin: Upstream<'_>,
        green_id: &str,
        e: DeployError,
    ) -> DeployError {
        let _ = self
            .engine
            .remove_container(green_id, &self.plan.name)
            .await;
        if let Some(n) = nginx {
            let _ = ensure(self.engine, n, blue_pin).await;
        }
        e
    }
}
