//! The server's use of the SQLCipher key file (`MMKT_DB_KEY_FILE`): the file rules and
//! [`DbKey`] are the shared contract of `mmkt_sqlcipher`; on top of them the server refuses
//! weak keys and, where [`KeyFilePolicy`] allows it (development), creates a missing key file.
//! [`is_inside_database_dir`] tells whether a key file sits on the database's own directory
//! (refused outside development: the key belongs on its own mount).

use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

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
    /// The key file is missing and this environment never creates one (staging, production):
    /// it must be provisioned on its own mount before the server starts.
    #[error(
        "DB key file {path} does not exist, and outside development the server never creates one: provision it on the key's own mount before starting (`umask 077; openssl rand -hex 32 > {path}`, as the server's user; see docs/RUNBOOK.md)"
    )]
    NotProvisioned {
        /// The key file.
        path: PathBuf,
    },
    /// The key has too little entropy (e.g. all zeros or an example key).
    #[error("DB key in {path} is a default or weak key; generate one with `openssl rand -hex 32`")]
    Weak {
        /// The key file.
        path: PathBuf,
    },
}

/// Loads the key file, or creates it (mode 0600, parent directories 0700) when `policy` allows.
/// Of servers starting at once on a missing key file, one creates it and the others load it.
///
/// # Errors
/// [`KeyError::NotProvisioned`]: missing file under [`KeyFilePolicy::MustExist`] (nothing is
/// written); [`KeyError::File`]: mode other than 0600/0400, malformed content, I/O failures;
/// [`KeyError::Weak`].
pub fn load_or_create(path: &Path, policy: KeyFilePolicy) -> Result<(DbKey, KeyOrigin), KeyError> {
    let key = match (mmkt_sqlcipher::read_key_file(path), policy) {
        (Ok(key), _) => key,
        (Err(KeyFileError::Missing { .. }), KeyFilePolicy::GenerateIfMissing) => {
            match create(path) {
                Ok(key) => return Ok((key, KeyOrigin::Generated)),
                // Another process created it between the read and the write: use its key.
                Err(KeyFileError::Exists { .. }) => mmkt_sqlcipher::read_key_file(path)?,
                Err(e) => return Err(e.into()),
            }
        }
        (Err(KeyFileError::Missing { .. }), KeyFilePolicy::MustExist) => {
            return Err(KeyError::NotProvisioned {
                path: path.to_owned(),
            });
        }
        (Err(e), _) => return Err(e.into()),
    };
    if key.is_weak() {
        return Err(KeyError::Weak {
            path: path.to_owned(),
        });
    }
    Ok((key, KeyOrigin::Loaded))
}

/// Whether `key_file` lies in the directory holding `db_path` or below it, that is on the
/// database's volume: a copy of that volume (snapshot, backup, stolen disk) would then carry
/// the key with the data it protects.
///
/// Relative paths are taken from the current directory; the longest existing part of each
/// path is resolved (symlinks included, so a link to a separate mount is not "inside"), the
/// rest is normalized lexically (`.` and `..`). Reads only file metadata.
pub fn is_inside_database_dir(key_file: &Path, db_path: &Path) -> bool {
    let db_dir = match db_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    resolve(key_file).starts_with(resolve(db_dir))
}

/// `path` made absolute, its longest existing prefix canonicalized, the rest normalized.
fn resolve(path: &Path) -> PathBuf {
    let absolute = match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_owned(),
    };
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return normalize(&missing.iter().rev().fold(real, |p, part| p.join(part)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                existing = parent;
            }
            _ => return normalize(&absolute),
        }
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
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
    fn servers_starting_at_once_on_a_missing_key_share_one_key() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db.key");
            let started: Vec<_> = std::thread::scope(|s| {
                let servers: Vec<_> = (0..4)
                    .map(|_| s.spawn(|| load_or_create(&path, KeyFilePolicy::GenerateIfMissing)))
                    .collect();
                servers.into_iter().map(|t| t.join().unwrap()).collect()
            });
            let keys: Vec<_> = started.into_iter().map(|r| r.unwrap()).collect();
            let generated = keys
                .iter()
                .filter(|(_, origin)| *origin == KeyOrigin::Generated)
                .count();
            assert_eq!(generated, 1, "exactly one server writes the key");
            let on_disk = mmkt_sqlcipher::read_key_file(&path).unwrap();
            assert!(keys.iter().all(|(key, _)| *key == on_disk));
        }
    }

    #[test]
    fn refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.key");
        let err = load_or_create(&path, KeyFilePolicy::MustExist).unwrap_err();
        assert!(matches!(err, KeyError::NotProvisioned { .. }), "{err}");
        assert!(err.to_string().contains("never creates one"), "{err}");
        assert!(
            !path.exists(),
            "a missing key is never created under MustExist"
        );
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
    fn key_inside_the_database_directory_is_detected() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let keys = root.path().join("key");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&keys).unwrap();
        let db = data.join("mmkt.db");
        assert!(is_inside_database_dir(&data.join("db.key"), &db));
        assert!(is_inside_database_dir(&data.join("sub/deeper/db.key"), &db));
        assert!(is_inside_database_dir(&keys.join("../data/./db.key"), &db));
        assert!(!is_inside_database_dir(&keys.join("db.key"), &db));
        assert!(!is_inside_database_dir(&data.join("../key/db.key"), &db));
        // A sibling whose name merely starts with the directory's name is elsewhere.
        assert!(!is_inside_database_dir(
            &root.path().join("data2/db.key"),
            &db
        ));
        // Symlinks are followed: a link inside the data directory to a separate mount is not
        // inside, a link elsewhere pointing into the data directory is.
        let outside = keys.join("real.key");
        std::fs::write(&outside, "x").unwrap();
        std::os::unix::fs::symlink(&outside, data.join("link.key")).unwrap();
        assert!(!is_inside_database_dir(&data.join("link.key"), &db));
        std::os::unix::fs::symlink(&data, root.path().join("alias")).unwrap();
        assert!(is_inside_database_dir(
            &root.path().join("alias/db.key"),
            &db
        ));
        // A database named without a directory lives in the current directory.
        let cwd = std::env::current_dir().unwrap();
        assert!(is_inside_database_dir(
            &cwd.join("db.key"),
            Path::new("mmkt.db")
        ));
        assert!(!is_inside_database_dir(
            &keys.join("db.key"),
            Path::new("mmkt.db")
        ));
    }

    #[test]
    fn debug_redacts() {
        let k = DbKey::generate();
        assert!(!format!("{k:?}").contains(&k.to_hex()[..8]));
    }
}
