//! The deploy lock of a compose project: a labelled volume `{project}_deploy-lock` on the
//! target engine. The engine creates a volume name once and returns the existing volume for
//! later creates, so taking the lock is one atomic Engine API call (`POST /volumes/create`):
//! whoever gets its own token back holds it. `mmctl deploy unlock` removes a stale one.

use std::collections::HashMap;

use mmkt_stack::Engine;
use mmkt_stack::labels;
use mmkt_stack::volume::VolumeRemoval;

use crate::error::DeployError;
use crate::report::now_rfc3339;

/// Label: the random token of the lock's holder.
pub const TOKEN_LABEL: &str = "org.mmkt.deploy.lock-token";
/// Label: who holds the lock (`user@host`).
pub const HOLDER_LABEL: &str = "org.mmkt.deploy.holder";
/// Label: when the lock was taken (RFC 3339).
pub const SINCE_LABEL: &str = "org.mmkt.deploy.since";
/// Label: what the holder does (`deploy v2`).
pub const ACTION_LABEL: &str = "org.mmkt.deploy.action";

/// The lock volume's name for `project`.
pub fn lock_volume(project: &str) -> String {
    format!("{project}_deploy-lock")
}

/// Who holds a lock, as its labels say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockInfo {
    /// `user@host` of the holder.
    pub holder: String,
    /// When it was taken (RFC 3339).
    pub since: String,
    /// What the holder does.
    pub action: String,
}

impl LockInfo {
    fn from_labels(l: &HashMap<String, String>) -> Self {
        let get = |k: &str| l.get(k).cloned().unwrap_or_else(|| "unknown".into());
        LockInfo {
            holder: get(HOLDER_LABEL),
            since: get(SINCE_LABEL),
            action: get(ACTION_LABEL),
        }
    }
}

/// A held deploy lock; [`DeployLock::release`] removes it (it is not released on drop: an
/// interrupted run leaves it for `mmctl deploy unlock`).
#[derive(Debug)]
pub struct DeployLock {
    volume: String,
}

impl DeployLock {
    /// Takes the lock of `project` for `holder` doing `action`.
    ///
    /// Engine API: `POST /volumes/create` with the labels above.
    ///
    /// # Errors
    /// [`DeployError::LockHeld`] naming the holder and the start time when another run holds
    /// it; [`DeployError::Engine`].
    pub async fn acquire(
        engine: &Engine,
        project: &str,
        holder: &str,
        action: &str,
    ) -> Result<DeployLock, DeployError> {
        let volume = lock_volume(project);
        let token = uuid::Uuid::new_v4().to_string();
        let wanted = HashMap::from([
            (labels::PROJECT.to_string(), project.to_string()),
            (labels::CREATED_BY.to_string(), "mmctl".to_string()),
            (TOKEN_LABEL.to_string(), token.clone()),
            (HOLDER_LABEL.to_string(), holder.to_string()),
            (SINCE_LABEL.to_string(), now_rfc3339()),
            (ACTION_LABEL.to_string(), action.to_string()),
        ]);
        let got = engine.create_or_get_volume(&volume, wanted).await?;
        if got.get(TOKEN_LABEL) == Some(&token) {
            return Ok(DeployLock { volume });
        }
        let info = LockInfo::from_labels(&got);
        Err(DeployError::LockHeld {
            project: project.to_string(),
            holder: info.holder,
            since: info.since,
            action: info.action,
        })
    }

    /// Releases the lock (`DELETE /volumes/{name}`).
    ///
    /// # Errors
    /// [`DeployError::Engine`].
    pub async fn release(self, engine: &Engine) -> Result<(), DeployError> {
        engine.remove_volume(&self.volume).await?;
        Ok(())
    }
}

/// Who holds the lock of `project`, if anyone (`GET /volumes/{name}`).
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn lock_holder(engine: &Engine, project: &str) -> Result<Option<LockInfo>, DeployError> {
    Ok(engine
        .volume_labels(&lock_volume(project))
        .await?
        .map(|l| LockInfo::from_labels(&l)))
}

/// What `mmctl deploy unlock` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlock {
    /// A lock was held (by this holder) and is removed.
    Cleared(LockInfo),
    /// No lock was held.
    NotHeld,
}

/// Clears the lock of `project` whoever holds it (a stale lock of an interrupted run).
///
/// Engine API: `GET /volumes/{name}`, `DELETE /volumes/{name}`.
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn unlock(engine: &Engine, project: &str) -> Result<Unlock, DeployError> {
    let Some(info) = lock_holder(engine, project).await? else {
        return Ok(Unlock::NotHeld);
    };
    Ok(match engine.remove_volume(&lock_volume(project)).await? {
        VolumeRemoval::Removed => Unlock::Cleared(info),
        VolumeRemoval::NotFound => Unlock::NotHeld,
    })
}
