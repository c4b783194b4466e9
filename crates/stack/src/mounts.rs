//! Where a running service's files are on the engine's host: the host path behind one of a
//! service container's mounts (a named volume's `Mountpoint` or a bind mount's source), for
//! tools that read those files directly, such as `mmctl backup db`.

use std::path::PathBuf;

use super::engine::Engine;
use super::error::StackError;

/// One mount of a service container, seen from the engine's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    /// The host directory behind the mount (`Mounts[].Source`: a named volume's
    /// `Mountpoint`, e.g. `/var/lib/docker/volumes/mmkt_server-data/_data`).
    pub host_path: PathBuf,
    /// The named volume, when the mount is one (`Mounts[].Name`, e.g. `mmkt_server-data`).
    pub volume: Option<String>,
}

/// Why a mount's host path could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountLookup {
    /// The mount, on this host.
    Found(HostMount),
    /// The project has no container for the service (the stack is not up).
    NoContainer,
    /// The container has no mount at that path inside it.
    NoMount,
    /// The engine runs on another host: its paths are not this host's.
    RemoteEngine,
}

impl Engine {
    /// Whether the engine runs on this host (a `unix://` socket), so the host paths it
    /// reports are this host's files.
    pub fn is_local(&self) -> bool {
        self.endpoint().starts_with("unix://")
    }

    /// The host path of the mount at `destination` (an absolute path inside the container)
    /// in `project`'s container of `service`, running or stopped.
    ///
    /// Engine API: `GET /containers/json` (by compose labels), `GET /containers/{id}/json`
    /// (`Mounts[]`: `Destination`, `Source`, `Name`).
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn service_mount(
        &self,
        project: &str,
        service: &str,
        destination: &str,
    ) -> Result<MountLookup, StackError> {
        if !self.is_local() {
            return Ok(MountLookup::RemoteEngine);
        }
        let Some(id) = self
            .find_service_container(project, service)
            .await?
            .and_then(|c| c.id)
        else {
            return Ok(MountLookup::NoContainer);
        };
        let info = self.inspect(&id).await?;
        let mount = info
            .mounts
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.destination.as_deref() == Some(destination));
        let Some(source) = mount.as_ref().and_then(|m| m.source.clone()) else {
            return Ok(MountLookup::NoMount);
        };
        Ok(MountLookup::Found(HostMount {
            host_path: PathBuf::from(source),
            volume: mount.and_then(|m| m.name),
        }))
    }
}
