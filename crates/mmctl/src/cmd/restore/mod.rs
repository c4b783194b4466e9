//! `mmctl restore db|wallet`: restore from a verified backup with confirmation, a pre-restore
//! snapshot, an atomic swap, and the service stopped/started through the Engine API.
//!
//! Order (so that the live data is never at risk): the backup is rebuilt and verified while the
//! service still runs; only then is the service stopped, the current state kept, the new data
//! swapped in, and the service started and checked. Any failure before the swap leaves the
//! live data untouched and restarts the service.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};

use mmctl::backup::crypto::Identities;
use mmctl::backup::keyfile::{DbKey, read_key_file, write_key_file};
use mmctl::backup::manifest::{BackupKind, Consistency, Series, WalletRole};
use mmctl::backup::restore_db::{prepare, swap};
use mmctl::backup::restore_wallet::{
    WalletCheck, check_wallets, extract_for_upload, merge_into_dir,
};
use mmctl::backup::store::{BackupDir, LocalBackup};
use mmctl::backup::wallet_rpc::WalletRpc;
use mmctl::backup::wallet_source::AddressProbe;
use mmctl::backup::wallet_stack::{self, CONTAINER_WALLET_DIR, service_name};
use mmctl::backup::wallets::ArchiveWriter;
use mmctl::docker::{Engine, StackError, StopOutcome};

use super::backup::{
    DbFileArgs, IdentityArgs, RepoArgs, S3Args, WalletProbeArgs, classify_backup, human_bytes,
    progress_bar,
};
use super::stack_common::{classify, connect};
use crate::exit::{NotConfirmed, Outcome, UsageError};

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(subcommand)]
    pub command: RestoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Restore the SQLCipher database: verify the backup, stop the server, keep the current DB
    /// as <db>.pre-restore-<time>, swap atomically, start the server and wait for /ready.
    ///
    /// Example: mmctl restore db latest --yes
    Db(RestoreDbArgs),
    /// Restore one wallet-rpc's wallet directory: check the wallets open with their recorded
    /// addresses, stop the wallet-rpc, back up the current directory, copy the files in, start it.
    ///
    /// Example: mmctl restore wallet buyer latest
    Wallet(RestoreWalletArgs),
}

/// Where the service runs.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// The service is not a container of the compose stack (host-run server / wallet-rpc): it
    /// must be stopped by hand first; mmctl refuses if --server-url still answers.
    #[arg(long)]
    pub no_docker: bool,
    /// Compose project of the stack.
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmctl::docker::DEFAULT_PROJECT)]
    pub project: String,
    /// Seconds to wait for the restarted service to be healthy / ready.
    #[arg(long, default_value_t = 180)]
    pub ready_timeout: u64,
}

#[derive(Debug, Args)]
pub struct RestoreDbArgs {
    /// Backup id, or "latest".
    #[arg(default_value = "latest")]
    pub id: String,
    /// Take the backup from the S3 bucket (downloaded into the backup directory first).
    #[arg(long)]
    pub from_s3: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Create the key file with a new random key if it does not exist (restore on a new host
    /// whose key was lost; the restored DB is encrypted under it).
    #[arg(long)]
    pub create_key_file: bool,
    /// Server base URL whose /ready must answer 200 after the restore (default for containers:
    /// checked from inside the server container).
    #[arg(long, env = "MMKT_SERVER_URL")]
    pub server_url: Option<String>,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub db: DbFileArgs,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub struct RestoreWalletArgs {
    /// Which wallet-rpc.
    pub role: WalletRole,
    /// Backup id, or "latest".
    #[arg(default_value = "latest")]
    pub id: String,
    /// Take the backup from the S3 bucket.
    #[arg(long)]
    pub from_s3: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Wallet directory on this host (with --no-docker).
    #[arg(long)]
    pub wallet_dir: Option<PathBuf>,
    /// The live wallet-rpc (default: MMKT_WALLET_RPC_<ROLE>_URL): after the restart, each
    /// restored wallet is opened there too and its address compared with the manifest.
    #[arg(long)]
    pub wallet_rpc: Option<String>,
    /// Digest login user:password of that wallet-rpc (its --rpc-login).
    #[arg(long, env = "MMKT_WALLET_RPC_LOGIN", hide_env_values = true)]
    pub wallet_rpc_login: Option<String>,
    #[command(flatten)]
    pub probe: WalletProbeArgs,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Runs `mmctl restore ...`.
pub async fn run(args: RestoreArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        RestoreCommand::Db(a) => run_db(a, docker_host).await,
        RestoreCommand::Wallet(a) => run_wallet(a, docker_host).await,
    }
}

/// Asks yes/no on the terminal; refuses without a terminal unless `--yes` was given.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(NotConfirmed(format!(
            "{question}\nrefusing without --yes: stdin is not a terminal"
        ))
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        return Ok(());
    }
    Err(NotConfirmed("not confirmed; nothing was changed".into()).into())
}

/// Finds the backup locally, or downloads it from S3.
async fn select_backup(
    dir: &BackupDir,
    s3: &S3Args,
    from_s3: bool,
    id: &str,
    series: Series,
) -> anyhow::Result<LocalBackup> {
    if !from_s3 {
        return Ok(dir.find(id, series)?);
    }
    let offsite = s3.require().await?;
    let remote = offsite.list().await.context("cannot list the S3 bucket")?;
    let chosen = remote
        .into_iter()
        .rfind(|r| r.manifest.series() == series && (id == "latest" || r.manifest.id == id))
        .ok_or_else(|| mmctl::s3::S3Error::NotFound(format!("{id} ({series})")))?;
    if let Ok(local) = dir.find(&chosen.manifest.id, series) {
        return Ok(local);
    }
    eprintln!(
        "downloading {} ({}) from s3://{}/{}",
        chosen.manifest.id,
        human_bytes(chosen.manifest.encrypted_size),
        offsite.config().bucket,
        chosen.data_key
    );
    offsite
        .download(&chosen, dir)
        .await
        .context("download from S3 failed")
}

fn describe(backup: &LocalBackup) -> String {
    let m = &backup.manifest;
    let when = m
        .created_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let rows: u64 =
        m.db.as_ref()
            .map(|d| d.snapshot.row_counts.values().sum())
            .unwrap_or(0);
    match m.kind {
        BackupKind::Db => format!(
            "backup {} taken {when} on {} ({} rows, schema version {})",
            m.id,
            m.source_host,
            rows,
            m.db.as_ref()
                .map(|d| d.snapshot.schema_version)
                .unwrap_or(0)
        ),
        BackupKind::Wallets => format!(
            "backup {} taken {when} on {} ({} wallet(s))",
            m.id,
            m.source_host,
            m.wallets.as_ref().map(|w| w.wallets.len()).unwrap_or(0)
        ),
    }
}

/// Stops a service's container; `None` when the project has no such container.
async fn stop(
    engine: &Engine,
    project: &str,
    service: &str,
) -> anyhow::Result<Option<StopOutcome>> {
    match engine.stop_service(project, service, 30).await {
        Ok(outcome) => Ok(Some(outcome)),
        Err(StackError::NoContainer { .. }) => {
            eprintln!(
                "note: project {project} has no {service} container; nothing to stop or start"
            );
            Ok(None)
        }
        Err(e) => Err(classify(e)),
    }
}

async fn start(
    engine: &Engine,
    project: &str,
    service: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    engine
        .start_service(project, service)
        .await
        .map_err(classify)?;
    let id = engine
        .require_service_container(project, service)
        .await
        .map_err(classify)?;
    engine
        .wait_healthy(service, &id, timeout)
        .await
        .map_err(classify)
}

/// GET {url}/health answers at all: the server still runs.
async fn server_answers(url: &str) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build();
    match client {
        Ok(c) => c
            .get(format!("{}/health", url.trim_end_matches('/')))
            .send()
            .await
            .is_ok(),
        Err(_) => false,
    }
}

/// Polls {url}/ready until 200.
async fn wait_ready_http(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let deadline = Instant::now() + timeout;
    let ready = format!("{}/ready", url.trim_end_matches('/'));
    loop {
        let last = match client.get(&ready).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            anyhow::bail!(
                "{ready} did not answer 200 within {}s (last: {last})",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Polls /ready from inside the server container (its port need not be published).
async fn wait_ready_in_container(
    engine: &Engine,
    project: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let id = engine
        .require_service_container(project, "server")
        .await
        .map_err(classify)?;
    let script = "exec 3<>/dev/tcp/127.0.0.1/${MMKT_BIND##*:}; printf 'GET /ready HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3; head -n1 <&3";
    let deadline = Instant::now() + timeout;
    loop {
        let out = engine
            .exec(&id, &["/bin/bash", "-c", script], None)
            .await
            .map_err(classify)?;
        let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if status.contains(" 200") {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the server's /ready did not answer 200 within {}s (last: {status:?})",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn run_db(args: RestoreDbArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let identities = args.identity.load()?;
    let key_file = args.db.key_file()?.clone();
    if args.create_key_file && !key_file.exists() {
        write_key_file(&key_file, &DbKey::generate())?;
        eprintln!(
            "created a new key file {} (keep a copy with your secrets)",
            key_file.display()
        );
    }
    let key = read_key_file(&key_file)?;
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let series = Series {
        kind: BackupKind::Db,
        role: None,
    };
    let backup = select_backup(&dir, &args.s3, args.from_s3, &args.id, series).await?;
    let live = args.db.db.clone();
    confirm(
        &format!(
            "Restore the database {} from {}?\nThe server will be stopped; the current database is kept as a pre-restore snapshot.",
            live.display(),
            describe(&backup)
        ),
        args.yes,
    )?;

    // 1. Rebuild + verify while the server still runs: a bad backup never causes downtime.
    let bar = progress_bar(Some(backup.manifest.plain_size), "restore db");
    let progress = |n: u64| bar.set_position(n);
    let prepared =
        tokio::task::block_in_place(|| prepare(&backup, &identities, &live, &key, &progress))
            .with_context(|| {
                format!(
                    "restore of {} failed; the current database {} is untouched",
                    backup.manifest.id,
                    live.display()
                )
            })?;
    bar.finish_and_clear();
    eprintln!(
        "verified {}: {} pages, integrity ok, row counts match the manifest",
        backup.manifest.id,
        prepared.restored().pages
    );

    // 2. Stop the server.
    let engine = if args.service.no_docker {
        if let Some(url) = &args.server_url
            && server_answers(url).await
        {
            return Err(anyhow::anyhow!(
                "the server at {url} still answers; stop it before restoring with --no-docker (the current database is untouched)"
            ));
        }
        None
    } else {
        let engine = connect(docker_host).await?;
        let stopped = stop(&engine, &args.service.project, "server").await?;
        stopped.map(|_| engine)
    };

    // 3. Swap (keeps the current DB as a snapshot), then 4. start and wait for /ready.
    let swapped = tokio::task::block_in_place(|| swap(prepared, &live, &key));
    let timeout = Duration::from_secs(args.service.ready_timeout);
    let report = match swapped {
        Ok(report) => report,
        Err(e) => {
            if let Some(engine) = &engine {
                start(engine, &args.service.project, "server", timeout)
                    .await
                    .ok();
            }
            return Err(anyhow::Error::new(e).context(format!(
                "swap failed; the current database {} is still in place",
                live.display()
            )));
        }
    };
    if let Some(snapshot) = &report.snapshot {
        eprintln!("previous database kept as {}", snapshot.display());
    }
    if let Some(engine) = &engine {
        start(engine, &args.service.project, "server", timeout)
            .await
            .context("the database was restored but the server did not become healthy")?;
        if args.server_url.is_none() {
            wait_ready_in_container(engine, &args.service.project, timeout).await?;
        }
    }
    if let Some(url) = &args.server_url
        && engine.is_some()
    {
        wait_ready_http(url, timeout).await?;
    }
    let restart_note = if engine.is_none() {
        " (start the server now)"
    } else {
        ", server ready"
    };
    println!(
        "restored {} into {} in {:.1}s{restart_note}",
        backup.manifest.id,
        live.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Success)
}

async fn run_wallet(args: RestoreWalletArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let identities: Identities = args.identity.load()?;
    let probe: Option<AddressProbe> = args.probe.probe()?;
    if args.service.no_docker && args.wallet_dir.is_none() {
        return Err(UsageError(
            "--no-docker needs --wallet-dir (the wallet-rpc's --wallet-dir)".into(),
        )
        .into());
    }
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let series = Series {
        kind: BackupKind::Wallets,
        role: Some(args.role),
    };
    let backup = select_backup(&dir, &args.s3, args.from_s3, &args.id, series).await?;
    let target = match &args.wallet_dir {
        Some(d) if args.service.no_docker => d.display().to_string(),
        _ => format!(
            "container {}:{CONTAINER_WALLET_DIR}",
            service_name(args.role)
        ),
    };
    confirm(
        &format!(
            "Restore the {} wallets into {target} from {}?\nThe wallet-rpc will be stopped; the current directory is backed up first; files not in the backup are kept.",
            args.role,
            describe(&backup)
        ),
        args.yes,
    )?;

    // 1. Prove the backup: its wallets open with their recorded addresses.
    let checks = check_wallets(&backup, &identities, probe.as_ref(), dir.path())
        .await
        .with_context(|| {
            format!(
                "restore of {} failed before touching the wallets",
                backup.manifest.id
            )
        })?;
    let checked = checks.iter().filter(|c| c.ok).count();
    if probe.is_some() {
        eprintln!(
            "verified {}: {checked} wallet(s) open with their recorded addresses",
            backup.manifest.id
        );
    } else {
        eprintln!(
            "note: set MMKT_WALLET_PASSWORD_FILE to check each wallet opens with its recorded address"
        );
    }
    let recipients_of_snapshot =
        mmctl::backup::crypto::Recipients::collect(&backup.manifest.recipients, &[])?;

    if args.service.no_docker {
        let live = args.wallet_dir.clone().expect("checked above");
        // 2. Snapshot the current directory as a regular backup, 3. copy the files in.
        let snapshot = tokio::task::block_in_place(|| {
            mmctl::backup::wallets::backup_wallet_dir(
                &dir,
                args.role,
                &live,
                &recipients_of_snapshot,
                Consistency::Quiescent,
                &[],
            )
        })
        .context("cannot back up the current wallet directory; nothing was restored")?;
        eprintln!("current directory backed up as {}", snapshot.manifest.id);
        let written = tokio::task::block_in_place(|| {
            merge_into_dir(&backup, &identities, &live, dir.path())
        })?;
        println!(
            "restored {} file(s) of {} into {} in {:.1}s (start the wallet-rpc now)",
            written.len(),
            backup.manifest.id,
            live.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(Outcome::Success);
    }

    let engine = connect(docker_host).await?;
    let project = args.service.project.clone();
    let service = service_name(args.role);
    let id = engine
        .require_service_container(&project, &service)
        .await
        .map_err(classify)?;
    let timeout = Duration::from_secs(args.service.ready_timeout);
    // 2. Stop it and snapshot its directory as a regular (encrypted) backup.
    let stopped = engine
        .stop_service(&project, &service, wallet_stack::STOP_TIMEOUT_SECS)
        .await
        .map_err(classify)?;
    let result = async {
        let writer = ArchiveWriter::create(&dir, args.role, &recipients_of_snapshot)
            .map_err(classify_backup)?;
        let writer =
            wallet_stack::archive_container_dir(&engine, &id, CONTAINER_WALLET_DIR, writer)
                .await
                .map_err(classify_backup)?;
        let snapshot = tokio::task::block_in_place(|| {
            writer.finish(
                &dir,
                &recipients_of_snapshot,
                Consistency::ContainerStopped,
                &[],
            )
        })?;
        eprintln!("current directory backed up as {}", snapshot.manifest.id);
        // 3. Copy the backup's files in, owned like the directory.
        let owner = wallet_stack::dir_owner(&engine, &id, CONTAINER_WALLET_DIR)
            .await
            .map_err(classify_backup)?;
        let (_scratch, extracted) =
            tokio::task::block_in_place(|| extract_for_upload(&backup, &identities, &dir))?;
        wallet_stack::upload_dir(&engine, &id, &extracted, CONTAINER_WALLET_DIR, owner)
            .await
            .map_err(classify_backup)?;
        anyhow::Ok(())
    }
    .await;
    // 4. Start it again whatever happened.
    if stopped == StopOutcome::Stopped || result.is_ok() {
        start(&engine, &project, &service, timeout)
            .await
            .context("the wallet-rpc did not become healthy after the restore")?;
    }
    result.with_context(|| format!("restore of {} into {service} failed", backup.manifest.id))?;
    check_live(&args, probe.as_ref(), &checks, timeout).await?;
    println!(
        "restored {} into {service} in {:.1}s, wallet-rpc healthy",
        backup.manifest.id,
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Success)
}

/// After the restart, opens each restored wallet in the live wallet-rpc (when its URL is known
/// and the password configured) and compares its address with the manifest.
async fn check_live(
    args: &RestoreWalletArgs,
    probe: Option<&AddressProbe>,
    checks: &[WalletCheck],
    timeout: Duration,
) -> anyhow::Result<()> {
    let env_url = std::env::var(format!(
        "MMKT_WALLET_RPC_{}_URL",
        args.role.as_str().to_uppercase()
    ))
    .ok();
    let (Some(url), Some(probe)) = (
        args.wallet_rpc
            .clone()
            .or(env_url)
            .filter(|u| !u.is_empty()),
        probe,
    ) else {
        return Ok(());
    };
    let rpc = WalletRpc::new(
        &url,
        args.wallet_rpc_login.as_deref().filter(|l| !l.is_empty()),
    )?;
    rpc.wait_ready(timeout).await?;
    let mut compared = 0;
    for check in checks {
        let Some(expected) = &check.expected else {
            continue;
        };
        let actual = rpc.wallet_address(&check.name, &probe.password).await?;
        if &actual != expected {
            anyhow::bail!(
                "after the restore, wallet {} in {url} shows {actual}, the manifest recorded {expected}",
                check.name
            );
        }
        compared += 1;
    }
    eprintln!("live wallet-rpc {url}: {compared} wallet(s) open with their recorded addresses");
    Ok(())
}
