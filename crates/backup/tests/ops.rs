//! The backup operations called as a library (no CLI): a real SQLCipher database backed up,
//! listed, verified, pruned and restored through `mmkt_backup::ops`, with real age keys and a
//! real signing key; a restore refuses a backup signed by a key that is not trusted.

use std::time::Duration;

use age::secrecy::ExposeSecret;
use mmkt_backup::BackupError;
use mmkt_backup::crypto::{Identities, Recipients};
use mmkt_backup::manifest::{BackupId, Selector};
use mmkt_backup::ops::backup::{BackupRequest, DbSource, OffsiteOutcome, backup};
use mmkt_backup::ops::list::{Location, list_local};
use mmkt_backup::ops::prune::{OffsitePrune, PruneAction, PruneMode, PruneRequest, prune};
use mmkt_backup::ops::restore::{BackupChoice, BackupOrigin, Confirmed, Restart, RestoredInto};
use mmkt_backup::ops::restore_db::{DbRestoreRequest, KeyFileUse, ServerControl, plan_db_restore};
use mmkt_backup::ops::verify::{VerifyKeys, VerifySelection, plan_verify, verify_one};
use mmkt_backup::progress::NoProgress;
use mmkt_backup::retention::Policy;
use mmkt_backup::signing::{BackupKeys, SigningKey, TrustedKeys};
use mmkt_backup::store::BackupDir;
use mmkt_sqlcipher::{Access, DbKey, OpenOptions};

struct Fixture {
    dir: tempfile::TempDir,
    recipients: Recipients,
    identities: Identities,
    signer: SigningKey,
    trusted: TrustedKeys,
}

impl Fixture {
    /// A key file, a database with `rows` rows in table `t`, and an age key pair.
    fn new(rows: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key = DbKey::generate();
        mmkt_sqlcipher::write_key_file(&dir.path().join("db.key"), &key).unwrap();
        let options = OpenOptions {
            access: Access::Create,
            busy_timeout: Duration::from_secs(5),
            page_size: None,
        };
        let conn = mmkt_sqlcipher::open(&dir.path().join("mmkt.db"), &key, &options).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x TEXT NOT NULL);")
            .unwrap();
        for i in 0..rows {
            conn.execute("INSERT INTO t (x) VALUES (?1)", [format!("row {i}")])
                .unwrap();
        }
        let identity = age::x25519::Identity::generate();
        let identity_file = dir.path().join("identity.txt");
        std::fs::write(&identity_file, identity.to_string().expose_secret()).unwrap();
        let recipients = Recipients::collect(&[identity.to_public().to_string()], &[]).unwrap();
        let identities = Identities::from_file(&identity_file).unwrap();
        let signer = SigningKey::generate();
        let trusted = TrustedKeys::new(vec![signer.public_key()]).unwrap();
        Fixture {
            dir,
            recipients,
            identities,
            signer,
            trusted,
        }
    }

    fn backups(&self) -> BackupDir {
        BackupDir::open(&self.dir.path().join("backups")).unwrap()
    }

    async fn backup_db(&self) -> BackupId {
        let (db_path, key_file) = (
            self.dir.path().join("mmkt.db"),
            self.dir.path().join("db.key"),
        );
        let dir = self.backups();
        let request = BackupRequest {
            dir: &dir,
            keys: BackupKeys {
                recipients: &self.recipients,
                signer: &self.signer,
            },
            db: Some(DbSource {
                db_path: &db_path,
                key_file: &key_file,
                compression_level: 1,
                chain: mmkt_backup::chain::ChainMode::Standalone,
            }),
            wallets: None,
            tor: None,
            offsite: None,
        };
        let reports = backup(&request, &NoProgress).await.unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].offsite, OffsiteOutcome::NotConfigured);
        reports[0].backup.manifest.id.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_listed_verified_pruned_and_restored_through_the_library() {
    let fx = Fixture::new(200);
    let first = fx.backup_db().await;
    let second = fx.backup_db().await;
    let dir = fx.backups();

    let listing = list_local(&dir).unwrap();
    let ids: Vec<&str> = listing.backups.iter().map(|b| b.id.as_str()).collect();
    let (first, second) = (first.to_string(), second.to_string());
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert!(
        listing
            .backups
            .iter()
            .all(|b| b.location == Location::Local)
    );

    let plan = plan_verify(&dir, VerifySelection::NewestOfEachSeries).unwrap();
    assert_eq!(plan.targets.len(), 1);
    let keys = VerifyKeys {
        identities: &fx.identities,
        trusted: &fx.trusted,
    };
    let outcome = verify_one(&dir, &plan.targets[0], keys, &NoProgress);
    assert!(outcome.ok, "{}", outcome.detail);
    assert_eq!(outcome.id, second.as_str());
    assert_eq!(outcome.checks[0], "signature");

    let policy = Policy {
        keep_last: 1,
        ..Policy::default()
    };
    let request = PruneRequest {
        dir: &dir,
        policy,
        mode: PruneMode::DryRun,
        offsite: None,
        pre_restore: None,
    };
    let plan = prune(&request).await.unwrap();
    assert_eq!(plan.offsite, OffsitePrune::NotConfigured);
    assert_eq!(plan.removed(), 1);
    let removed = plan
        .entries
        .iter()
        .find(|e| e.action == PruneAction::Remove)
        .unwrap();
    assert_eq!(removed.id, first);
    assert_eq!(
        list_local(&dir).unwrap().backups.len(),
        2,
        "a dry run deletes nothing"
    );

    // Restore onto a host-run database (the operator stopped the server).
    let live = fx.dir.path().join("mmkt.db");
    let key_file = fx.dir.path().join("db.key");
    let selector = Selector::parse(&first).unwrap();
    let request = DbRestoreRequest {
        backup: BackupChoice {
            dir: &dir,
            selector: &selector,
            origin: BackupOrigin::Local,
            trusted: &fx.trusted,
        },
        live_db: &live,
        key_file: &key_file,
        key_file_use: KeyFileUse::Existing,
        identities: &fx.identities,
        server: ServerControl::Manual { server_url: None },
    };
    let plan = plan_db_restore(request, &NoProgress).await.unwrap();
    assert_eq!(plan.backup().manifest.id, first.as_str());
    assert_eq!(plan.backup().signed_by(), fx.signer.public_key());
    let report = plan
        .run(Confirmed::by_operator(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(report.restart, Restart::ByOperator);
    let RestoredInto::Database { path, previous } = &report.target else {
        panic!("a database restore: {report:?}");
    };
    assert_eq!(path, &live);
    assert!(
        previous.as_ref().is_some_and(|p| p.exists()),
        "{previous:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refuses_a_backup_no_trusted_key_signed_before_touching_anything() {
    let fx = Fixture::new(20);
    fx.backup_db().await;
    let dir = fx.backups();
    let live = fx.dir.path().join("mmkt.db");
    let key_file = fx.dir.path().join("db.key");
    let before = std::fs::read(&live).unwrap();
    let other = TrustedKeys::new(vec![SigningKey::generate().public_key()]).unwrap();
    let request = DbRestoreRequest {
        backup: BackupChoice {
            dir: &dir,
            selector: &Selector::Latest,
            origin: BackupOrigin::Local,
            trusted: &other,
        },
        live_db: &live,
        key_file: &key_file,
        key_file_use: KeyFileUse::Existing,
        identities: &fx.identities,
        server: ServerControl::Manual { server_url: None },
    };
    let err = plan_db_restore(request, &NoProgress).await.unwrap_err();
    assert!(matches!(err, BackupError::BadSignature { .. }), "{err}");
    assert_eq!(
        std::fs::read(&live).unwrap(),
        before,
        "the live database is untouched"
    );
}
