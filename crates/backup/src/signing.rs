//! Ed25519 signatures over backup manifests, so that whoever can write the backup store (the
//! local directory or the S3 bucket) cannot forge a backup: a signing key kept off the store
//! signs each manifest's bytes, and verify, restore and drill use only backups whose signature
//! verifies with a trusted public key.
//!
//! - [`SigningKey`]: the secret key file made by `mmctl backup keygen` (mode 0600).
//! - [`PublicKey`] and [`TrustedKeys`]: the verify keys (`--verify-key`, `MMKT_BACKUP_VERIFY_KEYS`).
//! - [`BackupKeys`]: what a new backup is made with (age recipients and the signing key).
//! - [`authenticate`] turns a found backup into an [`AuthenticBackup`], the only type the
//!   decrypt, verify and restore primitives accept.
//!
//! Format: `<id>.manifest.sig` holds the 64-byte raw Ed25519 signature (RFC 8032, pure
//! Ed25519, no pre-hash) of the manifest file `<id>.json`, byte for byte; the manifest covers
//! the id, kind, creation time and the data file's name, SHA-256 and size. Keys are written as
//! standard base64 of their 32 raw bytes (44 characters). The signature verifies without
//! mmctl with `openssl pkeyutl -verify -rawin` (docs/DISASTER-RECOVERY.md).

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{SIGNATURE_LENGTH, Signature, Signer};

use super::crypto::Recipients;
use super::error::BackupError;
use super::manifest::{BackupId, Manifest};
use super::store::{LocalBackup, sync_dir};

/// Suffix of signature files: `<id>.manifest.sig`.
pub const SIGNATURE_SUFFIX: &str = "manifest.sig";

/// The signature file name of a backup: `<id>.manifest.sig`.
pub fn signature_file_name(id: &BackupId) -> String {
    format!("{id}.{SIGNATURE_SUFFIX}")
}

/// The secret key that signs manifests. Kept off the backup store (e.g. `/etc/mmkt`), in a
/// file of mode 0600 or 0400 holding the base64 of its 32-byte seed; `#` lines are comments.
/// `Debug` is redacted.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A new random key (from the operating system's CSPRNG).
    pub fn generate() -> SigningKey {
        let seed: [u8; 32] = rand::random();
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a key file.
    ///
    /// # Errors
    /// [`BackupError::SigningKey`] when the file is missing, readable by group or others, or
    /// does not hold exactly one base64 seed of 32 bytes.
    pub fn from_file(path: &Path) -> Result<SigningKey, BackupError> {
        let err = |reason: String| BackupError::SigningKey {
            path: path.to_owned(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "mode is {mode:o}; it must be 600 or 400 (chmod 600 {})",
                path.display()
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let lines: Vec<&str> = key_lines(&text).collect();
        let [line] = lines.as_slice() else {
            return Err(err(format!(
                "expected one key line (base64), found {}; make one with `mmctl backup keygen`",
                lines.len()
            )));
        };
        let seed: [u8; 32] = decode_32(line)
            .ok_or_else(|| err("the key line is not the base64 of 32 bytes".into()))?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Writes the key to a new file (mode 0600, never overwriting), with its public key in a
    /// comment, fsyncs it and its directory.
    ///
    /// # Errors
    /// [`BackupError::SigningKey`] when the file exists or cannot be written.
    pub fn write_new(&self, path: &Path) -> Result<(), BackupError> {
        let err = |reason: String| BackupError::SigningKey {
            path: path.to_owned(),
            reason,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    err("already exists; a signing key is never overwritten".into())
                }
                _ => err(format!("cannot create it: {e}")),
            })?;
        let text = format!(
            "# mmkt backup signing key (ed25519 seed, base64). Keep it off the backup store.\n# public key: {}\n{}\n",
            self.public_key(),
            BASE64.encode(self.0.to_bytes())
        );
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| err(format!("cannot write it: {e}")))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        sync_dir(dir)
    }

    /// The matching public key (what verify, restore and drill trust).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message`: the 64-byte Ed25519 signature.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LENGTH] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {}, <redacted>)", self.public_key())
    }
}

/// Non-empty lines that are not `#` comments, trimmed.
fn key_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The 32 bytes whose standard base64 `text` is, if it is that.
fn decode_32(text: &str) -> Option<[u8; 32]> {
    BASE64.decode(text).ok()?.try_into().ok()
}

/// An Ed25519 public key that verifies manifest signatures; shown and parsed as the base64 of
/// its 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE64.encode(self.0.as_bytes()))
    }
}

impl FromStr for PublicKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = decode_32(s.trim()).ok_or("not the base64 of 32 bytes")?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| "not a valid ed25519 public key".into())
    }
}

/// The public keys whose signatures are trusted (at least one).
#[derive(Debug, Clone)]
pub struct TrustedKeys(Vec<PublicKey>);

impl TrustedKeys {
    /// Parses verify keys: each value is a base64 public key, or a file holding one key per
    /// line (`#` comments allowed, like the `.pub` lines `mmctl backup keygen` prints).
    ///
    /// # Errors
    /// [`BackupError::VerifyKey`] for a value that is neither, or a file line that is not a
    /// key; [`BackupError::NoVerifyKeys`] when none was given.
    pub fn collect(values: &[String]) -> Result<TrustedKeys, BackupError> {
        let mut keys = Vec::new();
        for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            if let Ok(key) = value.parse::<PublicKey>() {
                keys.push(key);
                continue;
            }
            let text = std::fs::read_to_string(value).map_err(|e| BackupError::VerifyKey {
                value: value.to_owned(),
                reason: format!("not a public key, and not a readable file ({e})"),
            })?;
            let before = keys.len();
            for line in key_lines(&text) {
                let key = line
                    .parse::<PublicKey>()
                    .map_err(|reason| BackupError::VerifyKey {
                        value: format!("{value}: {line}"),
                        reason,
                    })?;
                keys.push(key);
            }
            if keys.len() == before {
                return Err(BackupError::VerifyKey {
                    value: value.to_owned(),
                    reason: "the file holds no key".into(),
                });
            }
        }
        keys.dedup();
        if keys.is_empty() {
            return Err(BackupError::NoVerifyKeys);
        }
        Ok(TrustedKeys(keys))
    }

    /// Trusts exactly these keys (at least one).
    ///
    /// # Errors
    /// [`BackupError::NoVerifyKeys`] when `keys` is empty.
    pub fn new(keys: Vec<PublicKey>) -> Result<TrustedKeys, BackupError> {
        match keys.is_empty() {
            true => Err(BackupError::NoVerifyKeys),
            false => Ok(TrustedKeys(keys)),
        }
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[PublicKey] {
        &self.0
    }

    /// The trusted key whose (strict, RFC 8032) verification of `signature` over `message`
    /// succeeds, if one does.
    pub fn signer_of(
        &self,
        message: &[u8],
        signature: &[u8; SIGNATURE_LENGTH],
    ) -> Option<PublicKey> {
        let signature = Signature::from_bytes(signature);
        self.0
            .iter()
            .copied()
            .find(|key| key.0.verify_strict(message, &signature).is_ok())
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.0.iter().map(PublicKey::to_string).collect();
        keys.join(", ")
    }
}

/// What a new backup is made with: its data encrypted to `recipients`, its manifest signed by
/// `signer`.
#[derive(Debug, Clone, Copy)]
pub struct BackupKeys<'a> {
    /// age recipients to encrypt to.
    pub recipients: &'a Recipients,
    /// The key that signs the manifest.
    pub signer: &'a SigningKey,
}

/// A backup whose manifest, as read from disk, carries a signature by a trusted key. Built
/// only by [`authenticate`]; dereferences to the [`LocalBackup`] rebuilt from the verified
/// bytes.
#[derive(Debug, Clone)]
pub struct AuthenticBackup {
    backup: LocalBackup,
    signed_by: PublicKey,
}

impl AuthenticBackup {
    /// The trusted key that signed it.
    pub fn signed_by(&self) -> PublicKey {
        self.signed_by
    }
}

impl std::ops::Deref for AuthenticBackup {
    type Target = LocalBackup;
    fn deref(&self) -> &LocalBackup {
        &self.backup
    }
}

/// A manifest's bytes and its signature, wherever they were read from.
#[derive(Debug, Clone, Copy)]
pub struct SignedManifest<'a> {
    /// The backup these bytes must be the manifest of (from the file name or S3 key).
    pub id: &'a BackupId,
    /// The manifest, byte for byte.
    pub bytes: &'a [u8],
    /// The signature, `None` when there is none.
    pub signature: Option<&'a [u8]>,
    /// Where the signature is (or should be): a path or an `s3://` URL, for messages.
    pub signature_location: &'a Path,
}

impl SignedManifest<'_> {
    /// Verifies the signature over the bytes with the trusted keys, then parses the manifest
    /// from the same bytes and checks it is the manifest of `id`.
    ///
    /// # Errors
    /// [`BackupError::Unsigned`] without a signature, [`BackupError::BadSignature`] when no
    /// trusted key verifies it or it is the signed manifest of another backup.
    pub fn verify(&self, trusted: &TrustedKeys) -> Result<(Manifest, PublicKey), BackupError> {
        let Some(signature) = self.signature else {
            return Err(BackupError::Unsigned {
                id: self.id.to_string(),
                path: self.signature_location.to_owned(),
            });
        };
        let bad = |reason: String| BackupError::BadSignature {
            id: self.id.to_string(),
            trusted: trusted.describe(),
            reason,
        };
        let signature: [u8; SIGNATURE_LENGTH] = signature.try_into().map_err(|_| {
            bad(format!(
                "{} holds {} bytes, an ed25519 signature has {SIGNATURE_LENGTH}",
                self.signature_location.display(),
                signature.len()
            ))
        })?;
        let Some(signed_by) = trusted.signer_of(self.bytes, &signature) else {
            let named = Manifest::from_json(self.bytes)
                .ok()
                .and_then(|m| m.signing_key)
                .unwrap_or_else(|| "none".into());
            return Err(bad(format!(
                "no trusted key made this signature (the manifest names signing key {named})"
            )));
        };
        let manifest = Manifest::from_json(self.bytes)
            .map_err(|reason| bad(format!("the signed manifest is malformed: {reason}")))?;
        if &manifest.id != self.id {
            return Err(bad(format!("it is the signed manifest of {}", manifest.id)));
        }
        Ok((manifest, signed_by))
    }
}

/// Checks a local backup's signature: reads `<id>.json` and `<id>.manifest.sig` once, verifies
/// the signature over those bytes with the trusted keys, and rebuilds the backup from the
/// manifest parsed from the same bytes (so what was verified is what is used, even if the
/// files change meanwhile).
///
/// # Errors
/// [`BackupError::Unsigned`] when there is no signature file, [`BackupError::BadSignature`]
/// when no trusted key verifies it (or it verifies for another backup id),
/// [`BackupError::Io`] when a file cannot be read.
pub fn authenticate(
    backup: &LocalBackup,
    trusted: &TrustedKeys,
) -> Result<AuthenticBackup, BackupError> {
    let bytes = std::fs::read(&backup.manifest_path).map_err(BackupError::io(format!(
        "read {}",
        backup.manifest_path.display()
    )))?;
    let signature = match std::fs::read(&backup.signature_path) {
        Ok(signature) => Some(signature),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(BackupError::Io {
                context: format!("read {}", backup.signature_path.display()),
                source: e,
            });
        }
    };
    let signed = SignedManifest {
        id: &backup.manifest.id,
        bytes: &bytes,
        signature: signature.as_deref(),
        signature_location: &backup.signature_path,
    };
    let (manifest, signed_by) = signed.verify(trusted)?;
    let dir = backup
        .manifest_path
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let backup = LocalBackup {
        data_path: dir.join(&manifest.data_file),
        manifest,
        manifest_path: backup.manifest_path.clone(),
        signature_path: backup.signature_path.clone(),
        verification: backup.verification.clone(),
    };
    Ok(AuthenticBackup { backup, signed_by })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_round_trips_through_base64_and_bad_text_is_refused() {
        let key = SigningKey::generate().public_key();
        let text = key.to_string();
        assert_eq!(text.len(), 44);
        assert_eq!(text.parse::<PublicKey>().unwrap(), key);
        for bad in ["", "abc", "not base64 at all!", &text[..40]] {
            assert!(bad.parse::<PublicKey>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_trusted_key_verifies_and_any_changed_byte_fails() {
        let signer = SigningKey::generate();
        let other = SigningKey::generate();
        let message = b"{\"id\": \"db-20261121T193000Z-a1b2c3\"}";
        let signature = signer.sign(message);
        let trusted = TrustedKeys::new(vec![other.public_key(), signer.public_key()]).unwrap();
        assert_eq!(
            trusted.signer_of(message, &signature),
            Some(signer.public_key())
        );
        let only_other = TrustedKeys::new(vec![other.public_key()]).unwrap();
        assert_eq!(only_other.signer_of(message, &signature), None);
        let mut changed = message.to_vec();
        changed[10] ^= 1;
        assert_eq!(trusted.signer_of(&changed, &signature), None);
        assert!(TrustedKeys::new(Vec::new()).is_err());
    }

    #[test]
    fn key_files_are_written_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let key = SigningKey::generate();
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            SigningKey::from_file(&path).unwrap().public_key(),
            key.public_key()
        );
        let again = SigningKey::generate().write_new(&path).unwrap_err();
        assert!(again.to_string().contains("never overwritten"), "{again}");
        assert_eq!(
            SigningKey::from_file(&path).unwrap().public_key(),
            key.public_key(),
            "the first key is still there"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = SigningKey::from_file(&path).unwrap_err();
        assert!(open.to_string().contains("must be 600"), "{open}");
        assert!(!open.to_string().contains(&BASE64.encode(key.0.to_bytes())));
    }

    #[test]
    fn verify_keys_come_from_text_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            SigningKey::generate().public_key(),
            SigningKey::generate().public_key(),
        );
        let file = dir.path().join("trusted.pub");
        std::fs::write(&file, format!("# backup host\n{b}\n")).unwrap();
        let values = [a.to_string(), file.display().to_string()];
        let trusted = TrustedKeys::collect(&values).unwrap();
        assert_eq!(trusted.keys(), [a, b]);
        let missing = TrustedKeys::collect(&["/no/such/key.pub".into()]).unwrap_err();
        assert!(
            matches!(missing, BackupError::VerifyKey { .. }),
            "{missing}"
        );
        std::fs::write(&file, "# nothing\n").unwrap();
        let empty_file = TrustedKeys::collect(&[file.display().to_string()]).unwrap_err();
        assert!(
            empty_file.to_string().contains("holds no key"),
            "{empty_file}"
        );
        let none = TrustedKeys::collect(&[]).unwrap_err();
        assert!(matches!(none, BackupError::NoVerifyKeys), "{none}");
    }
}
