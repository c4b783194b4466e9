//! How the operations of [`crate::ops`] tell their caller what they are doing while they run:
//! byte transfers (for a progress bar) and milestones an operator should see as they happen.
//! The library prints nothing itself; the CLI implements [`Progress`].

use std::path::Path;

/// Receives progress of one operation. Calls come from the calling task and from blocking
/// sections of it, never from two threads at once.
pub trait Progress: Sync {
    /// A transfer starts or ends, or the operation reached a milestone.
    fn step(&self, step: Step<'_>);
    /// Bytes processed so far in the current transfer (plaintext bytes for backups and
    /// restores).
    fn bytes(&self, done: u64);
}

/// A progress report that discards everything (tests, callers without a terminal).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _step: Step<'_>) {}
    fn bytes(&self, _done: u64) {}
}

/// What an operation reports through [`Progress::step`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Step<'a> {
    /// A transfer begins: what it is ("backup db", "restore db", "verify <id>") and its size
    /// in bytes when known (`None`: show a spinner).
    Transfer {
        /// Short description.
        label: &'a str,
        /// Total bytes, when known.
        total: Option<u64>,
    },
    /// The current transfer ended (successfully or not).
    TransferDone,
    /// A new key file was written because the request allowed creating a missing one.
    KeyFileCreated {
        /// The key file.
        path: &'a Path,
    },
    /// A backup is being downloaded from the S3 bucket into the backup directory.
    Downloading {
        /// Backup id.
        id: &'a str,
        /// Encrypted size, in bytes.
        bytes: u64,
        /// Bucket.
        bucket: &'a str,
        /// Object key of the data file.
        key: &'a str,
    },
    /// The rebuilt database passed every check and waits to be swapped in.
    DbVerified {
        /// Backup id.
        id: &'a str,
        /// Pages written.
        pages: u64,
    },
    /// The project has no container for a service, so nothing is stopped or started.
    NoContainer {
        /// Compose project.
        project: &'a str,
        /// Service name.
        service: &'a str,
    },
    /// The database that was replaced is kept under this name.
    PreviousDbKept {
        /// The pre-restore snapshot.
        path: &'a Path,
    },
    /// A wallet backup was extracted and, when a password was given, its wallets opened.
    WalletsChecked {
        /// Backup id.
        id: &'a str,
        /// Wallets that opened with their recorded address; `None` when no password was
        /// configured, so none was opened.
        opened: Option<usize>,
    },
    /// The current wallet directory was backed up before being overwritten.
    CurrentWalletsBackedUp {
        /// Id of that backup.
        id: &'a str,
    },
    /// After a restore, the live wallet-rpc opened the restored wallets with their addresses.
    LiveWalletsChecked {
        /// Base URL of the wallet-rpc.
        url: &'a str,
        /// Wallets compared.
        count: usize,
    },
}

/// Runs `work` as one transfer: [`Step::Transfer`] before, [`Step::TransferDone`] after, and
/// `work`'s byte counts forwarded to [`Progress::bytes`].
pub(crate) fn transfer<T>(
    progress: &dyn Progress,
    label: &str,
    total: Option<u64>,
    work: impl FnOnce(&dyn Fn(u64)) -> T,
) -> T {
    progress.step(Step::Transfer { label, total });
    let result = work(&|done| progress.bytes(done));
    progress.step(Step::TransferDone);
    result
}
