//! Named volumes as small stores on the engine's host: create-or-get with labels (an atomic
//! marker: the engine creates a name once and returns the existing volume's labels after
//! that), remove, and one file read or written through a helper container that is created
//! with the volume mounted but never started. Works through a remote engine too.

use std::collections::HashMap;
use std::io::Read;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder};
use futures_util::StreamExt;

use super::engine::Engine;
use super::error::{StackError, is_not_found};

/// Where the helper container mounts the volume.
const MOUNT_POINT: &str = "/volume";

/// What [`Engine::remove_volume`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeRemoval {
    /// The volume existed and is removed.
    Removed,
    /// There was no such volume.
    NotFound,
}

/// One regular file to write into a volume: its plain name, content, mode and owner.
#[derive(Clone, Copy)]
pub struct VolumeFile<'a> {
    /// The file name (no directory).
    pub name: &'a str,
    /// Its content.
    pub content: &'a [u8],
    /// Its mode, e.g. `0o600`.
    pub mode: u32,
    /// Its numeric owner and group (0:0 = root).
    pub owner: (u64, u64),
}

impl std::fmt::Debug for VolumeFile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeFile")
            .field("name", &self.name)
            .field("bytes", &self.content.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .field("owner", &self.owner)
            .finish()
    }
}

/// A tar archive holding one regular file `name` (mode 0644) with `content`.
///
/// # Errors
/// [`StackError::Invalid`] for a name tar cannot store.
pub fn single_file_tar(name: &str, content: &[u8]) -> Result<Vec<u8>, StackError> {
    files_tar(&[VolumeFile {
        name,
        content,
        mode: 0o644,
        owner: (0, 0),
    }])
}

/// A tar archive holding `files`, each with its mode and owner.
///
/// # Errors
/// [`StackError::Invalid`] for a name tar cannot store.
pub fn files_tar(files: &[VolumeFile<'_>]) -> Result<Vec<u8>, StackError> {
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.content.len() as u64);
        header.set_mode(file.mode);
        header.set_uid(file.owner.0);
        header.set_gid(file.owner.1);
        header.set_mtime(mtime);
        builder
            .append_data(&mut header, file.name, file.content)
            .map_err(|e| StackError::Invalid(format!("cannot archive {}: {e}", file.name)))?;
    }
    builder
        .into_inner()
        .map_err(|e| StackError::Invalid(format!("cannot archive files: {e}")))
}

impl Engine {
    /// Creates volume `name` with `labels`, or finds it: returns the labels the volume has
    /// (the given ones when this call created it, the existing volume's otherwise). The engine
    /// creates a name once, so of concurrent callers with different labels exactly one gets
    /// its own labels back.
    ///
    /// Engine API: `POST /volumes/create` (returns an existing volume of that name unchanged).
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn create_or_get_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<HashMap<String, String>, StackError> {
        let req = VolumeCreateRequest {
            name: Some(name.to_owned()),
            driver: Some("local".into()),
            labels: Some(labels),
            ..Default::default()
        };
        let volume = self
            .docker()
            .create_volume(req)
            .await
            .map_err(|e| self.err(format!("create volume {name}"), e))?;
        Ok(volume.labels)
    }

    /// The labels of volume `name`, or `None` when it does not exist.
    ///
    /// Engine API: `GET /volumes/{name}`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<HashMap<String, String>>, StackError> {
        match self.docker().inspect_volume(name).await {
            Ok(v) => Ok(Some(v.labels)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(format!("inspect volume {name}"), e)),
        }
    }

    /// Removes volume `name` (refused by the engine while a container uses it).
    ///
    /// Engine API: `DELETE /volumes/{name}`.
    ///
    /// # Errors
    /// [`StackError::Engine`] (409 while in use) / [`StackError::Unreachable`].
    pub async fn remove_volume(&self, name: &str) -> Result<VolumeRemoval, StackError> {
        let opts = RemoveVolumeOptionsBuilder::default().force(false).build();
        match self.docker().remove_volume(name, Some(opts)).await {
            Ok(()) => Ok(VolumeRemoval::Removed),
            Err(e) if is_not_found(&e) => Ok(VolumeRemoval::NotFound),
            Err(e) => Err(self.err(format!("remove volume {name}"), e)),
        }
    }

    /// Reads file `file` (a plain name) from volume `volume`, or `None` when it does not
    /// exist. `image` is any local image (the helper container is never started); `labels`
    /// go on the helper (e.g. the compose project, so a cleanup by label finds it).
    ///
    /// Engine API: `POST /containers/create`, `GET /containers/{id}/archive`,
    /// `DELETE /containers/{id}`.
    ///
    /// # Errors
    /// [`StackError::Engine`] (e.g. `image` missing), [`StackError::Unreachable`],
    /// [`StackError::Invalid`] for an archive that is not a tar.
    pub async fn read_volume_file(
        &self,
        volume: &str,
        image: &str,
        labels: &HashMap<String, String>,
        file: &str,
    ) -> Result<Option<Vec<u8>>, StackError> {
        let helper = self.volume_helper(volume, image, labels).await?;
        let path = format!("{MOUNT_POINT}/{file}");
        let mut stream = self.download_archive(&helper, &path);
        let mut tar = Vec::new();
        let mut result = Ok(());
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => tar.extend_from_slice(&bytes),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.remove_helper(&helper).await;
        match result {
            Ok(()) => first_file(&tar).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `content` as file `file` of volume `volume` (replacing it), through a helper
    /// container as [`Engine::read_volume_file`] does.
    ///
    /// Engine API: `POST /containers/create`, `PUT /containers/{id}/archive`,
    /// `DELETE /containers/{id}`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn write_volume_file(
        &self,
        volume: &str,
        image: &str,
        labels: &HashMap<String, String>,
        file: &str,
        content: &[u8],
    ) -> Result<(), StackError> {
        self.write_volume_tar(volume, image, labels, single_file_tar(file, content)?)
            .await
    }

    /// Writes `files` into volume `volume` in one archive (each with its mode and owner),
    /// replacing files of the same names, as [`Engine::write_volume_file`] does.
    ///
    /// Engine API: as [`Engine::write_volume_file`].
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn write_volume_files(
        &self,
        volume: &str,
        image: &str,
        labels: &HashMap<String, String>,
        files: &[VolumeFile<'_>],
    ) -> Result<(), StackError> {
        self.write_volume_tar(volume, image, labels, files_tar(files)?)
            .await
    }

    async fn write_volume_tar(
        &self,
        volume: &str,
        image: &str,
        labels: &HashMap<String, String>,
        tar: Vec<u8>,
    ) -> Result<(), StackError> {
        let helper = self.volume_helper(volume, image, labels).await?;
        let result = self.upload_archive(&helper, MOUNT_POINT, tar).await;
        self.remove_helper(&helper).await;
        result
    }

    /// Creates (never starts) a container of `image` with `volume` at [`MOUNT_POINT`].
    async fn volume_helper(
        &self,
        volume: &str,
        image: &str,
        labels: &HashMap<String, String>,
    ) -> Result<String, StackError> {
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            entrypoint: Some(vec!["/bin/true".into()]),
            labels: Some(labels.clone()),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(MOUNT_POINT.into()),
                    source: Some(volume.to_owned()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker()
            .create_container(None, body)
            .await
            .map_err(|e| self.err(format!("create a helper container for volume {volume}"), e))?;
        Ok(created.id)
    }

    /// Removes a helper container; a failure leaves it behind (it was never started).
    async fn remove_helper(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::default().force(true).build();
        if let Err(e) = self.docker().remove_container(id, Some(opts)).await {
            tracing_note(id, &e.to_string());
        }
    }
}

/// A helper container that could not be removed is harmless (never started, no ports); it
/// is reported on stderr so an operator can remove it.
fn tracing_note(id: &str, reason: &str) {
    eprintln!("note: could not remove helper container {id}: {reason}");
}

/// The content of the first regular file in a tar archive.
fn first_file(tar: &[u8]) -> Result<Vec<u8>, StackError> {
    let invalid = |e: std::io::Error| StackError::Invalid(format!("unreadable archive: {e}"));
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(invalid)? {
        let mut entry = entry.map_err(invalid)?;
        if entry.header().entry_type().is_file() {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).map_err(invalid)?;
            return Ok(out);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_file_archive_reads_back() {
        let tar = single_file_tar("history.jsonl", b"{\"a\":1}\n").unwrap();
        assert_eq!(first_file(&tar).unwrap(), b"{\"a\":1}\n");
        assert!(first_file(&[]).unwrap().is_empty());
    }
}
