//! `backup db` and its restore primitive: page snapshot -> zstd -> age -> file (+ manifest), and
//! file -> checksum -> age -> zstd -d (gunzip for older backups) -> pages -> new SQLCipher
//! file -> integrity checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use time::OffsetDateTime;

use super::chain::index::IndexKey;
use super::chain::read::{LinkStream, RawDb, read_chained};
use super::chain::scan::CipherTag;
use super::chain::tap::{Emit, PageDigest, PageTap, StreamHash, TapReport};
use super::chain::{ChainMode, DbBackupOutcome};
use super::crypto::{Identities, sha256_file};
use super::error::BackupError;
use super::manifest::{
    BackupId, BackupKind, ChainLink, DB_DELTA_SUFFIX, DbDetails, FORMAT_VERSION, Manifest, Series,
    compare_row_counts, new_id,
};
use super::page_pipe::{PagePipe, WriterTap, Written};
use super::pages::{self, IntegrityCheck};
use super::sealed::{self, Codec, Sealed};
use super::signing::{AuthenticBackup, BackupKeys};
use super::store::{BackupDir, Leftover, LocalBackup, Partial, hostname};
use mmkt_sqlcipher::Access;
use mmkt_sqlcipher::DbKey;

/// Default zstd level (1-19) for page streams. Measured on 128 MiB of marketplace pages
/// (docs/BACKUP.md, "Compression"): zstd level 1 compresses 1.3x faster than gzip level 1 into
/// a 12% smaller file and decompresses 2.5x faster; higher levels cost much more time for a few
/// percent.
pub const DEFAULT_LEVEL: u32 = 1;

pub use super::manifest::DB_DATA_SUFFIX;

/// What `backup db` needs.
pub struct DbBackupRequest<'a> {
    /// The live SQLCipher database (`MMKT_DB_PATH`).
    pub db_path: &'a Path,
    /// Its raw key (`MMKT_DB_KEY_FILE`).
    pub key: &'a DbKey,
    /// age recipients to encrypt to, and the key that signs the manifest.
    pub keys: BackupKeys<'a>,
    /// Where to write the backup.
    pub dir: &'a BackupDir,
    /// zstd level 1-19 of the page stream ([`DEFAULT_LEVEL`] unless the operator prefers
    /// smaller files; values outside are clamped).
    pub level: u32,
    /// A standalone full backup, or the next link of the directory's chain.
    pub chain: ChainMode,
    /// Called with the plaintext bytes streamed so far (for a progress bar).
    pub progress: &'a dyn Fn(u64),
}

/// Takes an online, consistent backup of a SQLCipher database: a full one
/// ([`ChainMode::Standalone`]), or a full or delta link of the chain ([`ChainMode::Chained`],
/// see [`crate::chain`]).
///
/// Reads decrypted pages from `sqlite_dbpage` in one read transaction of a read-only keyed
/// connection (writers continue; a delta decrypts only the pages whose ciphertext may have
/// changed, see [`crate::chain`]), compresses and age-encrypts them into a temp file in the backup
/// directory while computing SHA-256, fsyncs and renames it, then writes the signature and the
/// manifest the same way. Plaintext never reaches the disk; memory use is bounded by a few
/// buffers (plus about 100 bytes per page for a chain's page index, old and new).
///
/// # Errors
/// Any [`BackupError`]: key file, open, read, write; [`BackupError::ChainBusy`] when another
/// chained backup runs. On error no complete backup is left.
pub fn backup_db(req: &DbBackupRequest<'_>) -> Result<DbBackupOutcome, BackupError> {
    match req.chain {
        ChainMode::Standalone => match write_db_backup(req, &LinkPlan::standalone())? {
            Link::Written(backup, ..) => Ok(DbBackupOutcome::Written(*backup)),
            Link::Unchanged(_) => unreachable!("a standalone backup has no parent to equal"),
        },
        ChainMode::Chained(policy) => crate::chain::create::backup_chained(req, policy),
    }
}

/// Writes one DB backup as `plan` says (full or delta) and returns it with what went through
/// the page tap (the new page digests and cipher tags for the chain's index), or
/// [`Link::Unchanged`] (nothing written) when its page-list hash equals the parent's.
pub(crate) fn write_db_backup(
    req: &DbBackupRequest<'_>,
    plan: &LinkPlan,
) -> Result<Link, BackupError> {
    let started = Instant::now();
    let created_at = OffsetDateTime::now_utc();
    let series = Series {
        kind: BackupKind::Db,
        role: None,
    };
    let id = new_id(series, created_at);
    let data_file = match plan.parent {
        Some(_) => format!("{id}.{DB_DELTA_SUFFIX}"),
        None => Manifest::db_zstd_data_file_name(&id),
    };

    // A chained backup reads the file's ciphertext too; `raw` is declared before `conn` so it
    // is closed after it (see RawDb).
    let raw = match plan.index_key {
        Some(_) => Some(RawDb::open(req.db_path)?),
        None => None,
    };
    let conn = pages::open_keyed(req.db_path, req.key, Access::ReadOnly)?;
    let page_size = u32::try_from(pages::pragma_int(&conn, "page_size")?).unwrap_or(0);
    // integrity_check reads every page and index entry: a standalone backup runs it on a
    // second connection (its own read transaction, started now) in parallel with the page
    // stream. A chained backup leaves it to verify, which runs it on the rebuilt database,
    // page for page the snapshot's content (docs/BACKUP.md, "Incremental backups").
    let integrity = match (&raw, &plan.parent) {
        (Some(_), Some(_)) => IntegrityAt::Verify("not run on a delta"),
        (Some(_), None) => IntegrityAt::Verify("not run on a chained full backup"),
        (None, _) => {
            let (path, key) = (req.db_path.to_owned(), req.key.clone());
            IntegrityAt::Thread(std::thread::spawn(
                move || -> Result<String, BackupError> {
                    let conn = pages::open_keyed(&path, &key, Access::ReadOnly)?;
                    pages::integrity_report(&conn, "integrity_check")
                },
            ))
        }
    };
    // zstd + age + SHA-256 + write run on their own thread (with a full backup's page tap),
    // fed page batches through a bounded channel.
    let mut temp = req.dir.temp_file(&data_file)?;
    let writer_tap = match &plan.parent {
        Some(_) => WriterTap::Off,
        None => WriterTap::AllPages { page_size },
    };
    let codec = Codec::Zstd(i32::try_from(req.level.min(19)).unwrap_or(1));
    let mut pipe = PagePipe::spawn(temp.take(), req.keys.recipients.clone(), codec, writer_tap);
    let read = match (&raw, &plan.parent) {
        (Some(raw), Some(parent)) => {
            let emit = Emit::ChangedSince(parent.digests.clone());
            let mut tap = PageTap::new(&mut pipe, page_size, emit, StreamHash::Skip);
            let stream = LinkStream::Delta {
                previous: &parent.tags,
                tap: &mut tap,
            };
            read_chained(&conn, raw, stream, req.progress).and_then(|read| {
                let (_, report) = tap
                    .finish(read.snapshot.page_count)
                    .map_err(BackupError::io("write page stream"))?;
                Ok((read.snapshot, read.tags, Some(report)))
            })
        }
        (Some(raw), None) => {
            let stream = LinkStream::<std::io::Sink>::Full(&mut pipe);
            read_chained(&conn, raw, stream, req.progress)
                .map(|read| (read.snapshot, read.tags, None))
        }
        (None, _) => {
            pages::stream_snapshot(&conn, &mut pipe, IntegrityCheck::ByCaller, req.progress)
                .map(|snapshot| (snapshot, Vec::new(), None))
        }
    };
    let streamed = read.and_then(|read| {
        pipe.end_stream()?;
        Ok(read)
    });
    drop(conn);
    let written = pipe.join();
    let (mut snapshot, tags, report) = match streamed {
        Ok(streamed) => streamed,
        // A failed writer (disk full, ...) shows up here as a closed channel: report its error.
        Err(e) => return Err(written.err().unwrap_or(e)),
    };
    let Written {
        sealed,
        report: full_report,
    } = written?;
    let Some(report) = report.or(full_report) else {
        return Err(BackupError::Mismatch {
            id: id.to_string(),
            detail: "the page stream went through no tap".into(),
        });
    };
    if report.digests.len() as u64 != snapshot.page_count {
        return Err(BackupError::Mismatch {
            id: id.to_string(),
            detail: format!(
                "{} pages went through the tap, the snapshot has {}",
                report.digests.len(),
                snapshot.page_count
            ),
        });
    }
    if plan
        .parent
        .as_ref()
        .is_some_and(|p| p.list_sha256 == report.list_sha256)
    {
        // The temp file is removed when `temp` drops: no data file, no manifest.
        return Ok(Link::Unchanged(tags));
    }
    let Sealed {
        file,
        sha256,
        compressed_size,
        encrypted_size,
    } = sealed;
    if snapshot.page_size != page_size {
        return Err(BackupError::Mismatch {
            id: id.to_string(),
            detail: format!(
                "the page size changed from {page_size} to {} during the backup; run it again",
                snapshot.page_size
            ),
        });
    }
    snapshot.integrity_check = match integrity {
        IntegrityAt::Verify(what) => format!("{what} (verify checks the rebuilt database)"),
        IntegrityAt::Thread(thread) => thread.join().unwrap_or_else(|_| {
            Err(BackupError::Io {
                context: "integrity_check".into(),
                source: std::io::Error::other("the integrity check thread panicked"),
            })
        })?,
    };
    crate::chain::create::fault_point("data-written");
    let data_path = temp.persist(file)?;
    crate::chain::create::fault_point("data-renamed");
    let database_size = snapshot.page_count * u64::from(snapshot.page_size);
    let chain = plan.parent.as_ref().map(|parent| ChainLink {
        parent: parent.id.clone(),
        base: parent.base.clone(),
        depth: parent.depth,
        changed_pages: report.emitted_pages,
    });
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        id,
        kind: BackupKind::Db,
        created_at,
        mmctl_version: env!("CARGO_PKG_VERSION").to_owned(),
        source_host: hostname(),
        data_file,
        encryption: "age-x25519".into(),
        recipients: req.keys.recipients.to_strings(),
        compression: Codec::Zstd(0).name().into(),
        plain_size: report.emitted_bytes,
        compressed_size,
        encrypted_size,
        sha256,
        duration_seconds: started.elapsed().as_secs_f64(),
        db: Some(DbDetails {
            source_path: req.db_path.display().to_string(),
            snapshot,
            page_stream_sha256: report.stream_sha256.clone(),
            page_list_sha256: Some(report.list_sha256.clone()),
            database_size: Some(database_size),
            chain,
        }),
        wallets: None,
        tor: None,
        signing_key: None,
    };
    let backup = req.dir.write_signed(manifest, data_path, req.keys.signer)?;
    drop(raw);
    Ok(Link::Written(Box::new(backup), report, tags))
}

/// Where a backup's `integrity_check` runs.
enum IntegrityAt {
    /// On a second connection, in parallel with the page stream.
    Thread(std::thread::JoinHandle<Result<String, BackupError>>),
    /// Not at backup time (what is recorded instead, before "(verify checks ...)").
    Verify(&'static str),
}

/// What [`write_db_backup`] did.
pub(crate) enum Link {
    /// A complete backup, with what went through the page tap and (a chained backup) the
    /// cipher tags of its snapshot.
    Written(Box<LocalBackup>, TapReport, Vec<CipherTag>),
    /// The pages equal the parent's: nothing was written. The snapshot's cipher tags (the
    /// index keeps the head but learns where the file's pages are now, e.g. after a
    /// checkpoint, so the next run does not decrypt them again).
    Unchanged(Vec<CipherTag>),
}

/// How one DB backup is written: chained (with the index key: cipher tags read, no
/// `integrity_check` at backup time) and, for a delta, the parent it applies to.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkPlan {
    /// Set for a chained backup (the key of the chain's index).
    pub(crate) index_key: Option<IndexKey>,
    /// Set for a delta.
    pub(crate) parent: Option<ParentLink>,
}

impl LinkPlan {
    /// A full backup outside any chain.
    pub(crate) fn standalone() -> LinkPlan {
        LinkPlan::default()
    }
}

/// The backup a delta applies to, and what the index knows of its pages.
#[derive(Debug, Clone)]
pub(crate) struct ParentLink {
    /// The parent's id.
    pub(crate) id: BackupId,
    /// The chain's full backup.
    pub(crate) base: BackupId,
    /// The new delta's depth (the parent's + 1).
    pub(crate) depth: u32,
    /// The cipher tags the index recorded for the parent.
    pub(crate) tags: Vec<CipherTag>,
    /// The parent's page digests.
    pub(crate) digests: Vec<PageDigest>,
    /// Hex page-list SHA-256 of the parent (equal: nothing changed).
    pub(crate) list_sha256: String,
}

/// The result of rebuilding a database from a backup.
#[derive(Debug, Clone)]
pub struct RestoredDb {
    /// The new SQLCipher file.
    pub path: PathBuf,
    /// Pages written.
    pub pages: u64,
    /// Row counts of the restored database (equal to the manifest's).
    pub row_counts: BTreeMap<String, u64>,
}

/// Checks that the encrypted file's SHA-256 matches its manifest.
///
/// # Errors
/// [`BackupError::Checksum`] on mismatch, [`BackupError::Io`] when unreadable.
pub fn check_checksum(backup: &LocalBackup) -> Result<(), BackupError> {
    let (actual, _) = sha256_file(&backup.data_path)?;
    if actual != backup.manifest.sha256 {
        return Err(BackupError::Checksum {
            path: backup.data_path.clone(),
            expected: backup.manifest.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Rebuilds the database of a DB backup into the new file `dest`, keyed with `key` (which may
/// differ from the original key), then runs `cipher_integrity_check` and `integrity_check` and
/// compares page and row counts with the manifest. The checksum is checked before decrypting
/// and again over the bytes that were decrypted. On any error `dest` is removed.
///
/// # Errors
/// [`BackupError::Checksum`] (tampered/corrupt file, checked before and while decrypting),
/// [`BackupError::Decrypt`] (wrong identity), [`BackupError::Integrity`],
/// [`BackupError::Mismatch`], I/O and SQLite errors.
pub fn restore_db_file(
    backup: &AuthenticBackup,
    identities: &Identities,
    dest: &Path,
    key: &DbKey,
    progress: &dyn Fn(u64),
) -> Result<RestoredDb, BackupError> {
    let partial = Partial::new(dest, Leftover::DbFiles);
    let pages = write_full_pages(backup, identities, dest, key, progress)?;
    let restored = check_restored(backup, dest, key, pages)?;
    partial.keep();
    Ok(restored)
}

/// The database details of a DB backup's manifest.
///
/// # Errors
/// [`BackupError::Mismatch`] for a wallet backup.
pub(crate) fn db_details(backup: &AuthenticBackup) -> Result<&DbDetails, BackupError> {
    backup
        .manifest
        .db
        .as_ref()
        .ok_or_else(|| BackupError::Mismatch {
            id: backup.manifest.id.to_string(),
            detail: "not a database backup".into(),
        })
}

/// Writes the pages of a full DB backup into the new file `dest` (checksum checked before
/// decrypting and over the bytes decrypted, page count against the manifest); the caller
/// removes `dest` on error.
///
/// # Errors
/// As [`restore_db_file`]; [`BackupError::Mismatch`] for a delta (rebuild its chain with
/// [`crate::chain::apply::rebuild`]).
pub(crate) fn write_full_pages(
    backup: &AuthenticBackup,
    identities: &Identities,
    dest: &Path,
    key: &DbKey,
    progress: &dyn Fn(u64),
) -> Result<u64, BackupError> {
    let manifest = &backup.manifest;
    let details = db_details(backup)?;
    if details.chain.is_some() {
        return Err(BackupError::Mismatch {
            id: manifest.id.to_string(),
            detail: "it is a delta: rebuild it through its chain".into(),
        });
    }
    check_checksum(backup)?;
    let (payload, tally) = sealed::open_payload(backup, identities)?;
    let mut reader = ProgressReader {
        inner: payload,
        done: 0,
        progress,
    };
    let pages = pages::write_pages(dest, key, details.snapshot.page_size, &mut reader)
        .map_err(|e| payload_error(&backup.data_path, e))?;
    sealed::drain_and_check(&mut reader, &tally, backup)?;
    if pages != details.snapshot.page_count {
        return Err(BackupError::Mismatch {
            id: manifest.id.to_string(),
            detail: format!(
                "restored {pages} pages, manifest says {}",
                details.snapshot.page_count
            ),
        });
    }
    Ok(pages)
}

/// The checks of a rebuilt database against the manifest of the backup it should equal:
/// `cipher_integrity_check`, `integrity_check` and every table's row count.
///
/// # Errors
/// [`BackupError::Integrity`], [`BackupError::Mismatch`], SQLite errors.
pub(crate) fn check_restored(
    backup: &AuthenticBackup,
    dest: &Path,
    key: &DbKey,
    pages: u64,
) -> Result<RestoredDb, BackupError> {
    let details = db_details(backup)?;
    let conn = pages::open_keyed(dest, key, Access::ReadWrite)?;
    let row_counts = pages::check_database(&conn, dest)?;
    compare_row_counts(&details.snapshot.row_counts, &row_counts).map_err(|detail| {
        BackupError::Mismatch {
            id: backup.manifest.id.to_string(),
            detail,
        }
    })?;
    drop(conn);
    Ok(RestoredDb {
        path: dest.to_owned(),
        pages,
        row_counts,
    })
}

/// Turns an I/O error from the age/zstd/gzip layers into a clear "payload is corrupt" error.
pub(crate) fn payload_error(file: &Path, e: BackupError) -> BackupError {
    match e {
        BackupError::Io { context, source } if context == "read page stream" => {
            BackupError::Decrypt {
                path: file.to_owned(),
                reason: format!(
                    "the encrypted payload is damaged ({source}); the file is corrupt or was tampered with"
                ),
            }
        }
        other => other,
    }
}

/// Removes a database file and its SQLite side files, ignoring missing ones.
pub fn remove_db_files(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Reader adapter reporting bytes read to a progress callback.
pub(crate) struct ProgressReader<'a, R> {
    pub(crate) inner: R,
    pub(crate) done: u64,
    pub(crate) progress: &'a dyn Fn(u64),
}

impl<R: std::io::Read> std::io::Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done % (1 << 20) < n as u64 {
            (self.progress)(self.done);
        }
        Ok(n)
    }
}
