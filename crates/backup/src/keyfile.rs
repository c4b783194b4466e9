//! Reads the SQLCipher raw key file (contract: 64 lowercase hex chars, mode 0600) into a redacting [`DbKey`].

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::error::BackupError;

/// A raw 256-bit SQLCipher key as 64 lowercase hex characters. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey(String);

impl DbKey {
    /// Parses 64 lowercase hex characters (one trailing newline allowed).
    ///
    /// # Errors
    /// `None` when the text is not exactly 64 lowercase hex characters.
    pub fn from_hex(text: &str) -> Option<DbKey> {
        let hex = text.strip_suffix('\n').unwrap_or(text);
        let valid = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| DbKey(hex.to_owned()))
    }

    /// A fresh random key (used when restoring with `--new-key-file` and in tests).
    pub fn generate() -> DbKey {
        let bytes: [u8; 32] = rand::random();
        DbKey(hex::encode(bytes))
    }

    /// The `PRAGMA key` statement for this key (raw-key form, no KDF). Contains the key: never log it.
    pub(crate) fn pragma(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", self.0)
    }

    /// The 64 hex characters, to write a key file. Contains the key: never log it.
    pub fn expose_hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(<redacted>)")
    }
}

/// Reads a key file following the DB file contract.
///
/// # Errors
/// [`BackupError::KeyFile`] when the file is missing, readable by group/others (mode must be
/// 0600 or stricter), or not 64 lowercase hex characters.
pub fn read_key_file(path: &Path) -> Result<DbKey, BackupError> {
    let err = |reason: String| BackupError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(err(format!(
            "mode is {mode:o}, must be 600 (run: chmod 600 {})",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    DbKey::from_hex(&text).ok_or_else(|| {
        err("content must be 64 lowercase hex characters (a raw 256-bit key)".into())
    })
}

/// Writes a key file with mode 0600 (creating it; fails if it exists).
///
/// # Errors
/// [`BackupError::Io`] when the file exists or cannot be written.
pub fn write_key_file(path: &Path, key: &DbKey) -> Result<(), BackupError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(BackupError::io(format!(
            "create key file {}",
            path.display()
        )))?;
    writeln!(file, "{}", key.expose_hex()).map_err(BackupError::io(format!(
        "write key file {}",
        path.display()
    )))?;
    file.sync_all().map_err(BackupError::io(format!(
        "fsync key file {}",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contract_format_and_redacts() {
        let hex = "ab".repeat(32);
        let key = DbKey::from_hex(&format!("{hex}\n")).expect("valid");
        assert_eq!(key.expose_hex(), hex);
        assert_eq!(format!("{key:?}"), "DbKey(<redacted>)");
        assert!(DbKey::from_hex(&"AB".repeat(32)).is_none());
        assert!(DbKey::from_hex("abcd").is_none());
    }

    #[test]
    fn refuses_group_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "ab".repeat(32)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&path).unwrap_err();
        assert!(err.to_string().contains("must be 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        read_key_file(&path).unwrap();
    }
}
