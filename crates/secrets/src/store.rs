//! Secrets files on disk: where an environment's file lives, reading it, and replacing it
//! atomically (a temporary file beside it, fsynced, renamed over), so a failed write leaves
//! the old file whole. Only ciphertext is written here.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::SecretsError;

/// `<dir of the compose file>/secrets/<env>.enc.yaml`, e.g. `deploy/secrets/staging.enc.yaml`.
pub fn file_path(compose_file: &Path, env: &str) -> PathBuf {
    compose_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("secrets")
        .join(format!("{env}.enc.yaml"))
}

/// The text of the secrets file at `path`.
///
/// # Errors
/// [`SecretsError::Io`] (a missing file included).
pub fn read(path: &Path) -> Result<String, SecretsError> {
    fs::read_to_string(path).map_err(|source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Replaces (or creates) `path` with `text`, atomically; the directory is created if missing.
///
/// # Errors
/// [`SecretsError::Io`].
pub fn write(path: &Path, text: &str) -> Result<(), SecretsError> {
    let io = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    temp.write_all(text.as_bytes()).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    // Ciphertext only: the file is meant to be committed, so it is readable like source.
    set_mode(temp.path(), 0o644).map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
