//! The pre-restore copies `restore db` leaves next to the live database
//! (`<db>.pre-restore-<stamp>`, plus its `-wal` when it had one): their name, how to find them,
//! and the retention that keeps only the newest N of them (`mmctl backup prune`).

use std::path::{Path, PathBuf};

use crate::error::BackupError;

/// Default number of pre-restore copies `mmctl backup prune` keeps
/// (`MMKT_BACKUP_KEEP_PRE_RESTORE`).
pub const DEFAULT_KEEP: u32 = 5;

/// The infix of a pre-restore copy's name: `<db file name>.pre-restore-<stamp>`.
const INFIX: &str = ".pre-restore-";

/// One pre-restore copy of the live database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreRestoreCopy {
    /// The copy (`<db>.pre-restore-<stamp>`).
    pub path: PathBuf,
    /// When it was made: Unix time in nanoseconds (UTC), the `<stamp>` of its name.
    pub stamp: i128,
}

impl PreRestoreCopy {
    /// The copy's file name (its id in prune reports).
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The copy's files: the copy itself and its `-wal`, if it has one.
    fn files(&self) -> [PathBuf; 2] {
        [self.path.clone(), with_suffix(&self.path, "-wal")]
    }
}

/// The path of a new pre-restore copy of `live_db` made at `stamp` (Unix time in nanoseconds).
pub fn copy_path(live_db: &Path, stamp: i128) -> PathBuf {
    with_suffix(live_db, &format!("{INFIX}{stamp}"))
}

/// `path` with `suffix` appended to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The pre-restore copies of `live_db` in its directory, newest first. A directory that does
/// not exist holds none. Files whose stamp is not a number are not copies and are left alone.
///
/// # Errors
/// [`BackupError::Io`] when the directory exists but cannot be read.
pub fn list(live_db: &Path) -> Result<Vec<PreRestoreCopy>, BackupError> {
    let dir = live_db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(db_name) = live_db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Ok(Vec::new());
    };
    let prefix = format!("{db_name}{INFIX}");
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(BackupError::Io {
                context: format!("read {}", dir.display()),
                source: e,
            });
        }
    };
    let mut copies: Vec<PreRestoreCopy> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stamp = name.strip_prefix(&prefix)?.parse::<i128>().ok()?;
            Some(PreRestoreCopy {
                path: entry.path(),
                stamp,
            })
        })
        .collect();
    copies.sort_by_key(|c| std::cmp::Reverse(c.stamp));
    Ok(copies)
}

/// Which pre-restore copies retention keeps and removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreRestorePlan {
    /// The newest `keep` copies, newest first.
    pub keep: Vec<PreRestoreCopy>,
    /// The older ones, newest first.
    pub remove: Vec<PreRestoreCopy>,
}

/// Keeps the newest `keep` of `copies` (given newest first, as [`list`] returns them).
pub fn plan(mut copies: Vec<PreRestoreCopy>, keep: u32) -> PreRestorePlan {
    let keep = usize::try_from(keep)
        .unwrap_or(usize::MAX)
        .min(copies.len());
    let remove = copies.split_off(keep);
    PreRestorePlan {
        keep: copies,
        remove,
    }
}

/// Deletes one copy and its `-wal`.
///
/// # Errors
/// [`BackupError::Io`] when a file exists but cannot be removed.
pub fn remove(copy: &PreRestoreCopy) -> Result<(), BackupError> {
    for file in copy.files() {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(BackupError::Io {
                    context: format!("remove the pre-restore copy {}", file.display()),
                    source: e,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn lists_copies_newest_first_and_keeps_the_newest_n() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mmkt.db");
        touch(&db);
        for stamp in [30, 10, 20] {
            touch(&copy_path(&db, stamp));
        }
        touch(&with_suffix(&copy_path(&db, 10), "-wal"));
        touch(&dir.path().join("mmkt.db.pre-restore-notanumber"));
        touch(&dir.path().join("other.db.pre-restore-40"));
        let copies = list(&db).unwrap();
        let stamps: Vec<i128> = copies.iter().map(|c| c.stamp).collect();
        assert_eq!(stamps, [30, 20, 10]);

        let plan = plan(copies, 2);
        assert_eq!(plan.keep.len(), 2);
        assert_eq!(plan.remove.len(), 1);
        remove(&plan.remove[0]).unwrap();
        assert!(!copy_path(&db, 10).exists());
        assert!(!with_suffix(&copy_path(&db, 10), "-wal").exists());
        assert!(dir.path().join("mmkt.db.pre-restore-notanumber").exists());
        assert!(dir.path().join("other.db.pre-restore-40").exists());
        assert_eq!(list(&db).unwrap().len(), 2);
    }

    #[test]
    fn a_missing_directory_holds_no_copies() {
        let copies = list(Path::new("/nonexistent-mmkt-dir/mmkt.db")).unwrap();
        assert!(copies.is_empty());
        assert_eq!(plan(copies, 5), PreRestorePlan::default());
    }
}
