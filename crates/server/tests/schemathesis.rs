//! The served OpenAPI document tested by a real external tool: schemathesis 4 (PyPI, pinned in
//! scripts/python-tools.txt; its `st` command found on PATH) runs against the real server (the
//! in-process app on 127.0.0.1 over a real SQLCipher database) three times: anonymous, with a
//! vendor's and with a buyer's session cookie (the `session_cookie` scheme of the document, so
//! schemathesis can also leave it out on purpose). Every run uses `--checks all` and all four
//! phases (examples, coverage, fuzzing, stateful) and must report 0 failures; a failure fails
//! the test with the tool's whole output.
//!
//! Budget: at most [`MAX_EXAMPLES`] (15) test cases per operation and phase, fixed seed
//! [`SEED`], two workers; each run generates about 1 300 test cases (measured: 1 264
//! anonymous, 1 286 vendor, 1 294 buyer), about 20-35 s per run on an idle 2-core machine; the
//! three runs took 148-178 s together here under a load average near 28 (other builds running).
//!
//! Exceptions:
//! - `set_payout_address`, `set_refund_address`: a schema-valid string is rarely a Monero
//!   address (its checksum and network prefix are beyond JSON Schema), so 422
//!   `invalid_address` counts as an accepted answer to generated data there.
//! - `create_order`: whether price × quantity stays within the escrow cap depends on the price of
//!   the listing the order names (the vendor run leaves listings the buyer run finds), so 422
//!   `amount_exceeds_cap` / `amount_overflow` count there too.
//! - `logout` is left out of the signed-in runs (it would end the session they test with); the
//!   anonymous run covers it.
//!
//! Without `st` on PATH the test prints a note and passes, unless `MMKT_REQUIRE_SERVICES=1`,
//! where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Test cases per API operation and phase (`--max-examples`).
const MAX_EXAMPLES: &str = "15";
/// Seed of every run (`--seed`): CI runs the same cases each time.
const SEED: &str = "20261201";

/// Operations whose generated, schema-valid requests may also get 422 (see the module doc).
const DATA_DEPENDENT_422: &str = r#"
[[operations]]
include-operation-id-regex = "^(set_payout_address|set_refund_address|create_order)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"#;

/// The `st` command on PATH; `None` (with a note) when missing, a panic when
/// `MMKT_REQUIRE_SERVICES=1`.
fn st_command() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("st"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            !test_support::require_services(),
            "schemathesis (`st`) is required (MMKT_REQUIRE_SERVICES=1) but not on PATH: run scripts/bootstrap.sh (pip install -r scripts/python-tools.txt)"
        );
        eprintln!("note: schemathesis (`st`) not on PATH; skipping");
    }
    found
}

/// Runs schemathesis once against `base` as `who` (session token `token`, or anonymous).
/// Returns the tool's summary of generated test cases, or its whole output when it reports a
/// failure.
fn run(
    st: &Path,
    base: &str,
    who: &str,
    token: Option<&str>,
    dir: &Path,
) -> Result<String, String> {
    let mut config = DATA_DEPENDENT_422.to_owned();
    if let Some(token) = token {
        config.push_str(&format!(
            "\n[auth.openapi.session_cookie]\napi_key = \"{token}\"\n"
        ));
    }
    let config_file = dir.join(format!("schemathesis-{who}.toml"));
    std::fs::write(&config_file, config).unwrap();
    let mut cmd = Command::new(st);
    cmd.current_dir(dir)
        .arg("--config-file")
        .arg(&config_file)
        .arg("--no-color")
        .args(["run", &format!("{base}/api/openapi.json")])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--generation-database", "none", "--request-timeout", "30"])
        .args(["--workers", "2"]);
    if token.is_some() {
        cmd.args(["--exclude-operation-id", "logout"]);
    }
    let out = cmd.output().expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "schemathesis found failures as {who} (exit {:?}):\n{stdout}\n{stderr}",
            out.status.code()
        ));
    }
    let summary = stdout
        .lines()
        .skip_while(|line| !line.starts_with("Test cases:"))
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if !summary.contains("generated") || summary.contains("failure") {
        return Err(format!(
            "as {who}: unexpected summary {summary:?}:\n{stdout}"
        ));
    }
    Ok(summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_anonymous_as_vendor_and_as_buyer() {
    let Some(st) = st_command() else {
        return;
    };
    let server = TestServer::start().await;
    let vendor = register(&server, "st-vendor", "vendor").await;
    let buyer = register(&server, "st-buyer", "buyer").await;
    // A listing the buyer's generated orders can find (small ids come up often).
    create_listing(&vendor, "schemathesis listing", 1_000_000_000, 1_000).await;
    let vendor_token = session_token(&vendor.cookie);
    let buyer_token = session_token(&buyer.cookie);
    let dir = tempfile::tempdir().unwrap();
    let base = server.base.clone();
    let path = dir.path().to_owned();
    let summaries = tokio::task::spawn_blocking(move || {
        [
            ("anonymous", None),
            ("vendor", Some(vendor_token.as_str())),
            ("buyer", Some(buyer_token.as_str())),
        ]
        .map(|(who, token)| (who, run(&st, &base, who, token, &path)))
    })
    .await
    .unwrap();
    for (who, summary) in summaries {
        match summary {
            Ok(summary) => eprintln!("schemathesis as {who}: {summary}"),
            Err(output) => panic!("{output}"),
        }
    }
}
