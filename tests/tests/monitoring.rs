//! Checks monitoring/ with the real tools: promtool (config, rules, rule unit tests), amtool
//! (config, routing), a real Prometheus and Alertmanager started on loopback with these files,
//! and a cross-check of every metric name the rules and dashboards read against the list of
//! metrics the server is specified to export (SERVER_METRICS below: the one place to update).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mmkt_repo_tests::grafana::{self, DashboardQuery, grafana_to_promql};
use mmkt_repo_tests::http::{RecordingServer, curl};
use mmkt_repo_tests::process::{ChildGuard, free_loopback_port, wait_ready};
use mmkt_repo_tests::promql;
use mmkt_repo_tests::smtp::SmtpServer;
use mmkt_repo_tests::tools::{pypi_tool_or_skip, repo_root, tool_or_skip};
use serde_norway::Value as Yaml;

// ---------------------------------------------------------------------------------------------
// The metric contract
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    /// Exposed as `<name>_bucket{le}`, `<name>_sum` and `<name>_count`. The server must configure
    /// buckets for it (metrics-exporter-prometheus renders a summary otherwise).
    Histogram,
}

struct MetricSpec {
    name: &'static str,
    kind: Kind,
    /// Labels the metric carries (target labels job/instance/service come on top). `None`: any.
    labels: Option<&'static [&'static str]>,
    /// Where the name is specified.
    source: &'static str,
}

const ISSUE3: &str = "issue 3 (server core) metric list";
const MONITORING: &str = "docs/MONITORING.md metric contract (needed by the alert rules)";
const NODE: &str = "prometheus-node-exporter 1.5 (job node; checked live by crates/mmctl/tests/stack_monitoring.rs)";
const BLACKBOX: &str = "prometheus-blackbox-exporter 0.23 (job blackbox-tls; checked live by crates/mmctl/tests/stack_monitoring.rs)";
const PROCESS: &str = "issue 3 \"process metrics\" (standard Prometheus process collector names)";
const MMCTL: &str = "mmctl's textfile metrics (crates/backup/src/freshness.rs; read live by crates/mmctl/tests/backup_freshness.rs)";

/// Every metric the server is specified to export, with its labels. The lead cross-checks this
/// list against a running server's /metrics.
#[rustfmt::skip]
const SERVER_METRICS: &[MetricSpec] = &[
    MetricSpec { name: "http_requests_total", kind: Kind::Counter, labels: Some(&["method", "path", "status"]), source: ISSUE3 },
    MetricSpec { name: "http_request_duration_seconds", kind: Kind::Histogram, labels: Some(&["method", "path"]), source: ISSUE3 },
    MetricSpec { name: "escrow_total", kind: Kind::Gauge, labels: Some(&["state"]), source: ISSUE3 },
    MetricSpec { name: "escrow_state_transitions_total", kind: Kind::Counter, labels: Some(&["from_state", "to_state"]), source: ISSUE3 },
    MetricSpec { name: "escrow_oldest_last_update_timestamp_seconds", kind: Kind::Gauge, labels: Some(&["state"]), source: MONITORING },
    MetricSpec { name: "db_operation_duration_seconds", kind: Kind::Histogram, labels: Some(&["operation", "table"]), source: ISSUE3 },
    MetricSpec { name: "db_errors_total", kind: Kind::Counter, labels: Some(&["error_type"]), source: ISSUE3 },
    MetricSpec { name: "websocket_connections_active", kind: Kind::Gauge, labels: Some(&["user_type"]), source: ISSUE3 },
    MetricSpec { name: "websocket_connections_total", kind: Kind::Counter, labels: Some(&["user_type"]), source: ISSUE3 },
    MetricSpec { name: "monero_rpc_duration_seconds", kind: Kind::Histogram, labels: Some(&["method", "wallet"]), source: ISSUE3 },
    MetricSpec { name: "monero_rpc_errors_total", kind: Kind::Counter, labels: Some(&["method", "error_type"]), source: ISSUE3 },
    MetricSpec { name: "wallet_rpc_up", kind: Kind::Gauge, labels: Some(&["wallet"]), source: MONITORING },
    MetricSpec { name: "escrow_payout_refused_total", kind: Kind::Counter, labels: Some(&["reason"]), source: MONITORING },
    MetricSpec { name: "escrow_terminal_wallets_with_balance", kind: Kind::Gauge, labels: Some(&[]), source: MONITORING },
    MetricSpec { name: "escrow_terminal_wallet_balance_piconero", kind: Kind::Gauge, labels: Some(&[]), source: MONITORING },
    MetricSpec { name: "escrow_value_piconero", kind: Kind::Gauge, labels: Some(&["state"]), source: MONITORING },
    MetricSpec { name: "escrow_custody_cap_piconero", kind: Kind::Gauge, labels: Some(&[]), source: MONITORING },
    MetricSpec { name: "monero_wallet_balance_piconero", kind: Kind::Gauge, labels: Some(&["role"]), source: MONITORING },
    MetricSpec { name: "monero_wallet_unlocked_balance_piconero", kind: Kind::Gauge, labels: Some(&["role"]), source: MONITORING },
    MetricSpec { name: "monero_wallet_height", kind: Kind::Gauge, labels: Some(&["role"]), source: MONITORING },
    MetricSpec { name: "monero_wallet_num_unspent_outputs", kind: Kind::Gauge, labels: Some(&["role"]), source: MONITORING },
    MetricSpec { name: "escrow_runner_lease_held", kind: Kind::Gauge, labels: Some(&[]), source: MONITORING },
    MetricSpec { name: "escrow_observed_piconero", kind: Kind::Gauge, labels: Some(&[]), source: MONITORING },
    MetricSpec { name: "escrow_balance_mismatch", kind: Kind::Gauge, labels: Some(&[]), source: MONITORING },
    MetricSpec { name: "process_cpu_seconds_total", kind: Kind::Counter, labels: Some(&[]), source: PROCESS },
    MetricSpec { name: "process_resident_memory_bytes", kind: Kind::Gauge, labels: Some(&[]), source: PROCESS },
    MetricSpec { name: "process_virtual_memory_bytes", kind: Kind::Gauge, labels: Some(&[]), source: PROCESS },
    MetricSpec { name: "process_open_fds", kind: Kind::Gauge, labels: Some(&[]), source: PROCESS },
    MetricSpec { name: "process_max_fds", kind: Kind::Gauge, labels: Some(&[]), source: PROCESS },
    MetricSpec { name: "process_start_time_seconds", kind: Kind::Gauge, labels: Some(&[]), source: PROCESS },
];

/// Series Prometheus and Alertmanager produce themselves (checked against the real binaries in
/// `real_prometheus_and_alertmanager_load_the_configs`), and those of node-exporter and the
/// blackbox exporter (checked against the running exporters by the stack monitoring test).
#[rustfmt::skip]
const PLATFORM_METRICS: &[MetricSpec] = &[
    MetricSpec { name: "up", kind: Kind::Gauge, labels: Some(&[]), source: "Prometheus scrape health" },
    MetricSpec { name: "ALERTS", kind: Kind::Gauge, labels: None, source: "Prometheus alert series" },
    MetricSpec { name: "prometheus_notifications_dropped_total", kind: Kind::Counter, labels: Some(&[]), source: "prometheus 2.42" },
    MetricSpec { name: "prometheus_rule_evaluation_failures_total", kind: Kind::Counter, labels: Some(&["rule_group"]), source: "prometheus 2.42" },
    MetricSpec { name: "prometheus_config_last_reload_successful", kind: Kind::Gauge, labels: Some(&[]), source: "prometheus 2.42" },
    MetricSpec { name: "alertmanager_notifications_failed_total", kind: Kind::Counter, labels: Some(&["integration"]), source: "alertmanager 0.25" },
    MetricSpec { name: "mmctl_last_success_timestamp_seconds", kind: Kind::Gauge, labels: Some(&[]), source: MMCTL },
    MetricSpec { name: "mmctl_last_run_success", kind: Kind::Gauge, labels: Some(&[]), source: MMCTL },
    MetricSpec { name: "mmctl_last_run_timestamp_seconds", kind: Kind::Gauge, labels: Some(&[]), source: MMCTL },
    MetricSpec { name: "node_cpu_seconds_total", kind: Kind::Counter, labels: Some(&["cpu", "mode"]), source: NODE },
    MetricSpec { name: "node_memory_MemTotal_bytes", kind: Kind::Gauge, labels: Some(&[]), source: NODE },
    MetricSpec { name: "node_memory_MemAvailable_bytes", kind: Kind::Gauge, labels: Some(&[]), source: NODE },
    MetricSpec { name: "node_filesystem_avail_bytes", kind: Kind::Gauge, labels: Some(&["device", "fstype", "mountpoint"]), source: NODE },
    MetricSpec { name: "node_filesystem_size_bytes", kind: Kind::Gauge, labels: Some(&["device", "fstype", "mountpoint"]), source: NODE },
    MetricSpec { name: "node_disk_read_bytes_total", kind: Kind::Counter, labels: Some(&["device"]), source: NODE },
    MetricSpec { name: "node_disk_written_bytes_total", kind: Kind::Counter, labels: Some(&["device"]), source: NODE },
    MetricSpec { name: "node_network_receive_bytes_total", kind: Kind::Counter, labels: Some(&["device"]), source: NODE },
    MetricSpec { name: "node_network_transmit_bytes_total", kind: Kind::Counter, labels: Some(&["device"]), source: NODE },
    MetricSpec { name: "probe_success", kind: Kind::Gauge, labels: Some(&[]), source: BLACKBOX },
    MetricSpec { name: "probe_ssl_earliest_cert_expiry", kind: Kind::Gauge, labels: Some(&[]), source: BLACKBOX },
];

/// Labels Prometheus attaches to every scraped series (monitoring/prometheus.yml).
const TARGET_LABELS: &[&str] = &["job", "instance", "service"];

/// Values of the `state`, `from_state` and `to_state` labels: escrow-core's
/// `EscrowStateKind::as_str()`.
#[rustfmt::skip]
const ESCROW_STATES: &[&str] = &[
    "awaiting_setup", "setup_failed", "awaiting_funding", "funded", "disputed", "releasing",
    "refunding", "released", "refunded", "expired", "cancelled",
];

/// Values of the `wallet` label: the wallet-rpc roles.
const WALLETS: &[&str] = &["buyer", "vendor", "arbiter"];

const SEVERITIES: &[&str] = &["critical", "warning", "info"];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn monitoring_dir() -> PathBuf {
    repo_root().join("monitoring")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .yml files in {}", dir.display());
    files
}

fn read_yaml(path: &Path) -> Yaml {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn str_of<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Yaml::as_str)
}

struct AlertRule {
    file: String,
    name: String,
    expr: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn alert_rules() -> Vec<AlertRule> {
    let mut out = Vec::new();
    for path in yaml_files(&monitoring_dir().join("alerts")) {
        let doc = read_yaml(&path);
        let groups = doc
            .get("groups")
            .and_then(Yaml::as_sequence)
            .expect("groups");
        for group in groups {
            for rule in group
                .get("rules")
                .and_then(Yaml::as_sequence)
                .expect("rules")
            {
                let Some(name) = str_of(rule, "alert") else {
                    continue;
                };
                let map = |key: &str| -> BTreeMap<String, String> {
                    rule.get(key)
                        .and_then(Yaml::as_mapping)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (
                                        k.as_str().unwrap().to_owned(),
                                        v.as_str().unwrap().to_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                out.push(AlertRule {
                    file: path.file_name().unwrap().to_string_lossy().into_owned(),
                    name: name.to_owned(),
                    expr: str_of(rule, "expr").expect("expr").to_owned(),
                    labels: map("labels"),
                    annotations: map("annotations"),
                });
            }
        }
    }
    assert!(!out.is_empty(), "no alert rules found");
    out
}

fn dashboards() -> Vec<(PathBuf, serde_json::Value)> {
    grafana::dashboards(&monitoring_dir().join("grafana/dashboards"))
}

fn dashboard_queries() -> Vec<DashboardQuery> {
    grafana::dashboard_queries(&monitoring_dir().join("grafana/dashboards"))
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Metric names (and their label matchers) in `expr` that are not in the contract, as messages.
fn unspecified(origin: &str, expr: &str) -> Vec<String> {
    let selectors = match promql::selectors(expr) {
        Ok(s) => s,
        Err(e) => return vec![format!("{origin}: cannot scan {expr:?}: {e}")],
    };
    assert!(!selectors.is_empty(), "{origin}: no metric in {expr:?}");
    let mut problems = Vec::new();
    for sel in selectors {
        let Some((spec, extra)) = resolve(&sel.metric) else {
            problems.push(format!(
                "{origin}: metric `{}` is not specified (SERVER_METRICS / PLATFORM_METRICS)",
                sel.metric
            ));
            continue;
        };
        for m in &sel.matchers {
            let known = TARGET_LABELS.contains(&m.label.as_str())
                || extra == Some("le") && m.label == "le"
                || spec.labels.is_none_or(|l| l.contains(&m.label.as_str()));
            if !known {
                problems.push(format!(
                    "{origin}: `{}` has no label `{}`",
                    sel.metric, m.label
                ));
            }
            let allowed: Option<&[&str]> = match m.label.as_str() {
                "state" | "from_state" | "to_state" if spec.labels.is_some() => Some(ESCROW_STATES),
                "wallet" => Some(WALLETS),
                _ => None,
            };
            if let (Some(allowed), "=" | "=~") = (allowed, m.op.as_str()) {
                for value in m.value.split('|') {
                    if !allowed.contains(&value) {
                        problems.push(format!(
                            "{origin}: `{}{{{}}}` value {value:?} is not one of {allowed:?}",
                            sel.metric, m.label
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// The spec for a series name, and `Some("le")` when it is a histogram's `_bucket` series.
fn resolve(name: &str) -> Option<(&'static MetricSpec, Option<&'static str>)> {
    let all = || SERVER_METRICS.iter().chain(PLATFORM_METRICS);
    if let Some(spec) = all().find(|s| s.name == name && s.kind != Kind::Histogram) {
        return Some((spec, None));
    }
    for (suffix, extra) in [("_bucket", Some("le")), ("_sum", None), ("_count", None)] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(spec) = all().find(|s| s.name == base && s.kind == Kind::Histogram)
        {
            return Some((spec, extra));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// promtool
// ---------------------------------------------------------------------------------------------

#[test]
fn prometheus_config_passes_promtool_and_loads_every_rule_file() {
    let Some(promtool) = tool_or_skip("promtool", "prometheus") else {
        return;
    };
    let (ok, out) = run(Command::new(&promtool)
        .arg("check")
        .arg("config")
        .arg(monitoring_dir().join("prometheus.yml")));
    assert!(ok, "promtool check config failed:\n{out}");
    let rule_files = yaml_files(&monitoring_dir().join("alerts")).len();
    assert!(
        out.contains(&format!("SUCCESS: {rule_files} rule files found")),
        "prometheus.yml must load all {rule_files} files of monitoring/alerts/ (rule_files is relative to the config):\n{out}"
    );
}

#[test]
fn alert_rules_pass_promtool_check() {
    let Some(promtool) = tool_or_skip("promtool", "prometheus") else {
        return;
    };
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "rules"])
        .args(yaml_files(&monitoring_dir().join("alerts"))));
    assert!(ok, "promtool check rules failed:\n{out}");
}

#[test]
fn alert_rule_unit_tests_pass() {
    let Some(promtool) = tool_or_skip("promtool", "prometheus") else {
        return;
    };
    let (ok, out) = run(Command::new(&promtool)
        .args(["test", "rules"])
        .args(yaml_files(&monitoring_dir().join("tests"))));
    assert!(ok, "promtool test rules failed:\n{out}");
}

#[test]
fn promtool_rejects_a_broken_rule_file() {
    let Some(promtool) = tool_or_skip("promtool", "prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: rate(http_requests_total[5m]\n").unwrap();
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&broken));
    assert!(!ok, "promtool accepted an unbalanced expression:\n{out}");
    assert!(
        out.contains("Broken") || out.contains("parse error") || out.contains("unclosed"),
        "unexpected message:\n{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rule hygiene: tested, documented, routable
// ---------------------------------------------------------------------------------------------

#[test]
fn every_alert_is_unit_tested_documented_and_labelled() {
    let rules = alert_rules();
    let mut fired = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for path in yaml_files(&monitoring_dir().join("tests")) {
        let doc = read_yaml(&path);
        for test in doc.get("tests").and_then(Yaml::as_sequence).expect("tests") {
            for case in test
                .get("alert_rule_test")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
            {
                let name = str_of(case, "alertname").expect("alertname").to_owned();
                let expected = case
                    .get("exp_alerts")
                    .and_then(Yaml::as_sequence)
                    .map_or(0, Vec::len);
                if expected == 0 {
                    quiet.insert(name)
                } else {
                    fired.insert(name)
                };
            }
        }
    }
    let runbook = std::fs::read_to_string(repo_root().join("docs/MONITORING.md"))
        .expect("docs/MONITORING.md");
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for rule in &rules {
        let n = &rule.name;
        if !names.insert(n.clone()) {
            problems.push(format!("{n}: defined twice"));
        }
        if !fired.contains(n) {
            problems.push(format!(
                "{n}: no unit test where it fires (monitoring/tests/)"
            ));
        }
        if !quiet.contains(n) {
            problems.push(format!(
                "{n}: no unit test where it stays quiet (monitoring/tests/)"
            ));
        }
        match rule.labels.get("severity") {
            Some(s) if SEVERITIES.contains(&s.as_str()) => {}
            other => problems.push(format!(
                "{n} ({}): severity {other:?} is not one of {SEVERITIES:?}",
                rule.file
            )),
        }
        if !rule.labels.contains_key("component") {
            problems.push(format!("{n}: no component label"));
        }
        for key in ["summary", "description", "runbook_url"] {
            if rule
                .annotations
                .get(key)
                .is_none_or(|v| v.trim().is_empty())
            {
                problems.push(format!("{n}: annotation {key} missing"));
            }
        }
        let anchor = format!("docs/MONITORING.md#{}", n.to_lowercase());
        if rule.annotations.get("runbook_url") != Some(&anchor) {
            problems.push(format!("{n}: runbook_url must be {anchor:?}"));
        }
        if !runbook.contains(&format!("\n### {n}\n")) {
            problems.push(format!(
                "{n}: docs/MONITORING.md has no `### {n}` section (meaning + runbook action)"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "alert rule problems:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Alertmanager
// ---------------------------------------------------------------------------------------------

fn alertmanager_template() -> PathBuf {
    monitoring_dir().join("alertmanager.tmpl.yml")
}

/// Receiver secrets of the shape staging and production need (no real address).
const RECEIVERS: &[(&str, &str)] = &[
    ("ALERTMANAGER_WEBHOOK_URL", "https://pager.example.net/mmkt"),
    (
        "ALERTMANAGER_CHAT_WEBHOOK_URL",
        "https://chat.example.net/hooks/mmkt",
    ),
    ("ALERTMANAGER_SMTP_SMARTHOST", "smtp.example.net:587"),
    ("ALERTMANAGER_SMTP_FROM", "alerts@example.net"),
    (
        "ALERTMANAGER_SMTP_TO",
        "ops@example.net, oncall@example.net",
    ),
    ("ALERTMANAGER_SMTP_USERNAME", "alerts@example.net"),
    ("ALERTMANAGER_SMTP_PASSWORD", "not-a-real-password"),
];

/// The template rendered as `mmctl up` renders it (mmkt-stack's `receivers::render`) for
/// `environment` with `variables`, written to `dir/alertmanager.yml`.
fn render_alertmanager(dir: &Path, environment: &str, variables: &[(&str, &str)]) -> PathBuf {
    let template = std::fs::read_to_string(alertmanager_template()).expect("read the template");
    let vars = mmkt_stack::interpolate::Variables::from_pairs(variables);
    let rendered = mmkt_stack::receivers::render(&template, &vars, environment)
        .unwrap_or_else(|e| panic!("render for {environment}: {e}"));
    let path = dir.join("alertmanager.yml");
    std::fs::write(&path, rendered.yaml()).expect("write the rendered config");
    path
}

#[test]
fn rendered_alertmanager_configs_pass_amtool() {
    let Some(amtool) = tool_or_skip("amtool", "prometheus-alertmanager") else {
        return;
    };
    let webhook_only = &RECEIVERS[..1];
    for (environment, variables) in [
        ("production", RECEIVERS),
        ("staging", RECEIVERS),
        ("development", webhook_only),
        ("development", &[][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = render_alertmanager(dir.path(), environment, variables);
        let (ok, out) = run(Command::new(&amtool).arg("check-config").arg(&config));
        assert!(
            ok,
            "amtool check-config of the {environment} rendering with {} variables failed:\n{out}\n{}",
            variables.len(),
            std::fs::read_to_string(&config).unwrap()
        );
        let receivers = read_yaml(&config)["receivers"].as_sequence().unwrap().len();
        assert_eq!(
            receivers, 4,
            "{environment}: every receiver stays, maybe empty"
        );
    }
}

#[test]
fn alertmanager_routes_each_severity_to_its_receiver() {
    let Some(amtool) = tool_or_skip("amtool", "prometheus-alertmanager") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = render_alertmanager(dir.path(), "production", RECEIVERS);
    let used: BTreeSet<String> = alert_rules()
        .into_iter()
        .filter_map(|r| r.labels.get("severity").cloned())
        .collect();
    let mut cases: Vec<(Vec<String>, &str)> = used
        .iter()
        .map(|s| {
            (
                vec!["alertname=Any".to_owned(), format!("severity={s}")],
                "",
            )
        })
        .collect();
    cases.push((vec!["alertname=Any".to_owned()], "ops-default"));
    cases.push((
        vec!["alertname=Any".to_owned(), "severity=unknown".to_owned()],
        "ops-default",
    ));
    for (labels, expected) in cases {
        let expected = if expected.is_empty() {
            format!("ops-{}", labels[1].trim_start_matches("severity="))
        } else {
            expected.to_owned()
        };
        let mut cmd = Command::new(&amtool);
        cmd.args(["config", "routes", "test", "--config.file"])
            .arg(&config)
            .args(&labels);
        let (ok, out) = run(&mut cmd);
        let receiver = out
            .lines()
            .find(|l| !l.starts_with("Warning"))
            .unwrap_or("")
            .trim()
            .to_owned();
        assert!(
            ok && receiver == expected,
            "labels {labels:?}: expected receiver {expected}, amtool said:\n{out}"
        );
    }
}

#[test]
fn inhibit_rules_name_existing_alerts() {
    let rules = alert_rules();
    let known: BTreeSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    let config = read_yaml(&alertmanager_template());
    let inhibit = config
        .get("inhibit_rules")
        .and_then(Yaml::as_sequence)
        .expect("inhibit_rules");
    let mut problems = Vec::new();
    for (i, rule) in inhibit.iter().enumerate() {
        for side in ["source_matchers", "target_matchers"] {
            for matcher in rule.get(side).and_then(Yaml::as_sequence).expect(side) {
                let m = matcher.as_str().expect("matcher string");
                let Some(rest) = m.strip_prefix("alertname") else {
                    continue;
                };
                let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
                    ("=~", v)
                } else if let Some(v) = rest.strip_prefix("!=") {
                    ("!=", v)
                } else {
                    ("=", rest.trim_start_matches('='))
                };
                for name in value.trim_matches('"').split('|') {
                    if !known.contains(name) {
                        problems.push(format!(
                            "inhibit rule {i} {side} `{m}` ({op}): no alert named {name}"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn template_holds_no_credential_only_secret_references() {
    fn walk(v: &Yaml, path: &str, out: &mut Vec<String>) {
        match v {
            Yaml::Mapping(m) => {
                for (k, val) in m {
                    let key = k.as_str().unwrap_or("?");
                    let lowered = key.to_lowercase();
                    let sensitive = [
                        "password",
                        "secret",
                        "token",
                        "api_key",
                        "service_key",
                        "routing_key",
                        "credentials",
                        "url",
                        "smarthost",
                        "username",
                        "to",
                        "from",
                    ]
                    .iter()
                    .any(|s| lowered == *s || lowered.ends_with(&format!("_{s}")));
                    if sensitive && let Some(text) = val.as_str() {
                        let reference = text
                            .strip_prefix("${ALERTMANAGER_")
                            .and_then(|r| r.strip_suffix('}'))
                            .is_some_and(|name| {
                                name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                            });
                        if !reference {
                            out.push(format!(
                                "{path}.{key} = {text:?}: must be a ${{ALERTMANAGER_*}} reference, filled from the secrets at `mmctl up`"
                            ));
                        }
                    }
                    walk(val, &format!("{path}.{key}"), out);
                }
            }
            Yaml::Sequence(s) => s
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(x, &format!("{path}[{i}]"), out)),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    walk(&read_yaml(&alertmanager_template()), "", &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every agreed secret is used, and nothing else is referenced.
    let text = std::fs::read_to_string(alertmanager_template()).unwrap();
    for (name, _) in RECEIVERS {
        assert!(
            text.contains(&format!("\"${{{name}}}\"")),
            "the template does not use {name}"
        );
    }
    assert_eq!(
        text.matches("\"${ALERTMANAGER_").count(),
        RECEIVERS.len(),
        "each secret is referenced once, in an anchor"
    );
}

// ---------------------------------------------------------------------------------------------
// Metric names
// ---------------------------------------------------------------------------------------------

#[test]
fn alert_rules_read_only_specified_metrics() {
    let problems: Vec<String> = alert_rules()
        .iter()
        .flat_map(|r| unspecified(&format!("{} alert {}", r.file, r.name), &r.expr))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dashboards_read_only_specified_metrics() {
    let problems: Vec<String> = dashboard_queries()
        .iter()
        .flat_map(|q| unspecified(&format!("{} panel {:?}", q.dashboard, q.panel), &q.expr))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_server_metric_is_on_a_dashboard() {
    let mut seen = BTreeSet::new();
    for q in dashboard_queries() {
        for sel in promql::selectors(&q.expr).expect("scannable") {
            if let Some((spec, _)) = resolve(&sel.metric) {
                seen.insert(spec.name);
            }
        }
    }
    let missing: Vec<_> = SERVER_METRICS
        .iter()
        .map(|s| s.name)
        .filter(|n| !seen.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "server metrics no dashboard shows: {missing:?}"
    );
}

#[test]
fn escrow_state_labels_match_escrow_core() {
    use escrow_core::EscrowStateKind;
    let core: Vec<&str> = EscrowStateKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        ESCROW_STATES,
        core.as_slice(),
        "ESCROW_STATES must list EscrowStateKind::as_str() values"
    );

    // The stuck-escrow alerts cover exactly the states the server must move forward.
    let pending: BTreeSet<&str> = EscrowStateKind::ALL
        .iter()
        .filter(|k| k.is_pending())
        .map(|k| k.as_str())
        .collect();
    let mut watched = BTreeSet::new();
    for rule in alert_rules()
        .iter()
        .filter(|r| ["EscrowStuckInPending", "EscrowPayoutStuck"].contains(&r.name.as_str()))
    {
        for sel in promql::selectors(&rule.expr).expect("scannable") {
            for m in sel.matchers.iter().filter(|m| m.label == "state") {
                watched.extend(m.value.split('|').map(str::to_owned));
            }
        }
    }
    let watched: BTreeSet<&str> = watched.iter().map(String::as_str).collect();
    assert_eq!(
        watched, pending,
        "EscrowStuckInPending + EscrowPayoutStuck must watch every EscrowStateKind::is_pending() state"
    );
}

#[test]
fn metric_contract_is_consistent() {
    let mut names = BTreeSet::new();
    for spec in SERVER_METRICS.iter().chain(PLATFORM_METRICS) {
        assert!(names.insert(spec.name), "{} listed twice", spec.name);
        assert!(!spec.source.is_empty());
        if spec.kind == Kind::Counter {
            assert!(
                spec.name.ends_with("_total"),
                "{}: counter names end in _total",
                spec.name
            );
        }
        if spec.kind == Kind::Histogram {
            assert!(
                spec.name.ends_with("_seconds"),
                "{}: histograms here are durations in seconds",
                spec.name
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Grafana
// ---------------------------------------------------------------------------------------------

#[test]
fn dashboards_use_the_provisioned_datasource_and_unique_ids() {
    let provisioning = monitoring_dir().join("grafana/provisioning");
    let ds = read_yaml(&provisioning.join("datasources/prometheus.yml"));
    let ds_uid = ds["datasources"][0]["uid"]
        .as_str()
        .expect("datasource uid")
        .to_owned();
    assert_eq!(
        ds["datasources"][0]["url"].as_str(),
        Some("http://prometheus:9090")
    );
    let providers = read_yaml(&provisioning.join("dashboards/mmkt.yml"));
    assert_eq!(
        providers["providers"][0]["options"]["path"].as_str(),
        Some("/var/lib/grafana/dashboards")
    );

    let mut uids = BTreeSet::new();
    let mut problems = Vec::new();
    for (path, json) in dashboards() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let uid = json["uid"].as_str().unwrap_or_default().to_owned();
        if uid.is_empty() || !uids.insert(uid.clone()) {
            problems.push(format!("{file}: missing or duplicate uid {uid:?}"));
        }
        if json["title"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{file}: no title"));
        }
        let mut ids = BTreeSet::new();
        for panel in json["panels"].as_array().expect("panels") {
            let title = panel["title"].as_str().unwrap_or("?");
            if !ids.insert(panel["id"].as_u64().unwrap_or(0)) {
                problems.push(format!(
                    "{file}: panel {title:?} has a duplicate or missing id"
                ));
            }
            if panel["gridPos"]["w"].as_u64().is_none() {
                problems.push(format!("{file}: panel {title:?} has no gridPos"));
            }
            let mut datasources = vec![&panel["datasource"]];
            datasources.extend(
                panel["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| &t["datasource"]),
            );
            for d in datasources {
                if d["uid"].as_str() != Some(ds_uid.as_str()) {
                    problems.push(format!(
                        "{file}: panel {title:?} uses datasource {d} instead of uid {ds_uid}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Real Prometheus + Alertmanager on loopback
// ---------------------------------------------------------------------------------------------

/// Copies `original` to `dest`, replacing each `(from, to)` exactly `count` times, so a change
/// in the original that the test no longer matches fails loudly instead of testing something else.
fn rewrite(original: &Path, dest: &Path, replacements: &[(&str, &str, usize)]) {
    let mut text = std::fs::read_to_string(original).expect("read original");
    for (from, to, count) in replacements {
        assert_eq!(
            text.matches(from).count(),
            *count,
            "{}: expected {count} occurrence(s) of {from:?}",
            original.display()
        );
        text = text.replace(from, to);
    }
    std::fs::write(dest, text).expect("write copy");
}

/// Alertmanager on a free loopback port with `config`, its environment extended by `env`
/// (e.g. `SSL_CERT_FILE`, the trust store Go reads).
fn start_alertmanager(
    alertmanager: &Path,
    curl_bin: &Path,
    dir: &Path,
    config: &Path,
    env: &[(&str, &Path)],
) -> (ChildGuard, u16) {
    let port = free_loopback_port();
    let mut child = ChildGuard::spawn(
        "alertmanager",
        Command::new(alertmanager)
            .envs(env.iter().copied())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address="),
        &dir.join("alertmanager.log"),
    )
    .expect("spawn alertmanager");
    let url = format!("http://127.0.0.1:{port}/-/ready");
    wait_ready(&mut child, || curl(curl_bin, &[&url]).status == 200).unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default()
        )
    });
    (child, port)
}

#[test]
fn real_prometheus_and_alertmanager_load_the_configs() {
    let Some(prometheus) = tool_or_skip("prometheus", "prometheus") else {
        return;
    };
    let Some(alertmanager) = tool_or_skip("prometheus-alertmanager", "prometheus-alertmanager")
    else {
        return;
    };
    let Some(curl_bin) = tool_or_skip("curl", "curl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    let config = render_alertmanager(dir.path(), "development", &[]);
    let (_am, am_port) = start_alertmanager(&alertmanager, &curl_bin, dir.path(), &config, &[]);

    // Prometheus with the repository's config and rules; only the targets point at loopback.
    let prom_port = free_loopback_port();
    let unused_port = free_loopback_port();
    std::fs::create_dir(dir.path().join("alerts")).unwrap();
    for rules in yaml_files(&monitoring_dir().join("alerts")) {
        std::fs::copy(
            &rules,
            dir.path().join("alerts").join(rules.file_name().unwrap()),
        )
        .unwrap();
    }
    let config = dir.path().join("prometheus.yml");
    rewrite(
        &monitoring_dir().join("prometheus.yml"),
        &config,
        &[
            (
                "\"alertmanager:9093\"",
                &format!("\"127.0.0.1:{am_port}\""),
                2,
            ),
            (
                "\"localhost:9090\"",
                &format!("\"127.0.0.1:{prom_port}\""),
                1,
            ),
            (
                "\"server:8080\"",
                &format!("\"127.0.0.1:{unused_port}\""),
                1,
            ),
        ],
    );
    let mut prom = ChildGuard::spawn(
        "prometheus",
        Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
        &dir.path().join("prometheus.log"),
    )
    .expect("spawn prometheus");
    let base = format!("http://127.0.0.1:{prom_port}");
    let log = || std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    wait_ready(&mut prom, || {
        curl(&curl_bin, &[&format!("{base}/-/ready")]).status == 200
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log()));

    // Every alert rule is loaded.
    let rules = curl(&curl_bin, &[&format!("{base}/api/v1/rules?type=alert")]);
    assert_eq!(rules.status, 200, "{}", rules.body);
    let rules_json: serde_json::Value = serde_json::from_str(&rules.body).unwrap();
    let loaded: BTreeSet<String> = rules_json["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| {
            g["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: BTreeSet<String> = alert_rules().into_iter().map(|r| r.name).collect();
    assert_eq!(
        loaded, expected,
        "rules loaded by Prometheus differ from monitoring/alerts/"
    );

    // Every dashboard query parses and evaluates (empty results are fine: no server here).
    let mut problems = Vec::new();
    for q in dashboard_queries() {
        let query = format!("query={}", grafana_to_promql(&q.expr));
        let resp = curl(
            &curl_bin,
            &["--data-urlencode", &query, &format!("{base}/api/v1/query")],
        );
        if resp.status != 200 || !resp.body.contains("\"status\":\"success\"") {
            problems.push(format!(
                "{} panel {:?}: {} {}",
                q.dashboard, q.panel, resp.status, resp.body
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard queries Prometheus rejects:\n{}",
        problems.join("\n")
    );

    // The platform metrics the rules read exist under these names in the real binaries.
    let prom_metrics = curl(&curl_bin, &[&format!("{base}/metrics")]).body;
    let am_metrics = curl(&curl_bin, &[&format!("http://127.0.0.1:{am_port}/metrics")]).body;
    for spec in PLATFORM_METRICS
        .iter()
        .filter(|s| s.name.starts_with("prometheus_"))
    {
        assert!(
            prom_metrics.contains(&format!("\n{}", spec.name)),
            "prometheus 2.42 does not export {}",
            spec.name
        );
    }
    for spec in PLATFORM_METRICS
        .iter()
        .filter(|s| s.name.starts_with("alertmanager_"))
    {
        assert!(
            am_metrics.contains(&format!("\n{}", spec.name)),
            "alertmanager 0.25 does not export {}",
            spec.name
        );
    }

    // Prometheus finds Alertmanager through the alerting section (discovery takes a moment).
    let found = wait_ready(&mut prom, || {
        curl(&curl_bin, &[&format!("{base}/api/v1/alertmanagers")])
            .body
            .contains(&format!("127.0.0.1:{am_port}"))
    });
    assert!(
        found.is_ok(),
        "Prometheus never listed Alertmanager as active: {found:?}"
    );
}

/// POSTs `alerts` (Alertmanager's API v2 JSON list) to the Alertmanager on `am_port`; panics
/// unless it answers 200.
fn post_alerts(curl_bin: &Path, am_port: u16, alerts: &str) {
    let posted = curl(
        curl_bin,
        &[
            "-H",
            "Content-Type: application/json",
            "--data",
            alerts,
            &format!("http://127.0.0.1:{am_port}/api/v2/alerts"),
        ],
    );
    assert_eq!(
        posted.status, 200,
        "Alertmanager refused the alert: {}",
        posted.body
    );
}

/// The critical route's `group_wait` in the template, in seconds.
fn critical_group_wait() -> u64 {
    let template = read_yaml(&alertmanager_template());
    let route = template["route"]["routes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|r| r["receiver"].as_str() == Some("ops-critical"))
        .expect("a route to ops-critical");
    let wait = route["group_wait"].as_str().expect("group_wait");
    wait.strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("group_wait {wait:?} is not whole seconds"))
}

#[test]
fn real_alertmanager_delivers_a_critical_alert_to_the_rendered_receivers() {
    let Some(alertmanager) = tool_or_skip("prometheus-alertmanager", "prometheus-alertmanager")
    else {
        return;
    };
    let Some(curl_bin) = tool_or_skip("curl", "curl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = RecordingServer::start().expect("start the paging webhook");
    let chat = RecordingServer::start().expect("start the chat webhook");

    // The template rendered as `mmctl up` does, its receivers pointed at this test's loopback
    // servers (development allows loopback); routing and group_wait are the shipped ones. The
    // SMTP server does not exist: e-mail fails on its own, the other integrations deliver.
    let page_url = format!("http://127.0.0.1:{}/page", page.port());
    let chat_url = format!("http://127.0.0.1:{}/chat", chat.port());
    let smtp = format!("127.0.0.1:{}", free_loopback_port());
    let mut variables: BTreeMap<&str, &str> = RECEIVERS.iter().copied().collect();
    variables.insert("ALERTMANAGER_WEBHOOK_URL", &page_url);
    variables.insert("ALERTMANAGER_CHAT_WEBHOOK_URL", &chat_url);
    variables.insert("ALERTMANAGER_SMTP_SMARTHOST", &smtp);
    let variables: Vec<(&str, &str)> = variables.into_iter().collect();
    let config = render_alertmanager(dir.path(), "development", &variables);
    let (_am, am_port) = start_alertmanager(&alertmanager, &curl_bin, dir.path(), &config, &[]);

    let alert = r#"[{"labels":{"alertname":"WalletRpcDown","severity":"critical","component":"monero","job":"server","instance":"server:8080","wallet":"vendor"},"annotations":{"summary":"wallet-rpc-vendor does not answer the server","runbook_url":"docs/MONITORING.md#walletrpcdown"}}]"#;
    post_alerts(&curl_bin, am_port, alert);

    // Alertmanager sends a new group after group_wait; 20 s on top for a loaded machine.
    let group_wait = critical_group_wait();
    let within = Duration::from_secs(group_wait + 20);
    let log = || std::fs::read_to_string(dir.path().join("alertmanager.log")).unwrap_or_default();
    let delivered = page
        .wait_for(within, |r| r.method == "POST")
        .unwrap_or_else(|| panic!("no page within group_wait {group_wait} s + 20 s\n{}", log()));
    assert_eq!(delivered.target, "/page");
    let body: serde_json::Value = serde_json::from_slice(&delivered.body).expect("webhook JSON");
    assert_eq!(body["receiver"], "ops-critical");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["alerts"][0]["labels"]["wallet"], "vendor");

    let message = chat
        .wait_for(within, |r| r.method == "POST")
        .unwrap_or_else(|| panic!("no chat message within {within:?}\n{}", log()));
    let body: serde_json::Value = serde_json::from_slice(&message.body).expect("chat JSON");
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["title"], "[FIRING] WalletRpcDown (critical)",
        "{body:#}"
    );
    assert!(
        attachment["text"]
            .as_str()
            .is_some_and(|t| t.contains("wallet-rpc-vendor does not answer the server")),
        "{body:#}"
    );
}

/// A critical alert reaches the rendered e-mail integration: the shipped template (STARTTLS
/// required, SMTP AUTH, its routing and group_wait) against a real SMTP server on loopback that
/// refuses mail without STARTTLS and AUTH, trusted through its own certificate (`SSL_CERT_FILE`).
#[test]
fn real_alertmanager_delivers_a_critical_alert_by_email_over_starttls() {
    let Some(alertmanager) = tool_or_skip("prometheus-alertmanager", "prometheus-alertmanager")
    else {
        return;
    };
    let Some(curl_bin) = tool_or_skip("curl", "curl") else {
        return;
    };
    let Some(openssl) = tool_or_skip("openssl", "openssl") else {
        return;
    };
    let Some(aiosmtpd) = pypi_tool_or_skip("aiosmtpd", "aiosmtpd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = |name: &str| RECEIVERS.iter().find(|(k, _)| *k == name).unwrap().1;
    let smtp = SmtpServer::start(
        &aiosmtpd,
        &openssl,
        dir.path(),
        secret("ALERTMANAGER_SMTP_USERNAME"),
        secret("ALERTMANAGER_SMTP_PASSWORD"),
    );
    // Only the e-mail secrets are set: development leaves the webhook and chat integrations
    // out, so ops-critical delivers by e-mail alone.
    let smarthost = format!("127.0.0.1:{}", smtp.port());
    let variables: Vec<(&str, &str)> = RECEIVERS
        .iter()
        .filter(|(k, _)| k.starts_with("ALERTMANAGER_SMTP_"))
        .map(|&(k, v)| match k {
            "ALERTMANAGER_SMTP_SMARTHOST" => (k, smarthost.as_str()),
            _ => (k, v),
        })
        .collect();
    let config = render_alertmanager(dir.path(), "development", &variables);
    let rendered = read_yaml(&config);
    let critical = rendered["receivers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|r| r["name"].as_str() == Some("ops-critical"))
        .expect("the ops-critical receiver");
    assert_eq!(
        critical["email_configs"][0]["require_tls"].as_bool(),
        Some(true),
        "the shipped template requires STARTTLS"
    );
    let (_am, am_port) = start_alertmanager(
        &alertmanager,
        &curl_bin,
        dir.path(),
        &config,
        &[("SSL_CERT_FILE", smtp.cert())],
    );

    let alert = r#"[{"labels":{"alertname":"WalletRpcDown","severity":"critical","component":"monero","job":"server","instance":"server:8080","wallet":"vendor"},"annotations":{"summary":"wallet-rpc-vendor does not answer the server"}}]"#;
    post_alerts(&curl_bin, am_port, alert);

    // A new group is sent after group_wait; 20 s on top for a loaded machine.
    let group_wait = critical_group_wait();
    let within = Duration::from_secs(group_wait + 20);
    let mail = smtp.wait_for(within, "WalletRpcDown").unwrap_or_else(|| {
        panic!(
            "no e-mail within group_wait {group_wait} s + 20 s\n{}",
            std::fs::read_to_string(dir.path().join("alertmanager.log")).unwrap_or_default()
        )
    });
    assert!(mail.contains("AUTH alerts@example.net\n"), "{mail}");
    assert!(
        mail.contains("RCPT ops@example.net,oncall@example.net\n"),
        "{mail}"
    );
    assert!(
        mail.lines()
            .any(|l| l.starts_with("Subject: [FIRING:1] WalletRpcDown")),
        "{mail}"
    );
}

#[test]
fn real_alertmanager_mutes_consequences_of_a_known_cause() {
    let Some(alertmanager) = tool_or_skip("prometheus-alertmanager", "prometheus-alertmanager")
    else {
        return;
    };
    let Some(curl_bin) = tool_or_skip("curl", "curl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = render_alertmanager(dir.path(), "development", &[]);
    let (mut am, am_port) = start_alertmanager(&alertmanager, &curl_bin, dir.path(), &config, &[]);
    let base = format!("http://127.0.0.1:{am_port}/api/v2/alerts");

    // Alerts labelled as the rules label them.
    let alert = |name: &str, severity: &str, component: &str, extra: &str| {
        format!(
            r#"{{"labels":{{"alertname":"{name}","severity":"{severity}","component":"{component}","job":"server","instance":"server:8080"{extra}}}}}"#
        )
    };
    let post = |alerts: &[String]| {
        let body = format!("[{}]", alerts.join(","));
        let posted = curl(
            &curl_bin,
            &[
                "-H",
                "Content-Type: application/json",
                "--data",
                &body,
                &base,
            ],
        );
        assert_eq!(posted.status, 200, "{}", posted.body);
    };
    let state_of = |json: &serde_json::Value, name: &str| -> String {
        json.as_array()
            .into_iter()
            .flatten()
            .find(|a| a["labels"]["alertname"] == name)
            .map(|a| a["status"]["state"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    };
    let mut expect = |expected: &[(&str, &str)]| {
        let mut last = serde_json::Value::Null;
        let settled = wait_ready(&mut am, || {
            last = serde_json::from_str(&curl(&curl_bin, &[&base]).body).unwrap_or_default();
            expected
                .iter()
                .all(|(name, state)| state_of(&last, name) == *state)
        });
        assert!(
            settled.is_ok(),
            "expected states {expected:?}, Alertmanager has:\n{last:#}"
        );
    };

    // A wallet-rpc is down: the stuck payout and the RPC errors it causes are muted; an
    // unrelated alert is not.
    post(&[
        alert(
            "WalletRpcDown",
            "critical",
            "monero",
            r#","wallet":"vendor""#,
        ),
        alert(
            "EscrowPayoutStuck",
            "critical",
            "escrow",
            r#","state":"releasing""#,
        ),
        alert(
            "MoneroRpcErrors",
            "warning",
            "monero",
            r#","method":"transfer","error_type":"connection""#,
        ),
        alert(
            "AlertmanagerNotificationsFailing",
            "warning",
            "monitoring",
            r#","integration":"webhook""#,
        ),
    ]);
    expect(&[
        ("WalletRpcDown", "active"),
        ("EscrowPayoutStuck", "suppressed"),
        ("MoneroRpcErrors", "suppressed"),
        ("AlertmanagerNotificationsFailing", "active"),
    ]);

    // The server itself is down: everything measured through it is muted, the cause is not.
    post(&[
        alert("MarketplaceServerDown", "critical", "server", ""),
        alert("HighHttpErrorRate", "critical", "server", ""),
    ]);
    expect(&[
        ("MarketplaceServerDown", "active"),
        ("HighHttpErrorRate", "suppressed"),
        ("WalletRpcDown", "suppressed"),
        ("AlertmanagerNotificationsFailing", "active"),
    ]);
}
