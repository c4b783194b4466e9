//! `restore db`: rebuild a backup into a temp file next to the live database, verify it, keep
//! the current database as a pre-restore snapshot (hard link, plus its WAL), and swap the new
//! file in with one atomic rename. Any failure before the rename leaves the live DB untouched.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::chain::apply::rebuild;
use super::chain::resolve::AuthenticChain;
use super::crypto::Identities;
use super::db::{RestoredDb, remove_db_files};
use super::error::BackupError;
use super::pages;
use super::pre_restore::with_suffix;
use super::signing::TrustedKeys;
use super::store::{BackupDir, sync_dir};
use mmkt_sqlcipher::Access;
use mmkt_sqlcipher::DbKey;

/// A verified database file waiting to be swapped in (removed on drop unless swapped).
#[derive(Debug)]
pub struct PreparedDb {
    temp: PathBuf,
    restored: RestoredDb,
    swapped: bool,
}

impl PreparedDb {
    /// The rebuilt database.
    pub fn restored(&self) -> &RestoredDb {
        &self.restored
    }
}

impl Drop for PreparedDb {
    fn drop(&mut self) {
        if !self.swapped {
            remove_db_files(&self.temp);
        }
    }
}

/// What the swap did.
#[derive(Debug, Clone)]
pub struct SwapReport {
    /// The previous database, kept as `<db>.pre-restore-<UTC stamp>` (None when there was none).
    pub snapshot: Option<PathBuf>,
    /// Whether the previous database could be checkpointed (false when it was unreadable).
    pub checkpointed: bool,
}

/// Rebuilds the chain's target (a full backup is a chain of one) into
/// `.<db name>.restore.tmp-<pid>` next to `live_db`, keyed with `key`, and verifies it
/// (checksums, decrypt, page stream, integrity checks, row counts). `lookup` (the backup
/// directory and trusted keys) names the newest good point when a link is bad.
///
/// # Errors
/// Any [`BackupError`] of [`rebuild`]; the live database is not touched.
pub fn prepare(
    chain: &AuthenticChain,
    identities: &Identities,
    live_db: &Path,
    key: &DbKey,
    lookup: (&BackupDir, &TrustedKeys),
    progress: &dyn Fn(u64),
) -> Result<PreparedDb, BackupError> {
    let dir = live_db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(BackupError::Io {
            context: format!("restore into {}", live_db.display()),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("directory {} does not exist", dir.display()),
            ),
        });
    }
    let name = live_db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mmkt.db".into());
    let temp = dir.join(format!(".{name}.restore.tmp-{}", std::process::id()));
    remove_db_files(&temp);
    remove_stale_restores(dir, &name);
    let restored = rebuild(chain, identities, &temp, key, lookup, progress)?;
    Ok(PreparedDb {
        temp,
        restored,
        swapped: false,
    })
}

/// Swaps a prepared database in place of `live_db`:
/// 1. checkpoints the live DB (`PRAGMA wal_checkpoint(TRUNCATE)`) so its file is complete;
/// 2. keeps it as `<db>.pre-restore-<stamp>` (hard link; its `-wal` too, if not empty);
/// 3. gives the new file the live file's owner and mode, removes the stale `-wal`/`-shm`;
/// 4. renames the new file over `live_db` (atomic) and fsyncs the directory.
///
/// A crash before step 4 leaves the old database in place and complete.
///
/// # Errors
/// [`BackupError::Io`] when linking or renaming fails (the live DB is then unchanged).
pub fn swap(
    mut prepared: PreparedDb,
    live_db: &Path,
    key: &DbKey,
) -> Result<SwapReport, BackupError> {
    let dir = live_db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let mut report = SwapReport {
        snapshot: None,
        checkpointed: false,
    };
    if let Ok(meta) = std::fs::metadata(live_db) {
        report.checkpointed = checkpoint(live_db, key);
        let stamp = OffsetDateTime::now_utc().unix_timestamp_nanos();
        let snapshot = super::pre_restore::copy_path(live_db, stamp);
        std::fs::hard_link(live_db, &snapshot).map_err(BackupError::io(format!(
            "keep {} as {}",
            live_db.display(),
            snapshot.display()
        )))?;
        let wal = with_suffix(live_db, "-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            std::fs::hard_link(&wal, with_suffix(&snapshot, "-wal"))
                .map_err(BackupError::io(format!("keep {}", wal.display())))?;
        }
        std::os::unix::fs::chown(&prepared.temp, Some(meta.uid()), Some(meta.gid())).map_err(
            BackupError::io(format!("chown {}", prepared.temp.display())),
        )?;
        std::fs::set_permissions(
            &prepared.temp,
            std::fs::Permissions::from_mode(meta.permissions().mode() & 0o777),
        )
        .map_err(BackupError::io(format!(
            "chmod {}",
            prepared.temp.display()
        )))?;
        sync_dir(&dir)?;
        for suffix in ["-wal", "-shm"] {
            let side = with_suffix(live_db, suffix);
            match std::fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(BackupError::Io {
                        context: format!("remove {}", side.display()),
                        source: e,
                    });
                }
            }
        }
        report.snapshot = Some(snapshot);
    }
    std::fs::rename(&prepared.temp, live_db).map_err(BackupError::io(format!(
        "rename {} to {}",
        prepared.temp.display(),
        live_db.display()
    )))?;
    prepared.swapped = true;
    remove_db_files(&prepared.temp);
    sync_dir(&dir)?;
    Ok(report)
}

/// Checkpoints a WAL database so the main file holds everything; false when it cannot be read.
fn checkpoint(path: &Path, key: &DbKey) -> bool {
    let Ok(conn) = pages::open_keyed(path, key, Access::ReadWrite) else {
        return false;
    };
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    })
    .is_ok_and(|busy| busy == 0)
}

/// Removes `.<name>.restore.tmp-<pid>` files left by restores that were killed.
fn remove_stale_restores(dir: &Path, name: &str) {
    let prefix = format!(".{name}.restore.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let pid: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if pid
            .parse::<i32>()
            .is_ok_and(|pid| !super::store::process_alive(pid))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
