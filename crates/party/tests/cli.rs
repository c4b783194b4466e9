//! The real `mmkt-party` binary: bad input exits 2 with a clear message, a missing session
//! exits 20, secret files readable by others are refused, nothing is written on failure, and
//! `--json` errors have their documented shape. No market is needed: each case fails before a
//! request, or talks to a closed local port.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mmkt-party");

/// A loopback URL nothing listens on (the port was bound, then released).
fn closed_market() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn run(state: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--state-dir").arg(state).args(args);
    for var in [
        "MMKT_PARTY_MARKET",
        "MMKT_PARTY_PASSWORD",
        "MMKT_PARTY_STATE_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    cmd.output().expect("run mmkt-party")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let market = closed_market();
    let out = run(
        dir.path(),
        &["--market", &market, "escrow", "join", "abc"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value 'abc'"),
        "{}",
        stderr(&out)
    );

    let out = run(dir.path(), &["--market", &market, "sign", "0"], &[]);
    assert_eq!(out.status.code(), Some(2), "order ids start at 1");

    let out = run(dir.path(), &["orders"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--market URL is required"),
        "{}",
        stderr(&out)
    );

    let out = run(dir.path(), &["--market", "ftp://x", "orders"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not an http(s) URL"),
        "{}",
        stderr(&out)
    );

    // The password is never an argument.
    let out = run(
        dir.path(),
        &["--market", &market, "login", "alice", "--password", "pw"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("session").exists());
}

#[test]
fn no_session_exits_20_and_json_errors_have_their_shape() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let market = closed_market();
    let out = run(&state, &["--market", &market, "orders"], &[]);
    assert_eq!(out.status.code(), Some(20));
    assert!(
        stderr(&out).contains("run `mmkt-party login` first"),
        "{}",
        stderr(&out)
    );
    let mode = fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the state directory is the owner's only");

    let out = run(
        &state,
        &["--market", &market, "--json", "escrow", "status", "7"],
        &[],
    );
    assert_eq!(out.status.code(), Some(20));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(json["error"]["code"], "no_session");
    assert_eq!(json["error"]["exit_code"], 20);
    assert!(json["error"]["message"].as_str().unwrap().contains("login"));
}

#[test]
fn password_files_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let market = closed_market();
    let file = dir.path().join("pw");
    write_mode(&file, "correct horse\n", 0o644);
    let args = [
        "--market",
        market.as_str(),
        "login",
        "alice",
        "--password-file",
    ];
    let out = run(
        &state,
        &[&args[..], &[file.to_str().unwrap()]].concat(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains("mode 644") && text.contains("chmod 600"),
        "{text}"
    );
    assert!(
        !text.contains("correct horse"),
        "the password is never printed"
    );
    assert!(!state.join("session").exists(), "nothing written");

    // An empty variable is a usage error too, before any request.
    let out = run(
        &state,
        &["--market", &market, "login", "alice"],
        &[("MMKT_PARTY_PASSWORD", "")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("MMKT_PARTY_PASSWORD"),
        "{}",
        stderr(&out)
    );

    // A 0600 file passes the check; the closed market is then "unreachable" (22), no session.
    write_mode(&file, "correct horse\n", 0o600);
    let out = run(
        &state,
        &[&args[..], &[file.to_str().unwrap()]].concat(),
        &[],
    );
    assert_eq!(out.status.code(), Some(22), "{}", stderr(&out));
    assert!(!stderr(&out).contains("correct horse"));
    assert!(!state.join("session").exists(), "nothing written");
}

#[test]
fn a_session_file_readable_by_others_is_refused_and_input_is_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let market = closed_market();
    fs::create_dir_all(dir.path()).unwrap();
    let session = dir.path().join("session");
    write_mode(&session, "session_token\nabc123token\n", 0o640);
    let out = run(dir.path(), &["--market", &market, "orders"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("abc123token"),
        "the token is never printed"
    );

    fs::set_permissions(&session, fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(
        dir.path(),
        &["--market", &market, "dispute", "7", "--reason", "  "],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--reason is empty"),
        "{}",
        stderr(&out)
    );

    let out = run(dir.path(), &["--market", &market, "--json", "orders"], &[]);
    assert_eq!(out.status.code(), Some(22), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "market_unreachable");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("abc123token"));
}
