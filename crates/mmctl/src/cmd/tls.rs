//! `mmctl tls status|renew`: nginx's certificate, shown and replaced (mmkt_stack::tls).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use mmkt_stack::tls::{
    self, PemPair, RenewOutcome, RenewRequest, RenewSource, RenewWhen, TlsSettings,
};

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_stack, classify_tls};

#[derive(Debug, Args)]
pub struct TlsArgs {
    #[command(subcommand)]
    pub command: TlsCommand,
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Show the served certificate: subject, issuer, expiry, days left, OCSP URL, self-signed.
    ///
    /// Example: mmctl tls status --env production
    Status(StatusArgs),
    /// Renew the certificate with certbot when due (or install one given with --from/--key),
    /// check it with `nginx -t`, then reload nginx.
    ///
    /// Example: mmctl tls renew --env production
    #[command(after_help = "Examples:
  mmctl tls renew --env production                    # certbot, when fewer than MMKT_TLS_RENEW_DAYS are left
  mmctl tls renew --env production --force            # certbot now
  mmctl tls renew --from fullchain.pem --key privkey.pem

Exit codes: 0 renewed or not due, 1 failed (nginx not running), 2 bad input, 3 Docker
unreachable, 47 certificate or key refused, 48 nginx -t refused it (old one back), 49 certbot failed.")]
    Renew(RenewArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Machine-readable output: {subject, issuer, not_before, not_after, days_left, ocsp_url, self_signed, chain_len, sha256}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Install this certificate chain (PEM, leaf first) instead of running certbot.
    #[arg(long, requires = "key", value_name = "CERT")]
    pub from: Option<PathBuf>,
    /// The private key of --from (PEM).
    #[arg(long, requires = "from", value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Run certbot even when the certificate is not due.
    #[arg(long, conflicts_with = "from")]
    pub force: bool,
}

/// Runs `mmctl tls ...`.
pub async fn run(args: TlsArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        TlsCommand::Status(a) => status(a, docker_host).await,
        TlsCommand::Renew(a) => renew(a, docker_host).await,
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn status(args: StatusArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let engine = connect(docker_host).await?;
    let info = tls::status(&engine, &project, now()).await;
    let info = info.map_err(classify_tls)?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&info)?),
        false => println!("{}", info.describe()),
    }
    Ok(Outcome::Success)
}

async fn renew(args: RenewArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let settings =
        TlsSettings::from_variables(&project.compose.variables).map_err(classify_stack)?;
    let source = match (&args.from, &args.key) {
        (Some(cert), Some(key)) => RenewSource::Given(PemPair {
            chain: std::fs::read(cert)
                .with_context(|| format!("cannot read the certificate {}", cert.display()))?,
            key: std::fs::read(key)
                .with_context(|| format!("cannot read the key {}", key.display()))?,
        }),
        _ => RenewSource::Certbot,
    };
    let when = match args.force {
        true => RenewWhen::Always,
        false => RenewWhen::IfDue,
    };
    let engine = connect(docker_host).await?;
    let request = RenewRequest {
        source,
        when,
        settings,
        now: now(),
    };
    match tls::renew(&engine, &project, request)
        .await
        .map_err(classify_tls)?
    {
        RenewOutcome::NotDue {
            current,
            within_days,
        } => println!(
            "not due: {} has {} days left (renewal within {within_days} days; --force renews now)",
            current.subject, current.days_left
        ),
        RenewOutcome::Renewed(installed) => {
            if let Some(previous) = &installed.previous {
                println!(
                    "replaced {} ({} days left, sha256 {})",
                    previous.subject, previous.days_left, previous.sha256
                );
            }
            println!("nginx -t passed; nginx reloaded with:");
            println!("{}", installed.installed.describe());
        }
    }
    Ok(Outcome::Success)
}
