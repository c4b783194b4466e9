//! `backup tor`'s data: the `tor` service's onion-service key set (`hostname`,
//! `hs_ed25519_public_key`, `hs_ed25519_secret_key`) sealed like every backup (tar -> gzip ->
//! age -> file, SHA-256 on the way, signed manifest naming the onion address), and read back
//! checked, in memory only (the secret key never reaches the disk in plaintext), for verify,
//! drill and restore.

use std::io::Read;
use std::time::Instant;

use mmkt_stack::tor::HiddenServiceKeys;
use time::OffsetDateTime;

use super::crypto::{CountingWriter, Identities};
use super::db::check_checksum;
use super::error::BackupError;
use super::manifest::{BackupKind, Manifest, Series, TorDetails, new_id};
use super::sealed;
use super::signing::{AuthenticBackup, BackupKeys};
use super::store::{BackupDir, LocalBackup};

/// The most bytes one archived file may have when read back (tor's files are under 100 bytes):
/// a damaged or hostile archive cannot make a restore allocate more.
const MAX_FILE_BYTES: u64 = 4096;

/// Seals `keys` into a new `tor-<time>-<hex>` backup in `dir`: the three files (mode 0600) in
/// a tar, gzip'd, encrypted to the recipients, then the signed manifest with
/// [`TorDetails::onion_address`].
///
/// # Errors
/// [`BackupError::Io`] when the data file or manifest cannot be written.
pub fn seal_keys(
    dir: &BackupDir,
    keys: BackupKeys<'_>,
    hidden_service: &HiddenServiceKeys,
) -> Result<LocalBackup, BackupError> {
    let started = Instant::now();
    let created_at = OffsetDateTime::now_utc();
    let id = new_id(Series::TOR, created_at);
    let mut temp = dir.temp_file(&Manifest::data_file_name(&id, BackupKind::Tor))?;
    let gz = sealed::seal(temp.take(), keys.recipients, sealed::Codec::Gzip(6))?;
    let mut builder = tar::Builder::new(CountingWriter::new(gz));
    let mtime = created_at.unix_timestamp().max(0) as u64;
    let mut names = Vec::new();
    for (name, content) in hidden_service.files() {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o600);
        header.set_size(content.len() as u64);
        header.set_mtime(mtime);
        builder
            .append_data(&mut header, name, content.as_slice())
            .map_err(BackupError::io(format!("archive {name}")))?;
        names.push(name.to_owned());
    }
    let sealed = sealed::finish_archive(builder, temp)?;
    let mut manifest = sealed.manifest(id, BackupKind::Tor, created_at, keys.recipients, started);
    manifest.tor = Some(TorDetails {
        onion_address: hidden_service.address.to_string(),
        files: names,
    });
    dir.write_signed(manifest, sealed.data_path, keys.signer)
}

/// Decrypts a tor backup into memory and checks it: the data file's checksum (before and
/// while reading), the three files present and one key set whose address is the manifest's.
///
/// # Errors
/// [`BackupError::Checksum`] (tampered or damaged data file), [`BackupError::Decrypt`] (wrong
/// identity), [`BackupError::Mismatch`] (not a tor backup, another address than recorded),
/// [`BackupError::TorKeys`] (files missing or not one key set).
pub fn open_keys(
    backup: &AuthenticBackup,
    identities: &Identities,
) -> Result<HiddenServiceKeys, BackupError> {
    let mismatch = |detail: String| BackupError::Mismatch {
        id: backup.manifest.id.to_string(),
        detail,
    };
    let Some(details) = backup.manifest.tor.as_ref() else {
        return Err(mismatch("not an onion-service key backup".into()));
    };
    check_checksum(backup)?;
    let damaged = sealed::damaged_archive(&backup.data_path);
    let (payload, tally) = sealed::open_payload(backup, identities)?;
    let mut archive = tar::Archive::new(payload);
    let mut entries = Vec::new();
    for entry in archive.entries().map_err(&damaged)? {
        let entry = entry.map_err(&damaged)?;
        let name = entry
            .path()
            .map_err(&damaged)?
            .to_string_lossy()
            .into_owned();
        let mut content = Vec::new();
        entry
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut content)
            .map_err(&damaged)?;
        if content.len() as u64 > MAX_FILE_BYTES {
            return Err(mismatch(format!(
                "{name} is larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        entries.push((name, content));
    }
    sealed::drain_and_check(&mut archive.into_inner(), &tally, backup)?;
    let keys = HiddenServiceKeys::from_entries(&entries)
        .map_err(|e| BackupError::TorKeys(format!("backup {}: {e}", backup.manifest.id)))?;
    if keys.address.as_str() != details.onion_address {
        return Err(mismatch(format!(
            "its keys make {}, the manifest recorded {}",
            keys.address, details.onion_address
        )));
    }
    Ok(keys)
}
