//! `mmctl health`: real probes of every service, from the host, over the project network.
//!
//! Internal services publish no host port, so each probe targets the container's IP address on
//! its first project network (read from `GET /containers/{id}/json`, NetworkSettings.Networks);
//! the host routes to Docker bridge networks, internal ones included. What to probe comes from
//! the service's `x-mmkt-probe` extension in the compose file:
//! `{kind: http, port, paths}` (each path must answer 2xx), `{kind: monerod, port}`
//! (JSON-RPC `get_info` through `monero_rpc::DaemonClient` must return status OK),
//! `{kind: wallet-rpc, port}` (JSON-RPC `get_version` through `monero_rpc::WalletClient`, with
//! HTTP digest auth when the container has WALLET_RPC_LOGIN=user:password),
//! `{kind: metrics, port, path, series}` (an exporter: GET `path` must answer 2xx in the
//! Prometheus text format with every listed series, see [`crate::metrics_probe`]).
//! Every service is also checked for a running container and a non-unhealthy Docker health.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::engine::{ContainerStatus, Engine, last_health_output};
use super::error::StackError;
use super::metrics_probe::{SeriesMatch, SeriesSelector};
use super::stack::Project;

/// The `x-mmkt-probe` extension of a service.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ProbeSpec {
    /// HTTP GETs that must answer 2xx.
    Http {
        /// Container port.
        port: u16,
        /// Paths, e.g. `/health`, `/ready`.
        paths: Vec<String>,
    },
    /// monerod JSON-RPC `get_info` (POST /json_rpc) must return `status: OK`.
    Monerod {
        /// Container port of the daemon RPC.
        port: u16,
    },
    /// monero-wallet-rpc JSON-RPC `get_version` (POST /json_rpc) must return a version.
    WalletRpc {
        /// Container port of the wallet RPC.
        port: u16,
    },
    /// An exporter: GET `path` (query string included) must answer 2xx with every series in
    /// `series` (e.g. node-exporter's filesystem of the data volumes, the blackbox exporter's
    /// `probe_success` for its module).
    Metrics {
        /// Container port of the exporter.
        port: u16,
        /// Path and query, e.g. `/metrics`, `/probe?module=nginx_tls&target=...`.
        path: String,
        /// Series that must be in the answer.
        series: Vec<SeriesSelector>,
    },
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked, e.g. `container`, `GET /ready`, `get_version`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Detail: the answer's gist, or why it failed.
    pub detail: String,
}

/// The health of one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceHealth {
    /// Service name.
    pub service: String,
    /// True when every check passed.
    pub healthy: bool,
    /// Individual checks, container state first.
    pub checks: Vec<Check>,
}

/// Per-request timeout of a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Probes every enabled service of the project. Never fails because a service is down (that
/// is a result); fails only when the engine itself cannot be queried.
///
/// # Errors
/// [`StackError::Engine`] / [`StackError::Unreachable`]; [`StackError::Invalid`] for a malformed
/// `x-mmkt-probe`.
pub async fn check(project: &Project, engine: &Engine) -> Result<Vec<ServiceHealth>, StackError> {
    let http = probe_client(PROBE_TIMEOUT)?;
    let mut out = Vec::new();
    for service in project.compose.file.enabled_services(&project.profiles) {
        let spec: Option<ProbeSpec> =
            project.compose.file.services[&service].extension("x-mmkt-probe")?;
        out.push(check_service(project, engine, &http, &service, spec.as_ref()).await?);
    }
    Ok(out)
}

/// The HTTP client of the probes: no proxy (container addresses are local), `timeout` per
/// request.
///
/// # Errors
/// [`StackError::Invalid`] when the TLS backend cannot be initialised.
pub(crate) fn probe_client(timeout: Duration) -> Result<reqwest::Client, StackError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| StackError::Invalid(format!("cannot build the HTTP client: {e}")))
}

/// The container's environment (`KEY=value` lines) from inspect data.
pub(crate) fn container_env(info: &bollard::models::ContainerInspectResponse) -> Vec<String> {
    info.config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default()
}

async fn check_service(
    project: &Project,
    engine: &Engine,
    http: &reqwest::Client,
    service: &str,
    spec: Option<&ProbeSpec>,
) -> Result<ServiceHealth, StackError> {
    let mut checks = Vec::new();
    let Some(id) = engine
        .find_service_container(&project.name, service)
        .await?
        .and_then(|c| c.id)
    else {
        checks.push(Check {
            name: "container".into(),
            ok: false,
            detail: "no container (run `mmctl up`)".into(),
        });
        return Ok(ServiceHealth {
            service: service.into(),
            healthy: false,
            checks,
        });
    };
    let info = engine.inspect(&id).await?;
    let status = ContainerStatus::from_inspect(&info);
    let running = status.state == "running";
    let docker_ok = running && status.health.as_deref() != Some("unhealthy");
    let mut detail = status.describe();
    if running
        && status.health.as_deref() == Some("unhealthy")
        && let Some(out) = last_health_output(&info)
    {
        detail.push_str(&format!(": {out}"));
    }
    checks.push(Check {
        name: "container".into(),
        ok: docker_ok,
        detail,
    });
    if running && let Some(spec) = spec {
        let ip = container_ip(&info);
        match ip {
            None => checks.push(Check {
                name: "network".into(),
                ok: false,
                detail: "container has no IP address".into(),
            }),
            Some(ip) => {
                let env = container_env(&info);
                checks.extend(probe(http, &ip, spec, &env, PROBE_TIMEOUT).await);
            }
        }
    }
    let healthy = checks.iter().all(|c| c.ok);
    Ok(ServiceHealth {
        service: service.into(),
        healthy,
        checks,
    })
}

/// The container's IPv4 address on its first network with one.
pub fn container_ip(info: &bollard::models::ContainerInspectResponse) -> Option<String> {
    let nets = info.network_settings.as_ref()?.networks.as_ref()?;
    let mut names: Vec<&String> = nets.keys().collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| nets[n].ip_address.clone())
        .find(|ip| !ip.is_empty())
}

/// Runs the probe `spec` against the container at `ip` (its environment `env` gives the
/// wallet-rpc login), each RPC call limited to `timeout` (HTTP requests take `http`'s own).
pub(crate) async fn probe(
    http: &reqwest::Client,
    ip: &str,
    spec: &ProbeSpec,
    env: &[String],
    timeout: Duration,
) -> Vec<Check> {
    match spec {
        ProbeSpec::Http { port, paths } => {
            let mut out = Vec::new();
            for path in paths {
                let url = format!("http://{ip}:{port}{path}");
                let check = match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => Check {
                        name: format!("GET {path}"),
                        ok: true,
                        detail: r.status().to_string(),
                    },
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        let body: String = body
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                            .chars()
                            .take(200)
                            .collect();
                        Check {
                            name: format!("GET {path}"),
                            ok: false,
                            detail: format!("{status}: {body}"),
                        }
                    }
                    Err(e) => Check {
                        name: format!("GET {path}"),
                        ok: false,
                        detail: format!("{url}: {}", error_chain(&e)),
                    },
                };
                out.push(check);
            }
            out
        }
        ProbeSpec::Metrics { port, path, series } => {
            vec![probe_metrics(http, &format!("http://{ip}:{port}{path}"), path, series).await]
        }
        ProbeSpec::Monerod { port } => {
            let url = format!("http://{ip}:{port}");
            let result = match monero_rpc::DaemonClient::new(&url) {
                Ok(client) => client
                    .with_timeout(timeout)
                    .get_info()
                    .await
                    .map_err(|e| error_chain(&e)),
                Err(e) => Err(error_chain(&e)),
            };
            let check = match result {
                Ok(info) => Check {
                    name: "get_info".into(),
                    ok: info.status == "OK",
                    detail: format!(
                        "status {} height {} nettype {}",
                        info.status, info.height, info.nettype
                    ),
                },
                Err(e) => Check {
                    name: "get_info".into(),
                    ok: false,
                    detail: format!("{url}: {e}"),
                },
            };
            vec![check]
        }
        ProbeSpec::WalletRpc { port } => {
            let url = format!("http://{ip}:{port}");
            let login = env
                .iter()
                .find_map(|e| e.strip_prefix("WALLET_RPC_LOGIN="))
                .filter(|l| !l.is_empty());
            let result = match monero_rpc::WalletClient::new(&url) {
                Ok(client) => {
                    let mut client = client.with_timeout(timeout);
                    if let Some((user, pass)) = login.and_then(|l| l.split_once(':')) {
                        client =
                            client.with_credentials(monero_rpc::DigestCredentials::new(user, pass));
                    }
                    client.get_version().await.map_err(|e| error_chain(&e))
                }
                Err(e) => Err(error_chain(&e)),
            };
            let check = match result {
                Ok(v) => Check {
                    name: "get_version".into(),
                    ok: true,
                    detail: format!("version {}", v.version),
                },
                Err(e) => Check {
                    name: "get_version".into(),
                    ok: false,
                    detail: format!("{url}: {e}"),
                },
            };
            vec![check]
        }
    }
}

/// GET `url` and look up every selector in the answer: one check named `GET path`, whose detail
/// gives each series' value (or says which are missing or differ).
async fn probe_metrics(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    series: &[SeriesSelector],
) -> Check {
    let name = format!("GET {path}");
    let body = match http.get(url).send().await {
        Ok(r) if r.status().is_success() => r.text().await.map_err(|e| error_chain(&e)),
        Ok(r) => Err(r.status().to_string()),
        Err(e) => Err(error_chain(&e)),
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            return Check {
                name,
                ok: false,
                detail: format!("{url}: {e}"),
            };
        }
    };
    let mut ok = true;
    let mut parts = Vec::new();
    for sel in series {
        match sel.find(&body) {
            SeriesMatch::Found(v) => parts.push(format!("{sel}: {v}")),
            SeriesMatch::OtherValue(v) => {
                ok = false;
                parts.push(format!("{sel}: is {v}"));
            }
            SeriesMatch::Missing => {
                ok = false;
                parts.push(format!("{sel}: missing"));
            }
        }
    }
    Check {
        name,
        ok,
        detail: parts.join("; "),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::{PROBE_TIMEOUT, ProbeSpec, probe, probe_client};

    /// A loopback exporter answering every connection with `status_line` and `body`, from a
    /// thread; its port.
    fn exporter(status_line: &'static str, body: &'static str) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let mut request = [0u8; 2048];
                let _ = conn.read(&mut request);
                let head = format!(
                    "HTTP/1.1 {status_line}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(body.as_bytes());
            }
        });
        port
    }

    async fn run_probe(port: u16, series: &str) -> super::Check {
        let spec = spec(&format!(
            "{{kind: metrics, port: {port}, path: /metrics, series: {series}}}"
        ))
        .unwrap();
        let http = probe_client(PROBE_TIMEOUT).unwrap();
        let mut checks = probe(&http, "127.0.0.1", &spec, &[], PROBE_TIMEOUT).await;
        assert_eq!(checks.len(), 1);
        checks.remove(0)
    }

    const NODE: &str = "# TYPE node_filesystem_avail_bytes gauge\nnode_filesystem_avail_bytes{device=\"/dev/vda\",mountpoint=\"/docker-volumes\"} 1e+09\nnode_textfile_scrape_error 1\n";

    #[tokio::test]
    async fn a_metrics_probe_passes_only_with_every_series() {
        let port = exporter("200 OK", NODE);
        let ok = run_probe(
            port,
            "['node_filesystem_avail_bytes{mountpoint=\"/docker-volumes\"}', node_textfile_scrape_error]",
        )
        .await;
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.name, "GET /metrics");
        assert_eq!(
            ok.detail,
            "node_filesystem_avail_bytes{mountpoint=\"/docker-volumes\"}: 1e+09; node_textfile_scrape_error: 1"
        );

        let missing = run_probe(port, "['node_filesystem_avail_bytes{mountpoint=\"/\"}']").await;
        assert!(!missing.ok);
        assert!(missing.detail.ends_with(": missing"), "{missing:?}");

        let differs = run_probe(port, "['node_textfile_scrape_error 0']").await;
        assert!(!differs.ok);
        assert_eq!(differs.detail, "node_textfile_scrape_error 0: is 1");
    }

    #[tokio::test]
    async fn a_metrics_probe_fails_on_an_error_status() {
        let port = exporter("500 Internal Server Error", "");
        let failed = run_probe(port, "[up]").await;
        assert!(!failed.ok);
        assert!(failed.detail.contains("500"), "{failed:?}");
    }

    fn spec(yaml: &str) -> Result<ProbeSpec, String> {
        serde_norway::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn a_metrics_probe_names_its_series() {
        let parsed = spec(
            "{kind: metrics, port: 9100, path: /metrics, series: ['node_filesystem_avail_bytes{mountpoint=\"/docker-volumes\"}', node_textfile_scrape_error]}",
        )
        .unwrap();
        let ProbeSpec::Metrics { port, path, series } = parsed else {
            panic!("not a metrics probe: {parsed:?}");
        };
        assert_eq!((port, path.as_str(), series.len()), (9100, "/metrics", 2));
        assert_eq!(
            series[0].to_string(),
            "node_filesystem_avail_bytes{mountpoint=\"/docker-volumes\"}"
        );
    }

    #[test]
    fn a_malformed_series_or_a_missing_field_is_refused() {
        let err = spec("{kind: metrics, port: 9115, path: /probe, series: ['probe_success{']}")
            .unwrap_err();
        assert!(err.contains("series selector"), "{err}");
        let err = spec("{kind: metrics, port: 9115, series: [probe_success]}").unwrap_err();
        assert!(err.contains("path"), "{err}");
    }
}
