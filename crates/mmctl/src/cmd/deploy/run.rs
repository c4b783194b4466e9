//! `mmctl deploy --env E [--version TAG] [--image-file F] [--skip-backup --reason TEXT] [--yes]`:
//! builds a `DeployRequest` (settings from the environment's MMKT_DEPLOY_* values, the
//! pre-deploy backup from the backup options) and prints the report.

use std::path::PathBuf;

use clap::Args;
use mmkt_backup::ops::backup::BackupRequest;
use mmkt_backup::signing::BackupKeys;
use mmkt_deploy::deploy::{DbFile, DeployRequest, PreDeployBackup, deploy};
use mmkt_deploy::settings::DeploySettings;

use crate::args::{ConfirmArgs, DatabaseArgs, NewBackupArgs, StackArgs, connect};
use crate::deploy_output::{StepLines, failed, holder, print_report};
use crate::exit::{Outcome, UsageError, classify_deploy};
use crate::output::{Format, confirm};
use crate::secrets::SecretsIdentityArgs;

/// The options of a deploy.
#[derive(Debug, Clone, Args)]
pub struct DeployRunArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub secrets: SecretsIdentityArgs,
    /// Image tag to deploy (the server image's MMKT_VERSION); default: the environment's.
    #[arg(long)]
    pub version: Option<String>,
    /// Load the image from this archive first (`mmctl image save`), for an air-gapped host.
    #[arg(long)]
    pub image_file: Option<PathBuf>,
    /// Deploy without a pre-deploy backup (needs --reason, recorded in the history).
    #[arg(long, requires = "reason")]
    pub skip_backup: bool,
    /// Why the backup is skipped.
    #[arg(long, requires = "skip_backup")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub out: NewBackupArgs,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
}

/// Runs a deploy.
pub async fn run(args: DeployRunArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let Some(env) = args.stack.env.clone() else {
        return Err(UsageError(
            "mmctl deploy needs --env NAME (the environment to deploy to)".into(),
        )
        .into());
    };
    let project = crate::secrets::load_project(&args.stack, &args.secrets)?;
    let settings =
        DeploySettings::from_variables(&project.compose.variables).map_err(classify_deploy)?;
    let db_key = crate::secrets::db_key(&project)?;
    let version = args
        .version
        .as_deref()
        .unwrap_or("the environment's MMKT_VERSION");
    confirm(
        &format!("Deploy {version} to {env} (project {})?", project.name),
        &args.confirm,
    )?;
    let format = if args.out.json {
        Format::Json
    } else {
        Format::Text
    };
    let database = args.db.file.key_file.as_deref().map(|key_file| DbFile {
        path: &args.db.file.db,
        key_file,
    });
    let engine = connect(docker_host).await?;
    if let Some(key) = &db_key {
        crate::secrets::write_db_key(&engine, &project, key).await?;
    }
    // The backup request's parts live as long as the deploy.
    let parts = match args.skip_backup {
        true => None,
        false => Some((
            args.out.recipients.load()?,
            args.out.signing.load(&args.out.repo.backup_dir)?,
            args.out.offsite()?,
            args.out.repo.open()?,
            args.db.source()?,
        )),
    };
    let request = parts
        .as_ref()
        .map(|(recipients, signer, offsite, dir, db)| BackupRequest {
            dir,
            keys: BackupKeys { recipients, signer },
            db: Some(*db),
            wallets: None,
            tor: None,
            offsite: offsite.as_ref(),
        });
    let backup = match &request {
        Some(r) => PreDeployBackup::Take(r),
        None => PreDeployBackup::Skip {
            reason: args.reason.as_deref().unwrap_or_default(),
        },
    };
    let holder = holder();
    let request = DeployRequest {
        engine: &engine,
        project: &project,
        env: &env,
        version: args.version.as_deref(),
        image_file: args.image_file.as_deref(),
        backup,
        database,
        settings,
        holder: &holder,
    };
    match deploy(&request, &StepLines::default()).await {
        Ok(report) => Ok(print_report(&report, format)),
        Err(failure) => Err(classify_deploy(failed(failure, format))),
    }
}
