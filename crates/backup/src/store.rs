//! The local backup directory: atomic file creation, listing of complete backups, lookup by id or
//! `latest`, verification records, removal, and cleanup of files left by interrupted runs.
//!
//! Layout (flat): `<id>.db.zst.age` (`<id>.db.gz.age` before zstd), `<id>.delta.zst.age` or `<id>.tar.gz.age` (data), `<id>.manifest.sig` (the
//! manifest's signature), `<id>.json` (manifest, written last), `<id>.verified.json` (result of
//! the last `mmctl backup verify`), and temporary `.<name>.tmp-<pid>` files while a write is in
//! progress. Every name is built from a [`BackupId`], which only holds ids of the id pattern.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::BackupError;
use super::manifest::{BackupId, Manifest, Selector, Series};
use super::signing::{SigningKey, signature_file_name};

/// Default backup directory when neither `--backup-dir` nor `MMKT_BACKUP_DIR` is given.
pub const DEFAULT_DIR: &str = "/var/backups/mmkt";

/// A local backup directory.
#[derive(Debug, Clone)]
pub struct BackupDir {
    path: PathBuf,
}

/// A temporary file in the backup directory that becomes `final_name` on [`TempFile::persist`]
/// and is removed if dropped before that.
#[derive(Debug)]
pub struct TempFile {
    temp_path: PathBuf,
    final_path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// The open file to write into.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("file present until persist")
    }

    /// Takes the file out to wrap it in writers; give it back with [`TempFile::persist`].
    pub fn take(&mut self) -> File {
        self.file.take().expect("file present until persist")
    }

    /// Path of the temporary file.
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    /// fsyncs `file`, renames the temp file to its final name and fsyncs the directory.
    ///
    /// # Errors
    /// [`BackupError::Io`] when any of these fails (the temp file is then removed).
    pub fn persist(mut self, file: File) -> Result<PathBuf, BackupError> {
        file.sync_all().map_err(BackupError::io(format!(
            "fsync {}",
            self.temp_path.display()
        )))?;
        drop(file);
        std::fs::rename(&self.temp_path, &self.final_path).map_err(BackupError::io(format!(
            "rename {} to {}",
            self.temp_path.display(),
            self.final_path.display()
        )))?;
        sync_dir(self.final_path.parent().unwrap_or(Path::new(".")))?;
        self.temp_path = PathBuf::new();
        Ok(self.final_path.clone())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.temp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// What a failed write leaves behind, for [`Partial`] to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftover {
    /// A database file with its `-journal`, `-wal` and `-shm` side files.
    DbFiles,
    /// A directory and everything in it.
    Directory,
}

/// A restore target being written: removed when dropped, unless [`Partial::keep`] was called
/// (so every early return on error cleans up).
pub(crate) struct Partial<'a> {
    path: &'a Path,
    leftover: Leftover,
    kept: bool,
}

impl<'a> Partial<'a> {
    /// Guards `path`.
    pub(crate) fn new(path: &'a Path, leftover: Leftover) -> Partial<'a> {
        Partial {
            path,
            leftover,
            kept: false,
        }
    }

    /// The write succeeded: keep the target.
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Partial<'_> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        match self.leftover {
            Leftover::DbFiles => crate::db::remove_db_files(self.path),
            Leftover::Directory => {
                let _ = std::fs::remove_dir_all(self.path);
            }
        }
    }
}

/// fsyncs a directory so that a rename in it is durable.
///
/// # Errors
/// [`BackupError::Io`] when the directory cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(BackupError::io(format!(
            "fsync directory {}",
            dir.display()
        )))
}

/// The recorded result of the last verification of a backup (`<id>.verified.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationRecord {
    /// Backup id.
    pub id: BackupId,
    /// When it was verified.
    #[serde(with = "time::serde::rfc3339")]
    pub verified_at: OffsetDateTime,
    /// Whether every check passed.
    pub ok: bool,
    /// "ok" or the failure.
    pub detail: String,
}

/// A complete backup found in the directory.
#[derive(Debug, Clone)]
pub struct LocalBackup {
    /// Its manifest.
    pub manifest: Manifest,
    /// Path of the encrypted data file.
    pub data_path: PathBuf,
    /// Path of the manifest.
    pub manifest_path: PathBuf,
    /// Path of the manifest's signature (`<id>.manifest.sig`; it may be missing).
    pub signature_path: PathBuf,
    /// The last verification, if any.
    pub verification: Option<VerificationRecord>,
}

/// A manifest whose backup is not usable (missing or truncated data file, unreadable JSON).
#[derive(Debug, Clone)]
pub struct IncompleteBackup {
    /// The manifest path.
    pub manifest_path: PathBuf,
    /// Why it is not complete.
    pub reason: String,
}

impl IncompleteBackup {
    /// Whether this is the manifest file of backup `id`.
    pub fn names(&self, id: &BackupId) -> bool {
        self.manifest_path
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == Manifest::file_name(id))
    }
}

impl BackupDir {
    /// Opens (creating with mode 0700 if needed) a backup directory.
    ///
    /// # Errors
    /// [`BackupError::Io`] when it cannot be created.
    pub fn open(path: &Path) -> Result<BackupDir, BackupError> {
        if !path.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(BackupError::io(format!(
                    "create backup directory {}",
                    path.display()
                )))?;
        }
        Ok(BackupDir {
            path: path.to_owned(),
        })
    }

    /// The directory path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates `.<final_name>.tmp-<pid>` (mode 0600) for an atomic write of `final_name`.
    ///
    /// # Errors
    /// [`BackupError::Io`] when the file cannot be created.
    pub fn temp_file(&self, final_name: &str) -> Result<TempFile, BackupError> {
        let temp_path = self
            .path
            .join(format!(".{final_name}.tmp-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp_path)
            .map_err(BackupError::io(format!("create {}", temp_path.display())))?;
        Ok(TempFile {
            temp_path,
            final_path: self.path.join(final_name),
            file: Some(file),
        })
    }

    /// Writes small content (manifest, record) atomically: temp file, fsync, rename.
    ///
    /// # Errors
    /// [`BackupError::Io`] on any write failure.
    pub fn write_atomic(&self, final_name: &str, content: &[u8]) -> Result<PathBuf, BackupError> {
        let mut temp = self.temp_file(final_name)?;
        temp.file()
            .write_all(content)
            .map_err(BackupError::io(format!(
                "write {}",
                temp.temp_path().display()
            )))?;
        let file = temp.take();
        temp.persist(file)
    }

    /// Completes a backup whose data file is already at `data_path`: records `signer`'s
    /// public key in the manifest, signs the manifest's bytes, writes the signature, then the
    /// manifest (last, so the backup counts only once both are there).
    ///
    /// # Errors
    /// [`BackupError::Io`] on write failure.
    pub fn write_signed(
        &self,
        mut manifest: Manifest,
        data_path: PathBuf,
        signer: &SigningKey,
    ) -> Result<LocalBackup, BackupError> {
        manifest.signing_key = Some(signer.public_key().to_string());
        let bytes = manifest.to_json();
        let signature = signer.sign(&bytes);
        self.write_verbatim(manifest, &bytes, Some(&signature), data_path)
    }

    /// Writes a manifest exactly as `bytes` (the parsed form is `manifest`) with its signature,
    /// if any: a copy of a backup made elsewhere (an S3 download), never re-serialized, so its
    /// signature still verifies.
    ///
    /// # Errors
    /// [`BackupError::Io`] on write failure.
    pub fn write_verbatim(
        &self,
        manifest: Manifest,
        bytes: &[u8],
        signature: Option<&[u8]>,
        data_path: PathBuf,
    ) -> Result<LocalBackup, BackupError> {
        let signature_path = self.signature_path(&manifest.id);
        if let Some(signature) = signature {
            self.write_atomic(&signature_file_name(&manifest.id), signature)?;
            crate::chain::create::fault_point("signature-written");
        }
        let manifest_path = self.write_atomic(&Manifest::file_name(&manifest.id), bytes)?;
        Ok(LocalBackup {
            manifest,
            data_path,
            manifest_path,
            signature_path,
            verification: None,
        })
    }

    /// Where the signature of backup `id` is (or would be).
    pub fn signature_path(&self, id: &BackupId) -> PathBuf {
        self.path.join(signature_file_name(id))
    }

    /// Records a verification result (`<id>.verified.json`).
    ///
    /// # Errors
    /// [`BackupError::Io`] on write failure.
    pub fn record_verification(&self, record: &VerificationRecord) -> Result<(), BackupError> {
        let json = serde_json::to_vec_pretty(record).expect("record serializes");
        self.write_atomic(&format!("{}.verified.json", record.id), &json)
            .map(|_| ())
    }

    /// Scans the directory: complete backups (oldest first) and incomplete ones.
    ///
    /// A backup is complete when its manifest parses and the data file it names exists with
    /// the recorded encrypted size. Temporary files are ignored.
    ///
    /// # Errors
    /// [`BackupError::Io`] when the directory cannot be read.
    pub fn scan(&self) -> Result<(Vec<LocalBackup>, Vec<IncompleteBackup>), BackupError> {
        let mut complete = Vec::new();
        let mut incomplete = Vec::new();
        let entries = std::fs::read_dir(&self.path).map_err(BackupError::io(format!(
            "read backup directory {}",
            self.path.display()
        )))?;
        for entry in entries {
            let entry = entry.map_err(BackupError::io(format!(
                "read backup directory {}",
                self.path.display()
            )))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".json") || name.ends_with(".verified.json")
            {
                continue;
            }
            let manifest_path = entry.path();
            match self.check_manifest(&manifest_path) {
                Ok(backup) => complete.push(backup),
                Err(reason) => incomplete.push(IncompleteBackup {
                    manifest_path,
                    reason,
                }),
            }
        }
        complete.sort_by(|a, b| a.manifest.chronological(&b.manifest));
        Ok((complete, incomplete))
    }

    /// Complete backups, oldest first.
    ///
    /// # Errors
    /// [`BackupError::Io`] when the directory cannot be read.
    pub fn list(&self) -> Result<Vec<LocalBackup>, BackupError> {
        Ok(self.scan()?.0)
    }

    fn check_manifest(&self, manifest_path: &Path) -> Result<LocalBackup, String> {
        let text = std::fs::read(manifest_path).map_err(|e| format!("cannot read: {e}"))?;
        let manifest = Manifest::from_json(&text)?;
        let expected_name = Manifest::file_name(&manifest.id);
        if manifest_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            != Some(expected_name.clone())
        {
            return Err(format!(
                "manifest id {} does not match its file name",
                manifest.id
            ));
        }
        let data_path = self.path.join(&manifest.data_file);
        let size = std::fs::metadata(&data_path)
            .map_err(|e| format!("data file {} missing: {e}", data_path.display()))?
            .len();
        if size != manifest.encrypted_size {
            return Err(format!(
                "data file has {size} bytes, manifest says {}",
                manifest.encrypted_size
            ));
        }
        let verification = std::fs::read(self.path.join(format!("{}.verified.json", manifest.id)))
            .ok()
            .and_then(|b| serde_json::from_slice::<VerificationRecord>(&b).ok())
            .filter(|v| v.id == manifest.id);
        Ok(LocalBackup {
            signature_path: self.signature_path(&manifest.id),
            manifest,
            data_path,
            manifest_path: manifest_path.to_owned(),
            verification,
        })
    }

    /// Finds a complete backup by id, or the newest of `series` for [`Selector::Latest`] (taken
    /// at or before the time for [`Selector::At`]).
    ///
    /// # Errors
    /// [`BackupError::NotFound`] when there is none ([`BackupError::NoBackupAt`] for
    /// [`Selector::At`]); [`BackupError::Incomplete`] when the id exists but its backup is
    /// incomplete.
    pub fn find(&self, selector: &Selector, series: Series) -> Result<LocalBackup, BackupError> {
        let (complete, incomplete) = self.scan()?;
        let selector = match selector {
            Selector::Latest => {
                return complete
                    .into_iter()
                    .rev()
                    .find(|b| b.manifest.series() == series)
                    .ok_or_else(|| BackupError::NotFound(format!("of kind {series}")));
            }
            Selector::At(at) => {
                return complete
                    .into_iter()
                    .rev()
                    .find(|b| b.manifest.series() == series && b.manifest.created_at <= *at)
                    .ok_or_else(|| BackupError::NoBackupAt { at: at.to_string() });
            }
            Selector::Id(id) => id,
        };
        if let Some(found) = complete.into_iter().find(|b| &b.manifest.id == selector) {
            if found.manifest.series() != series {
                return Err(BackupError::NotFound(format!(
                    "{selector} of kind {series} (it is a {} backup)",
                    found.manifest.series()
                )));
            }
            return Ok(found);
        }
        if let Some(bad) = incomplete.into_iter().find(|b| b.names(selector)) {
            return Err(BackupError::Incomplete {
                id: selector.to_string(),
                reason: bad.reason,
            });
        }
        Err(BackupError::NotFound(selector.to_string()))
    }

    /// Removes a backup: manifest first (so a partial removal never looks complete), then the
    /// data file, the signature and the verification record.
    ///
    /// # Errors
    /// [`BackupError::Io`] when a file cannot be removed.
    pub fn remove(&self, backup: &LocalBackup) -> Result<(), BackupError> {
        std::fs::remove_file(&backup.manifest_path).map_err(BackupError::io(format!(
            "remove {}",
            backup.manifest_path.display()
        )))?;
        sync_dir(&self.path)?;
        remove_if_exists(&backup.data_path)?;
        remove_if_exists(&backup.signature_path)?;
        remove_if_exists(
            &self
                .path
                .join(format!("{}.verified.json", backup.manifest.id)),
        )?;
        Ok(())
    }

    /// Removes temporary files left by mmctl processes that no longer run (kill -9, power loss).
    /// Returns the removed paths.
    ///
    /// # Errors
    /// [`BackupError::Io`] when the directory cannot be read or a file removed.
    pub fn remove_stale_temp_files(&self) -> Result<Vec<PathBuf>, BackupError> {
        let mut removed = Vec::new();
        let entries = std::fs::read_dir(&self.path).map_err(BackupError::io(format!(
            "read backup directory {}",
            self.path.display()
        )))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix('.')
                .and_then(|n| n.rsplit_once(".tmp-"))
                .and_then(|(_, pid)| pid.parse::<i32>().ok())
            else {
                continue;
            };
            if process_alive(pid) {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)
                    .map_err(BackupError::io(format!("remove {}", path.display())))?;
            } else {
                remove_if_exists(&path)?;
            }
            removed.push(path);
        }
        Ok(removed)
    }
}

/// The regular files directly in `dir` (no subdirectories, no symlinks), sorted by path.
///
/// # Errors
/// [`BackupError::Io`] when the directory cannot be read.
pub(crate) fn regular_files(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(BackupError::io(format!("read {}", dir.display())))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Opens a file to archive it, with a tar header of its metadata (mode, owner, times, size).
///
/// # Errors
/// [`BackupError::Io`] when it cannot be opened or stat'ed.
pub(crate) fn open_for_tar(path: &Path) -> Result<(File, tar::Header), BackupError> {
    let file = File::open(path).map_err(BackupError::io(format!("open {}", path.display())))?;
    let meta = file
        .metadata()
        .map_err(BackupError::io(format!("stat {}", path.display())))?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    header.set_size(meta.len());
    Ok((file, header))
}

/// Whether a process with this PID exists (kill(pid, 0)).
pub(crate) fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn remove_if_exists(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackupError::Io {
            context: format!("remove {}", path.display()),
            source: e,
        }),
    }
}

/// This machine's host name (for manifests).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
