//! Freshness metrics of mmctl's scheduled jobs (backups, drill, deploy) for node-exporter's
//! textfile collector: one `mmctl_<job>.prom` file per job in the Prometheus text exposition
//! format (<https://prometheus.io/docs/instrumenting/exposition_formats/>), replaced atomically
//! at the end of every run so the collector never reads half a file.
//!
//! Each file holds three gauges, all labelled `job="<job>"`:
//!
//! - `mmctl_last_success_timestamp_seconds`: Unix time (seconds) of the job's last successful
//!   run. A failed run keeps the previous file's value; the sample is left out while the job
//!   has never succeeded (the alerts read a missing series as "never").
//! - `mmctl_last_run_success`: `1` when the last run succeeded, `0` when it failed.
//! - `mmctl_last_run_timestamp_seconds`: Unix time (seconds) of the last run, whatever its result.
//!
//! The alert rules in `monitoring/alerts/backups.yml` read them (docs/MONITORING.md).

use std::fs::{OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The metric holding the last success's Unix time in seconds.
pub const LAST_SUCCESS: &str = "mmctl_last_success_timestamp_seconds";
/// The metric holding the last run's result (1 success, 0 failure).
pub const LAST_RUN_SUCCESS: &str = "mmctl_last_run_success";
/// The metric holding the last run's Unix time in seconds.
pub const LAST_RUN: &str = "mmctl_last_run_timestamp_seconds";

/// A job whose runs are recorded; its `job` label value is [`Job::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Job {
    /// `mmctl backup db` (and the database half of `mmctl backup all`).
    BackupDb,
    /// `mmctl backup wallets` of every role (and the wallet half of `mmctl backup all`).
    BackupWallets,
    /// `mmctl backup tor` (the onion-service keys).
    BackupTor,
    /// `mmctl drill`.
    Drill,
    /// `mmctl deploy`.
    Deploy,
}

impl Job {
    /// Every job.
    pub const ALL: [Job; 5] = [
        Job::BackupDb,
        Job::BackupWallets,
        Job::BackupTor,
        Job::Drill,
        Job::Deploy,
    ];

    /// The `job` label value: `backup_db`, `backup_wallets`, `backup_tor`, `drill`, `deploy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Job::BackupDb => "backup_db",
            Job::BackupWallets => "backup_wallets",
            Job::BackupTor => "backup_tor",
            Job::Drill => "drill",
            Job::Deploy => "deploy",
        }
    }

    /// The job's file name in the textfile directory: `mmctl_<job>.prom`.
    pub fn file_name(self) -> String {
        format!("mmctl_{}.prom", self.as_str())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// Everything the run was asked to do was done.
    Succeeded,
    /// The run failed (or did only part of its work).
    Failed,
}

/// One finished run to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The job.
    pub job: Job,
    /// Its result.
    pub result: RunResult,
    /// When it finished.
    pub at: SystemTime,
}

/// What was written: the file and the values it now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The `mmctl_<job>.prom` file.
    pub path: PathBuf,
    /// `mmctl_last_success_timestamp_seconds` (Unix seconds); `None`: never succeeded, so the
    /// file has no such sample.
    pub last_success: Option<u64>,
    /// `mmctl_last_run_timestamp_seconds` (Unix seconds).
    pub last_run: u64,
}

/// Why the metrics file could not be written. The previous file, if any, is left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FreshnessError {
    /// The textfile directory does not exist or is not a directory.
    #[error(
        "the metrics textfile directory {dir} does not exist or is not a directory: create it, or point metrics_textfile_dir / MMKT_METRICS_TEXTFILE_DIR / --metrics-textfile-dir at node-exporter's textfile collector directory"
    )]
    NoDirectory {
        /// The directory.
        dir: PathBuf,
    },
    /// A failed run must keep the last success time, but the existing file cannot be read or
    /// has no valid `mmctl_last_success_timestamp_seconds` sample.
    #[error(
        "cannot read the last success time from {path} ({reason}): fix or delete that file (a deleted file counts as never succeeded)"
    )]
    Previous {
        /// The existing file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// Writing, syncing or renaming the file failed.
    #[error("cannot {action} {path}: {source} (is the textfile directory writable by mmctl?)")]
    Io {
        /// What was being done: `create`, `chmod`, `write`, `fsync`, `rename to`.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Records `run` in `dir/mmctl_<job>.prom`: a temporary file in `dir` (a name the collector
/// ignores: it reads only `*.prom`), mode 0644 whatever the umask so node-exporter's own user
/// can read it, fsynced,
/// renamed over the previous file, and the directory fsynced. A failed run keeps the previous
/// file's last success time (none when there is no file, or it has none).
///
/// # Errors
/// [`FreshnessError::NoDirectory`] for a missing directory, [`FreshnessError::Previous`] for a
/// failed run whose existing file cannot be read, [`FreshnessError::Io`] when writing fails. On
/// every error the previous file is unchanged.
pub fn record(dir: &Path, run: Run) -> Result<Written, FreshnessError> {
    if !dir.is_dir() {
        return Err(FreshnessError::NoDirectory { dir: dir.into() });
    }
    let path = dir.join(run.job.file_name());
    let last_run = unix_seconds(run.at);
    let last_success = match run.result {
        RunResult::Succeeded => Some(last_run),
        RunResult::Failed => last_success(&path)?,
    };
    let written = Written {
        path,
        last_success,
        last_run,
    };
    let text = render(run.job, run.result, &written);
    replace(&written.path, text.as_bytes())?;
    Ok(written)
}

/// The last success time in the file at `path`: `None` when there is no file, or the file
/// records runs that never succeeded (a `mmctl_last_run_success` sample and no
/// `mmctl_last_success_timestamp_seconds` one).
///
/// # Errors
/// [`FreshnessError::Previous`] when the file exists but cannot be read, has neither sample,
/// or an invalid `mmctl_last_success_timestamp_seconds` sample.
pub fn last_success(path: &Path) -> Result<Option<u64>, FreshnessError> {
    let previous = |reason: String| FreshnessError::Previous {
        path: path.into(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(previous(e.to_string())),
    };
    let sample_of = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
            .map(str::to_owned)
    };
    let Some(sample) = sample_of(LAST_SUCCESS) else {
        return match sample_of(LAST_RUN_SUCCESS) {
            Some(_) => Ok(None),
            None => Err(previous(format!("no {LAST_SUCCESS} sample"))),
        };
    };
    let value = sample
        .rsplit_once('}')
        .map(|(_, v)| v.trim())
        .ok_or_else(|| previous(format!("malformed {LAST_SUCCESS} sample")))?;
    value
        .parse::<u64>()
        .map(Some)
        .map_err(|e| previous(format!("{LAST_SUCCESS} value {value:?}: {e}")))
}

/// The file's text: HELP, TYPE and one sample per metric (no last success while there is none).
fn render(job: Job, result: RunResult, written: &Written) -> String {
    let success = match result {
        RunResult::Succeeded => 1,
        RunResult::Failed => 0,
    };
    let metrics: [(&str, &str, Option<u64>); 3] = [
        (
            LAST_SUCCESS,
            "Unix time of the job's last successful mmctl run.",
            written.last_success,
        ),
        (
            LAST_RUN_SUCCESS,
            "1 if the job's last mmctl run succeeded, 0 if it failed.",
            Some(success),
        ),
        (
            LAST_RUN,
            "Unix time of the job's last mmctl run, whatever its result.",
            Some(written.last_run),
        ),
    ];
    let job = job.as_str();
    metrics
        .iter()
        .filter_map(|(name, help, value)| {
            let value = (*value)?;
            Some(format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{job=\"{job}\"}} {value}\n"
            ))
        })
        .collect()
}

/// Writes `content` to a temporary file beside `path` and renames it over `path`.
fn replace(path: &Path, content: &[u8]) -> Result<(), FreshnessError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| FreshnessError::Io {
            action,
            path,
            source,
        }
    };
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&temp)
        .map_err(io("create", &temp))
        .and_then(|mut file| {
            // Explicitly, as the umask (0077 in the generated systemd units) masks `mode`.
            file.set_permissions(Permissions::from_mode(0o644))
                .map_err(io("chmod", &temp))?;
            file.write_all(content).map_err(io("write", &temp))?;
            file.sync_all().map_err(io("fsync", &temp))
        })
        .and_then(|()| std::fs::rename(&temp, path).map_err(io("rename to", path)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))
}

/// Seconds since the Unix epoch (0 for a time before it).
fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn run(job: Job, result: RunResult, secs: u64) -> Run {
        Run {
            job,
            result,
            at: at(secs),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_success_writes_the_three_gauges_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let written = record(dir.path(), run(Job::BackupDb, RunResult::Succeeded, 1000)).unwrap();
        assert_eq!(written.path, dir.path().join("mmctl_backup_db.prom"));
        let text = std::fs::read_to_string(&written.path).unwrap();
        for sample in [
            "mmctl_last_success_timestamp_seconds{job=\"backup_db\"} 1000\n",
            "mmctl_last_run_success{job=\"backup_db\"} 1\n",
            "mmctl_last_run_timestamp_seconds{job=\"backup_db\"} 1000\n",
            "# TYPE mmctl_last_run_success gauge\n",
        ] {
            assert!(text.contains(sample), "{sample:?} missing from:\n{text}");
        }
        let mode = std::fs::metadata(&written.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        // Only the final file is left: no temporary file for the collector to trip over.
        assert_eq!(names(dir.path()), ["mmctl_backup_db.prom"]);
    }

    #[test]
    fn the_file_is_world_readable_under_the_systemd_units_umask() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: umask(2) only swaps the process's file mode mask; nextest runs each test in
        // its own process, and the old mask is put back at once.
        let old = unsafe { libc::umask(0o077) };
        let written = record(dir.path(), run(Job::BackupDb, RunResult::Succeeded, 1));
        unsafe { libc::umask(old) };
        let mode = std::fs::metadata(written.unwrap().path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn a_failure_keeps_the_last_success_and_records_the_failed_run() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), run(Job::Drill, RunResult::Succeeded, 1000)).unwrap();
        let written = record(dir.path(), run(Job::Drill, RunResult::Failed, 2000)).unwrap();
        assert_eq!((written.last_success, written.last_run), (Some(1000), 2000));
        let text = std::fs::read_to_string(&written.path).unwrap();
        assert!(text.contains("mmctl_last_success_timestamp_seconds{job=\"drill\"} 1000\n"));
        assert!(text.contains("mmctl_last_run_success{job=\"drill\"} 0\n"));
        assert!(text.contains("mmctl_last_run_timestamp_seconds{job=\"drill\"} 2000\n"));
        // A second failure still keeps it; a success moves it.
        let again = record(dir.path(), run(Job::Drill, RunResult::Failed, 3000)).unwrap();
        assert_eq!(again.last_success, Some(1000));
        let ok = record(dir.path(), run(Job::Drill, RunResult::Succeeded, 4000)).unwrap();
        assert_eq!(ok.last_success, Some(4000));
        assert_eq!(last_success(&ok.path).unwrap(), Some(4000));
    }

    #[test]
    fn a_job_that_never_succeeded_has_no_last_success_sample() {
        let dir = tempfile::tempdir().unwrap();
        let written = record(dir.path(), run(Job::Deploy, RunResult::Failed, 5000)).unwrap();
        assert_eq!(written.last_success, None);
        let text = std::fs::read_to_string(&written.path).unwrap();
        assert!(
            !text.contains("mmctl_last_success_timestamp_seconds"),
            "{text}"
        );
        assert!(
            text.contains("mmctl_last_run_success{job=\"deploy\"} 0\n"),
            "{text}"
        );
        // A second failure reads that file back as "never", not as an unreadable file.
        let again = record(dir.path(), run(Job::Deploy, RunResult::Failed, 6000)).unwrap();
        assert_eq!((again.last_success, again.last_run), (None, 6000));
    }

    #[test]
    fn jobs_write_separate_files() {
        let dir = tempfile::tempdir().unwrap();
        for (i, job) in Job::ALL.into_iter().enumerate() {
            record(dir.path(), run(job, RunResult::Succeeded, i as u64)).unwrap();
        }
        assert_eq!(
            names(dir.path()),
            [
                "mmctl_backup_db.prom",
                "mmctl_backup_tor.prom",
                "mmctl_backup_wallets.prom",
                "mmctl_deploy.prom",
                "mmctl_drill.prom"
            ]
        );
    }

    #[test]
    fn a_missing_directory_is_named_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let err = record(&missing, run(Job::BackupDb, RunResult::Succeeded, 1)).unwrap_err();
        assert!(matches!(err, FreshnessError::NoDirectory { .. }), "{err}");
        assert!(err.to_string().contains("no-such-dir"), "{err}");
        assert!(
            err.to_string().contains("MMKT_METRICS_TEXTFILE_DIR"),
            "{err}"
        );
        assert!(!missing.exists());
        // A file where the directory should be is refused the same way.
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = record(&file, run(Job::BackupDb, RunResult::Succeeded, 1)).unwrap_err();
        assert!(matches!(err, FreshnessError::NoDirectory { .. }), "{err}");
    }

    #[test]
    fn an_unwritable_directory_is_an_io_error_and_the_old_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let first = record(dir.path(), run(Job::BackupDb, RunResult::Succeeded, 1000)).unwrap();
        let before = std::fs::read(&first.path).unwrap();
        // A directory holds the temporary file's name, so it cannot be created (file modes
        // would not stop a test running as root).
        let temp = dir
            .path()
            .join(format!(".mmctl_backup_db.prom.{}.tmp", std::process::id()));
        std::fs::create_dir(&temp).unwrap();
        let err = record(dir.path(), run(Job::BackupDb, RunResult::Succeeded, 2000)).unwrap_err();
        assert!(
            matches!(
                err,
                FreshnessError::Io {
                    action: "create",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(".tmp"), "{err}");
        assert_eq!(std::fs::read(&first.path).unwrap(), before);
    }

    #[test]
    fn a_failure_refuses_to_forget_an_unreadable_last_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mmctl_backup_wallets.prom");
        std::fs::write(&path, "garbage\n").unwrap();
        let err = record(dir.path(), run(Job::BackupWallets, RunResult::Failed, 2000)).unwrap_err();
        assert!(matches!(err, FreshnessError::Previous { .. }), "{err}");
        assert!(err.to_string().contains("delete"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage\n");
        // A success does not need the old value and repairs the file.
        record(
            dir.path(),
            run(Job::BackupWallets, RunResult::Succeeded, 3000),
        )
        .unwrap();
        assert_eq!(last_success(&path).unwrap(), Some(3000));
    }
}
