//! `mmctl firewall plan|apply|status`: the host's nftables ruleset from the environment's
//! `MMKT_FIREWALL_*` settings and the compose file's published ports (crate `mmkt-firewall`).

use clap::{Args, Subcommand};
use mmkt_firewall::nft::{DockerUser, Mode, Nft, Target};
use mmkt_firewall::policy::Policy;
use mmkt_firewall::session::SshSession;
use mmkt_firewall::settings;
use mmkt_firewall::workflow::{self, Loaded, Plan};

use crate::args::StackArgs;
use crate::exit::{Outcome, classify_firewall};

/// The host firewall: default-deny inbound, 443 (and 80 for ACME) open, SSH rate-limited,
/// the stack's and monitoring's ports internal, Docker-published ports included.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl firewall plan --env production
  sudo mmctl firewall apply --env production
  mmctl firewall status --env production

Exit codes: 0 ok, 2 bad setting (nothing applied), 40 no nft, 41 ruleset rejected (nothing
changed), 42 not root, 43 the loaded table differs from the plan, 44 not loaded (status).")]
pub struct FirewallArgs {
    #[command(subcommand)]
    pub command: FirewallCommand,
}

/// One firewall action.
#[derive(Debug, Subcommand)]
pub enum FirewallCommand {
    /// Print the ruleset (an nft script), check it with `nft -c`, and diff it against the
    /// loaded `table inet mmkt`.
    Plan(TargetArgs),
    /// Check and load the ruleset in one transaction (`nft -f`), keeping this SSH session's
    /// address reachable.
    Apply(TargetArgs),
    /// Whether `table inet mmkt` is loaded and matches the plan (exit 0, 43 or 44).
    Status(TargetArgs),
}

/// Which environment's policy, and where to read and load it.
#[derive(Debug, Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Act inside this network namespace (`ip netns list`) instead of on the host, e.g. to
    /// rehearse a ruleset.
    #[arg(long, value_name = "NAME")]
    pub netns: Option<String>,
}

/// Runs the firewall subcommand.
pub async fn run(args: FirewallArgs) -> anyhow::Result<Outcome> {
    match args.command {
        FirewallCommand::Plan(t) => plan(&t),
        FirewallCommand::Apply(t) => apply(&t),
        FirewallCommand::Status(t) => status(&t),
    }
}

/// The policy, the SSH session to keep and the target; every input checked before any nft
/// runs, so a bad setting applies nothing.
fn prepare(t: &TargetArgs) -> anyhow::Result<(Policy, Option<SshSession>, Target)> {
    let project = t.stack.load()?;
    let policy = settings::policy_for(&project).map_err(classify_firewall)?;
    let session = SshSession::from_env().map_err(classify_firewall)?;
    let target = Target::from_netns(t.netns.as_deref()).map_err(classify_firewall)?;
    Ok((policy, session, target))
}

fn plan(t: &TargetArgs) -> anyhow::Result<Outcome> {
    let (policy, session, target) = prepare(t)?;
    let nft = Nft::locate(target, "reading the loaded ruleset").map_err(classify_firewall)?;
    let plan = workflow::plan(&policy, session.as_ref(), &nft).map_err(classify_firewall)?;
    nft.load(&plan.ruleset.script(), Mode::Check)
        .map_err(classify_firewall)?;
    print!("{}", plan.ruleset.script());
    println!("# nft -c: accepted");
    print_comparison(&plan);
    Ok(Outcome::Success)
}

fn apply(t: &TargetArgs) -> anyhow::Result<Outcome> {
    let (policy, session, target) = prepare(t)?;
    let nft = Nft::locate(target, "applying the ruleset").map_err(classify_firewall)?;
    let applied = workflow::apply(&policy, session.as_ref(), &nft).map_err(classify_firewall)?;
    print_comparison(&applied.before);
    println!("loaded table inet mmkt ({})", nft.describe());
    if let Some(s) = session {
        println!(
            "kept reachable: new SSH connections from {} to port {}",
            s.client, s.server_port
        );
    }
    match applied.after {
        Loaded::Matches => Ok(Outcome::Success),
        _ => {
            eprintln!(
                "error: the table read back differs from the plan; run `mmctl firewall status`"
            );
            Ok(Outcome::FirewallDiffers)
        }
    }
}

fn status(t: &TargetArgs) -> anyhow::Result<Outcome> {
    let (policy, session, target) = prepare(t)?;
    let nft = Nft::locate(target, "reading the loaded ruleset").map_err(classify_firewall)?;
    let plan = workflow::plan(&policy, session.as_ref(), &nft).map_err(classify_firewall)?;
    print_comparison(&plan);
    Ok(match plan.loaded {
        Loaded::Matches => Outcome::Success,
        Loaded::Differs { .. } => Outcome::FirewallDiffers,
        Loaded::Absent => Outcome::FirewallNotLoaded,
    })
}

/// The loaded table against the plan, and whether Docker's chains are there.
fn print_comparison(plan: &Plan) {
    match &plan.loaded {
        Loaded::Absent => println!("# table inet mmkt: not loaded"),
        Loaded::Matches => println!("# table inet mmkt: loaded, matches the plan"),
        Loaded::Differs { diff } => {
            println!("# table inet mmkt: loaded, differs from the plan:");
            print!("{diff}");
        }
    }
    let docker = match plan.docker_user {
        DockerUser::Present => {
            "present: published ports are filtered by the forward chain before it"
        }
        DockerUser::Absent => "absent",
    };
    println!("# Docker's DOCKER-USER chain (table ip filter): {docker}");
}
