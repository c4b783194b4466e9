//! The raw SQLCipher key ([`DbKey`]) and the key file rules: 64 lowercase hex characters, mode
//! 0600 (or stricter), written once and whole (a fsynced temporary file hard-linked into
//! place), never overwritten.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Permission bits of a key file written by [`write_key_file`]; [`read_key_file`] refuses any
/// file readable or writable by group or others.
pub const KEY_FILE_MODE: u32 = 0o600;

/// A raw 256-bit SQLCipher key. `Debug` prints `DbKey(<redacted>)`; the bytes never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey([u8; 32]);

impl DbKey {
    /// Wraps 32 raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> DbKey {
        DbKey(bytes)
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> DbKey {
        DbKey(rand::random())
    }

    /// Parses key file content: exactly 64 lowercase hex characters once surrounding ASCII
    /// whitespace (the trailing newline of `openssl rand -hex 32 > file`) is removed.
    /// `None` for anything else (uppercase included: the file has one canonical form).
    pub fn from_hex(text: &str) -> Option<DbKey> {
        let hex = text.trim_ascii();
        let canonical = hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !canonical {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex, &mut bytes).ok()?;
        Some(DbKey(bytes))
    }

    /// The key as 64 lowercase hex characters (the key file format). Contains the key: never
    /// log it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A key is weak when it has fewer than 8 distinct byte values (all-zero, repeated or
    /// hand-typed example keys); a random key has about 30.
    pub fn is_weak(&self) -> bool {
        let distinct: std::collections::BTreeSet<u8> = self.0.iter().copied().collect();
        distinct.len() < 8
    }

    /// The first statement on every connection: `PRAGMA key = "x'<64 hex>'"` (raw key, no
    /// PBKDF2). Contains the key: never log it.
    pub(crate) fn pragma_statement(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", self.to_hex())
    }
}

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(<redacted>)")
    }
}

/// Why a key file was refused. Messages name the file and the fix, never the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The key file does not exist.
    #[error(
        "DB key file {path} does not exist; create it with `umask 077; openssl rand -hex 32 > {path}`"
    )]
    Missing {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "DB key file {path} has mode {mode:04o}; it must be 600 or stricter (run `chmod 600 {path}`)"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// The permission bits found.
        mode: u32,
    },
    /// The content is not 64 lowercase hex characters.
    #[error("DB key file {path} must hold exactly 64 lowercase hex characters (a raw 256-bit key)")]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// A new key file was to be written where one exists already (another process may just
    /// have created it); nothing was written.
    #[error(
        "DB key file {path} exists already, so no new key was written (a key file is never replaced: a database may be encrypted with it); if another process just created it, run the command again to use that key"
    )]
    Exists {
        /// The key file.
        path: PathBuf,
    },
    /// Reading, creating or writing the key file failed.
    #[error("cannot {action} DB key file {path}: {source}")]
    Io {
        /// What was attempted (`read`, `create`, `write`, `sync`).
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError {
    let path = path.to_owned();
    move |source| KeyFileError::Io {
        action,
        path,
        source,
    }
}

/// Reads a key file: it must exist, have no group/other permission bits (0600 or 0400) and
/// hold the key as [`DbKey::from_hex`] accepts it.
///
/// # Errors
/// [`KeyFileError::Missing`], [`KeyFileError::Permissions`], [`KeyFileError::Malformed`],
/// [`KeyFileError::Io`] (action `read`).
pub fn read_key_file(path: &Path) -> Result<DbKey, KeyFileError> {
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyFileError::Missing {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io_error("read", path)(e)),
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io_error("read", path))?;
    DbKey::from_hex(&text).ok_or_else(|| KeyFileError::Malformed {
        path: path.to_owned(),
    })
}

/// Writes a new key file: the 64 hex characters and a newline, mode [`KEY_FILE_MODE`]. The text
/// goes to a temporary file beside `path` (`O_CREAT | O_EXCL`), is fsynced, and is hard-linked
/// to `path` (`link(2)`, which fails when `path` exists); then the temporary name is removed
/// and the directory fsynced. A concurrent reader therefore sees either no key file or the
/// whole key, never an empty or partial one, and of two concurrent writers exactly one wins.
/// The parent directory must exist and its file system must support hard links.
///
/// # Errors
/// [`KeyFileError::Exists`] when `path` exists (nothing written); [`KeyFileError::Io`] (action
/// `create` for the temporary file or the link, `write`, `sync` for the directory).
pub fn write_key_file(path: &Path, key: &DbKey) -> Result<(), KeyFileError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name() else {
        return Err(KeyFileError::Io {
            action: "create",
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
        });
    };
    let temporary = dir.join(format!(
        ".{}.{:016x}.tmp",
        name.to_string_lossy(),
        rand::random::<u64>()
    ));
    let linked = write_whole(&temporary, key).and_then(|()| {
        std::fs::hard_link(&temporary, path).map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists {
                path: path.to_owned(),
            },
            _ => io_error("create", path)(source),
        })
    });
    // The temporary name goes in every case; when it was never created this is a no-op.
    let _ = std::fs::remove_file(&temporary);
    linked?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync", path))
}

/// Creates `path` (`O_EXCL`, mode [`KEY_FILE_MODE`]) holding the key's text, fsynced.
fn write_whole(path: &Path, key: &DbKey) -> Result<(), KeyFileError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(KEY_FILE_MODE)
        .open(path)
        .map_err(io_error("create", path))?;
    writeln!(file, "{}", key.to_hex()).map_err(io_error("write", path))?;
    file.sync_all().map_err(io_error("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contract_format_and_redacts() {
        let hex = "ab".repeat(32);
        let key = DbKey::from_hex(&format!("{hex}\n")).expect("valid");
        assert_eq!(key.to_hex(), hex);
        assert_eq!(format!("{key:?}"), "DbKey(<redacted>)");
        assert!(DbKey::from_hex(&"AB".repeat(32)).is_none());
        assert!(DbKey::from_hex("abcd").is_none());
        let random = DbKey::generate();
        assert!(!format!("{random:?}").contains(&random.to_hex()[..8]));
    }

    #[test]
    fn refuses_group_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "ab".repeat(32)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&path).unwrap_err();
        assert!(err.to_string().contains("must be 600"), "{err}");
        assert!(
            matches!(err, KeyFileError::Permissions { mode: 0o644, .. }),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        read_key_file(&path).unwrap();
    }

    #[test]
    fn written_files_read_back_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.key");
        assert!(matches!(
            read_key_file(&path),
            Err(KeyFileError::Missing { .. })
        ));
        let key = DbKey::generate();
        write_key_file(&path, &key).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            KEY_FILE_MODE
        );
        assert_eq!(read_key_file(&path).unwrap(), key);
        assert!(matches!(
            write_key_file(&path, &DbKey::generate()),
            Err(KeyFileError::Exists { .. })
        ));
        assert_eq!(read_key_file(&path).unwrap(), key, "never overwritten");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["db.key"], "no temporary file is left behind");
        std::fs::write(&path, "abc").unwrap();
        assert!(matches!(
            read_key_file(&path),
            Err(KeyFileError::Malformed { .. })
        ));
        assert!(DbKey::from_bytes([0; 32]).is_weak());
        assert!(!key.is_weak());
    }

    #[test]
    fn concurrent_writers_and_readers_see_one_whole_key() {
        for _ in 0..50 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db.key");
            let results: Vec<_> = std::thread::scope(|s| {
                let writers: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            let key = DbKey::generate();
                            write_key_file(&path, &key).map(|()| key)
                        })
                    })
                    .collect();
                // Spins until the file appears, then reads it a few more times: the moment
                // a partial file would show.
                let reader = s.spawn(|| {
                    let mut seen = Vec::new();
                    for _ in 0..1_000_000 {
                        match read_key_file(&path) {
                            Err(KeyFileError::Missing { .. }) => continue,
                            other => seen.push(other.map_err(|e| e.to_string())),
                        }
                        if seen.len() == 20 {
                            break;
                        }
                    }
                    seen
                });
                let written = writers.into_iter().map(|w| w.join().unwrap()).collect();
                for read in reader.join().unwrap() {
                    assert!(read.is_ok(), "a reader saw a partial key file: {read:?}");
                }
                written
            });
            let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "exactly one writer wins: {results:?}");
            assert!(
                results
                    .iter()
                    .filter_map(|r| r.as_ref().err())
                    .all(|e| matches!(e, KeyFileError::Exists { .. })),
                "{results:?}"
            );
            assert_eq!(&read_key_file(&path).unwrap(), winners[0]);
        }
    }
}
