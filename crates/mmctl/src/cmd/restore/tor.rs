//! `mmctl restore tor [ID|latest]`: the backup's signature is checked and its keys decrypted
//! and checked in memory first; the current keys are backed up (to the configured recipients,
//! signed); tor is stopped, the keys written into its volume, tor started, and the address it
//! shows compared with the backup's.

use std::time::Duration;

use clap::Args;

use mmkt_backup::ops::restore::RestoredInto;
use mmkt_backup::ops::tor::TorRestoreRequest;
use mmkt_backup::signing::BackupKeys;
use mmkt_stack::EngineConfig;
use mmkt_stack::tor::HIDDEN_SERVICE_DIR;

use crate::args::{RecipientArgs, RestoreCommonArgs, SigningKeyArgs};
use crate::exit::{Outcome, UsageError, classify_backup};
use crate::output::{TerminalProgress, confirm_restore};

/// What the confirmation question says happens.
const CONSEQUENCES: &str = "tor will be stopped and its current keys (and onion address) replaced; they are backed up first.";

/// `mmctl restore tor`
#[derive(Debug, Args)]
pub struct RestoreTorArgs {
    #[command(flatten)]
    pub common: RestoreCommonArgs,
    /// Where the backup of the current keys (taken before they are overwritten) is encrypted
    /// to: the configured recipients, never the restored backup's.
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub signing: SigningKeyArgs,
}

/// Runs `mmctl restore tor`: exit 4 when not confirmed, 3 when the engine is unreachable, 45
/// when the project has no tor container, 1 when the backup does not decrypt or check out
/// (nothing written) or tor shows another address afterwards, 2 with --no-docker.
pub async fn run(args: RestoreTorArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    if args.common.service.no_docker {
        Err(UsageError(
            "restore tor writes into the stack's tor container; --no-docker is not supported"
                .into(),
        ))?;
    }
    let selector = args.common.selector()?;
    let keys = args.common.keys.load()?;
    let recipients = args.recipients.load()?;
    let signer = args.signing.load(&args.common.repo.backup_dir)?;
    let bucket = args.common.bucket()?;
    let dir = args.common.repo.open()?;
    let request = TorRestoreRequest {
        backup: args
            .common
            .choice(&dir, &selector, bucket.as_ref(), &keys.trusted),
        identities: &keys.identities,
        keys: BackupKeys {
            recipients: &recipients,
            signer: &signer,
        },
        engine: EngineConfig::from_host_and_env(docker_host),
        project: args.common.service.project.clone(),
        ready_timeout: Duration::from_secs(args.common.service.ready_timeout),
    };
    let progress = TerminalProgress::default();
    let plan = request.plan(&progress).await.map_err(classify_backup)?;
    let confirmed = confirm_restore(
        &format!("the onion-service keys into container tor:{HIDDEN_SERVICE_DIR}"),
        &plan,
        CONSEQUENCES,
        &args.common.confirm,
    )?;
    let report = plan.run(confirmed, &progress).await;
    let report = report.map_err(classify_backup)?;
    let (id, seconds) = (&report.backup_id, report.seconds);
    match &report.target {
        RestoredInto::TorContainer {
            service,
            address,
            previous_backup,
        } => {
            let previous = previous_backup
                .as_deref()
                .map(|p| format!(" (previous keys kept as backup {p})"))
                .unwrap_or_default();
            println!("restored {id} into {service} in {seconds:.1}s: {address}{previous}");
        }
        other => println!("restored {id} into {other:?} in {seconds:.1}s"),
    }
    Ok(Outcome::Success)
}
