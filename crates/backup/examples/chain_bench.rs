//! Benchmark of one chained `backup db` (the full read and hash of every page, then a delta or
//! a full backup) on a database seeded by `crates/mmctl/examples/bench_seed.rs`, for
//! docs/BENCHMARKS.md ("Incremental DB backups"). Run it under `/usr/bin/time -v` for CPU time
//! and peak RSS. Not a test.
//!
//! Usage: chain_bench DB_PATH KEY_FILE BACKUP_DIR AGE_RECIPIENT [full|chained]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mmkt_backup::chain::{ChainMode, ChainPolicy, DEFAULT_MAX_DEPTH};
use mmkt_backup::crypto::Recipients;
use mmkt_backup::db::{DbBackupRequest, backup_db};
use mmkt_backup::signing::{BackupKeys, SigningKey};
use mmkt_backup::store::BackupDir;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, key_file, dir, recipient, mode] = args.as_slice() else {
        eprintln!("usage: chain_bench DB_PATH KEY_FILE BACKUP_DIR AGE_RECIPIENT full|chained");
        std::process::exit(2);
    };
    let key = mmkt_sqlcipher::read_key_file(&PathBuf::from(key_file))?;
    let recipients = Recipients::collect(std::slice::from_ref(recipient), &[])?;
    let signer = SigningKey::generate();
    let dir = BackupDir::open(&PathBuf::from(dir))?;
    let chain = match mode.as_str() {
        "full" => ChainMode::Standalone,
        _ => ChainMode::Chained(ChainPolicy {
            full_every: Duration::from_secs(86_400),
            max_depth: DEFAULT_MAX_DEPTH,
        }),
    };
    let request = DbBackupRequest {
        db_path: &PathBuf::from(db),
        key: &key,
        keys: BackupKeys {
            recipients: &recipients,
            signer: &signer,
        },
        dir: &dir,
        level: mmkt_backup::db::DEFAULT_LEVEL,
        chain,
        progress: &|_| {},
    };
    let started = Instant::now();
    let backup = backup_db(&request)?.into_backup();
    let details = backup.manifest.db.as_ref().expect("a DB backup");
    println!(
        "{} {:.2}s pages={} changed={} encrypted={}B",
        backup.manifest.id,
        started.elapsed().as_secs_f64(),
        details.snapshot.page_count,
        details
            .chain
            .as_ref()
            .map_or(details.snapshot.page_count, |c| c.changed_pages),
        backup.manifest.encrypted_size
    );
    Ok(())
}
