//! One run: check the base URL and that the marketplace answers, run the scenario's stages
//! with goose, and write the reports: `<scenario>.json` (the [`RunReport`]),
//! `<scenario>-summary.txt` (the same, human-readable), `<scenario>.html` (latency over time,
//! self-contained, [`crate::html`]) and `<scenario>-goose.html` (goose's report).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use goose::GooseAttack;
use goose::config::GooseConfiguration;

use crate::error::LoadError;
use crate::faucet::{Faucet, MmctlCommand};
use crate::plan::{Load, Profile, Scenario};
use crate::report::{RunFacts, RunReport};
use crate::scenarios::{ClientPool, goose_scenario};
use crate::sources::loopback_sources;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The scenario.
    pub scenario: Scenario,
    /// Full (the seed's size) or CI.
    pub profile: Profile,
    /// Where the marketplace answers, e.g. `http://127.0.0.1:8080` (nginx).
    pub base_url: String,
    /// The report directory (created if missing).
    pub out_dir: PathBuf,
    /// How many loopback source addresses the clients use (1-253, from 127.0.0.2).
    pub sources: u8,
    /// How escrow-release runs mmctl to pay escrows (`mmctl dev pay`); the other scenarios do
    /// not run it.
    pub mmctl: MmctlCommand,
}

/// The files a run wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The JSON report.
    pub json: PathBuf,
    /// The text summary.
    pub summary: PathBuf,
    /// The self-contained HTML report.
    pub html: PathBuf,
    /// goose's HTML report.
    pub goose_html: PathBuf,
}

/// Checks `base_url`: an absolute http(s) URL with a host; returns it without a trailing `/`.
///
/// # Errors
/// [`LoadError::BadUrl`].
pub fn check_base_url(base_url: &str) -> Result<String, LoadError> {
    let bad = |reason: &str| LoadError::BadUrl {
        url: base_url.to_string(),
        reason: reason.to_string(),
    };
    let url = reqwest::Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(base_url.trim_end_matches('/').to_string())
}

/// Runs `request` and writes its reports; returns the report (its `passed` says whether the
/// thresholds held) and the files.
///
/// # Errors
/// [`LoadError`] when the URL is bad, the marketplace does not answer `GET /health` with 200
/// or escrow-release's faucet (`mmctl dev address`) does not answer (nothing is written
/// then), a report cannot be written, or goose fails.
pub async fn run(request: &RunRequest) -> Result<(RunReport, Written), LoadError> {
    let base_url = check_base_url(&request.base_url)?;
    let sources = loopback_sources(request.sources);
    let pool = Arc::new(ClientPool::new(&sources)?);
    probe(&base_url, &sources).await?;
    let faucet = match request.scenario {
        Scenario::EscrowRelease => Some(Arc::new(Faucet::connect(&request.mmctl).await?)),
        Scenario::HttpEndpoints | Scenario::EscrowFlow => None,
    };
    std::fs::create_dir_all(&request.out_dir).map_err(|source| LoadError::Report {
        path: request.out_dir.clone(),
        source,
    })?;
    let name = request.scenario.name();
    let written = Written {
        json: request.out_dir.join(format!("{name}.json")),
        summary: request.out_dir.join(format!("{name}-summary.txt")),
        html: request.out_dir.join(format!("{name}.html")),
        goose_html: request.out_dir.join(format!("{name}-goose.html")),
    };
    let goose_html = written.goose_html.to_string_lossy().into_owned();
    let load = request.scenario.load(request.profile);
    let args = goose_args(load, &base_url, &goose_html);
    let config = GooseConfiguration::parse_args_default(&args)
        .map_err(|e| LoadError::Setup(goose_error(&e)))?;
    let metrics = GooseAttack::initialize_with_config(config)
        .map_err(|e| LoadError::Setup(goose_error(&e)))?
        .register_scenario(goose_scenario(request.scenario, Arc::clone(&pool), faucet)?)
        .execute()
        .await
        .map_err(|e| LoadError::Goose(goose_error(&e)))?;
    let html_name = format!("{name}.html");
    let report = RunReport::from_metrics(
        &metrics,
        &RunFacts {
            scenario: request.scenario,
            profile: request.profile,
            base_url: &base_url,
            sources: sources.len(),
            html_report: &html_name,
            flow: match request.scenario {
                Scenario::EscrowRelease => Some(pool.flows.stats(crate::scenarios::RELEASE_FLOW)),
                Scenario::HttpEndpoints | Scenario::EscrowFlow => None,
            },
        },
    );
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| LoadError::Setup(e.to_string()))?;
    write(&written.json, json.as_bytes())?;
    write(&written.summary, report.summary().as_bytes())?;
    write(
        &written.html,
        crate::html::render(&report, &pool.timeline).as_bytes(),
    )?;
    Ok((report, written))
}

/// goose's command line for `load` against `base_url`, writing its report to `goose_html`.
fn goose_args(load: Load, base_url: &str, goose_html: &str) -> Vec<String> {
    let mut args: Vec<String> = ["--host", base_url, "--report-file", goose_html]
        .map(String::from)
        .to_vec();
    args.extend(load.goose_args());
    args.extend(
        [
            "--no-telnet",
            "--no-print-metrics",
            "--no-error-summary",
            "--quiet",
        ]
        .map(String::from),
    );
    args
}

/// goose's error with its detail (its `Display` says only "invalid option or value
/// specified"; the option and why are in the variant's fields).
fn goose_error(err: &goose::GooseError) -> String {
    match err {
        goose::GooseError::InvalidOption {
            option,
            value,
            detail,
        } => format!("{err}: {option} = {value:?}: {detail}"),
        other => other.to_string(),
    }
}

fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), LoadError> {
    std::fs::write(path, bytes).map_err(|source| LoadError::Report {
        path: path.to_path_buf(),
        source,
    })
}

/// `GET /health` from the first source address must answer 200 within 10 s.
async fn probe(base_url: &str, sources: &[std::net::IpAddr]) -> Result<(), LoadError> {
    let url = format!("{base_url}/health");
    let source = sources[0];
    let unreachable = |reason: String| LoadError::Unreachable {
        url: url.clone(),
        source_addr: source.to_string(),
        reason,
    };
    let client = reqwest::Client::builder()
        .local_address(source)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .map_err(|e| LoadError::Setup(e.to_string()))?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| unreachable(error_chain(&e)))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(unreachable(format!("HTTP {}", response.status())));
    }
    Ok(())
}

/// An error with its causes (reqwest wraps hyper wraps io: the innermost says what happened).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goose_accepts_every_scenarios_command_line() {
        for scenario in Scenario::ALL {
            for profile in [Profile::Full, Profile::Ci] {
                let args = goose_args(scenario.load(profile), "http://127.0.0.1:1", "r.html");
                let config = GooseConfiguration::parse_args_default(&args);
                assert!(config.is_ok(), "{scenario} {profile:?}: {:?}", config.err());
            }
        }
        let bad = GooseConfiguration::parse_args_default(&["--hatch-rate", "1"]).unwrap_err();
        assert!(goose_error(&bad).contains("--hatch-rate"), "{bad:?}");
    }

    #[test]
    fn base_urls_are_checked_before_anything_runs() {
        assert_eq!(
            check_base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "127.0.0.1:8080",
            "ftp://host",
            "not a url",
            "http://h/?q=1",
            "",
        ] {
            let err = check_base_url(bad).unwrap_err();
            assert!(matches!(err, LoadError::BadUrl { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("http://127.0.0.1:8080"), "{err}");
        }
    }
}
