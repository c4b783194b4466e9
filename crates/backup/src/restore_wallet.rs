//! `restore wallet`: prove the backup's wallets open with their recorded addresses (in a
//! throwaway wallet-rpc on a scratch copy), keep the current directory as a regular
//! pre-restore backup, then copy the backup's files in — file by file, atomically — into the
//! directory or the stopped `wallet-rpc-<role>` container. Files absent from the backup
//! (wallets created since) are kept: a restore never deletes a wallet.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::crypto::Identities;
use super::error::BackupError;
use super::escrow_wallets::WalletState;
use super::signing::AuthenticBackup;
use super::store::{BackupDir, regular_files, sync_dir};
use super::verify::ScratchDir;
use super::wallet_source::AddressProbe;
use super::wallets::extract_wallets;

/// The check of one wallet of a backup.
#[derive(Debug, Clone, Serialize)]
pub struct WalletCheck {
    /// Wallet name.
    pub name: String,
    /// Address recorded in the manifest.
    pub expected: Option<String>,
    /// Address the restored wallet showed when opened (None when not opened).
    pub actual: Option<String>,
    /// Whether it opened and matched (false when it could not be checked).
    pub ok: bool,
    /// What the opened wallet showed (address, multisig status, balance); None when not opened.
    #[serde(skip)]
    pub state: Option<WalletState>,
}

/// Extracts a wallet backup into a scratch directory and, when `probe` is given, opens each
/// wallet it knows a password for in a throwaway wallet-rpc and compares its address with the
/// manifest (the others are listed with `ok: false`).
///
/// # Errors
/// [`BackupError::Mismatch`] when a wallet shows another address or does not open with its
/// known password; the
/// extraction errors (checksum, decrypt, archive).
pub async fn check_wallets(
    backup: &AuthenticBackup,
    identities: &Identities,
    probe: Option<&AddressProbe>,
    scratch_parent: &Path,
) -> Result<Vec<WalletCheck>, BackupError> {
    let scratch = ScratchDir::create(scratch_parent, &format!("check-{}", backup.manifest.id))?;
    let wallets = scratch.path().join("wallets");
    tokio::task::block_in_place(|| extract_wallets(backup, identities, &wallets))?;
    let listed = backup
        .manifest
        .wallets
        .as_ref()
        .map(|w| w.wallets.clone())
        .unwrap_or_default();
    let opened = match probe {
        Some(probe) => {
            probe
                .inspect(&wallets, &scratch.path().join("work"))
                .await?
        }
        None => Vec::new(),
    };
    let mut checks = Vec::new();
    for entry in listed {
        let state = opened
            .iter()
            .find(|(n, _)| n == &entry.name)
            .map(|(_, s)| s.clone());
        let actual = state.as_ref().map(|s| s.address.clone());
        let ok = match (&entry.address, &actual) {
            (Some(e), Some(a)) => e == a,
            (None, Some(_)) => true,
            _ => false,
        };
        // A wallet no password is known for (not an escrow wallet of the database, and no
        // MMKT_WALLET_PASSWORD_FILE) cannot be opened: it is listed unchecked, not refused.
        let checkable = probe.is_some_and(|p| p.password_for(&entry.name).is_some());
        if checkable && !ok {
            return Err(BackupError::Mismatch {
                id: backup.manifest.id.to_string(),
                detail: match actual {
                    Some(a) => format!(
                        "wallet {} opened with address {a}, the manifest recorded {:?}",
                        entry.name, entry.address
                    ),
                    None => format!(
                        "wallet {} did not open: an escrow wallet opens with its password from the database, any other with MMKT_WALLET_PASSWORD_FILE",
                        entry.name
                    ),
                },
            });
        }
        checks.push(WalletCheck {
            name: entry.name,
            expected: entry.address,
            actual,
            ok,
            state,
        });
    }
    Ok(checks)
}

/// Copies the backup's files into a live wallet directory, each through a temp file + rename,
/// with the directory's owner; returns the files written.
///
/// # Errors
/// [`BackupError::Io`] on any copy failure (files already replaced stay replaced; the
/// pre-restore backup holds the previous state).
pub fn merge_into_dir(
    backup: &AuthenticBackup,
    identities: &Identities,
    live: &Path,
    scratch_parent: &Path,
) -> Result<Vec<PathBuf>, BackupError> {
    let scratch = ScratchDir::create(scratch_parent, &format!("restore-{}", backup.manifest.id))?;
    let extracted = scratch.path().join("wallets");
    extract_wallets(backup, identities, &extracted)?;
    let owner =
        std::fs::metadata(live).map_err(BackupError::io(format!("stat {}", live.display())))?;
    let mut written = Vec::new();
    for source in regular_files(&extracted)? {
        let name = source.file_name().expect("file name").to_owned();
        let target = live.join(&name);
        let temp = live.join(format!(
            ".{}.restore.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        std::fs::copy(&source, &temp)
            .map_err(BackupError::io(format!("copy into {}", temp.display())))?;
        std::os::unix::fs::chown(&temp, Some(owner.uid()), Some(owner.gid()))
            .map_err(BackupError::io(format!("chown {}", temp.display())))?;
        std::fs::File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(BackupError::io(format!("fsync {}", temp.display())))?;
        std::fs::rename(&temp, &target)
            .map_err(BackupError::io(format!("rename into {}", target.display())))?;
        written.push(target);
    }
    sync_dir(live)?;
    Ok(written)
}

/// Extracts the backup into a scratch directory for uploading into a container; the caller
/// keeps the returned guard alive while uploading.
///
/// # Errors
/// The extraction errors.
pub fn extract_for_upload(
    backup: &AuthenticBackup,
    identities: &Identities,
    dir: &BackupDir,
) -> Result<(ScratchDir, PathBuf), BackupError> {
    let scratch = ScratchDir::create(dir.path(), &format!("upload-{}", backup.manifest.id))?;
    let extracted = scratch.path().join("wallets");
    extract_wallets(backup, identities, &extracted)?;
    Ok((scratch, extracted))
}
