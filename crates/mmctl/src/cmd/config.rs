//! `mmctl config show`: every setting the backup commands resolve, its value and where it came
//! from (default, config file, stack volume, environment), secrets masked.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::exit::{Outcome, UsageError};
use crate::settings::{self, Layers, Resolved, resolve};

/// `mmctl config ...`
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// The config subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print each resolved setting and its source; secrets are shown as "(set)".
    ///
    /// Example: mmctl config show --env production --json
    Show(ShowArgs),
}

/// `mmctl config show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Environment whose config file (<compose dir>/env/NAME.mmctl.toml) is read.
    #[arg(long, env = "MMCTL_ENV", default_value = crate::args::DEFAULT_ENV)]
    pub env: String,
    /// Compose file, beside whose env/ directory the config file lives.
    #[arg(long = "file", default_value = mmkt_stack::DEFAULT_COMPOSE_FILE, env = "MMCTL_COMPOSE_FILE")]
    pub file: std::path::PathBuf,
    /// Compose project whose server container's volumes hold the database and key file.
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmkt_stack::DEFAULT_PROJECT)]
    pub project: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Settings whose values are secrets: only whether they are set is shown.
const SECRETS: [&str; 2] = ["MMKT_S3_SECRET_ACCESS_KEY", "MMKT_WALLET_RPC_LOGIN"];

/// Runs `mmctl config ...`.
pub async fn run(args: ConfigArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let ConfigCommand::Show(args) = args.command;
    let mut layers = Layers::load(&args.file, &args.env).map_err(|e| UsageError(e.to_string()))?;
    layers.look_up_stack(docker_host, &args.project).await;
    let default_dir = mmkt_backup::store::DEFAULT_DIR;
    let mut rows: Vec<Resolved> = settings::DB_VARS
        .into_iter()
        .map(|var| resolve(&layers, var, None))
        .collect();
    rows.push(resolve(&layers, "MMKT_BACKUP_DIR", Some(default_dir)));
    let max_deltas = mmkt_backup::chain::DEFAULT_MAX_DEPTH.to_string();
    rows.push(resolve(
        &layers,
        "MMKT_BACKUP_DB_MAX_DELTAS",
        Some(&max_deltas),
    ));
    for var in [
        "MMKT_BACKUP_RECIPIENTS",
        "MMKT_BACKUP_RECIPIENTS_FILE",
        "MMKT_BACKUP_IDENTITY_FILE",
        "MMKT_BACKUP_SIGNING_KEY_FILE",
        "MMKT_METRICS_TEXTFILE_DIR",
        "MMKT_BACKUP_DB_FULL_EVERY",
        "MMKT_BACKUP_DB_EVERY",
    ]
    .into_iter()
    .chain(SECRETS)
    {
        rows.push(resolve(&layers, var, None));
    }
    let shown = |r: &Resolved| match (&r.values, SECRETS.contains(&r.var)) {
        (None, _) => None,
        (Some(_), true) => Some("(set)".to_string()),
        (Some(v), false) => Some(v.join(",")),
    };
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|r| json!({"name": r.var, "value": shown(r), "source": r.source.label(), "from": r.source.detail()}))
            .collect();
        let stack = match &layers.stack {
            Some(mmkt_backup::settings::StackPaths::Missing(why)) => Some(why.clone()),
            _ => None,
        };
        let doc = json!({"env": args.env, "config_file": layers.file_path, "config_file_exists": layers.file.is_some(), "stack_not_found": stack, "settings": list});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Outcome::Success);
    }
    let exists = if layers.file.is_some() {
        ""
    } else {
        " (absent)"
    };
    println!("config file: {}{exists}", layers.file_path.display());
    if let Some(mmkt_backup::settings::StackPaths::Missing(why)) = &layers.stack {
        println!("stack volumes: not used: {why}");
    }
    for r in &rows {
        let value = shown(r).unwrap_or_else(|| "(unset)".into());
        let from = r
            .source
            .detail()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        println!("{:<30} {value}  [{}{from}]", r.var, r.source.label());
    }
    Ok(Outcome::Success)
}
