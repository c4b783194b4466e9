//! The SQLCipher raw key: loaded from `MMKT_DB_KEY_FILE` (64 hex chars, mode 0600) or generated in development.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::config::KeyFilePolicy;

/// A raw 256-bit SQLCipher key. Debug prints `DbKey(<redacted>)`; the bytes never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey([u8; 32]);

impl DbKey {
    /// Wraps 32 raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses 64 hex characters (either case), surrounding whitespace allowed.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] (with `path`) when the text is not exactly 64 hex chars.
    pub fn parse_hex(text: &str, path: &Path) -> Result<Self, KeyError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyError::Malformed {
            path: path.to_owned(),
        })?;
        Ok(Self(bytes))
    }

    /// The key as 64 lowercase hex chars (the key file format). Never log it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first statement on every connection: `PRAGMA key = "x'<64hex>'"` (raw key, no PBKDF2).
    pub(crate) fn pragma_statement(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", self.to_hex())
    }

    /// A key is weak when it has fewer than 8 distinct byte values (all-zero, repeated or
    /// hand-typed example keys); a random key has about 30.
    pub fn is_weak(&self) -> bool {
        let distinct: std::collections::BTreeSet<u8> = self.0.iter().copied().collect();
        distinct.len() < 8
    }
}

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(<redacted>)")
    }
}

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
    /// The key file does not exist and this environment does not generate one.
    #[error(
        "DB key file {path} does not exist; create it with `umask 077; openssl rand -hex 32 > {path}`"
    )]
    Missing {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is readable by group or others.
    #[error("DB key file {path} has mode {mode:04o}; it must be 0600 (run `chmod 600 {path}`)")]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// The permission bits found.
        mode: u32,
    },
    /// The content is not 64 hex characters.
    #[error("DB key file {path} must hold exactly 64 hex characters (a raw 256-bit key)")]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The key has too little entropy (e.g. all zeros or an example key).
    #[error("DB key in {path} is a default or weak key; generate one with `openssl rand -hex 32`")]
    Weak {
        /// The key file.
        path: PathBuf,
    },
    /// Reading, creating or writing the key file failed.
    #[error("cannot {action} DB key file {path}: {source}")]
    Io {
        /// What was attempted (`read`, `create`, `write`).
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Loads the key file, or creates it (mode 0600, parent directories 0700) when `policy` allows.
///
/// # Errors
/// [`KeyError`]: missing file under [`KeyFilePolicy::MustExist`], mode other than 0600/0400,
/// malformed or weak content, I/O failures.
pub fn load_or_create(path: &Path, policy: KeyFilePolicy) -> Result<(DbKey, KeyOrigin), KeyError> {
    let io = |action| {
        move |source| KeyError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match policy {
                KeyFilePolicy::MustExist => Err(KeyError::Missing {
                    path: path.to_owned(),
                }),
                KeyFilePolicy::GenerateIfMissing => create(path).map(|k| (k, KeyOrigin::Generated)),
            };
        }
        Err(e) => return Err(io("read")(e)),
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io("read"))?;
    let key = DbKey::parse_hex(&text, path)?;
    if key.is_weak() {
        return Err(KeyError::Weak {
            path: path.to_owned(),
        });
    }
    Ok((key, KeyOrigin::Loaded))
}

fn create(path: &Path) -> Result<DbKey, KeyError> {
    let io = |action| {
        move |source| KeyError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io("create"))?;
    }
    let key = DbKey::generate();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("create"))?;
    file.write_all(format!("{}\n", key.to_hex()).as_bytes())
        .map_err(io("write"))?;
    file.sync_all().map_err(io("write"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
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
            Err(KeyError::Missing { .. })
        ));
        std::fs::write(&path, format!("{}\n", DbKey::generate().to_hex())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, KeyFilePolicy::MustExist).unwrap_err();
        assert!(
            matches!(err, KeyError::Permissions { mode: 0o644, .. }),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "abc").unwrap();
        assert!(matches!(
            load_or_create(&path, KeyFilePolicy::MustExist),
            Err(KeyError::Malformed { .. })
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
