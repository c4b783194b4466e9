//! How a chained `backup db` finds the changed pages without decrypting the unchanged ones
//! (cipher tags in the file, WAL frame headers, page digests), against real SQLCipher files:
//! a change still only in the WAL, a checkpoint between two backups, a page rewritten with the
//! same content, a VACUUM that shrinks the file, an index of the first format, a manifest of
//! the page-stream era, and the chained full backup that leaves `integrity_check` to verify.
//! Every point is rebuilt through its chain and compared with the live rows.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use age::secrecy::ExposeSecret;
use mmkt_backup::chain::apply::rebuild;
use mmkt_backup::chain::index::INDEX_FILE;
use mmkt_backup::chain::resolve::resolve;
use mmkt_backup::chain::{ChainMode, ChainPolicy, DbBackupOutcome};
use mmkt_backup::crypto::{Identities, Recipients};
use mmkt_backup::db::{DEFAULT_LEVEL, DbBackupRequest, backup_db};
use mmkt_backup::signing::{AuthenticBackup, BackupKeys, SigningKey, TrustedKeys, authenticate};
use mmkt_backup::store::{BackupDir, LocalBackup};
use mmkt_backup::verify::verify_backup;
use mmkt_sqlcipher::{Access, DbKey, OpenOptions};
use rusqlite::Connection;
use sha2::Digest;

struct Fixture {
    dir: tempfile::TempDir,
    key: DbKey,
    recipients: Recipients,
    identities: Identities,
    signer: SigningKey,
    trusted: TrustedKeys,
}

/// A WAL database with `rows` rows in `t` (indexed), and the connection that wrote them
/// (automatic checkpoints off: the tests checkpoint when they mean to).
fn fixture(rows: u32) -> (Fixture, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let key = DbKey::generate();
    let identity = age::x25519::Identity::generate();
    let identity_file = dir.path().join("identity.txt");
    std::fs::write(&identity_file, identity.to_string().expose_secret()).unwrap();
    let signer = SigningKey::generate();
    let fixture = Fixture {
        recipients: Recipients::collect(&[identity.to_public().to_string()], &[]).unwrap(),
        identities: Identities::from_file(&identity_file).unwrap(),
        trusted: TrustedKeys::new(vec![signer.public_key()]).unwrap(),
        signer,
        key,
        dir,
    };
    let conn = fixture.open(Access::Create);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE t (x TEXT NOT NULL); CREATE INDEX t_x ON t (x);",
    )
    .unwrap();
    insert(&conn, rows);
    checkpoint(&conn);
    (fixture, conn)
}

fn insert(conn: &Connection, rows: u32) {
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO t (x) SELECT 'row ' || i || ' ' || hex(randomblob(40)) FROM n",
        [rows],
    )
    .unwrap();
}

fn checkpoint(conn: &Connection) {
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
}

/// Writes every page back as it is (through `sqlite_dbpage`, in one transaction).
fn rewrite_every_page(conn: &Connection) {
    let pages: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT pgno, data FROM sqlite_dbpage")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    for (pgno, data) in pages {
        conn.execute(
            "INSERT INTO sqlite_dbpage (pgno, data) VALUES (?1, ?2)",
            rusqlite::params![pgno, data],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

fn rows(conn: &Connection) -> Vec<String> {
    let mut stmt = conn.prepare("SELECT x FROM t ORDER BY rowid").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

impl Fixture {
    fn db(&self) -> PathBuf {
        self.dir.path().join("mmkt.db")
    }

    fn open(&self, access: Access) -> Connection {
        let options = OpenOptions {
            access,
            busy_timeout: Duration::from_secs(5),
            page_size: None,
        };
        mmkt_sqlcipher::open(&self.db(), &self.key, &options).unwrap()
    }

    fn backups(&self) -> BackupDir {
        BackupDir::open(&self.dir.path().join("backups")).unwrap()
    }

    fn backup_as(&self, chain: ChainMode) -> DbBackupOutcome {
        backup_db(&DbBackupRequest {
            db_path: &self.db(),
            key: &self.key,
            keys: BackupKeys {
                recipients: &self.recipients,
                signer: &self.signer,
            },
            dir: &self.backups(),
            level: DEFAULT_LEVEL,
            chain,
            progress: &|_| {},
        })
        .unwrap()
    }

    fn chained(&self) -> DbBackupOutcome {
        self.backup_as(ChainMode::Chained(ChainPolicy {
            full_every: Duration::from_secs(3600),
            max_depth: 100,
        }))
    }

    fn written(&self) -> LocalBackup {
        match self.chained() {
            DbBackupOutcome::Written(b) => b,
            other => panic!("nothing written, head {}", other.backup().manifest.id),
        }
    }

    fn authentic(&self, backup: &LocalBackup) -> AuthenticBackup {
        let listed = self.backups().list().unwrap();
        let local = listed
            .iter()
            .find(|b| b.manifest.id == backup.manifest.id)
            .unwrap();
        authenticate(local, &self.trusted).unwrap()
    }

    fn verify(&self, backup: &LocalBackup) -> (bool, String) {
        let outcome = verify_backup(
            &self.backups(),
            &self.authentic(backup),
            &self.identities,
            &self.trusted,
        );
        (outcome.ok, outcome.detail)
    }

    /// Rebuilds `backup` through its chain into a new file and returns its rows.
    fn rebuilt_rows(&self, backup: &LocalBackup) -> Vec<String> {
        let (dir, authentic) = (self.backups(), self.authentic(backup));
        let chain = resolve(&dir, &authentic, &self.trusted).unwrap();
        // A fresh directory each time: a backup may be rebuilt twice (an unchanged run
        // returns its head again).
        let scratch = tempfile::tempdir_in(self.dir.path()).unwrap();
        let dest = scratch.path().join("rebuilt.db");
        let key = DbKey::generate();
        rebuild(
            &chain,
            &self.identities,
            &dest,
            &key,
            (&dir, &self.trusted),
            &|_| {},
        )
        .unwrap_or_else(|e| panic!("rebuild {}: {e}", backup.manifest.id));
        let options = OpenOptions {
            access: Access::ReadOnly,
            busy_timeout: Duration::from_secs(5),
            page_size: None,
        };
        rows(&mmkt_sqlcipher::open(&dest, &key, &options).unwrap())
    }

    /// Checks that `backup` verifies and rebuilds to exactly the live rows.
    fn assert_restores_live(&self, backup: &LocalBackup, live: &Connection) {
        let (ok, detail) = self.verify(backup);
        assert!(ok, "{}: {detail}", backup.manifest.id);
        assert_eq!(
            self.rebuilt_rows(backup),
            rows(live),
            "{}",
            backup.manifest.id
        );
    }
}

fn changed_pages(backup: &LocalBackup) -> u64 {
    backup
        .manifest
        .db
        .as_ref()
        .unwrap()
        .chain
        .as_ref()
        .unwrap()
        .changed_pages
}

fn parent(backup: &LocalBackup) -> Option<String> {
    let chain = backup.manifest.db.as_ref().unwrap().chain.as_ref();
    chain.map(|c| c.parent.to_string())
}

fn wal_len(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
}

#[test]
fn a_wal_only_change_a_checkpoint_and_a_same_content_rewrite_are_each_handled() {
    let (fx, writer) = fixture(400);
    let full = fx.written();
    assert_eq!(parent(&full), None);
    let db_before = std::fs::read(fx.db()).unwrap();

    // Rows still only in the WAL: the database file is byte for byte what it was.
    insert(&writer, 60);
    assert!(wal_len(&fx.db()) > 0);
    let wal_only = fx.written();
    assert_eq!(std::fs::read(fx.db()).unwrap(), db_before);
    assert_eq!(parent(&wal_only), Some(full.manifest.id.to_string()));
    assert!(changed_pages(&wal_only) > 0);
    fx.assert_restores_live(&wal_only, &writer);

    // A checkpoint moves those pages into the file (new tags there), content unchanged.
    checkpoint(&writer);
    assert_ne!(std::fs::read(fx.db()).unwrap(), db_before);
    let index = || std::fs::read(fx.backups().path().join(INDEX_FILE)).unwrap();
    let index_before = index();
    match fx.chained() {
        DbBackupOutcome::Unchanged(head) => assert_eq!(head.manifest.id, wal_only.manifest.id),
        other => panic!("a checkpoint wrote {}", other.backup().manifest.id),
    }
    // The index learnt the pages' new tags (same head), so the next run has nothing to
    // decrypt and leaves it as it is.
    let index_after = index();
    assert_ne!(index_after, index_before);
    assert!(matches!(fx.chained(), DbBackupOutcome::Unchanged(_)));
    assert_eq!(index(), index_after);
    // Every page rewritten with the same content: re-encrypted under a new IV, so decrypted
    // and compared, and nothing to store.
    let db_before = std::fs::read(fx.db()).unwrap();
    rewrite_every_page(&writer);
    checkpoint(&writer);
    assert_ne!(std::fs::read(fx.db()).unwrap(), db_before);
    assert!(matches!(fx.chained(), DbBackupOutcome::Unchanged(_)));

    // A change checkpointed before the backup: found from the file's tags alone.
    insert(&writer, 5);
    checkpoint(&writer);
    assert_eq!(wal_len(&fx.db()), 0);
    let in_file = fx.written();
    assert_eq!(parent(&in_file), Some(wal_only.manifest.id.to_string()));
    let pages = in_file.manifest.db.as_ref().unwrap().snapshot.page_count;
    assert!(
        changed_pages(&in_file) < pages / 2,
        "{}",
        changed_pages(&in_file)
    );
    fx.assert_restores_live(&in_file, &writer);
}

#[test]
fn a_vacuum_that_shrinks_the_file_is_a_delta_that_truncates_even_before_its_checkpoint() {
    let (fx, writer) = fixture(3000);
    let full = fx.written();
    let before = full.manifest.db.as_ref().unwrap().snapshot.page_count;
    writer
        .execute_batch("DELETE FROM t WHERE rowid > 100; VACUUM;")
        .unwrap();
    // Not checkpointed: the file still has its old length, the WAL holds the new pages.
    let vacuumed = fx.written();
    let after = vacuumed.manifest.db.as_ref().unwrap().snapshot.page_count;
    assert!(after < before / 2, "{after} of {before}");
    assert_eq!(parent(&vacuumed), Some(full.manifest.id.to_string()));
    fx.assert_restores_live(&vacuumed, &writer);
    checkpoint(&writer);
    insert(&writer, 3);
    let next = fx.written();
    assert_eq!(parent(&next), Some(vacuumed.manifest.id.to_string()));
    fx.assert_restores_live(&next, &writer);
}

#[test]
fn an_index_of_the_first_format_makes_the_next_backup_a_full_one() {
    let (fx, writer) = fixture(200);
    fx.written();
    let mut old = b"MMKTPIX1".to_vec();
    old.extend_from_slice(&[7u8; 200]);
    std::fs::write(fx.backups().path().join(INDEX_FILE), old).unwrap();
    insert(&writer, 10);
    let next = fx.written();
    assert_eq!(
        parent(&next),
        None,
        "a full backup, not a delta of an unknown head"
    );
    fx.assert_restores_live(&next, &writer);
    insert(&writer, 10);
    let delta = fx.written();
    assert_eq!(parent(&delta), Some(next.manifest.id.to_string()));
    fx.assert_restores_live(&delta, &writer);
}

/// The canonical page stream's SHA-256 of a full backup (what manifests recorded before the
/// page list): every page with its 80 reserved bytes and page 1's counters zeroed.
fn page_stream_sha256(fx: &Fixture, backup: &LocalBackup) -> String {
    let encrypted = std::fs::File::open(&backup.data_path).unwrap();
    let mut plain = Vec::new();
    zstd::stream::read::Decoder::new(fx.identities.decrypt(encrypted, &backup.data_path).unwrap())
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    for page in plain.chunks_mut(4096) {
        page[4096 - 80..].fill(0);
    }
    plain[24..28].fill(0);
    plain[92..96].fill(0);
    hex::encode(sha2::Sha256::digest(&plain))
}

#[test]
fn a_manifest_of_the_page_stream_era_is_still_checked_by_its_stream_hash() {
    let (fx, writer) = fixture(300);
    let full = fx.written();
    let resign = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&full.manifest_path).unwrap()).unwrap();
        edit(&mut manifest["db"]);
        let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        std::fs::write(&full.manifest_path, &bytes).unwrap();
        std::fs::write(&full.signature_path, fx.signer.sign(&bytes)).unwrap();
    };
    let stream = page_stream_sha256(&fx, &full);
    resign(&|db| {
        db.as_object_mut().unwrap().remove("page_list_sha256");
        db["page_stream_sha256"] = stream.clone().into();
    });
    fx.assert_restores_live(&full, &writer);
    resign(&|db| db["page_stream_sha256"] = "00".repeat(32).into());
    let (ok, detail) = fx.verify(&full);
    assert!(!ok && detail.contains("page"), "{detail}");
}

#[test]
fn a_chained_full_backup_leaves_integrity_check_to_verify_which_catches_a_broken_index() {
    let (fx, writer) = fixture(20);
    drop(writer);
    // Empty the index's root page (a one-page index): every row is then missing from it.
    let conn = fx.open(Access::ReadWrite);
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 't_x'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut empty_leaf = vec![0u8; 4096];
    empty_leaf[0] = 0x0a;
    empty_leaf[5..7].copy_from_slice(&(4096u16 - 80).to_be_bytes());
    conn.execute(
        "INSERT INTO sqlite_dbpage (pgno, data) VALUES (?1, ?2)",
        rusqlite::params![root, empty_leaf],
    )
    .unwrap();
    checkpoint(&conn);
    drop(conn);

    let standalone = fx.backup_as(ChainMode::Standalone).into_backup();
    let recorded = &standalone
        .manifest
        .db
        .as_ref()
        .unwrap()
        .snapshot
        .integrity_check;
    assert!(recorded.contains("missing from index"), "{recorded}");

    let chained = fx.written();
    let recorded = &chained
        .manifest
        .db
        .as_ref()
        .unwrap()
        .snapshot
        .integrity_check;
    assert!(recorded.contains("verify"), "{recorded}");
    let (ok, detail) = fx.verify(&chained);
    assert!(!ok && detail.contains("integrity_check"), "{detail}");
}

#[test]
fn deltas_taken_while_a_writer_commits_and_checkpoints_are_whole_transactions() {
    let (fx, writer) = fixture(500);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut round = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                insert(&writer, 50);
                // Checkpoints of every kind while the backups read: PASSIVE copies frames
                // into the file under a reader, RESTART/TRUNCATE wait for it.
                let mode = ["PASSIVE", "RESTART", "TRUNCATE"][round as usize % 3];
                let _ = writer.execute_batch(&format!("PRAGMA wal_checkpoint({mode})"));
                round += 1;
            }
            writer
        })
    };
    let backups: Vec<LocalBackup> = (0..6).map(|_| fx.chained().into_backup()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writer = thread.join().unwrap();
    let live = rows(&writer);
    for backup in &backups {
        let (ok, detail) = fx.verify(backup);
        assert!(ok, "{}: {detail}", backup.manifest.id);
        let rebuilt = fx.rebuilt_rows(backup);
        assert_eq!((rebuilt.len() - 500) % 50, 0, "{}", backup.manifest.id);
        assert_eq!(rebuilt[..], live[..rebuilt.len()], "{}", backup.manifest.id);
    }
    assert!(backups.iter().skip(1).any(|b| parent(b).is_some()));
}
