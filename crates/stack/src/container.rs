//! Single containers outside `up`'s reconciliation: start one from a [`ContainerPlan`] (also
//! a second container of a service under another name, as a blue/green deploy does), stop and
//! remove one by ID, and list the containers of a service with their inspect data.

use bollard::models::{ContainerInspectResponse, NetworkConnectRequest};
use bollard::query_parameters::{CreateContainerOptionsBuilder, StopContainerOptionsBuilder};

use super::engine::Engine;
use super::error::{StackError, is_not_found};
use super::spec::ContainerPlan;
use super::stack::{Removal, stop_and_remove};

/// A container's inspect data (`GET /containers/{id}/json`), as the engine returns it.
pub type Inspect = ContainerInspectResponse;

/// What [`Engine::stop_container`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerStop {
    /// The container was running and is now stopped.
    Stopped,
    /// It was not running (or no longer exists); nothing was done.
    NotRunning,
}

impl Engine {
    /// Creates the container `plan` describes (its name, first network and aliases), connects
    /// its other networks and starts it; returns the new container's ID.
    ///
    /// Engine API: `POST /containers/create?name=...`, `POST /networks/{id}/connect`,
    /// `POST /containers/{id}/start`.
    ///
    /// # Errors
    /// [`StackError::Engine`] (409 when the name is taken; a container created before a later
    /// step failed is left for the caller to remove), [`StackError::Unreachable`].
    pub async fn start_planned(&self, plan: &ContainerPlan) -> Result<String, StackError> {
        let id = self.create_planned(plan).await?;
        self.start_created(&id, &plan.name).await?;
        Ok(id)
    }

    /// Creates the container `plan` describes and connects its other networks, without
    /// starting it (see [`Engine::start_created`]); returns its ID.
    ///
    /// Engine API: `POST /containers/create?name=...`, `POST /networks/{id}/connect`.
    ///
    /// # Errors
    /// As [`Engine::start_planned`].
    pub async fn create_planned(&self, plan: &ContainerPlan) -> Result<String, StackError> {
        let opts = CreateContainerOptionsBuilder::default()
            .name(&plan.name)
            .build();
        let created = self
            .docker()
            .create_container(Some(opts), plan.body.clone())
            .await
            .map_err(|e| self.err(format!("create container {}", plan.name), e))?;
        self.connect_networks(&created.id, &plan.name, &plan.extra_networks)
            .await?;
        Ok(created.id)
    }

    /// Starts container `id` (`POST /containers/{id}/start`); `name` is for messages.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn start_created(&self, id: &str, name: &str) -> Result<(), StackError> {
        self.docker()
            .start_container(id, None)
            .await
            .map_err(|e| self.err(format!("start container {name}"), e))
    }

    /// Connects container `id` to each network (full name) with its aliases, as
    /// [`ContainerPlan::extra_networks`] lists them; a running container becomes resolvable
    /// there by those aliases at once. `name` is for messages.
    ///
    /// Engine API: `POST /networks/{id}/connect`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn connect_networks(
        &self,
        id: &str,
        name: &str,
        networks: &[(String, Vec<String>)],
    ) -> Result<(), StackError> {
        for (net, aliases) in networks {
            let req = NetworkConnectRequest {
                container: id.to_string(),
                endpoint_config: Some(bollard::models::EndpointSettings {
                    aliases: Some(aliases.clone()),
                    ..Default::default()
                }),
            };
            self.docker()
                .connect_network(net, req)
                .await
                .map_err(|e| self.err(format!("connect {name} to network {net}"), e))?;
        }
        Ok(())
    }

    /// Stops a container (SIGTERM, SIGKILL after the longer of 30 s and its own stop timeout)
    /// and removes it; a container that no longer exists is not an error. `name` is for
    /// messages.
    ///
    /// Engine API: `POST /containers/{id}/stop`, `DELETE /containers/{id}?force=1`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn remove_container(&self, id: &str, name: &str) -> Result<(), StackError> {
        match stop_and_remove(self, id, name).await? {
            Removal::Removed | Removal::AlreadyGone => Ok(()),
        }
    }

    /// Stops a container gracefully within `timeout_secs` (SIGTERM, then SIGKILL), keeping it.
    ///
    /// Engine API: `POST /containers/{id}/stop?t=N`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn stop_container(
        &self,
        id: &str,
        timeout_secs: u32,
    ) -> Result<ContainerStop, StackError> {
        let opts = StopContainerOptionsBuilder::default()
            .t(i32::try_from(timeout_secs).unwrap_or(i32::MAX))
            .build();
        match self.docker().stop_container(id, Some(opts)).await {
            Ok(()) => Ok(ContainerStop::Stopped),
            Err(e) if is_not_found(&e) => Ok(ContainerStop::NotRunning),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(ContainerStop::NotRunning),
            Err(e) => Err(self.err(format!("stop container {id}"), e)),
        }
    }

    /// Every container of `service` in `project` (running or not) with its inspect data,
    /// oldest first (by creation time).
    ///
    /// Engine API: `GET /containers/json?all=1&filters=...`, `GET /containers/{id}/json`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn service_containers(
        &self,
        project: &str,
        service: &str,
    ) -> Result<Vec<ContainerInspectResponse>, StackError> {
        let mut out = Vec::new();
        for summary in self.project_containers(project, Some(service)).await? {
            let Some(id) = summary.id else { continue };
            match self.inspect(&id).await {
                Ok(info) => out.push(info),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(created_at);
        Ok(out)
    }

    /// The ID of the oldest running container of `service` in `project`, if any (e.g. the
    /// nginx that `mmctl deploy` and `mmctl tls renew` reload).
    ///
    /// Engine API: as [`Engine::service_containers`].
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn running_service_container(
        &self,
        project: &str,
        service: &str,
    ) -> Result<Option<String>, StackError> {
        for info in self.service_containers(project, service).await? {
            let status = super::engine::ContainerStatus::from_inspect(&info);
            if status.state == "running" {
                return Ok(Some(status.id));
            }
        }
        Ok(None)
    }
}

/// When a container was created (its RFC 3339 `Created`), for ordering; `None` when unknown.
pub fn created_at(info: &ContainerInspectResponse) -> Option<time::OffsetDateTime> {
    let created = info.created.as_deref()?;
    time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).ok()
}
