//! `mmkt-load`'s refusals: a bad command line exits 2 and an unreachable marketplace exits 3,
//! each with a message saying what to fix, and neither writes a report.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

fn mmkt_load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mmkt-load"))
        .args(args)
        .output()
        .expect("run mmkt-load")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unknown_scenario_is_a_usage_error_naming_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("reports");
    let out = mmkt_load(&["--scenario", "checkout", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "unknown scenario \"checkout\": use http-endpoints, escrow-flow or escrow-release"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!out_dir.exists(), "nothing is written");
}

#[test]
fn bad_urls_profiles_and_source_counts_are_usage_errors() {
    let cases: [(&[&str], &str); 5] = [
        (&["--mmctl", "  "], "--mmctl is empty"),
        (&["--base-url", "127.0.0.1:8080"], "is not a base URL"),
        (
            &["--base-url", "ftp://127.0.0.1"],
            "the scheme must be http or https",
        ),
        (&["--profile", "huge"], "invalid value 'huge'"),
        (&["--sources", "254"], "254 is not in 1..=253"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["--scenario", "http-endpoints"];
        args.extend_from_slice(extra);
        let out = mmkt_load(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn an_unreachable_marketplace_exits_3_before_any_report() {
    // Bound, then dropped: nothing listens on the port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("reports");
    let url = format!("http://127.0.0.1:{port}");
    let out = mmkt_load(&[
        "--scenario",
        "escrow-flow",
        "--profile",
        "ci",
        "--base-url",
        &url,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(&format!(
            "the marketplace at {url}/health is not reachable from 127.0.0.2"
        )),
        "{text}"
    );
    assert!(text.contains("is the stack up"), "{text}");
    assert!(!out_dir.exists(), "nothing is written");
}

#[test]
fn escrow_release_without_a_faucet_exits_3_before_any_report() {
    // A marketplace stand-in that answers `GET /health` with 200, once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("reports");
    let out = mmkt_load(&[
        "--scenario",
        "escrow-release",
        "--base-url",
        &url,
        "--mmctl",
        "/nonexistent/mmctl --project none",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("the faucet command `/nonexistent/mmctl --project none dev address` failed"),
        "{text}"
    );
    assert!(text.contains("mmctl up --profile dev"), "{text}");
    assert!(!out_dir.exists(), "nothing is written");
}
