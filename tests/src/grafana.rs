//! The PromQL of the Grafana dashboards (`monitoring/grafana/dashboards/*.json`): every panel
//! target's `expr` and the selector inside each `label_values(selector, label)` template
//! variable, with Grafana's variables replaced so Prometheus accepts them. Read by the repository
//! checks (`tests/tests/monitoring.rs`) and by the live stack check
//! (`crates/mmctl/tests/stack_monitoring.rs`). Malformed dashboards panic: these are test helpers.

use std::path::{Path, PathBuf};

/// One PromQL expression of a dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardQuery {
    /// The dashboard's file name, e.g. `mmkt-system.json`.
    pub dashboard: String,
    /// The panel's title, or `variable "name"` for a template variable.
    pub panel: String,
    /// The expression as written (Grafana variables included).
    pub expr: String,
}

/// Every `*.json` dashboard in `dir`, parsed, sorted by path.
pub fn dashboards(dir: &Path) -> Vec<(PathBuf, serde_json::Value)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read dashboard");
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", p.display()));
            (p, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no dashboards in {}", dir.display());
    out
}

/// Every PromQL expression of every dashboard in `dir`: panel targets, and the selector inside
/// each `label_values(selector, label)` template variable query.
pub fn dashboard_queries(dir: &Path) -> Vec<DashboardQuery> {
    let mut out = Vec::new();
    for (path, json) in dashboards(dir) {
        let dashboard = path.file_name().unwrap().to_string_lossy().into_owned();
        for panel in json["panels"].as_array().expect("panels") {
            let title = panel["title"].as_str().unwrap_or("?").to_owned();
            for target in panel["targets"].as_array().into_iter().flatten() {
                out.push(DashboardQuery {
                    dashboard: dashboard.clone(),
                    panel: title.clone(),
                    expr: target["expr"].as_str().expect("target expr").to_owned(),
                });
            }
        }
        for var in json["templating"]["list"].as_array().into_iter().flatten() {
            let query = var["query"]["query"]
                .as_str()
                .or(var["query"].as_str())
                .unwrap_or("");
            let inner = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .and_then(|q| q.rsplit_once(','))
                .map(|(selector, _label)| selector.trim().to_owned())
                .unwrap_or_else(|| {
                    panic!(
                        "{dashboard}: variable query {query:?} is not label_values(selector, label)"
                    )
                });
            out.push(DashboardQuery {
                dashboard: dashboard.clone(),
                panel: format!("variable {}", var["name"]),
                expr: inner,
            });
        }
    }
    out
}

/// `expr` with Grafana's built-in variables replaced by values Prometheus accepts:
/// `$__rate_interval` and `$__interval` by `1m`, `$__range` by `1h`, and every template
/// variable (`$name`, `${name}`) by `.*` (the dashboards use them in `=~` matchers, "All").
pub fn grafana_to_promql(expr: &str) -> String {
    let expr = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    let variable = regex::Regex::new(r"\$\{\w+\}|\$\w+").expect("valid regex");
    variable.replace_all(&expr, ".*").into_owned()
}

#[cfg(test)]
mod tests {
    use super::grafana_to_promql;

    #[test]
    fn grafana_variables_become_promql() {
        assert_eq!(
            grafana_to_promql(
                "rate(x{instance=~\"$instance\", job=~\"${job}\"}[$__rate_interval]) / $__range"
            ),
            "rate(x{instance=~\".*\", job=~\".*\"}[1m]) / 1h"
        );
    }
}
