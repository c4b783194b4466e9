//! The wallet archive: wallet files of escrows that never received funds are moved out of the
//! way, then deleted after a retention period; a wallet that ever saw a transfer is never touched.
//!
//! A sweep (every [`super::engine::ARCHIVE_EVERY`] passes, as a job of the runner lease) looks at
//! cancelled and expired escrows whose record shows nothing received, once their address is no
//! longer watched for late payments (`MMKT_ESCROW_LATE_FUNDING_GRACE_SECS` after closing; at once
//! when no address was ever shown). For each of their wallets (every setup attempt), in one job
//! of the role's wallet-rpc worker: open, `refresh`, `get_transfers` (incoming and pool); any
//! transfer marks the wallet kept for good; otherwise `close_wallet` (which stores it) and the
//! files `<name>`, `<name>.*` move from the wallet-rpc's `--wallet-dir` into its `archive/`
//! folder, which wallet backups still cover (they take the whole directory). Archived files older
//! than `MMKT_WALLET_ARCHIVE_RETENTION_SECS` are deleted. Without `MMKT_WALLET_DIR_<ROLE>` a
//! role's wallets stay where they are.

use std::path::{Path, PathBuf};

use escrow_core::{Actor, Escrow, Role};
use monero_rpc::WalletName;

use super::engine::Engine;
use super::participant::incoming_filter;
use super::worker::{Priority, WalletRef, WorkerError};
use crate::db::escrows::wallets::{self, ArchiveMark, WalletRow};
use crate::db::{DbError, now_unix};

/// The folder inside a wallet directory that holds archived wallet files.
pub const ARCHIVE_DIR: &str = "archive";

/// Why a sweep stopped early (it is retried on a later pass). Messages name no secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Storage failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A wallet file could not be moved or deleted.
    #[error("cannot {action} {path}: {source}; check the wallet directory's permissions")]
    Io {
        /// `move` or `delete`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What one sweep did, in wallet files (one per role and attempt).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Wallets moved into `archive/` (or recorded as archived when no file existed).
    pub archived: usize,
    /// Wallets kept in place because their wallet-rpc showed a transfer.
    pub kept: usize,
    /// Archived wallets deleted after the retention period.
    pub removed: usize,
}

/// Runs one sweep: archive what is due, then delete what outlived the retention period.
///
/// # Errors
/// [`ArchiveError`]; a wallet-rpc that fails for one wallet is logged and that wallet is retried
/// on the next sweep.
pub async fn sweep(engine: &Engine) -> Result<ArchiveSummary, ArchiveError> {
    let mut summary = ArchiveSummary::default();
    let ctx = engine.context();
    let archive = ctx.wallet_archive();
    if [Role::Buyer, Role::Vendor, Role::Arbiter]
        .iter()
        .all(|r| archive.dir(*r).is_none())
    {
        return Ok(summary);
    }
    let now = now_unix();
    let grace = i64::try_from(ctx.settings().late_funding_grace_secs).unwrap_or(i64::MAX);
    let closed_before = now.saturating_sub(grace);
    let candidates = ctx
        .db()
        .run("select", "escrows", move |conn| {
            wallets::archive_candidates(conn, closed_before)
        })
        .await?;
    for escrow in candidates {
        if !engine.runner().accepts_jobs() {
            return Ok(summary);
        }
        let id = escrow.id().get();
        if !engine.claim(id) {
            continue;
        }
        let result = archive_escrow(engine, &escrow, &mut summary).await;
        engine.unclaim(id);
        result?;
    }
    let retention = i64::try_from(archive.retention.as_secs()).unwrap_or(i64::MAX);
    let archived_before = now.saturating_sub(retention);
    let due = ctx
        .db()
        .run("select", "escrow_wallets", move |conn| {
            wallets::removable(conn, archived_before)
        })
        .await?;
    for (actor, name) in due {
        let Some(dir) = role_of(actor).and_then(|r| archive.dir(r)) else {
            continue;
        };
        for file in wallet_files(&dir.join(ARCHIVE_DIR), &name) {
            std::fs::remove_file(&file).map_err(|source| ArchiveError::Io {
                action: "delete",
                path: file.clone(),
                source,
            })?;
        }
        record(engine, name.clone(), ArchiveMark::Removed).await?;
        tracing::info!(wallet = %name, "archived escrow wallet deleted after the retention period");
        summary.removed += 1;
    }
    Ok(summary)
}

async fn archive_escrow(
    engine: &Engine,
    escrow: &Escrow,
    summary: &mut ArchiveSummary,
) -> Result<(), ArchiveError> {
    let id = escrow.id().get();
    let rows = engine
        .context()
        .db()
        .run("select", "escrow_wallets", move |conn| {
            wallets::unarchived(conn, id)
        })
        .await?;
    // A record that counts received money (a late payment in the pool) keeps every wallet.
    let funded = !escrow.funding().received().is_zero();
    for row in rows {
        let mark = if funded {
            Some(ArchiveMark::Kept)
        } else {
            archive_wallet(engine, &row).await?
        };
        match mark {
            Some(ArchiveMark::Kept) => {
                tracing::warn!(escrow_id = id, wallet = %row.wallet_name, "escrow wallet saw a transfer: kept in place, never archived");
                summary.kept += 1;
            }
            Some(_) => {
                tracing::info!(escrow_id = id, wallet = %row.wallet_name, "unfunded escrow wallet archived");
                summary.archived += 1;
            }
            None => continue,
        }
        if let Some(mark) = mark {
            record(engine, row.wallet_name.clone(), mark).await?;
        }
    }
    Ok(())
}

/// Checks one wallet on its wallet-rpc and moves its files if it saw no transfer: the mark to
/// record, or `None` when the wallet must wait (no directory configured, wallet-rpc failing).
async fn archive_wallet(
    engine: &Engine,
    row: &WalletRow,
) -> Result<Option<ArchiveMark>, ArchiveError> {
    let Some(dir) = role_of(row.role).and_then(|r| engine.context().wallet_archive().dir(r)) else {
        return Ok(None);
    };
    let files = wallet_files(dir, &row.wallet_name);
    if files.is_empty() {
        // The setup stopped before this wallet was created: nothing on disk, nothing to keep.
        return Ok(Some(ArchiveMark::Archived));
    }
    let Some(worker) = engine.workers().and_then(|w| w.for_role(row.role)) else {
        return Ok(None);
    };
    let Ok(name) = row.wallet_name.parse::<WalletName>() else {
        return Ok(None);
    };
    let wallet = WalletRef {
        name,
        password: row.password.clone(),
    };
    let target = dir.join(ARCHIVE_DIR);
    let checked = worker
        .run_closing(&wallet, Priority::Watch, move |w| async move {
            w.refresh(None).await?;
            let transfers = w.get_transfers(incoming_filter()).await?;
            let seen = !transfers.incoming.is_empty() || !transfers.pool.is_empty();
            w.close_wallet().await?;
            if seen {
                return Ok(Ok(ArchiveMark::Kept));
            }
            // The wallet is closed and stored, and this worker runs no other job until this one
            // ends: nothing writes the files while they move.
            Ok(move_files(&files, &target).map(|()| ArchiveMark::Archived))
        })
        .await;
    match checked {
        Ok(moved) => moved.map(Some),
        Err(e) => {
            log_wait(&row.wallet_name, &e);
            Ok(None)
        }
    }
}

fn log_wait(wallet: &str, error: &WorkerError) {
    tracing::warn!(wallet = %wallet, error = %error, "escrow wallet not archived yet; retrying on the next sweep");
}

fn move_files(files: &[PathBuf], target: &Path) -> Result<(), ArchiveError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ArchiveError::Io {
            action: "move",
            path,
            source,
        }
    };
    std::fs::create_dir_all(target).map_err(io(target))?;
    for file in files {
        let Some(name) = file.file_name() else {
            continue;
        };
        std::fs::rename(file, target.join(name)).map_err(io(file))?;
    }
    Ok(())
}

async fn record(engine: &Engine, name: String, mark: ArchiveMark) -> Result<(), DbError> {
    engine
        .context()
        .db()
        .run("update", "escrow_wallets", move |conn| {
            wallets::mark(conn, &name, mark, now_unix())
        })
        .await
}

/// The files of wallet `name` in `dir`: `<name>` (the cache), `<name>.keys`, `<name>.address.txt`
/// and any other `<name>.*`. Empty when the directory does not exist.
pub fn wallet_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            let file = e.file_name();
            let file = file.to_string_lossy();
            file == name || file.starts_with(&prefix)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

fn role_of(actor: Actor) -> Option<Role> {
    match actor {
        Actor::Buyer => Some(Role::Buyer),
        Actor::Vendor => Some(Role::Vendor),
        Actor::Arbiter => Some(Role::Arbiter),
        Actor::System => None,
    }
}
