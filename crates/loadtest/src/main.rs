//! `mmkt-load`: runs one load scenario against the marketplace and exits with the thresholds'
//! verdict (exit codes in the crate docs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use mmkt_loadtest::faucet::MmctlCommand;
use mmkt_loadtest::plan::{Profile, Scenario};
use mmkt_loadtest::run::{RunRequest, check_base_url, run};

/// Thresholds held.
const PASSED: u8 = 0;
/// A threshold failed.
const THRESHOLD_FAILED: u8 = 1;
/// Bad command line (clap's own code for usage errors).
const USAGE: u8 = 2;
/// The run could not run.
const CANNOT_RUN: u8 = 3;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ProfileArg {
    /// The seed's size (http-endpoints 20 min up to 100 users, escrow-flow 5 min, 10 users).
    Full,
    /// About 30 s per scenario, for CI.
    Ci,
}

/// Runs one of the marketplace's load scenarios through the given base URL (nginx) and exits
/// 0 when its thresholds hold, 1 when one fails, 2 on a bad command line, 3 when it cannot run.
#[derive(Debug, Parser)]
#[command(name = "mmkt-load", version)]
struct Args {
    /// http-endpoints, escrow-flow or escrow-release (needs a development stack with the dev
    /// profile and --mmctl).
    #[arg(long, value_parser = parse_scenario)]
    scenario: Scenario,
    /// full or ci.
    #[arg(long, value_enum, default_value = "full")]
    profile: ProfileArg,
    /// Where the marketplace answers (nginx's published address).
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = parse_url)]
    base_url: String,
    /// Report directory: <scenario>.json, <scenario>-summary.txt, <scenario>.html and
    /// <scenario>-goose.html.
    #[arg(long, default_value = "load-report")]
    out: PathBuf,
    /// Loopback source addresses to spread iterations over (1-253, from 127.0.0.2).
    #[arg(long, default_value_t = 253, value_parser = clap::value_parser!(u8).range(1..=253))]
    sources: u8,
    /// The mmctl command escrow-release pays each escrow with (`mmctl dev pay`), split on
    /// whitespace; inside nginx's network namespace prefix it with
    /// `nsenter --net=/proc/<shell pid>/ns/net` so mmctl reaches the stack's backend network.
    /// mmctl finds the stack by COMPOSE_PROJECT_NAME, MMCTL_ENV and MMCTL_COMPOSE_FILE.
    #[arg(long, default_value = "target/debug/mmctl", value_parser = parse_mmctl)]
    mmctl: MmctlCommand,
}

fn parse_scenario(text: &str) -> Result<Scenario, String> {
    Scenario::from_name(text).map_err(|e| e.to_string())
}

fn parse_mmctl(text: &str) -> Result<MmctlCommand, String> {
    MmctlCommand::parse(text).map_err(|e| e.to_string())
}

fn parse_url(text: &str) -> Result<String, String> {
    check_base_url(text).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { USAGE } else { PASSED });
        }
    };
    match execute(args) {
        Ok(true) => ExitCode::from(PASSED),
        Ok(false) => ExitCode::from(THRESHOLD_FAILED),
        Err(err) => {
            eprintln!("mmkt-load: {err:#}");
            ExitCode::from(CANNOT_RUN)
        }
    }
}

/// Runs the scenario; `Ok(passed)`.
fn execute(args: Args) -> anyhow::Result<bool> {
    let request = RunRequest {
        scenario: args.scenario,
        profile: match args.profile {
            ProfileArg::Full => Profile::Full,
            ProfileArg::Ci => Profile::Ci,
        },
        base_url: args.base_url,
        out_dir: args.out,
        sources: args.sources,
        mmctl: args.mmctl,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (report, written) = runtime
        .block_on(run(&request))
        .with_context(|| format!("{} run against {}", request.scenario, request.base_url))?;
    print!("{}", report.summary());
    println!(
        "reports: {}, {}, {}, {}",
        written.json.display(),
        written.summary.display(),
        written.html.display(),
        written.goose_html.display()
    );
    Ok(report.passed)
}
