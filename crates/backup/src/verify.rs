//! `backup verify`: proves that a backup can be restored, without touching live data.
//!
//! Every check starts from an [`AuthenticBackup`] (its manifest signature verified).
//! DB: checksum, decrypt, gunzip, rebuild into a scratch SQLCipher file under a random key,
//! `cipher_integrity_check` + `integrity_check`, page and row counts vs the manifest.
//! Wallets: checksum, decrypt, gunzip, read every tar entry to the end, and check that every
//! wallet listed in the manifest has its keys file in the archive.
//! Tor: checksum, decrypt, gunzip, and the three files one key set whose onion address is the
//! manifest's.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use super::chain::LinkProblem;
use super::chain::apply::rebuild;
use super::chain::resolve::resolve;
use super::crypto::Identities;
use super::db::check_checksum;
use super::error::BackupError;
use super::manifest::{BackupId, BackupKind};
use super::sealed;
use super::signing::{AuthenticBackup, TrustedKeys};
use super::store::{BackupDir, VerificationRecord};
use super::tor_keys::open_keys;
use mmkt_sqlcipher::DbKey;

/// The outcome of verifying one backup.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyOutcome {
    /// Backup id.
    pub id: BackupId,
    /// Whether every check passed.
    pub ok: bool,
    /// "ok" or the first failure.
    pub detail: String,
    /// Checks that passed, in order ("signature", "checksum", "decrypt", ...).
    pub checks: Vec<String>,
    /// For a chain that cannot be rebuilt: its first bad link and the newest good point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_break: Option<ChainBreak>,
}

/// The first bad link of a backup's chain, as `verify` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The link (a backup id) nearest the base that is missing or bad.
    pub first_bad: String,
    /// What is wrong with it.
    pub problem: LinkProblem,
    /// The newest backup before it that can still be restored.
    pub newest_good: Option<String>,
}

impl ChainBreak {
    /// The chain break inside `e`, looking through [`BackupError::Context`].
    pub fn of(e: &BackupError) -> Option<ChainBreak> {
        match e {
            BackupError::ChainBroken {
                first_bad,
                problem,
                newest_good,
                ..
            } => Some(ChainBreak {
                first_bad: first_bad.clone(),
                problem: problem.clone(),
                newest_good: newest_good.clone(),
            }),
            BackupError::Context { source, .. } => ChainBreak::of(source),
            _ => None,
        }
    }
}

/// Verifies one authenticated backup and records the result next to it (`<id>.verified.json`).
/// A DB backup is verified with its whole chain (each link authenticated with `trusted`,
/// every delta applied in a scratch SQLCipher file).
///
/// Never returns an error for a bad backup: the failure is in [`VerifyOutcome::detail`].
pub fn verify_backup(
    dir: &BackupDir,
    backup: &AuthenticBackup,
    identities: &Identities,
    trusted: &TrustedKeys,
) -> VerifyOutcome {
    let mut checks = vec!["signature".to_owned()];
    let result = match backup.manifest.kind {
        BackupKind::Db => verify_db(dir, backup, (identities, trusted), &mut checks),
        BackupKind::Wallets => verify_wallets(backup, identities, &mut checks),
        BackupKind::Tor => verify_tor(backup, identities, &mut checks),
    };
    let (ok, detail, chain_break) = match result {
        Ok(()) => (true, "ok".to_owned(), None),
        Err(e) => (false, e.to_string(), ChainBreak::of(&e)),
    };
    let outcome = VerifyOutcome {
        id: backup.manifest.id.clone(),
        ok,
        detail,
        checks,
        chain_break,
    };
    record_outcome(dir, &outcome);
    outcome
}

/// Records `outcome` next to its backup (`<id>.verified.json`); a failure to write the
/// record is logged, not returned (the check itself is what counts).
pub(crate) fn record_outcome(dir: &BackupDir, outcome: &VerifyOutcome) {
    let record = VerificationRecord {
        id: outcome.id.clone(),
        verified_at: OffsetDateTime::now_utc(),
        ok: outcome.ok,
        detail: outcome.detail.clone(),
    };
    if let Err(e) = dir.record_verification(&record) {
        tracing::warn!("could not record verification of {}: {e}", outcome.id);
    }
}

fn verify_db(
    dir: &BackupDir,
    backup: &AuthenticBackup,
    (identities, trusted): (&Identities, &TrustedKeys),
    checks: &mut Vec<String>,
) -> Result<(), BackupError> {
    let chain = resolve(dir, backup, trusted)?;
    checks.push("chain".into());
    let scratch = ScratchDir::create(dir.path(), backup.manifest.id.as_str())?;
    let dest = scratch.path().join("verify.db");
    let key = DbKey::generate();
    rebuild(&chain, identities, &dest, &key, (dir, trusted), &|_| {})?;
    checks.extend(
        [
            "checksum",
            "decrypt",
            "gunzip",
            "pages",
            "page_stream_sha256",
            "cipher_integrity_check",
            "integrity_check",
            "row_counts",
        ]
        .map(String::from),
    );
    Ok(())
}

fn verify_wallets(
    backup: &AuthenticBackup,
    identities: &Identities,
    checks: &mut Vec<String>,
) -> Result<(), BackupError> {
    check_checksum(backup)?;
    checks.push("checksum".into());
    let names = read_archive_names(backup, identities)?;
    checks.extend(["decrypt", "gunzip", "tar"].map(String::from));
    let Some(details) = backup.manifest.wallets.as_ref() else {
        return Err(BackupError::Mismatch {
            id: backup.manifest.id.to_string(),
            detail: "wallet backup without wallet details".into(),
        });
    };
    let files = names.iter().filter(|n| !n.ends_with('/')).count() as u64;
    if files != details.file_count {
        return Err(BackupError::Mismatch {
            id: backup.manifest.id.to_string(),
            detail: format!(
                "archive has {files} files, manifest says {}",
                details.file_count
            ),
        });
    }
    for wallet in &details.wallets {
        let keys = format!("{}.keys", wallet.name);
        if !names.contains(&keys) {
            return Err(BackupError::Mismatch {
                id: backup.manifest.id.to_string(),
                detail: format!("wallet {} has no {keys} in the archive", wallet.name),
            });
        }
    }
    checks.push("wallet_files".into());
    Ok(())
}

fn verify_tor(
    backup: &AuthenticBackup,
    identities: &Identities,
    checks: &mut Vec<String>,
) -> Result<(), BackupError> {
    open_keys(backup, identities)?;
    checks.extend(["checksum", "decrypt", "gunzip", "tar", "onion_keys"].map(String::from));
    Ok(())
}

/// Decrypts and reads a wallet archive to the end (every byte, so age's authentication, gzip's
/// CRC and the manifest's checksum are checked), returning its entry paths.
///
/// # Errors
/// [`BackupError::Decrypt`] (wrong identity, damaged payload), [`BackupError::Wallet`] (bad
/// tar), [`BackupError::Checksum`] (the bytes read are not the file the manifest describes).
pub fn read_archive_names(
    backup: &AuthenticBackup,
    identities: &Identities,
) -> Result<BTreeSet<String>, BackupError> {
    let damaged = sealed::damaged_archive(&backup.data_path);
    let (payload, tally) = sealed::open_payload(backup, identities)?;
    let mut archive = tar::Archive::new(payload);
    let mut names = BTreeSet::new();
    for entry in archive.entries().map_err(&damaged)? {
        let mut entry = entry.map_err(&damaged)?;
        let path = entry
            .path()
            .map_err(&damaged)?
            .to_string_lossy()
            .into_owned();
        std::io::copy(&mut entry, &mut std::io::sink()).map_err(&damaged)?;
        names.insert(path.trim_start_matches("./").to_owned());
    }
    sealed::drain_and_check(&mut archive.into_inner(), &tally, backup)?;
    Ok(names)
}

/// A scratch directory inside the backup directory (same file system, never /tmp), named like a
/// temp file so that an interrupted run's leftovers are cleaned by `prune`; removed on drop.
pub struct ScratchDir {
    path: std::path::PathBuf,
}

impl ScratchDir {
    /// Creates `.<label>-scratch.tmp-<pid>` (mode 0700) under `parent`.
    ///
    /// # Errors
    /// [`BackupError::Io`] when it cannot be created.
    pub fn create(parent: &Path, label: &str) -> Result<ScratchDir, BackupError> {
        use std::os::unix::fs::DirBuilderExt;
        let path = parent.join(format!(".{label}-scratch.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(BackupError::io(format!(
                "create scratch directory {}",
                path.display()
            )))?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
