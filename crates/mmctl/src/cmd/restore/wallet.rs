//! `mmctl restore wallet ROLE [ID|latest]`: the backup's signature is checked and its wallets
//! are proven to open first; the current directory is backed up (to the configured recipients,
//! signed); the backup's files are copied in (newer wallets kept).

use std::time::Duration;

use clap::Args;

use mmkt_backup::manifest::WalletRole;
use mmkt_backup::ops::restore::RestoredInto;
use mmkt_backup::ops::restore_wallet::{
    LiveWalletRpc, WalletRestoreRequest, WalletTarget, plan_wallet_restore,
};
use mmkt_backup::signing::BackupKeys;
use mmkt_backup::wallet_stack::{CONTAINER_WALLET_DIR, service_name};
use mmkt_stack::EngineConfig;

use crate::args::{
    DbFileArgs, RecipientArgs, RestoreCommonArgs, SigningKeyArgs, WalletProbeArgs, non_empty,
    wallet_role, wallet_rpc_url_env,
};
use crate::exit::{Outcome, UsageError, classify_backup};
use crate::output::{TerminalProgress, confirm_restore};

/// `mmctl restore wallet`
#[derive(Debug, Args)]
pub struct RestoreWalletArgs {
    /// Which wallet-rpc.
    #[arg(value_parser = wallet_role())]
    pub role: WalletRole,
    #[command(flatten)]
    pub common: RestoreCommonArgs,
    /// Wallet directory on this host (with --no-docker).
    #[arg(long)]
    pub wallet_dir: Option<std::path::PathBuf>,
    /// The live wallet-rpc (default: MMKT_WALLET_RPC_<ROLE>_URL): after the restart, each
    /// restored wallet is opened there too and its address compared with the manifest.
    #[arg(long)]
    pub wallet_rpc: Option<String>,
    /// Digest login user:password of that wallet-rpc (its --rpc-login).
    #[arg(long, env = "MMKT_WALLET_RPC_LOGIN", hide_env_values = true)]
    pub wallet_rpc_login: Option<String>,
    #[command(flatten)]
    pub probe: WalletProbeArgs,
    /// The server's database, read for the escrow wallets' own passwords (with its key file).
    #[command(flatten)]
    pub db: DbFileArgs,
    /// Where the backup of the current directory (taken before it is overwritten) is
    /// encrypted to: the configured recipients, never the restored backup's.
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub signing: SigningKeyArgs,
}

/// Runs `mmctl restore wallet`: exit 2 for --no-docker without --wallet-dir (or without a key
/// or recipient), 4 when not confirmed, 3 when the engine is unreachable, 1 when no trusted
/// key signed the backup (nothing written).
pub async fn run(args: RestoreWalletArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let selector = args.common.selector()?;
    let keys = args.common.keys.load()?;
    let recipients = args.recipients.load()?;
    let signer = args.signing.load(&args.common.repo.backup_dir)?;
    let probe = args.probe.probe(Some(&args.db))?;
    let (target, described) = match (args.common.service.no_docker, &args.wallet_dir) {
        (true, None) => Err(UsageError(
            "--no-docker needs --wallet-dir (the wallet-rpc's --wallet-dir)".into(),
        ))?,
        (true, Some(dir)) => (
            WalletTarget::Directory(dir.clone()),
            dir.display().to_string(),
        ),
        (false, _) => {
            let url = args
                .wallet_rpc
                .clone()
                .or_else(|| wallet_rpc_url_env(args.role));
            let live = non_empty(url).map(|url| LiveWalletRpc {
                url,
                login: non_empty(args.wallet_rpc_login.clone()),
            });
            let target = WalletTarget::Container {
                engine: EngineConfig::from_host_and_env(docker_host),
                project: args.common.service.project.clone(),
                ready_timeout: Duration::from_secs(args.common.service.ready_timeout),
                live,
            };
            let described = format!(
                "container {}:{CONTAINER_WALLET_DIR}",
                service_name(args.role)
            );
            (target, described)
        }
    };
    let bucket = args.common.bucket()?;
    let dir = args.common.repo.open()?;
    let request = WalletRestoreRequest {
        backup: args
            .common
            .choice(&dir, &selector, bucket.as_ref(), &keys.trusted),
        role: args.role,
        identities: &keys.identities,
        keys: BackupKeys {
            recipients: &recipients,
            signer: &signer,
        },
        probe: probe.as_ref(),
        target,
    };
    let progress = TerminalProgress::default();
    let plan = plan_wallet_restore(request, &progress)
        .await
        .map_err(classify_backup)?;
    let what = format!("the {} wallets into {described}", args.role);
    let consequences = "The wallet-rpc will be stopped; the current directory is backed up first; files not in the backup are kept.";
    let confirmed = confirm_restore(&what, &plan, consequences, &args.common.confirm)?;
    let report = plan
        .run(confirmed, &progress)
        .await
        .map_err(classify_backup)?;
    let (id, seconds) = (&report.backup_id, report.seconds);
    match &report.target {
        RestoredInto::WalletDirectory { path, files, .. } => println!(
            "restored {files} file(s) of {id} into {} in {seconds:.1}s (start the wallet-rpc now)",
            path.display()
        ),
        RestoredInto::WalletContainer { service, .. } => {
            println!("restored {id} into {service} in {seconds:.1}s, wallet-rpc healthy")
        }
        other => println!("restored {id} into {other:?} in {seconds:.1}s"),
    }
    Ok(Outcome::Success)
}
