//! `mmctl rollback --env E [--to VERSION] [--restore-db] [--yes]`: the blue/green switch back
//! to the previous (or named) version's local image, with no pull; `mmkt_deploy::rollback`
//! does the work and refuses a rollback that would lose data. With `--restore-db` the
//! pre-deploy backup is read from the backup directory with the identity and verify keys.

use clap::Args;
use mmkt_deploy::deploy::DbFile;
use mmkt_deploy::restore::RestoreKeys;
use mmkt_deploy::rollback::{RestoreDb, RollbackRequest, rollback};
use mmkt_deploy::settings::DeploySettings;

use crate::args::{ConfirmArgs, DbFileArgs, ReadKeyArgs, RepoArgs, StackArgs, connect};
use crate::deploy_output::{StepLines, failed, holder, print_report};
use crate::exit::{Outcome, UsageError, classify_deploy};
use crate::output::{Format, confirm};
use crate::secrets::SecretsIdentityArgs;

/// `mmctl rollback`
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub secrets: SecretsIdentityArgs,
    /// Version (image tag) to go back to; default: the one the last deploy replaced.
    #[arg(long)]
    pub to: Option<String>,
    /// Restore the pre-deploy backup of the deploy being undone (needed across a schema
    /// change; refused when escrow events were written after that backup).
    #[arg(long)]
    pub restore_db: bool,
    #[command(flatten)]
    pub db: DbFileArgs,
    /// Where the pre-deploy backup is (with --restore-db).
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The identity that decrypts it and the keys its manifest must be signed by.
    #[command(flatten)]
    pub keys: ReadKeyArgs,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    /// Print the rollback report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a rollback.
pub async fn run(args: RollbackArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let Some(env) = args.stack.env.clone() else {
        return Err(UsageError(
            "mmctl rollback needs --env NAME (the environment to roll back)".into(),
        )
        .into());
    };
    let project = crate::secrets::load_project(&args.stack, &args.secrets)?;
    let settings =
        DeploySettings::from_variables(&project.compose.variables).map_err(classify_deploy)?;
    let to = args.to.as_deref().unwrap_or("the previous version");
    confirm(
        &format!("Roll {env} (project {}) back to {to}?", project.name),
        &args.confirm,
    )?;
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    let database = args.db.key_file.as_deref().map(|key_file| DbFile {
        path: &args.db.db,
        key_file,
    });
    // The keys and directory are read only for --restore-db (a plain rollback needs none).
    let restore_parts = match args.restore_db {
        true => Some((args.keys.load()?, args.repo.open()?)),
        false => None,
    };
    let restore_db = match &restore_parts {
        Some((keys, dir)) => RestoreDb::Restore(RestoreKeys {
            dir,
            identities: &keys.identities,
            trusted: &keys.trusted,
        }),
        None => RestoreDb::Keep,
    };
    let engine = connect(docker_host).await?;
    let holder = holder();
    let request = RollbackRequest {
        engine: &engine,
        project: &project,
        env: &env,
        to: args.to.as_deref(),
        restore_db,
        database,
        settings,
        holder: &holder,
    };
    match rollback(&request, &StepLines::default()).await {
        Ok(report) => Ok(print_report(&report, format)),
        Err(failure) => Err(classify_deploy(failed(failure, format))),
    }
}
