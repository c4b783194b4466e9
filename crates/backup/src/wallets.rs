//! `backup wallets`: a consistent tar.gz of one wallet-rpc's wallet directory, age-encrypted,
//! with a manifest listing each wallet and its primary address; and the matching extract
//! primitive for restores and drills.
//!
//! Consistency: with the compose stack, the wallet-rpc container is stopped for the few seconds
//! the archive takes (monero-wallet-rpc stores the open wallet on SIGTERM) and started again;
//! the archive is read through the Engine API (`GET /containers/{id}/archive`). For a plain
//! directory, the wallet-rpc given by URL is asked to `store` first. See docs/BACKUP.md.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use time::OffsetDateTime;

use super::crypto::{CountingWriter, Identities};
use super::db::check_checksum;
use super::error::BackupError;
use super::manifest::{
    BackupId, BackupKind, Consistency, Manifest, Series, WalletDetails, WalletEntry, WalletRole,
    new_id,
};
use super::sealed::{self, ArchivePipeline};
use super::signing::{AuthenticBackup, BackupKeys};
use super::store::{BackupDir, Leftover, LocalBackup, Partial, open_for_tar};

pub use super::manifest::WALLET_DATA_SUFFIX;

/// Files of one wallet directory, read from disk or from a tar stream.
#[derive(Debug, Clone)]
struct FileRecord {
    name: String,
}

/// An archive being written into the backup directory: tar -> gzip -> age -> temp file.
pub struct ArchiveWriter {
    builder: ArchivePipeline,
    temp: super::store::TempFile,
    id: BackupId,
    role: WalletRole,
    created_at: OffsetDateTime,
    started: Instant,
    files: Vec<FileRecord>,
    addresses: Vec<(String, String)>,
    tee: Option<PathBuf>,
}

impl ArchiveWriter {
    /// Starts a wallet archive for `role` in `dir`.
    ///
    /// # Errors
    /// [`BackupError::Io`] when the temp file or age header cannot be written.
    pub fn create(
        dir: &BackupDir,
        role: WalletRole,
        keys: BackupKeys<'_>,
    ) -> Result<ArchiveWriter, BackupError> {
        let created_at = OffsetDateTime::now_utc();
        let id = new_id(
            Series {
                kind: BackupKind::Wallets,
                role: Some(role),
            },
            created_at,
        );
        let data_file = Manifest::data_file_name(&id, BackupKind::Wallets);
        let mut temp = dir.temp_file(&data_file)?;
        let gz = sealed::seal(temp.take(), keys.recipients, sealed::Codec::Gzip(6))?;
        let mut builder = tar::Builder::new(CountingWriter::new(gz));
        builder.mode(tar::HeaderMode::Complete);
        builder.follow_symlinks(false);
        Ok(ArchiveWriter {
            builder,
            temp,
            id,
            role,
            created_at,
            started: Instant::now(),
            files: Vec::new(),
            addresses: Vec::new(),
            tee: None,
        })
    }

    /// Also writes every archived file into `dir` (a scratch directory inside the backup
    /// directory), so the wallets can be opened by a throwaway wallet-rpc to record their
    /// addresses from exactly the archived bytes.
    pub fn tee_into(&mut self, dir: &Path) {
        self.tee = Some(dir.to_owned());
    }

    /// Adds one regular file (name relative to the wallet directory) from `reader`, with the
    /// metadata of `header` (size must be set). `<name>.address.txt` contents are remembered as
    /// the address of wallet `<name>`.
    ///
    /// # Errors
    /// [`BackupError::Io`] when writing fails.
    pub fn append(
        &mut self,
        name: &str,
        header: &mut tar::Header,
        reader: &mut dyn Read,
    ) -> Result<(), BackupError> {
        if let Some(tee_dir) = self.tee.clone() {
            let target = tee_dir.join(name);
            if !target.starts_with(&tee_dir) || name.split('/').any(|c| c == "..") {
                return Err(BackupError::Wallet(format!("refusing file name {name:?}")));
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(BackupError::io(format!("create {}", parent.display())))?;
            }
            let mut copy = std::fs::File::create(&target)
                .map_err(BackupError::io(format!("create {}", target.display())))?;
            let mut tee = TeeReader {
                inner: reader,
                copy: &mut copy,
            };
            self.tee = None;
            let result = self.append(name, header, &mut tee);
            self.tee = Some(tee_dir);
            return result;
        }
        if let Some(wallet) = name.strip_suffix(".address.txt") {
            let mut text = String::new();
            reader
                .read_to_string(&mut text)
                .map_err(BackupError::io(format!("read {name}")))?;
            self.addresses
                .push((wallet.to_owned(), text.trim().to_owned()));
            header.set_size(text.len() as u64);
            header.set_cksum();
            self.builder
                .append_data(header, name, text.as_bytes())
                .map_err(BackupError::io(format!("archive {name}")))?;
        } else {
            self.builder
                .append_data(header, name, reader)
                .map_err(BackupError::io(format!("archive {name}")))?;
        }
        self.files.push(FileRecord {
            name: name.to_owned(),
        });
        Ok(())
    }

    /// Adds every regular file of a directory (recursively; symlinks and special files skipped).
    ///
    /// # Errors
    /// [`BackupError::Io`] / [`BackupError::Wallet`] on unreadable files.
    pub fn append_dir(&mut self, root: &Path) -> Result<(), BackupError> {
        if !root.is_dir() {
            return Err(BackupError::Wallet(format!(
                "{} is not a directory",
                root.display()
            )));
        }
        let mut stack = vec![root.to_owned()];
        let mut paths = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)
                .map_err(BackupError::io(format!("read {}", dir.display())))?
            {
                let entry = entry.map_err(BackupError::io(format!("read {}", dir.display())))?;
                let kind = entry
                    .file_type()
                    .map_err(BackupError::io(format!("stat {}", entry.path().display())))?;
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file() {
                    paths.push(entry.path());
                }
            }
        }
        paths.sort();
        for path in paths {
            let name = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let (mut file, mut header) = open_for_tar(&path)?;
            let size = header
                .size()
                .map_err(BackupError::io(format!("stat {}", path.display())))?;
            let mut limited = (&mut file).take(size);
            self.append(&name, &mut header, &mut limited)?;
        }
        Ok(())
    }

    /// Finishes the archive: closes tar, gzip and age, fsyncs and renames the data file, then
    /// writes the signed manifest. `rpc_addresses` are (wallet name, address) pairs confirmed
    /// by a wallet-rpc; they take precedence over `.address.txt`.
    ///
    /// # Errors
    /// [`BackupError::Io`] when finishing fails; [`BackupError::Wallet`] when the directory holds no wallet.
    pub fn finish(
        mut self,
        dir: &BackupDir,
        keys: BackupKeys<'_>,
        consistency: Consistency,
        rpc_addresses: &[(String, String)],
    ) -> Result<LocalBackup, BackupError> {
        let mut wallets: Vec<WalletEntry> = self
            .files
            .iter()
            .filter_map(|f| f.name.strip_suffix(".keys"))
            .map(|name| {
                let from_rpc = rpc_addresses
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, a)| (a.clone(), "wallet-rpc"));
                let from_file = self
                    .addresses
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, a)| (a.clone(), "address.txt"));
                let found = from_rpc.or(from_file);
                WalletEntry {
                    name: name.to_owned(),
                    address: found.as_ref().map(|(a, _)| a.clone()),
                    address_source: found.map(|(_, s)| s.to_owned()),
                }
            })
            .collect();
        wallets.sort_by(|a, b| a.name.cmp(&b.name));
        self.builder
            .finish()
            .map_err(BackupError::io("finish tar stream"))?;
        let sealed = sealed::finish_archive(self.builder, self.temp)?;
        let mut manifest = sealed.manifest(
            self.id,
            BackupKind::Wallets,
            self.created_at,
            keys.recipients,
            self.started,
        );
        manifest.wallets = Some(WalletDetails {
            role: self.role,
            consistency,
            wallets,
            file_count: self.files.len() as u64,
        });
        dir.write_signed(manifest, sealed.data_path, keys.signer)
    }
}

/// Archives a wallet directory on this host (no wallet-rpc interaction).
///
/// # Errors
/// As [`ArchiveWriter`].
pub fn backup_wallet_dir(
    dir: &BackupDir,
    role: WalletRole,
    wallet_dir: &Path,
    keys: BackupKeys<'_>,
    consistency: Consistency,
    rpc_addresses: &[(String, String)],
) -> Result<LocalBackup, BackupError> {
    let mut writer = ArchiveWriter::create(dir, role, keys)?;
    writer.append_dir(wallet_dir)?;
    writer.finish(dir, keys, consistency, rpc_addresses)
}

/// Extracts a wallet backup into `dest` (created; must not exist), after checking the checksum,
/// which is checked again over the bytes that were decrypted before `dest` is kept.
/// Returns the extracted file paths. Entries are confined to `dest` (no `..`, no absolute paths).
///
/// # Errors
/// [`BackupError::Checksum`], [`BackupError::Decrypt`], [`BackupError::Wallet`], I/O errors.
/// On error `dest` is removed.
pub fn extract_wallets(
    backup: &AuthenticBackup,
    identities: &Identities,
    dest: &Path,
) -> Result<Vec<PathBuf>, BackupError> {
    let partial = Partial::new(dest, Leftover::Directory);
    if backup.manifest.wallets.is_none() {
        return Err(BackupError::Mismatch {
            id: backup.manifest.id.to_string(),
            detail: "not a wallet backup".into(),
        });
    }
    check_checksum(backup)?;
    std::fs::create_dir(dest).map_err(BackupError::io(format!("create {}", dest.display())))?;
    let damaged = sealed::damaged_archive(&backup.data_path);
    let (payload, tally) = sealed::open_payload(backup, identities)?;
    let mut archive = tar::Archive::new(payload);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(false);
    let mut extracted = Vec::new();
    for entry in archive.entries().map_err(&damaged)? {
        let mut entry = entry.map_err(&damaged)?;
        let path = entry.path().map_err(&damaged)?.into_owned();
        if !entry
            .unpack_in(dest)
            .map_err(|e| BackupError::Wallet(format!("cannot extract {}: {e}", path.display())))?
        {
            return Err(BackupError::Wallet(format!(
                "archive entry {} points outside the wallet directory",
                path.display()
            )));
        }
        extracted.push(dest.join(path));
    }
    sealed::drain_and_check(&mut archive.into_inner(), &tally, backup)?;
    for path in &extracted {
        if let Ok(f) = std::fs::File::open(path) {
            f.sync_all()
                .map_err(BackupError::io(format!("fsync {}", path.display())))?;
        }
    }
    super::store::sync_dir(dest)?;
    partial.keep();
    Ok(extracted)
}

/// Writes a tar stream's regular files into an archive (used for archives read from a container
/// through the Engine API, whose entries are prefixed with the directory name, e.g. `wallets/`).
///
/// # Errors
/// [`BackupError::Wallet`] when the stream is not a valid tar.
pub fn append_tar_stream(
    writer: &mut ArchiveWriter,
    stream: &mut dyn Read,
    strip_prefix: &str,
) -> Result<(), BackupError> {
    let mut archive = tar::Archive::new(stream);
    for entry in archive
        .entries()
        .map_err(|e| BackupError::Wallet(format!("read container archive: {e}")))?
    {
        let mut entry =
            entry.map_err(|e| BackupError::Wallet(format!("read container archive: {e}")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| BackupError::Wallet(format!("read container archive: {e}")))?
            .to_string_lossy()
            .into_owned();
        let name = path
            .strip_prefix(strip_prefix)
            .unwrap_or(&path)
            .trim_start_matches('/')
            .to_owned();
        if name.is_empty() {
            continue;
        }
        let mut header = entry.header().clone();
        writer.append(&name, &mut header, &mut entry)?;
    }
    Ok(())
}

/// Copies everything read through it into a second writer.
struct TeeReader<'a> {
    inner: &'a mut dyn Read,
    copy: &'a mut dyn std::io::Write,
}

impl Read for TeeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}
