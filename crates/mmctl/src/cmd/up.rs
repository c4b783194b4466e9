//! `mmctl up`: create or update the stack (networks, volumes, containers) and wait for health.

use std::time::Duration;

use clap::Args;
use mmkt_stack::stack::{UpEvent, WaitPolicy};

use crate::args::{StackArgs, connect};
use crate::secrets::SecretsIdentityArgs;
use mmkt_stack::tls::{self, Bootstrap, TlsSettings};

use crate::exit::{Outcome, classify_deploy, classify_stack, classify_tls};
use crate::output::Style;

/// Bring the stack up (idempotent).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl up                                   # development env: regtest monerod, all core services
  mmctl up --env production                  # values from deploy/env/production.env
  mmctl up --profile observability           # also grafana, loki, promtail
  mmctl up server                            # only the server and what it depends on
  mmctl --docker-host tcp://10.0.0.5:2376 up # remote engine, TLS from DOCKER_CERT_PATH

Running `up` again changes nothing; after editing the compose file or rebuilding an image,
only the services whose definition changed are recreated. Then nginx is pinned to the
running server container's IP (kept-alive connections; docs/DEPLOY.md \"The nginx pin\"),
reloading nginx only when the pin changed. Exit codes: 0 ok, 1 failed
(a service did not become healthy, image missing), 2 bad input, 3 Docker unreachable.")]
pub struct UpArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub secrets: SecretsIdentityArgs,
    /// Only these services (and their dependencies). Default: every enabled service.
    pub services: Vec<String>,
    /// Return once containers are started instead of waiting for every service to be healthy.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for each service to become healthy.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// Runs `mmctl up`: loads the project, reconciles it (`mmkt_stack::Project::up`) and prints
/// one line per change, the published URLs and the next steps.
pub async fn run(args: UpArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = crate::secrets::load_project(&args.stack, &args.secrets)?;
    for var in &project.compose.unset_variables {
        eprintln!("warning: variable {var} is not set; using an empty string");
    }
    // Alert receivers and passwords first: a refusal leaves nothing created.
    project
        .check_secrets(&args.services)
        .map_err(classify_stack)?;
    let db_key = crate::secrets::db_key(&project)?;
    let engine = connect(docker_host).await?;
    // Every image first: the key and certificate steps below create volumes.
    project
        .check_images(&engine, &args.services)
        .await
        .map_err(classify_stack)?;
    // The server's key file from MMKT_DB_KEY before the server starts (mmctl::secrets::write_db_key).
    if let Some(key) = &db_key {
        crate::secrets::write_db_key(&engine, &project, key).await?;
    }
    // nginx needs a certificate to start: a self-signed one when it has none (mmkt_stack::tls).
    if args.services.is_empty() || args.services.iter().any(|s| s == tls::NGINX_SERVICE) {
        let name = TlsSettings::from_variables(&project.compose.variables)
            .map_err(classify_stack)?
            .server_name;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let made = tls::bootstrap(&engine, &project, &name, now).await;
        if let Bootstrap::Written(info) = made.map_err(classify_tls)? {
            let days = info.days_left;
            println!(
                "tls     self-signed certificate for {name} written ({days} days; `mmctl tls renew` replaces it)"
            );
        }
    }
    let style = Style::detect();
    let timeout = Duration::from_secs(args.timeout);
    let wait = if args.no_wait {
        WaitPolicy::NoWait
    } else {
        WaitPolicy::WaitHealthy(timeout)
    };
    let env = args.stack.env_name().unwrap_or_else(|| "none".into());
    println!(
        "stack {} ({}, env {env})",
        project.name,
        project.compose.path.display()
    );
    let mut on_event = |ev: UpEvent| {
        let line = match ev {
            UpEvent::NetworkCreated(n) => format!("network {n:<28} {}", style.ok("created")),
            UpEvent::VolumeCreated(v) => format!("volume  {v:<28} {}", style.ok("created")),
            UpEvent::WaitingFor(s, d) => format!("service {s:<28} waiting for {d} to be healthy"),
            UpEvent::Created(s) => format!("service {s:<28} {}", style.ok("created and started")),
            UpEvent::Recreated(s) => format!(
                "service {s:<28} {}",
                style.warn("recreated (definition changed)")
            ),
            UpEvent::Started(s) => format!("service {s:<28} {}", style.ok("started")),
            UpEvent::Unchanged(s) => format!("service {s:<28} unchanged (running)"),
            UpEvent::ConfigRendered(r) => format!("config  {:<28} {}", r.service, r.describe()),
            UpEvent::Restarted(s) => format!(
                "service {s:<28} {}",
                style.warn("restarted (its rendered config changed)")
            ),
            UpEvent::Ready(r) => format!(
                "service {:<28} {} ({}, {:.1} s after its start, {:.1} s into up)",
                r.service,
                style.ok("healthy"),
                r.signal.describe(),
                r.since_start_ms as f64 / 1000.0,
                r.since_up_ms as f64 / 1000.0
            ),
        };
        println!("{line}");
    };
    let report = project
        .up(&engine, &args.services, wait, timeout, &mut on_event)
        .await
        .map_err(classify_stack)?;
    if report.changed == 0 {
        println!(
            "nothing to change: the stack already matches {}",
            project.compose.path.display()
        );
    }
    // nginx pinned to the server container's IP, for kept-alive connections (mmkt_deploy::pin).
    if !args.no_wait {
        let pin = mmkt_deploy::pin::pin_running_server(&engine, &project.name).await;
        println!("nginx   {}", pin.map_err(classify_deploy)?.describe());
    }
    // Only the URLs that answer, with the scheme that answers (mmkt_stack::urls).
    let urls = mmkt_stack::urls::answering(&project, &report.urls)
        .await
        .map_err(classify_stack)?;
    if !urls.is_empty() {
        println!("URLs:");
        for u in &urls {
            println!("  {:<12} {:<10} {}", u.service, u.container_port, u.url);
        }
    } else if !report.urls.is_empty() {
        println!("no published port answers yet; `mmctl health` shows why");
    }
    println!("next: `mmctl health` probes every service; `mmctl logs SERVICE` shows its output");
    Ok(Outcome::Success)
}
