//! `drill`: a disaster-recovery rehearsal. Checks the signatures of the backups already there
//! (the RPO counts only those a trusted key signed), takes fresh signed backups, restores them
//! into scratch locations (the database into a scratch SQLCipher file under a random key, each
//! wallet directory into a throwaway `monero-wallet-rpc --offline`) after checking their
//! signatures with the trusted keys, checks them, and measures the RTO and the RPO. It never
//! writes to live data.

use std::collections::BTreeMap;
use std::time::Instant;

use mmkt_sqlcipher::DbKey;
use serde::Serialize;
use time::OffsetDateTime;

use super::backup::{
    DbSource, WalletLocation, WalletsSource, backup_database, backup_wallet_roles,
};
use super::verify::VerifyKeys;
use crate::chain::rpo::{ChainRpo, chain_rpo};
use crate::db::restore_db_file;
use crate::error::{BackupError, error_chain};
use crate::escrow_wallets::{self, EscrowWallets, WalletState};
use crate::manifest::{BackupKind, Series, WalletRole};
use crate::progress::Progress;
use crate::restore_wallet::check_wallets;
use crate::signing::{AuthenticBackup, BackupKeys, authenticate};
use crate::store::{BackupDir, LocalBackup};
use crate::verify::{ScratchDir, VerifyOutcome, record_outcome};
use crate::wallet_source::AddressProbe;

/// Whether the drill covers the wallets.
#[derive(Debug, Clone, Copy)]
pub enum DrillWallets<'a> {
    /// Database only (hosts without wallet-rpc).
    Skip,
    /// Back up every role and open each restored wallet: the fresh backups record addresses
    /// with `probe` (escrow passwords from the live database), the restored wallets are opened
    /// with the escrow passwords of the restored database copy and compared with its records.
    Check {
        /// Where the wallet directories are.
        location: &'a WalletLocation,
        /// The throwaway wallet-rpc, the shared password and the live escrow wallets.
        probe: &'a AddressProbe,
    },
}

/// What the drill does.
#[derive(Debug, Clone, Copy)]
pub struct DrillRequest<'a> {
    /// The local backup directory (fresh backups and scratch space).
    pub dir: &'a BackupDir,
    /// age recipients and signing key of the fresh backups.
    pub keys: BackupKeys<'a>,
    /// age identities that decrypt them and the keys trusted to have signed them.
    pub verify: VerifyKeys<'a>,
    /// The live database.
    pub db: DbSource<'a>,
    /// The wallets, or not.
    pub wallets: DrillWallets<'a>,
}

/// One step of the drill.
#[derive(Debug, Clone, Serialize)]
pub struct DrillStep {
    /// "check signatures of existing backups", "backup db", "backup wallets",
    /// "restore <series> to scratch".
    pub name: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took, in seconds.
    pub seconds: f64,
    /// What it produced, or why it failed.
    pub detail: String,
}

/// The drill report (`mmctl drill --json`).
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// Whether every step succeeded.
    pub ok: bool,
    /// Measured recovery time: decrypt + rebuild + verify of every fresh backup, in seconds.
    pub rto_seconds: f64,
    /// Recovery point before this drill, per series: age in seconds of the newest backup that
    /// existed at the start and that a trusted key signed (what a disaster then would have
    /// lost); `None` when there was none.
    pub rpo_seconds: BTreeMap<String, Option<f64>>,
    /// Age of the fresh backups when their verification finished, in seconds.
    pub backup_age_seconds: f64,
    /// The achieved RPO of the DB backups there were before the drill (signed, every link of
    /// their chain present and signed): the newest point's age and the largest gap over 24 h.
    pub chain_rpo: ChainRpo,
    /// The steps, in order.
    pub steps: Vec<DrillStep>,
    /// Ids of the fresh backups.
    pub backups: Vec<String>,
    /// Ids of existing backups that no trusted key signed (unsigned or forged).
    pub unsigned: Vec<String>,
}

fn age(created: OffsetDateTime) -> f64 {
    (OffsetDateTime::now_utc() - created)
        .as_seconds_f64()
        .max(0.0)
}

/// The step `name` started at `t` that ended with `result`: its detail on success, the error
/// chain on failure.
fn timed<T>(
    name: String,
    result: Result<T, BackupError>,
    t: Instant,
    detail: impl FnOnce(&T) -> String,
) -> (DrillStep, Option<T>) {
    let seconds = t.elapsed().as_secs_f64();
    match result {
        Ok(value) => (
            DrillStep {
                name,
                ok: true,
                seconds,
                detail: detail(&value),
            },
            Some(value),
        ),
        Err(e) => (
            DrillStep {
                name,
                ok: false,
                seconds,
                detail: error_chain(&e),
            },
            None,
        ),
    }
}

/// Runs the drill: the existing backups' signatures checked and the RPO taken from the signed
/// ones, fresh backups, each restored to scratch and checked (its result recorded as a
/// verification), RTO as the sum of the restore times. A failing step (also an existing
/// backup that no trusted key signed) is in the report, not an error.
///
/// # Errors
/// [`BackupError::KeyFile`] (the key file is read before anything is done),
/// [`BackupError::Io`] when the backup directory cannot be read.
pub async fn drill(
    req: &DrillRequest<'_>,
    progress: &dyn Progress,
) -> Result<DrillReport, BackupError> {
    mmkt_sqlcipher::read_key_file(req.db.key_file)?;
    let mut series = vec![Series {
        kind: BackupKind::Db,
        role: None,
    }];
    if let DrillWallets::Check { .. } = req.wallets {
        series.extend(WalletRole::ALL.map(|r| Series {
            kind: BackupKind::Wallets,
            role: Some(r),
        }));
    }
    // 0. Existing backups: which did a trusted key sign? The RPO counts only those.
    let t = Instant::now();
    let Existing { signed, unsigned } = existing_signatures(req)?;
    let rpo = series
        .iter()
        .map(|s| {
            let newest = signed
                .iter()
                .rev()
                .find(|b| b.manifest.series() == *s)
                .map(|b| age(b.manifest.created_at));
            (s.to_string(), newest)
        })
        .collect();
    let manifests: Vec<&crate::manifest::Manifest> = signed.iter().map(|b| &b.manifest).collect();
    let chain_rpo = chain_rpo(&manifests, OffsetDateTime::now_utc());
    let mut steps = vec![DrillStep {
        name: "check signatures of existing backups".into(),
        ok: unsigned.is_empty(),
        seconds: t.elapsed().as_secs_f64(),
        detail: match unsigned.is_empty() {
            true => format!("{} backup(s) signed by a trusted key", signed.len()),
            false => unsigned
                .iter()
                .map(|(_, e)| e.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        },
    }];

    // 1. Fresh backups.
    let mut fresh: Vec<LocalBackup> = Vec::new();
    let t = Instant::now();
    let db = backup_database(req.dir, req.keys, &req.db, progress).map(|o| o.into_backup());
    let (step, backup) = timed("backup db".into(), db, t, |b| b.manifest.id.to_string());
    steps.push(step);
    fresh.extend(backup);
    let probe = match req.wallets {
        DrillWallets::Skip => None,
        DrillWallets::Check { location, probe } => {
            let t = Instant::now();
            let source = WalletsSource {
                roles: &WalletRole::ALL,
                location,
                probe: Some(probe),
            };
            let list = backup_wallet_roles(req.dir, req.keys, &source).await;
            let (step, list) = timed("backup wallets".into(), list, t, |list| {
                let ids: Vec<&str> = list.iter().map(|b| b.manifest.id.as_str()).collect();
                ids.join(", ")
            });
            steps.push(step);
            fresh.extend(list.into_iter().flatten());
            Some(probe)
        }
    };

    // 2. Restore each into scratch and check it (the database first: its restored copy gives
    // the escrow wallets' passwords and records). RTO = the sum of these restore times.
    let mut rto = 0.0;
    let mut restored = Restored::default();
    for backup in &fresh {
        let t = Instant::now();
        let result = restore_to_scratch(req, backup, probe, &mut restored).await;
        let name = format!("restore {} to scratch", backup.manifest.series());
        let (step, _) = timed(name, result, t, String::clone);
        rto += step.seconds;
        let detail = if step.ok { "ok (drill)" } else { &step.detail };
        let outcome = VerifyOutcome {
            id: backup.manifest.id.clone(),
            ok: step.ok,
            detail: detail.to_owned(),
            checks: Vec::new(),
            chain_break: None,
        };
        record_outcome(req.dir, &outcome);
        steps.push(step);
    }
    if probe.is_some() {
        let t = Instant::now();
        let proof = restored.prove();
        let name = "check escrow wallets against the restored database".to_owned();
        steps.push(timed(name, proof, t, String::clone).0);
    }
    let backup_age = fresh
        .iter()
        .map(|b| age(b.manifest.created_at))
        .fold(0.0, f64::max);
    Ok(DrillReport {
        ok: steps.iter().all(|s| s.ok),
        rto_seconds: rto,
        rpo_seconds: rpo,
        backup_age_seconds: backup_age,
        chain_rpo,
        steps,
        backups: fresh.iter().map(|b| b.manifest.id.to_string()).collect(),
        unsigned: unsigned.into_iter().map(|(id, _)| id).collect(),
    })
}

/// The complete backups that existed before the drill, by whether a trusted key signed them.
struct Existing {
    /// Signed by a trusted key, oldest first.
    signed: Vec<AuthenticBackup>,
    /// The others: (id, why it was refused).
    unsigned: Vec<(String, String)>,
}

/// Checks the signature of every complete backup in the directory.
///
/// # Errors
/// [`BackupError::Io`] when the backup directory cannot be read.
fn existing_signatures(req: &DrillRequest<'_>) -> Result<Existing, BackupError> {
    let mut existing = Existing {
        signed: Vec::new(),
        unsigned: Vec::new(),
    };
    for backup in req.dir.list()? {
        match authenticate(&backup, req.verify.trusted) {
            Ok(authentic) => existing.signed.push(authentic),
            Err(e) => existing
                .unsigned
                .push((backup.manifest.id.to_string(), error_chain(&e))),
        }
    }
    Ok(existing)
}

/// What the restores produced for the escrow check: the restored database's escrow wallets,
/// and what each restored wallet showed.
#[derive(Default)]
struct Restored {
    /// Read from the restored database copy (`None` until it was restored and read).
    records: Option<EscrowWallets>,
    /// Every opened wallet, by name.
    seen: BTreeMap<String, WalletState>,
}

impl Restored {
    /// The probe that opens restored wallets: escrow passwords of the restored database copy
    /// (those of `live` when it could not be read: the escrow check then fails).
    fn probe(&self, live: &AddressProbe) -> AddressProbe {
        AddressProbe {
            wallet_rpc_bin: live.wallet_rpc_bin.clone(),
            password: live.password.clone(),
            escrow: self.records.clone().unwrap_or_else(|| live.escrow.clone()),
        }
    }

    /// [`escrow_wallets::prove`] over what was restored.
    fn prove(&self) -> Result<String, BackupError> {
        let Some(records) = &self.records else {
            return Err(BackupError::Mismatch {
                id: "drill".into(),
                detail: "the restored database could not be read, so the escrow wallets were not compared with it".into(),
            });
        };
        let (wallets, escrows) =
            escrow_wallets::prove(records, &self.seen).map_err(|detail| BackupError::Mismatch {
                id: "drill".into(),
                detail,
            })?;
        Ok(format!(
            "{wallets} escrow wallet(s) of {escrows} escrow(s) match the restored database (address, multisig readiness, balance)"
        ))
    }
}

/// Checks one fresh backup's signature with the trusted keys (so a signing key that is not
/// trusted fails the drill), restores it into scratch space and describes what was checked;
/// what the escrow check needs goes into `restored`.
async fn restore_to_scratch(
    req: &DrillRequest<'_>,
    backup: &LocalBackup,
    probe: Option<&AddressProbe>,
    restored_for_escrows: &mut Restored,
) -> Result<String, BackupError> {
    let backup = &authenticate(backup, req.verify.trusted)?;
    let identities = req.verify.identities;
    match backup.manifest.kind {
        BackupKind::Db => {
            let scratch =
                ScratchDir::create(req.dir.path(), &format!("drill-{}", backup.manifest.id))?;
            let dest = scratch.path().join("drill.db");
            let key = DbKey::generate();
            let restored = tokio::task::block_in_place(|| {
                restore_db_file(backup, identities, &dest, &key, &|_| {})
            })?;
            if probe.is_some() {
                restored_for_escrows.records = Some(EscrowWallets::read(&dest, &key)?);
            }
            Ok(format!(
                "{} pages, integrity ok, {} rows in {} tables",
                restored.pages,
                restored.row_counts.values().sum::<u64>(),
                restored.row_counts.len()
            ))
        }
        BackupKind::Wallets => {
            let probe = probe.map(|live| restored_for_escrows.probe(live));
            let checks = check_wallets(backup, identities, probe.as_ref(), req.dir.path()).await?;
            for check in &checks {
                if let Some(state) = &check.state {
                    restored_for_escrows
                        .seen
                        .insert(check.name.clone(), state.clone());
                }
            }
            let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
            Ok(format!(
                "{} wallet(s) open with their recorded addresses: {}",
                checks.len(),
                names.join(", ")
            ))
        }
        BackupKind::Tor => {
            let keys =
                tokio::task::block_in_place(|| crate::tor_keys::open_keys(backup, identities))?;
            Ok(format!("onion-service keys of {}", keys.address))
        }
    }
}
