//! `mmctl deploy unlock|history|status --env E [--json]`: the lock, the history and the
//! state of the target host, read through the Engine API.

use clap::Args;
use mmkt_deploy::history::History;
use mmkt_deploy::lock::{Unlock, unlock as clear};
use mmkt_deploy::status::status as read_status;

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_deploy};

/// Which project, and how to print.
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `mmctl deploy unlock`: removes the lock whoever holds it.
pub async fn unlock(args: InfoArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let engine = connect(docker_host).await?;
    match clear(&engine, &project.name)
        .await
        .map_err(classify_deploy)?
    {
        Unlock::Cleared(info) => println!(
            "cleared the deploy lock of {} held by {} since {} ({})",
            project.name, info.holder, info.since, info.action
        ),
        Unlock::NotHeld => println!("project {} has no deploy lock; nothing to do", project.name),
    }
    Ok(Outcome::Success)
}

/// `mmctl deploy history`: every recorded run, oldest first.
pub async fn history(args: InfoArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let engine = connect(docker_host).await?;
    let history = History::of_project(&engine, &project.name)
        .await
        .map_err(classify_deploy)?;
    let entries = history.entries().await.map_err(classify_deploy)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(Outcome::Success);
    }
    for e in &entries {
        let version = |r: &Option<mmkt_deploy::report::Release>| {
            r.as_ref()
                .map(|r| r.version.clone())
                .unwrap_or_else(|| "?".into())
        };
        println!(
            "{}  {:?} {} -> {}  {:?}  backup {}  migrated {}",
            e.started_at,
            e.kind,
            version(&e.previous),
            version(&e.target),
            e.outcome,
            e.backup_id.as_deref().unwrap_or("none"),
            e.migrated
                .map(|m| m.to_string())
                .unwrap_or_else(|| "unknown".into())
        );
    }
    if entries.is_empty() {
        println!("no deploy recorded for project {}", project.name);
    }
    Ok(Outcome::Success)
}

/// `mmctl deploy status`: lock, servers, last run.
pub async fn status(args: InfoArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    let engine = connect(docker_host).await?;
    let st = read_status(&engine, &project.name)
        .await
        .map_err(classify_deploy)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(Outcome::Success);
    }
    match &st.lock {
        Some(l) => println!(
            "lock: held by {} since {} ({})",
            l.holder, l.since, l.action
        ),
        None => println!("lock: free"),
    }
    for s in &st.servers {
        println!(
            "server: {} runs {} ({})",
            s.container, s.version, s.image_id
        );
    }
    if let Some(last) = &st.last {
        println!(
            "last run: {} {:?} {:?} at {}",
            last.id, last.kind, last.outcome, last.finished_at
        );
    }
    Ok(Outcome::Success)
}
