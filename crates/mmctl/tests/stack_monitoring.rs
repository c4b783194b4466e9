//! The monitoring stack for real: one regtest stack (server, nginx, Prometheus, Alertmanager,
//! node-exporter, the blackbox exporter, and what the server needs) with a test certificate in
//! nginx's `tls-certs` volume. Through Prometheus's HTTP API: every scrape target is up, every
//! rule evaluates without error, every series the Grafana dashboards read exists (or is on
//! [`MAY_BE_EMPTY`], with the reason), the certificate's expiry reaches SSLCertificateExpiring;
//! and `mmctl health` reports both exporters healthy with their series.

mod harness;
mod stack_harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mmkt_repo_tests::grafana::{dashboard_queries, grafana_to_promql};
use mmkt_repo_tests::http::curl;
use mmkt_repo_tests::promql;
use serde_json::Value;
use stack_harness::*;

/// What the test starts (`mmctl up` adds monerod and the wallet RPCs the server depends on).
const SERVICES: [&str; 6] = [
    "server",
    "nginx",
    "prometheus",
    "alertmanager",
    "node-exporter",
    "blackbox-exporter",
];

/// Selectors a dashboard reads that a fresh, healthy regtest stack without orders cannot have
/// series for, and why: the metric name and, when only some of its selectors are exempt, a
/// matcher they contain. Everything else a dashboard names must have a series in Prometheus.
const MAY_BE_EMPTY: &[(&str, Option<&str>, &str)] = &[
    (
        "ALERTS",
        Some("alertstate=\"firing\""),
        "no alert's `for:` elapses within the test; the pending SSLCertificateExpiring proves \
         the ALERTS series itself",
    ),
    (
        "http_requests_total",
        Some("status=~\"5..\""),
        "counted per 5xx answer; a healthy server gives none",
    ),
    (
        "escrow_oldest_last_update_timestamp_seconds",
        None,
        "set per state only while an escrow is in that state; there are no orders here",
    ),
    (
        "escrow_state_transitions_total",
        None,
        "counted per transition; a stack without orders has made none",
    ),
    (
        "monero_rpc_errors_total",
        None,
        "counted per failed wallet/daemon RPC call; a healthy stack has none",
    ),
    (
        "db_errors_total",
        None,
        "counted per SQLCipher error; a healthy server has none",
    ),
    (
        "websocket_connections_total",
        None,
        "counted per WebSocket upgrade; no client connects in this test",
    ),
];

/// Whether `selector` (its metric `name`, written as `text`) is on [`MAY_BE_EMPTY`].
fn may_be_empty(name: &str, text: &str) -> bool {
    MAY_BE_EMPTY
        .iter()
        .any(|(metric, matcher, _)| *metric == name && matcher.is_none_or(|m| text.contains(m)))
}

/// How long a test certificate is valid: under SSLCertificateExpiring's 14 days, so the alert
/// goes pending and proves the expiry flows from nginx through the exporter into the rule.
const CERT_DAYS: i64 = 10;

const PATIENCE: Duration = Duration::from_secs(240);

/// Polls `f` every second until it returns `Ok`, or panics with its last error after
/// [`PATIENCE`].
fn eventually<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if start.elapsed() > PATIENCE => {
                panic!("{what}: not within {PATIENCE:?}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}

fn curl_bin() -> PathBuf {
    PathBuf::from("curl")
}

/// Prometheus's HTTP API at the container's address (the host routes to the project networks).
struct Prometheus {
    base: String,
}

impl Prometheus {
    fn find(project: &str) -> Prometheus {
        let filter = format!("label=com.docker.compose.project={project}");
        let id = docker_lines(&[
            "ps",
            "-q",
            "--filter",
            &filter,
            "--filter",
            "label=com.docker.compose.service=prometheus",
        ])
        .pop()
        .expect("prometheus container");
        let ip = docker_lines(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            &id,
        ])
        .pop()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .expect("prometheus IP address");
        Prometheus {
            base: format!("http://{ip}:9090"),
        }
    }

    /// GET `/api/v1/PATH` with `params` (each `name=value`, URL-encoded): the `data` member.
    fn api(&self, path: &str, params: &[String]) -> Result<Value, String> {
        let mut args: Vec<&str> = vec!["-G"];
        for p in params {
            args.extend(["--data-urlencode", p.as_str()]);
        }
        let url = format!("{}/api/v1/{path}", self.base);
        args.push(&url);
        let resp = curl(&curl_bin(), &args);
        let json: Value = serde_json::from_str(&resp.body)
            .map_err(|e| format!("{url}: {} {e}: {}", resp.status, resp.body))?;
        if resp.status != 200 || json["status"] != "success" {
            return Err(format!("{url} {params:?}: {} {}", resp.status, resp.body));
        }
        Ok(json["data"].clone())
    }
}

/// A self-signed certificate for `nginx` valid for [`CERT_DAYS`], written as fullchain.pem and
/// privkey.pem (readable by nginx's www-data only) into the project's `tls-certs` volume, over
/// the one `mmctl up` made.
fn install_certificate(project: &str, dir: &Path) {
    let mut params = rcgen::CertificateParams::new(vec!["nginx".to_string()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(CERT_DAYS);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("fullchain.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("privkey.pem"), key.serialize_pem()).unwrap();
    let src = format!("{}:/src:ro", dir.display());
    let dest = format!("{project}_tls-certs:/tls");
    docker_lines(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0:0",
        "-v",
        &src,
        "-v",
        &dest,
        "--entrypoint",
        "bash",
        "mmkt/nginx:latest",
        "-c",
        "install -m 0644 /src/fullchain.pem /tls/ && install -m 0600 -o www-data /src/privkey.pem /tls/",
    ]);
}

/// Every active target's health is `up`; returns the jobs seen.
fn all_targets_up(prom: &Prometheus) -> Result<BTreeSet<String>, String> {
    let data = prom.api("targets", &["state=active".to_string()])?;
    let targets = data["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let down: Vec<String> = targets
        .iter()
        .filter(|t| t["health"] != "up")
        .map(|t| format!("{} {} {}", t["labels"]["job"], t["health"], t["lastError"]))
        .collect();
    if !down.is_empty() || targets.is_empty() {
        return Err(format!("targets not up: {down:?}"));
    }
    Ok(targets
        .iter()
        .filter_map(|t| t["labels"]["job"].as_str().map(str::to_owned))
        .collect())
}

/// One instant query's result vector.
fn query(prom: &Prometheus, expr: &str) -> Result<Vec<Value>, String> {
    let data = prom.api("query", &[format!("query={expr}")])?;
    Ok(data["result"].as_array().cloned().unwrap_or_default())
}

/// Every rule of every group once evaluated: `(group/rule, health, lastError)` of each.
fn evaluated_rules(prom: &Prometheus) -> Result<Vec<(String, String, String)>, String> {
    let data = prom.api("rules", &[])?;
    let mut out = Vec::new();
    for group in data["groups"].as_array().cloned().unwrap_or_default() {
        for rule in group["rules"].as_array().cloned().unwrap_or_default() {
            let name = format!("{}/{}", group["name"], rule["name"]);
            let health = rule["health"].as_str().unwrap_or("").to_owned();
            if health == "unknown" {
                return Err(format!("{name} not evaluated yet"));
            }
            let error = rule["lastError"].as_str().unwrap_or("").to_owned();
            out.push((name, health, error));
        }
    }
    if out.is_empty() {
        return Err("no rules loaded".into());
    }
    Ok(out)
}

/// `name{matchers}` of one scanned selector, Grafana variables already replaced.
fn selector_text(sel: &promql::Selector) -> String {
    let matchers: Vec<String> = sel
        .matchers
        .iter()
        .map(|m| format!("{}{}\"{}\"", m.label, m.op, m.value))
        .collect();
    format!("{}{{{}}}", sel.metric, matchers.join(", "))
}

/// Selectors of the dashboards with no series in Prometheus (those on [`MAY_BE_EMPTY`] aside).
fn missing_dashboard_series(prom: &Prometheus) -> Result<Vec<String>, String> {
    let dir = workspace_root().join("monitoring/grafana/dashboards");
    let mut missing = Vec::new();
    for q in dashboard_queries(&dir) {
        let expr = grafana_to_promql(&q.expr);
        query(prom, &expr).map_err(|e| format!("{} {:?}: {e}", q.dashboard, q.panel))?;
        for sel in promql::selectors(&expr).map_err(|e| e.to_string())? {
            let text = selector_text(&sel);
            if may_be_empty(&sel.metric, &text) {
                continue;
            }
            let series = prom.api("series", &[format!("match[]={text}")])?;
            if series.as_array().is_none_or(Vec::is_empty) {
                missing.push(format!("{} panel {:?}: {text}", q.dashboard, q.panel));
            }
        }
    }
    Ok(missing)
}

/// A few public API requests through nginx's published HTTP port, so the server's request
/// counters and latency histograms have API routes (the dashboards leave out /health and
/// /ready, which the probes call).
fn api_traffic(project: &str) {
    let filter = format!("label=com.docker.compose.project={project}");
    let nginx = docker_lines(&[
        "ps",
        "-q",
        "--filter",
        &filter,
        "--filter",
        "label=com.docker.compose.service=nginx",
    ])
    .pop()
    .expect("nginx container");
    let address = docker_lines(&["port", &nginx, "8080/tcp"])
        .into_iter()
        .find(|a| a.starts_with("127.0.0.1:"))
        .expect("nginx's published HTTP port");
    for _ in 0..3 {
        let resp = curl(&curl_bin(), &[&format!("http://{address}/api/listings")]);
        assert_eq!(resp.status, 200, "GET /api/listings: {}", resp.body);
    }
}

fn check_health(project: &str) {
    let out = run(&["health", "-p", project, "--json"]);
    let json: Value = out.json();
    let services = json.as_array().expect("health JSON array");
    for svc in SERVICES {
        let entry = services
            .iter()
            .find(|s| s["service"] == svc)
            .unwrap_or_else(|| panic!("mmctl health does not list {svc}: {json:#}"));
        assert_eq!(entry["healthy"], true, "{svc}: {entry:#}");
    }
    let detail = |svc: &str| -> String {
        let entry = services.iter().find(|s| s["service"] == svc).unwrap();
        entry["checks"].to_string()
    };
    let node = detail("node-exporter");
    assert!(
        node.contains("GET /metrics")
            && node.contains("node_filesystem_avail_bytes{mountpoint=\\\"/docker-volumes\\\"}: "),
        "node-exporter's probe: {node}"
    );
    let blackbox = detail("blackbox-exporter");
    assert!(
        blackbox.contains("GET /probe?module=nginx_tls") && blackbox.contains("probe_success: 1"),
        "blackbox-exporter's probe: {blackbox}"
    );
}

#[test]
fn prometheus_evaluates_every_rule_and_finds_every_dashboard_series() {
    with_docker("mmctl-monitoring", Images::Built, |t| {
        let p = t.guard.project().to_string();
        let mut up = vec!["up", "-p", &p, "--timeout", "300"];
        up.extend(SERVICES);
        run(&up).assert_exit(0);
        install_certificate(&p, t.dir.path());
        // nginx reads its certificate at start.
        run(&["restart", "-p", &p, "nginx", "--timeout", "120"]).assert_exit(0);
        let prom = Prometheus::find(&p);

        let jobs = eventually("every scrape target up", || all_targets_up(&prom));
        for job in [
            "server",
            "prometheus",
            "alertmanager",
            "node",
            "blackbox-exporter",
            "blackbox-tls",
        ] {
            assert!(jobs.contains(job), "job {job} not scraped: {jobs:?}");
        }
        // The TLS probe succeeds with the test's certificate and reads its expiry. A scrape
        // taken before the restart still shows the bootstrap certificate `up` made (90 days),
        // so wait for a probe of the new one.
        eventually("the TLS probe reads the test certificate's expiry", || {
            let r = query(&prom, "probe_success{job=\"blackbox-tls\"} == 1")?;
            if r.is_empty() {
                return Err("probe_success is not 1".into());
            }
            let left = query(
                &prom,
                "probe_ssl_earliest_cert_expiry{job=\"blackbox-tls\"} - time()",
            )?;
            let seconds: f64 = left
                .first()
                .and_then(|v| v["value"][1].as_str())
                .ok_or("no probe_ssl_earliest_cert_expiry")?
                .parse()
                .map_err(|e| format!("expiry: {e}"))?;
            let days = seconds / 86_400.0;
            if !(CERT_DAYS as f64 - 1.0..=CERT_DAYS as f64).contains(&days) {
                return Err(format!("certificate expiry seen as {days} days"));
            }
            Ok(())
        });
        // The data volumes' filesystem is the one DiskSpaceLow reads.
        let fs = query(
            &prom,
            "node_filesystem_size_bytes{job=\"node\", mountpoint=\"/docker-volumes\"} > 0",
        )
        .unwrap();
        assert_eq!(fs.len(), 1, "{fs:?}");

        // Every rule evaluates without error against the live series.
        let rules = eventually("every rule evaluated", || evaluated_rules(&prom));
        let failing: Vec<_> = rules
            .iter()
            .filter(|(_, health, error)| health != "ok" || !error.is_empty())
            .collect();
        assert!(failing.is_empty(), "rules failing: {failing:#?}");
        eventually("SSLCertificateExpiring pending", || {
            let r = query(
                &prom,
                "ALERTS{alertname=\"SSLCertificateExpiring\", alertstate=\"pending\"}",
            )?;
            if r.is_empty() {
                return Err("not pending".into());
            }
            Ok(())
        });

        // Every dashboard series exists (the API routes' once requests have been made).
        api_traffic(&p);
        let missing = eventually("every dashboard series", || {
            let missing = missing_dashboard_series(&prom)?;
            if missing.is_empty() {
                return Ok(missing);
            }
            Err(format!("no series for:\n{}", missing.join("\n")))
        });
        assert!(missing.is_empty());

        check_health(&p);
    });
}
