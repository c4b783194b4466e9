//! The error type of the backup library ([`BackupError`]): what failed, on which file, and what to do.

use std::path::PathBuf;

use mmkt_sqlcipher::{KeyFileError, OpenError};
use mmkt_stack::StackError;
use mmkt_stack::ready::ReadyError;

use crate::s3::S3Error;

/// Everything that can go wrong while making, listing, verifying or restoring a backup.
///
/// Messages name the file and the failed step and never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The SQLCipher key file breaks the file contract of `mmkt_sqlcipher` (missing, mode
    /// other than 0600/0400, not 64 lowercase hex characters) or cannot be read or written.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// An SQLite/SQLCipher call failed (open, read of `sqlite_dbpage`, insert, pragma).
    #[error("{context}: {source}")]
    Sqlite {
        /// The step that failed, with the file it concerned.
        context: String,
        /// The rusqlite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database opened but the key does not decrypt it (or the file is not a database).
    #[error("cannot read {path} with the given key: {detail}. Check --key-file / MMKT_DB_KEY_FILE")]
    WrongDbKey {
        /// Database file.
        path: PathBuf,
        /// SQLite's message ("file is not a database").
        detail: String,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// The step that failed, with the path it concerned.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A recipient string is not an age X25519 public key (`age1...`).
    #[error(
        "invalid age recipient {recipient:?}: {reason}. Recipients are X25519 public keys starting with age1 (see `age-keygen -y`)"
    )]
    Recipient {
        /// The offending text (a public key, not a secret).
        recipient: String,
        /// Parser message.
        reason: String,
    },
    /// No recipient was configured, so nothing could be encrypted.
    #[error(
        "no age recipient: pass --recipient age1..., set MMKT_BACKUP_RECIPIENTS, or give --recipients-file"
    )]
    NoRecipients,
    /// The age identity file could not be read or holds no usable identity.
    #[error("age identity file {path}: {reason}")]
    Identity {
        /// Path of the identity file.
        path: PathBuf,
        /// What is wrong with it (never its content).
        reason: String,
    },
    /// age refused to decrypt the backup: wrong identity, or a corrupted/tampered file.
    #[error("cannot decrypt {path}: {reason}")]
    Decrypt {
        /// The encrypted backup file.
        path: PathBuf,
        /// age's diagnosis, with a hint.
        reason: String,
    },
    /// The SHA-256 of the encrypted file differs from its manifest.
    #[error(
        "checksum mismatch for {path}: manifest says sha256 {expected}, file has {actual}; the file is corrupt or was tampered with. Use another backup (mmctl backup list)"
    )]
    Checksum {
        /// The encrypted backup file.
        path: PathBuf,
        /// Hex SHA-256 recorded in the manifest.
        expected: String,
        /// Hex SHA-256 of the file on disk.
        actual: String,
    },
    /// The backup content decrypted but is not what its manifest describes (sizes, pages, rows).
    #[error("backup {id} does not match its manifest: {detail}")]
    Mismatch {
        /// Backup id.
        id: String,
        /// Which field differs.
        detail: String,
    },
    /// `cipher_integrity_check` or `integrity_check` reported problems.
    #[error("integrity check failed on {path}: {detail}")]
    Integrity {
        /// The database file checked.
        path: PathBuf,
        /// First lines of the check's report.
        detail: String,
    },
    /// A manifest is unreadable or malformed.
    #[error("manifest {path}: {reason}")]
    Manifest {
        /// The manifest file (or S3 key).
        path: PathBuf,
        /// Parser message.
        reason: String,
    },
    /// No complete backup has this id (or no backup of this kind exists for `latest`).
    #[error("no complete backup {0} in the backup directory; see `mmctl backup list`")]
    NotFound(String),
    /// The manifest exists but the data file is missing or has the wrong size (interrupted backup).
    #[error("backup {id} is incomplete: {reason}")]
    Incomplete {
        /// Backup id.
        id: String,
        /// What is missing.
        reason: String,
    },
    /// A wallet archive is unreadable, or a wallet directory is unusable.
    #[error("wallet backup: {0}")]
    Wallet(String),
    /// A Docker Engine API operation failed (container missing, stop/start, archive).
    #[error(transparent)]
    Docker(#[from] StackError),
    /// The restarted server did not answer `/ready` with 200 in time.
    #[error(transparent)]
    NotReady(ReadyError),
    /// An offsite (S3) operation failed.
    #[error(transparent)]
    Offsite(Box<S3Error>),
    /// The request contradicts itself (e.g. one wallet directory for several roles).
    #[error("{0}")]
    InvalidRequest(String),
    /// A host-run server still answers, so its database cannot be swapped.
    #[error(
        "the server at {url} still answers; stop it before restoring with --no-docker (the current database is untouched)"
    )]
    ServerStillRunning {
        /// The server's base URL.
        url: String,
    },
    /// After a restore, the live wallet-rpc shows another address than the manifest recorded.
    #[error(
        "after the restore, wallet {wallet} in {url} shows {actual}, the manifest recorded {expected}"
    )]
    LiveMismatch {
        /// Wallet name.
        wallet: String,
        /// Base URL of the live wallet-rpc.
        url: String,
        /// The address it showed.
        actual: String,
        /// The address in the manifest.
        expected: String,
    },
    /// Verification found no complete backup to check.
    #[error("no complete backup to verify in {dir}")]
    NothingToVerify {
        /// The backup directory.
        dir: PathBuf,
    },
    /// A link of a backup chain (the full base or a delta) is missing or does not check out,
    /// so the backups from it on cannot be restored.
    #[error(
        "backup {target} cannot be rebuilt: its chain link {first_bad} {problem}{}",
        match newest_good {
            Some(good) => format!("; the newest good point of the chain is {good}: restore or verify it instead"),
            None => "; no earlier point of this chain is good: restore another full backup".to_owned(),
        }
    )]
    ChainBroken {
        /// The backup that was asked for.
        target: String,
        /// The first link (oldest first) that is missing or bad.
        first_bad: String,
        /// What is wrong with it.
        problem: crate::chain::LinkProblem,
        /// The newest link before it, which can still be restored.
        newest_good: Option<String>,
    },
    /// Another `mmctl backup db` is extending the chain right now.
    #[error(
        "another backup db is running on this backup directory (lock {lock} is held); wait for it to finish"
    )]
    ChainBusy {
        /// The lock file.
        lock: PathBuf,
    },
    /// `restore db --at TIME` found no backup taken at or before that time.
    #[error("no database backup was taken at or before {at}; see mmctl backup list")]
    NoBackupAt {
        /// The requested time (RFC 3339).
        at: String,
    },
    /// A step of a workflow failed; `context` says which step and what state it left.
    #[error("{context}")]
    Context {
        /// The failed step, e.g. "backup of the buyer wallets failed".
        context: String,
        /// Why it failed.
        #[source]
        source: Box<BackupError>,
    },
    /// A backup id (from the command line, a manifest or an S3 listing) does not match the
    /// id pattern, so it is never used as a file name or key.
    #[error(
        "{id:?} is not a backup id: {reason}. Ids look like db-20261121T193000Z-a1b2c3 (see mmctl backup list)"
    )]
    InvalidId {
        /// The offending text.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backup has no signature file: made by an mmctl without a signing key, or its
    /// signature was removed. It is refused.
    #[error(
        "backup {id} is not signed ({path} is missing); mmctl uses only backups signed by a trusted key. Take a fresh backup with a signing key (see docs/BACKUP.md)"
    )]
    Unsigned {
        /// Backup id.
        id: String,
        /// The missing signature file.
        path: PathBuf,
    },
    /// The manifest's signature does not verify with any trusted key: the manifest or its
    /// signature was changed, or a key that is not trusted signed it. It is refused.
    #[error(
        "the signature of backup {id} does not verify with any trusted key ({trusted}): {reason}. Do not use this backup: the manifest was changed or signed by another key; check --verify-key / MMKT_BACKUP_VERIFY_KEYS and the backup directory"
    )]
    BadSignature {
        /// Backup id.
        id: String,
        /// The trusted public keys, base64, comma-separated.
        trusted: String,
        /// What failed (wrong length, no key verifies, which key the manifest names).
        reason: String,
    },
    /// The backup signing key file is missing, too open, or not a key.
    #[error("backup signing key {path}: {reason}")]
    SigningKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong (never the key).
        reason: String,
    },
    /// A verify key is neither an ed25519 public key nor a readable file holding one.
    #[error(
        "invalid verify key {value:?}: {reason}. Give the public key printed by `mmctl backup keygen` (44 base64 characters) or a file holding it"
    )]
    VerifyKey {
        /// The flag or env value (a public key or a path, never a secret).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No trusted verify key was configured, so no signature can be checked.
    #[error(
        "no trusted verify key: pass --verify-key KEY|FILE or set MMKT_BACKUP_VERIFY_KEYS (the public key printed by `mmctl backup keygen`)"
    )]
    NoVerifyKeys,
    /// Talking to a monero-wallet-rpc failed (store, open_wallet, get_address).
    #[error("wallet-rpc {url}: {reason}")]
    WalletRpc {
        /// Base URL of the wallet-rpc.
        url: String,
        /// The RPC error.
        reason: String,
    },
    /// The compose project has no `tor` container, so there are no onion-service keys to
    /// back up or restore into.
    #[error(
        "project {project} has no tor container: start the stack with `mmctl up` (the tor service holds the onion-service keys)"
    )]
    NoTorService {
        /// Compose project name.
        project: String,
    },
    /// tor has not made its onion-service keys yet (it makes them at its first start).
    #[error(
        "the tor service of project {project} has no onion-service keys yet: tor makes them at its first start; wait until it is healthy (`mmctl status`)"
    )]
    OnionNotCreated {
        /// Compose project name.
        project: String,
    },
    /// Onion-service keys are unusable (a file missing, not one key set, another address than
    /// the manifest's), or the restarted tor shows another address than the backup's.
    #[error("onion-service keys: {0}")]
    TorKeys(String),
}

impl BackupError {
    /// Wraps this error in [`BackupError::Context`]: `context` names the failed step.
    pub fn context(self, context: impl Into<String>) -> BackupError {
        BackupError::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// Wraps an I/O error with the step and path it concerned.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
        let context = context.into();
        move |source| BackupError::Io { context, source }
    }

    /// Wraps an SQLite error with the step and file it concerned.
    pub fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BackupError {
        let context = context.into();
        move |source| BackupError::Sqlite { context, source }
    }
}

impl From<OpenError> for BackupError {
    fn from(e: OpenError) -> BackupError {
        match e {
            OpenError::Missing { path } => BackupError::Io {
                context: format!("open database {}", path.display()),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file; check --db / MMKT_DB_PATH",
                ),
            },
            OpenError::WrongKey { path, source } => BackupError::WrongDbKey {
                path,
                detail: source.to_string(),
            },
            OpenError::Sqlite { step, path, source } => BackupError::Sqlite {
                context: format!("{step} {}", path.display()),
                source,
            },
            other => BackupError::Sqlite {
                context: other.to_string(),
                source: other.into_sqlite(),
            },
        }
    }
}

impl From<ReadyError> for BackupError {
    fn from(e: ReadyError) -> BackupError {
        match e {
            ReadyError::Engine(e) => BackupError::Docker(e),
            other => BackupError::NotReady(other),
        }
    }
}

impl From<S3Error> for BackupError {
    fn from(e: S3Error) -> BackupError {
        BackupError::Offsite(Box::new(e))
    }
}

/// The error and its sources joined by ": ", as `anyhow` shows them with `{:#}`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
