//! Secrets delivered to a service as files rather than environment variables (whose values
//! `docker inspect` shows): a service's `x-mmkt-secret-files` names a volume it mounts, the
//! files' numeric owner and, per file, the variable whose value it holds. `up` writes them into
//! the volume through a never-started helper container, mode [`MODE`], before the service
//! starts; the service is told only the path (Grafana: `GF_SECURITY_ADMIN_PASSWORD__FILE`).
//!
//! Whether a value may be empty is [`super::required_secrets`]' business (staging and
//! production refuse it there); an unset variable is written as an empty file.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::compose::{LoadedCompose, Service};
use crate::engine::Engine;
use crate::error::StackError;
use crate::labels;
use crate::spec::{MountSource, parse_volume, scoped};
use crate::stack::Project;
use crate::volume::VolumeFile;

/// The compose extension key.
pub const EXTENSION: &str = "x-mmkt-secret-files";

/// The mode of every secret file: read-only for its owner.
pub const MODE: u32 = 0o400;

/// A service's [`EXTENSION`] value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretFiles {
    /// The named volume (its compose name) the service mounts the files from.
    pub volume: String,
    /// The numeric uid and gid owning the files: the service's `user` (Grafana: `[472, 0]`).
    pub owner: (u64, u64),
    /// File name (plain, no `/`) to the variable whose value it holds.
    pub files: BTreeMap<String, String>,
}

/// One service's secret files, checked, waiting to be written.
#[derive(Debug, Clone)]
pub struct PendingSecretFiles {
    /// The service.
    pub service: String,
    /// Its [`EXTENSION`].
    pub target: SecretFiles,
}

/// The [`EXTENSION`] of each service in `services` that has one. Touches no engine.
///
/// # Errors
/// [`StackError::Invalid`] for an extension of the wrong shape, a file name that is empty or
/// holds `/`, or a volume the service does not mount.
pub fn plan(
    compose: &LoadedCompose,
    services: &[String],
) -> Result<Vec<PendingSecretFiles>, StackError> {
    let mut out = Vec::new();
    for name in services {
        let service = compose.file.service(name)?;
        let Some(target) = service.extension::<SecretFiles>(EXTENSION)? else {
            continue;
        };
        if let Some(bad) = target
            .files
            .keys()
            .find(|f| f.is_empty() || f.contains('/'))
        {
            return Err(StackError::Invalid(format!(
                "service {name}: {EXTENSION} file name {bad:?} must be a plain file name"
            )));
        }
        require_named_mount(name, service, EXTENSION, &target.volume)?;
        out.push(PendingSecretFiles {
            service: name.clone(),
            target,
        });
    }
    Ok(out)
}

/// Checks that service `name` mounts named volume `volume`, which its extension `extension`
/// names.
///
/// # Errors
/// [`StackError::Invalid`] naming the service, the extension and the volume.
pub(crate) fn require_named_mount(
    name: &str,
    service: &Service,
    extension: &str,
    volume: &str,
) -> Result<(), StackError> {
    let wanted = MountSource::Named(volume.to_owned());
    if service
        .volumes
        .iter()
        .filter_map(|v| parse_volume(v).ok())
        .any(|v| v.source == wanted)
    {
        return Ok(());
    }
    Err(StackError::Invalid(format!(
        "service {name}: {extension} names volume {volume}, which the service does not mount"
    )))
}

impl Project {
    /// Writes each service's secret files into its (existing) volume, replacing them, with
    /// the project's variables (an unset one as an empty file), mode [`MODE`] and the owner
    /// the extension names.
    ///
    /// Engine API: see [`Engine::write_volume_files`] (the helper container is created from
    /// the service's own image, never started).
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn write_secret_files(
        &self,
        engine: &Engine,
        pending: &[PendingSecretFiles],
    ) -> Result<(), StackError> {
        let helper_labels = HashMap::from([(labels::PROJECT.to_owned(), self.name.clone())]);
        for secret in pending {
            let files: Vec<VolumeFile<'_>> = secret
                .target
                .files
                .iter()
                .map(|(file, variable)| VolumeFile {
                    name: file,
                    content: self
                        .compose
                        .variables
                        .get(variable)
                        .unwrap_or("")
                        .as_bytes(),
                    mode: MODE,
                    owner: secret.target.owner,
                })
                .collect();
            let volume = scoped(&self.name, &secret.target.volume);
            let image = self.compose.file.services[&secret.service].image_ref();
            engine
                .write_volume_files(&volume, image, &helper_labels, &files)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extension: &str) -> Result<Vec<PendingSecretFiles>, StackError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(
            &file,
            format!(
                "services:\n  g:\n    image: g\n    volumes: [\"g-secrets:/run/secrets/g:ro\"]\n    x-mmkt-secret-files: {extension}\nvolumes:\n  g-secrets: {{}}\n"
            ),
        )
        .unwrap();
        let compose = crate::compose::load(&file, None).unwrap();
        plan(&compose, &["g".to_string()])
    }

    #[test]
    fn the_extension_must_name_a_mounted_volume_and_plain_file_names() {
        let ok = load("{volume: g-secrets, owner: [472, 0], files: {admin_password: PW}}").unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].target.owner, (472, 0));
        assert_eq!(ok[0].target.files["admin_password"], "PW");
        for (extension, reason) in [
            (
                "{volume: other, owner: [472, 0], files: {a: PW}}",
                "names volume other, which the service does not mount",
            ),
            (
                "{volume: g-secrets, owner: [472, 0], files: {../a: PW}}",
                "must be a plain file name",
            ),
            ("{volume: g-secrets, files: {a: PW}}", "owner"),
        ] {
            let err = load(extension).unwrap_err();
            assert!(
                matches!(err, StackError::Invalid(_)) && err.to_string().contains(reason),
                "{extension}: {err}"
            );
        }
    }
}
