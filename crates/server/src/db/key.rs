//! The server's use of the SQLCipher key file (`MMKT_DB_KEY_FILE`): the file rules and
//! [`DbKey`] are the shared contract of `mmkt_sqlcipher`; on top of them the server refuses
//! weak keys and, where [`KeyFilePolicy`] allows it (development), creates a missing key file.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub use mmkt_sqlcipher::{DbKey, KeyFileError};

use crate::config::KeyFilePolicy;

/// Whether [`load_or_create`] read an existing key file or wrote a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The key file existed and passed every check.
    Loaded,
    /// The key file was missing and a new random key was written (development only).
    Generated,
}

/// Why the key file was refused. Messages name the file and the fix, never the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file breaks the key file contract (missing, mode, content) or cannot be read/written.
    #[error(transparent)]
    File(#[from] KeyFileError),
    /// The key has too little entropy (e.g. all zeros or an example key).
    #[error("DB key in {path} is a default or weak key; generate one with `openssl rand -hex 32`")]
    Weak {
        /// The key file.
        path: PathBuf,
    },
}

/// Loads the key file, or creates it (mode 0600, parent directories 0700) when `policy` allows.
///
/// # Errors
/// [`KeyError::File`]: missing file under [`KeyFilePolicy::MustExist`], mode other than
/// 0600/0400, malformed content, I/O failures; [`KeyError::Weak`].
pub fn load_or_create(path: &Path, policy: KeyFilePolicy) -> Result<(DbKey, KeyOrigin), KeyError> {
    let key = match mmkt_sqlcipher::read_key_file(path) {
        Ok(key) => key,
        Err(KeyFileError::Missing { .. }) if policy == KeyFilePolicy::GenerateIfMissing => {
            return Ok((create(path)?, KeyOrigin::Generated));
        }
        Err(e) => return Err(e.into()),
    };
    if key.is_weak() {
        return Err(KeyError::Weak {
            path: path.to_owned(),
        });
    }
    Ok((key, KeyOrigin::Loaded))
}

fn create(path: &Path) -> Result<DbKey, KeyFileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|source| KeyFileError::Io {
                action: "create",
                path: path.to_owned(),
                source,
            })?;
    }
    let key = DbKey::generate();
    mmkt_sqlcipher::write_key_file(path, &key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generate_then_load_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/db.key");
        let (k1, o1) = load_or_create(&path, KeyFilePolicy::GenerateIfMissing).unwrap();
        assert_eq!(o1, KeyOrigin::Generated);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (k2, o2) = load_or_create(&path, KeyFilePolicy::MustExist).unwrap();
        assert_eq!((k1, o2), (k2, KeyOrigin::Loaded));
    }

    #[test]
    fn refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.key");
        assert!(matches!(
            load_or_create(&path, KeyFilePolicy::MustExist),
            Err(KeyError::File(KeyFileError::Missing { .. }))
        ));
        std::fs::write(&path, format!("{}\n", DbKey::generate().to_hex())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, KeyFilePolicy::MustExist).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::File(KeyFileError::Permissions { mode: 0o644, .. })
            ),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "abc").unwrap();
        assert!(matches!(
            load_or_create(&path, KeyFilePolicy::MustExist),
            Err(KeyError::File(KeyFileError::Malformed { .. }))
        ));
        std::fs::write(&path, "00".repeat(32)).unwrap();
        assert!(matches!(
            load_or_create(&path, KeyFilePolicy::MustExist),
            Err(KeyError::Weak { .. })
        ));
    }

    #[test]
    fn debug_redacts() {
        let k = DbKey::generate();
        assert!(!format!("{k:?}").contains(&k.to_hex()[..8]));
    }
}
