//! `mmctl dev seed`: demo vendor, buyer and arbiter accounts with printed passwords, and a few
//! listings, through the server's HTTP API (`mmkt_stack::dev::seed`).

use clap::Args;
use mmkt_stack::dev::seed;

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_dev};

/// `mmctl dev seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Usernames are PREFIX_vendor, PREFIX_buyer, PREFIX_arbiter (another prefix seeds again).
    #[arg(long, default_value = "demo")]
    pub prefix: String,
    /// The API's base URL. Default: nginx's published plain-HTTP listener.
    #[arg(long)]
    pub url: Option<String>,
    /// Print the accounts and listing ids as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl dev seed`: prints each account's username and password once.
pub async fn run(args: SeedArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    mmkt_stack::dev::require_development(&project).map_err(classify_dev)?;
    let engine = connect(docker_host).await?;
    let url = match args.url {
        Some(url) => url,
        None => seed::server_url(&project, &engine)
            .await
            .map_err(classify_dev)?,
    };
    let report = seed::seed(&project, &engine, &url, &args.prefix)
        .await
        .map_err(classify_dev)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(Outcome::Success);
    }
    println!("seeded {} (passwords are shown once):", report.url);
    for a in &report.accounts {
        println!(
            "  {:<8} username {:<24} password {}",
            a.role,
            a.username,
            a.password.expose()
        );
    }
    let ids: Vec<String> = report.listing_ids.iter().map(u64::to_string).collect();
    println!("  listings {}", ids.join(", "));
    println!(
        "log in: curl -c jar -H 'Content-Type: application/json' -d '{{\"username\":\"...\",\"password\":\"...\"}}' {}/api/auth/login",
        report.url
    );
    Ok(Outcome::Success)
}
