//! The server's SQLCipher key file provisioned from a secret at `up`: written into the
//! `server-key` volume as `db.key` (mode 0600, owned by the server's `user:`) through a
//! never-started helper container and the archive endpoint, so the key appears in no
//! container's environment or command line; only when the volume has no key file yet. A
//! different key already there is reported, never overwritten (the database would become
//! unreadable).

use std::collections::HashMap;

use crate::engine::Engine;
use crate::error::StackError;
use crate::labels;
use crate::spec::{MountSource, parse_volume, scoped};
use crate::stack::{ObjectKind, Project};
use crate::volume::VolumeFile;

/// The service whose key file this is.
pub const SERVER_SERVICE: &str = "server";
/// The named volume (compose name) the server mounts its key directory from (`/app/key`).
pub const KEY_VOLUME: &str = "server-key";
/// The key file's name in that volume (the server's `MMKT_DB_KEY_FILE` is `/app/key/db.key`).
pub const KEY_FILE: &str = "db.key";
/// The key file's mode.
pub const KEY_FILE_MODE: u32 = 0o600;

/// What [`provision`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyProvision {
    /// The volume had no key file; it has the given key now.
    Written,
    /// The volume's key file holds the given key already.
    Unchanged,
    /// The volume's key file holds another key: nothing was written (the caller refuses).
    Differs,
    /// The project has no `server` service (nothing to provision).
    NoServer,
    /// The server's image is not built yet (the helper is made from it): nothing written.
    NoImage,
}

/// Writes `key_hex` (the key file's text: 64 lowercase hex characters, checked by the caller
/// against the key-file format) as `db.key` in the project's `server-key` volume, creating
/// the volume when missing, unless a key file is there: the same key is [`KeyProvision::Unchanged`],
/// another (or an unreadable one) [`KeyProvision::Differs`]. The file is mode 0600, owned by
/// the numeric `user:` of the `server` service (root without one).
///
/// Engine API: `GET /images/{name}/json`, `GET /volumes/{name}` + `POST /volumes/create`,
/// then as [`Engine::read_volume_file`] and [`Engine::write_volume_files`] (`PUT
/// /containers/{id}/archive`; the helper is created from the server's image, never started).
///
/// # Errors
/// [`StackError::Invalid`] when the server does not mount `server-key` or its `user:` is not
/// numeric; [`StackError::Engine`] / [`StackError::Unreachable`].
pub async fn provision(
    engine: &Engine,
    project: &Project,
    key_hex: &str,
) -> Result<KeyProvision, StackError> {
    let Some(service) = project.compose.file.services.get(SERVER_SERVICE) else {
        return Ok(KeyProvision::NoServer);
    };
    let wanted = MountSource::Named(KEY_VOLUME.to_string());
    let mounted = service
        .volumes
        .iter()
        .filter_map(|v| parse_volume(v).ok())
        .any(|v| v.source == wanted);
    if !mounted {
        return Err(StackError::Invalid(format!(
            "service {SERVER_SERVICE} does not mount volume {KEY_VOLUME}, where its DB key file goes"
        )));
    }
    let owner = owner_of(service.user.as_ref().map(|u| u.render()).as_deref())?;
    let image = service.image_ref();
    if crate::image::image_id(engine, image).await?.is_none() {
        return Ok(KeyProvision::NoImage);
    }
    project
        .ensure_object(engine, ObjectKind::Volume, KEY_VOLUME)
        .await?;
    let volume = scoped(&project.name, KEY_VOLUME);
    let helper_labels = HashMap::from([(labels::PROJECT.to_owned(), project.name.clone())]);
    let current = engine
        .read_volume_file(&volume, image, &helper_labels, KEY_FILE)
        .await?;
    if let Some(current) = current {
        return Ok(match current.trim_ascii() == key_hex.as_bytes() {
            true => KeyProvision::Unchanged,
            false => KeyProvision::Differs,
        });
    }
    let content = format!("{key_hex}\n");
    let file = VolumeFile {
        name: KEY_FILE,
        content: content.as_bytes(),
        mode: KEY_FILE_MODE,
        owner,
    };
    engine
        .write_volume_files(&volume, image, &helper_labels, &[file])
        .await?;
    Ok(KeyProvision::Written)
}

/// The numeric owner of a compose `user:` (`uid` or `uid:gid`; none: root).
fn owner_of(user: Option<&str>) -> Result<(u64, u64), StackError> {
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return Ok((0, 0));
    };
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    match (uid.parse(), gid.parse()) {
        (Ok(uid), Ok(gid)) => Ok((uid, gid)),
        _ => Err(StackError::Invalid(format!(
            "service {SERVER_SERVICE}: user {user:?} is not numeric uid:gid, so its DB key file's owner is unknown"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_the_numeric_user_or_root() {
        assert_eq!(owner_of(Some("1000:1000")).unwrap(), (1000, 1000));
        assert_eq!(owner_of(Some("1001")).unwrap(), (1001, 1001));
        assert_eq!(owner_of(None).unwrap(), (0, 0));
        assert!(owner_of(Some("mmkt")).is_err());
    }
}
