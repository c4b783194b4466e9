//! DB backups are zstd inside age and say so in their manifest; a backup written before zstd
//! (gzip, manifest without a `compression` field) still verifies and restores; a compression
//! this version does not know is refused with a clear error.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use mmkt_backup::chain::ChainMode;
use mmkt_backup::crypto::{Identities, Recipients};
use mmkt_backup::db::{DEFAULT_LEVEL, DbBackupRequest, backup_db, restore_db_file};
use mmkt_backup::signing::{BackupKeys, SigningKey, TrustedKeys, authenticate};
use mmkt_backup::store::{BackupDir, LocalBackup};
use mmkt_backup::verify::verify_backup;
use mmkt_sqlcipher::{Access, DbKey, OpenOptions};

/// The compression a rewritten data file gets.
enum Stream {
    Gzip,
    Zstd,
}

struct Fixture {
    dir: tempfile::TempDir,
    key: DbKey,
    recipients: Recipients,
    identities: Identities,
    signer: SigningKey,
    trusted: TrustedKeys,
}

fn fixture(rows: u32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = DbKey::generate();
    let options = OpenOptions {
        access: Access::Create,
        busy_timeout: Duration::from_secs(5),
        page_size: None,
    };
    let conn = mmkt_sqlcipher::open(&dir.path().join("mmkt.db"), &key, &options).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x TEXT NOT NULL);")
        .unwrap();
    for i in 0..rows {
        conn.execute(
            "INSERT INTO t (x) VALUES (?1)",
            [format!("row {i} of the table")],
        )
        .unwrap();
    }
    let identity = age::x25519::Identity::generate();
    let identity_file = dir.path().join("identity.txt");
    std::fs::write(&identity_file, identity.to_string().expose_secret()).unwrap();
    let signer = SigningKey::generate();
    Fixture {
        recipients: Recipients::collect(&[identity.to_public().to_string()], &[]).unwrap(),
        identities: Identities::from_file(&identity_file).unwrap(),
        trusted: TrustedKeys::new(vec![signer.public_key()]).unwrap(),
        signer,
        key,
        dir,
    }
}

impl Fixture {
    fn backups(&self) -> BackupDir {
        BackupDir::open(&self.dir.path().join("backups")).unwrap()
    }

    fn backup(&self) -> LocalBackup {
        let dir = self.backups();
        backup_db(&DbBackupRequest {
            db_path: &self.dir.path().join("mmkt.db"),
            key: &self.key,
            keys: BackupKeys {
                recipients: &self.recipients,
                signer: &self.signer,
            },
            dir: &dir,
            level: DEFAULT_LEVEL,
            chain: ChainMode::Standalone,
            progress: &|_| {},
        })
        .unwrap()
        .into_backup()
    }

    /// Rewrites `backup` as a pre-zstd mmctl wrote it: its page stream gzip'd inside age, and a
    /// signed manifest edited by `edit` (sizes and checksum are updated here).
    fn rewrite(&self, backup: &LocalBackup, codec: Stream, edit: impl Fn(&mut serde_json::Value)) {
        let current = ["db.zst.age", "db.gz.age"]
            .map(|suffix| {
                backup
                    .data_path
                    .with_file_name(format!("{}.{suffix}", backup.manifest.id))
            })
            .into_iter()
            .find(|p| p.exists())
            .unwrap();
        let encrypted = std::fs::File::open(&current).unwrap();
        let mut plain = Vec::new();
        zstd::stream::read::Decoder::new(self.identities.decrypt(encrypted, &current).unwrap())
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        let compressed = match codec {
            Stream::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                gz.write_all(&plain).unwrap();
                gz.finish().unwrap()
            }
            Stream::Zstd => zstd::encode_all(&plain[..], 1).unwrap(),
        };
        let mut sealed = self.recipients.encrypt(Vec::new()).unwrap();
        sealed.write_all(&compressed).unwrap();
        let sealed = sealed.finish().unwrap();
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&backup.manifest_path).unwrap()).unwrap();
        manifest["compressed_size"] = compressed.len().into();
        manifest["encrypted_size"] = sealed.len().into();
        manifest["sha256"] = hex::encode(sha2::Sha256::digest(&sealed)).into();
        edit(&mut manifest);
        // The data file's name follows the manifest's compression: `.db.gz.age` for gzip (or
        // no field, as older versions wrote), `.db.zst.age` otherwise.
        let gzip = manifest
            .get("compression")
            .and_then(|c| c.as_str())
            .unwrap_or("gzip")
            == "gzip";
        let suffix = if gzip { "db.gz.age" } else { "db.zst.age" };
        let name = format!("{}.{suffix}", backup.manifest.id);
        let data_path = backup.data_path.with_file_name(&name);
        for stale in ["db.gz.age", "db.zst.age"] {
            let _ = std::fs::remove_file(
                backup
                    .data_path
                    .with_file_name(format!("{}.{stale}", backup.manifest.id)),
            );
        }
        std::fs::write(&data_path, &sealed).unwrap();
        manifest["data_file"] = name.into();
        let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        std::fs::write(&backup.manifest_path, &bytes).unwrap();
        std::fs::write(&backup.signature_path, self.signer.sign(&bytes)).unwrap();
    }

    fn verify(&self, backup: &LocalBackup) -> (bool, String) {
        let listed = self.backups().list().unwrap();
        let local = listed
            .iter()
            .find(|b| b.manifest.id == backup.manifest.id)
            .unwrap();
        let authentic = authenticate(local, &self.trusted).unwrap();
        let outcome = verify_backup(&self.backups(), &authentic, &self.identities, &self.trusted);
        (outcome.ok, outcome.detail)
    }

    fn restore(&self, backup: &LocalBackup, dest: &Path) -> u64 {
        let listed = self.backups().list().unwrap();
        let local = listed
            .iter()
            .find(|b| b.manifest.id == backup.manifest.id)
            .unwrap();
        let authentic = authenticate(local, &self.trusted).unwrap();
        let restored = restore_db_file(
            &authentic,
            &self.identities,
            dest,
            &DbKey::generate(),
            &|_| {},
        )
        .unwrap();
        restored.row_counts["t"]
    }
}

use sha2::Digest;

#[test]
fn a_db_backup_is_zstd_and_its_manifest_says_so() {
    let fx = fixture(3000);
    let backup = fx.backup();
    assert_eq!(backup.manifest.compression, "zstd");
    let mut head = [0u8; 4];
    zstd::stream::read::Decoder::new(
        fx.identities
            .decrypt(
                std::fs::File::open(&backup.data_path).unwrap(),
                &backup.data_path,
            )
            .unwrap(),
    )
    .unwrap()
    .read_exact(&mut head)
    .unwrap();
    assert_eq!(&head, b"SQLi", "the zstd stream is a SQLite file");
    assert!(backup.manifest.compressed_size < backup.manifest.plain_size / 2);
    assert_eq!(fx.verify(&backup), (true, "ok".to_owned()));
    assert_eq!(
        fx.restore(&backup, &fx.dir.path().join("restored.db")),
        3000
    );
}

#[test]
fn a_gzip_backup_without_a_compression_field_still_verifies_and_restores() {
    let fx = fixture(3000);
    let backup = fx.backup();
    fx.rewrite(&backup, Stream::Gzip, |m| {
        m.as_object_mut().unwrap().remove("compression");
    });
    let listed = fx.backups().list().unwrap();
    assert_eq!(listed[0].manifest.compression, "gzip");
    assert_eq!(fx.verify(&backup), (true, "ok".to_owned()));
    assert_eq!(
        fx.restore(&backup, &fx.dir.path().join("restored.db")),
        3000
    );
}

#[test]
fn an_unknown_or_wrong_compression_is_refused_and_nothing_is_restored() {
    let fx = fixture(500);
    let backup = fx.backup();
    fx.rewrite(&backup, Stream::Zstd, |m| m["compression"] = "lz4".into());
    let (ok, detail) = fx.verify(&backup);
    assert!(!ok);
    assert!(detail.contains("unknown compression \"lz4\""), "{detail}");
    assert!(detail.contains("newer mmctl"), "{detail}");

    // A zstd stream whose manifest claims gzip fails as a damaged payload, not as a database.
    fx.rewrite(&backup, Stream::Zstd, |m| m["compression"] = "gzip".into());
    let (ok, detail) = fx.verify(&backup);
    assert!(!ok);
    assert!(detail.contains("damaged"), "{detail}");
    let dest = fx.dir.path().join("restored.db");
    let listed = fx.backups().list().unwrap();
    let authentic = authenticate(&listed[0], &fx.trusted).unwrap();
    assert!(
        restore_db_file(
            &authentic,
            &fx.identities,
            &dest,
            &DbKey::generate(),
            &|_| {}
        )
        .is_err()
    );
    assert!(!dest.exists());
}
