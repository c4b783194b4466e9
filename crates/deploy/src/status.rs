//! `deploy status`: the lock, the server containers and the last recorded run of a project.

use mmkt_stack::Engine;

use crate::error::DeployError;
use crate::history::{History, HistoryEntry};
use crate::lock::{LockInfo, lock_holder};
use crate::target::{Running, running_servers};

/// The deploy state of one project.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeployStatus {
    /// The compose project.
    pub project: String,
    /// Who holds the deploy lock, if anyone.
    pub lock: Option<LockInfo>,
    /// The running server containers (one, except during a switch).
    pub servers: Vec<crate::report::Release>,
    /// The newest history entry.
    pub last: Option<HistoryEntry>,
}

/// Reads the deploy state of `project`.
///
/// Engine API: `GET /volumes/{name}`, `GET /containers/json`, `GET /containers/{id}/json`
/// and the history read (see [`History::entries`]).
///
/// # Errors
/// [`DeployError::Engine`], [`DeployError::History`].
pub async fn status(engine: &Engine, project: &str) -> Result<DeployStatus, DeployError> {
    let lock = lock_holder(engine, project).await?;
    let running = running_servers(engine, project).await?;
    let last = match running.first() {
        Some(Running { release, .. }) => History::new(engine, project, &release.image_id)
            .entries()
            .await?
            .pop(),
        None => None,
    };
    Ok(DeployStatus {
        project: project.to_string(),
        lock,
        servers: running.into_iter().map(|r| r.release).collect(),
        last,
    })
}
