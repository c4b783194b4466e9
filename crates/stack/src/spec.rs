//! Turns one compose service into the Engine API's container-create body
//! (`POST /containers/create`, API 1.41): mounts, ports, healthcheck, limits, restart policy,
//! log driver, labels; and the compose config hash that decides whether `up` must recreate a container.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount, MountType,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use sha2::{Digest, Sha256};

use super::compose::{Healthcheck, LoadedCompose, Service};
use super::error::StackError;
use super::labels;

/// Where a mount's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A top-level named volume (created as `{project}_{name}`).
    Named(String),
    /// A host path (relative paths resolve against the compose file's directory).
    Host(String),
}

/// One parsed short-syntax volume entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Volume name or host path.
    pub source: MountSource,
    /// Absolute path inside the container.
    pub target: String,
    /// Mounted read-only (`:ro`).
    pub read_only: bool,
}

/// Parses `SOURCE:TARGET[:ro|rw]`.
///
/// # Errors
/// A message naming the malformed entry.
pub fn parse_volume(spec: &str) -> Result<VolumeSpec, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [s, t] => (*s, *t, "rw"),
        [s, t, m] => (*s, *t, *m),
        _ => {
            return Err(format!(
                "volume {spec:?}: expected SOURCE:TARGET[:ro] (anonymous volumes are not supported)"
            ));
        }
    };
    if !target.starts_with('/') {
        return Err(format!(
            "volume {spec:?}: the container path must be absolute"
        ));
    }
    let read_only = match mode {
        "ro" => true,
        "rw" => false,
        other => {
            return Err(format!(
                "volume {spec:?}: unknown mode {other:?} (ro or rw)"
            ));
        }
    };
    let source = if source.starts_with('.') || source.starts_with('/') || source.starts_with('~') {
        MountSource::Host(source.to_string())
    } else {
        MountSource::Named(source.to_string())
    };
    Ok(VolumeSpec {
        source,
        target: target.to_string(),
        read_only,
    })
}

/// Parses one `tmpfs:` entry, `/path[:opt,opt=value,...]`, into the Engine API's
/// `HostConfig.Tmpfs` pair (path, options). Options: the flags `ro rw exec noexec suid nosuid
/// dev nodev`, `size=` (a byte size, see [`parse_size`]), `mode=` (octal), `uid=`/`gid=`
/// (numeric) and `nr_inodes=`; a read-only root filesystem usually needs one for scratch space.
///
/// # Errors
/// A message naming the malformed entry: a relative path or an unknown or malformed option
/// (which Docker would otherwise reject only when the container is created).
pub fn parse_tmpfs(entry: &str) -> Result<(String, String), String> {
    let (path, opts) = entry.split_once(':').unwrap_or((entry, ""));
    if !path.starts_with('/') {
        return Err(format!("tmpfs {entry:?}: the path must be absolute"));
    }
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let valid = match opt.split_once('=') {
            None => [
                "ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
            ]
            .contains(&opt),
            Some(("size", v)) => parse_size(v).is_ok(),
            Some(("mode", v)) => u32::from_str_radix(v, 8).is_ok(),
            Some(("uid" | "gid" | "nr_inodes", v)) => v.parse::<u64>().is_ok(),
            Some(_) => false,
        };
        if !valid {
            return Err(format!(
                "tmpfs {entry:?}: unknown or malformed option {opt:?} (size=, mode= in octal, uid=, gid=, nr_inodes=, ro, noexec, nosuid, nodev)"
            ));
        }
    }
    Ok((path.to_string(), opts.to_string()))
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Host address to bind (empty = all addresses).
    pub host_ip: String,
    /// Host port; empty = an ephemeral port chosen by Docker (also for `0`).
    pub host_port: String,
    /// Container port with protocol, e.g. `8080/tcp`.
    pub container_port: String,
}

/// Parses `[IP:][HOST:]CONTAINER[/PROTO]`.
///
/// # Errors
/// A message naming the malformed entry.
pub fn parse_port(spec: &str) -> Result<PortSpec, String> {
    let (body, proto) = match spec.rsplit_once('/') {
        Some((b, p)) if p == "tcp" || p == "udp" => (b, p),
        Some(_) => return Err(format!("port {spec:?}: protocol must be tcp or udp")),
        None => (spec, "tcp"),
    };
    let parts: Vec<&str> = body.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [i, h, c] => (*i, *h, *c),
        _ => return Err(format!("port {spec:?}: expected [IP:][HOST:]CONTAINER")),
    };
    let valid = |p: &str| p.is_empty() || p.parse::<u16>().is_ok();
    if container.is_empty() || !valid(container) || !valid(host) {
        return Err(format!("port {spec:?}: ports must be numbers 0-65535"));
    }
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("port {spec:?}: {ip:?} is not an IP address"));
    }
    let host = if host == "0" { "" } else { host };
    Ok(PortSpec {
        host_ip: ip.to_string(),
        host_port: host.to_string(),
        container_port: format!("{container}/{proto}"),
    })
}

/// Parses a compose duration (`1m30s`, `500ms`, `10s`, `2h`, or bare seconds) into nanoseconds.
///
/// # Errors
/// A message naming the malformed value.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    let mut total: f64 = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let value: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
        let factor = match unit.as_str() {
            "ns" => 1.0,
            "us" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("invalid duration {s:?}: unknown unit {unit:?}")),
        };
        total += value * factor;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!(
            "invalid duration {s:?} (examples: 30s, 1m30s, 500ms)"
        ));
    }
    Ok(total as i64)
}

/// Parses a byte size (`512m`, `1g`, `1.5G`, `1024k`, `2gb`, or bytes) into bytes.
///
/// # Errors
/// A message naming the malformed value.
pub fn parse_size(s: &str) -> Result<i64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, factor) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1024f64),
        Some('m') => (&lower[..lower.len() - 1], 1024f64 * 1024.0),
        Some('g') => (&lower[..lower.len() - 1], 1024f64 * 1024.0 * 1024.0),
        _ => (lower, 1f64),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (examples: 512m, 1g)"))?;
    Ok((v * factor) as i64)
}

/// Effective limits of a service: memory bytes, nano-CPUs, pids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Memory limit in bytes.
    pub memory_bytes: Option<i64>,
    /// CPU limit in units of 1e-9 CPUs (Engine API `NanoCpus`).
    pub nano_cpus: Option<i64>,
    /// Process limit.
    pub pids: Option<i64>,
}

/// Merges `mem_limit`/`cpus`/`pids_limit` with `deploy.resources.limits` (the latter wins).
///
/// # Errors
/// A message naming the malformed value.
pub fn resource_limits(svc: &Service) -> Result<ResourceLimits, String> {
    let mut out = ResourceLimits::default();
    let cpus = |v: &super::compose::Scalar| -> Result<i64, String> {
        let f: f64 = v
            .render()
            .parse()
            .map_err(|_| format!("invalid cpus {:?}", v.render()))?;
        Ok((f * 1e9) as i64)
    };
    if let Some(m) = &svc.mem_limit {
        out.memory_bytes = Some(parse_size(&m.render())?);
    }
    if let Some(c) = &svc.cpus {
        out.nano_cpus = Some(cpus(c)?);
    }
    out.pids = svc.pids_limit;
    if let Some(limits) = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref())
    {
        if let Some(m) = &limits.memory {
            out.memory_bytes = Some(parse_size(&m.render())?);
        }
        if let Some(c) = &limits.cpus {
            out.nano_cpus = Some(cpus(c)?);
        }
        if limits.pids.is_some() {
            out.pids = limits.pids;
        }
    }
    Ok(out)
}

/// Parses a restart policy.
///
/// # Errors
/// A message naming the unknown policy.
pub fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (
            n,
            Some(
                c.parse::<i64>()
                    .map_err(|_| format!("invalid restart {s:?}"))?,
            ),
        ),
        None => (s, None),
    };
    let name = match name {
        "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => {
            return Err(format!(
                "unknown restart policy {s:?} (no, always, on-failure[:N], unless-stopped)"
            ));
        }
    };
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count: count,
    })
}

fn health_config(hc: &Healthcheck) -> Result<HealthConfig, StackError> {
    if hc.disable == Some(true) {
        return Ok(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
    }
    let test = match &hc.test {
        None => None,
        Some(super::compose::StringOrList::String(s)) => {
            Some(vec!["CMD-SHELL".to_string(), s.clone()])
        }
        Some(super::compose::StringOrList::List(l)) => Some(l.clone()),
    };
    let d = |v: &Option<String>| -> Result<Option<i64>, StackError> {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(StackError::Invalid)
    };
    Ok(HealthConfig {
        test,
        interval: d(&hc.interval)?,
        timeout: d(&hc.timeout)?,
        retries: hc.retries,
        start_period: d(&hc.start_period)?,
        start_interval: None,
    })
}

/// Everything needed to create one service's container.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    /// Service name.
    pub service: String,
    /// Container name: `{project}-{service}-1`.
    pub name: String,
    /// Create body (first network attached at create time).
    pub body: ContainerCreateBody,
    /// Full network names to connect after create, with their aliases (all but the first).
    pub extra_networks: Vec<(String, Vec<String>)>,
    /// The compose config hash (also stored in the `com.docker.compose.config-hash` label).
    pub config_hash: String,
}

/// Project-scoped name of a network or volume: `{project}_{name}` (compose's convention).
pub fn scoped(project: &str, name: &str) -> String {
    format!("{project}_{name}")
}

/// Builds the container plan for one service.
///
/// `image_id` is the local image ID; it is part of the config hash, so a rebuilt image makes
/// `up` recreate the service (as compose does).
///
/// # Errors
/// [`StackError::Invalid`] for values that do not convert (bad env file, bad duration, missing
/// bind-mount source), [`StackError::Read`] for an unreadable env file.
pub fn plan_service(
    compose: &LoadedCompose,
    project: &str,
    service: &str,
    image_id: &str,
) -> Result<ContainerPlan, StackError> {
    let svc = compose.file.service(service)?;
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    if let Some(files) = &svc.env_file {
        for f in files.to_words()? {
            let p = compose.dir.join(&f);
            env.extend(super::interpolate::parse_env_file(&p)?);
        }
    }
    if let Some(e) = &svc.environment {
        env.extend(e.resolve(&compose.variables));
    }
    let mut mounts = Vec::new();
    for spec in &svc.volumes {
        let v = parse_volume(spec).map_err(StackError::Invalid)?;
        let (typ, source) = match &v.source {
            MountSource::Named(n) => (MountType::VOLUME, scoped(project, n)),
            MountSource::Host(h) => {
                let p = resolve_host_path(&compose.dir, h);
                if !p.exists() {
                    return Err(StackError::Invalid(format!(
                        "service {service}: bind-mount source {} does not exist",
                        p.display()
                    )));
                }
                (MountType::BIND, p.to_string_lossy().into_owned())
            }
        };
        mounts.push(Mount {
            target: Some(v.target.clone()),
            source: Some(source),
            typ: Some(typ),
            read_only: Some(v.read_only),
            ..Default::default()
        });
    }
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &svc.ports {
        let spec = parse_port(&p.render()).map_err(StackError::Invalid)?;
        exposed.push(spec.container_port.clone());
        bindings
            .entry(spec.container_port.clone())
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(spec.host_ip.clone()),
                host_port: Some(spec.host_port.clone()),
            });
    }
    let limits = resource_limits(svc).map_err(StackError::Invalid)?;
    let restart = svc
        .restart
        .as_deref()
        .map(parse_restart)
        .transpose()
        .map_err(StackError::Invalid)?;
    let tmpfs = match &svc.tmpfs {
        None => None,
        Some(t) => Some(
            t.to_words()?
                .iter()
                .map(|entry| parse_tmpfs(entry))
                .collect::<Result<HashMap<_, _>, _>>()
                .map_err(StackError::Invalid)?,
        ),
    };
    let sysctls = svc.sysctls.as_ref().map(|s| {
        s.resolve(&compose.variables)
            .into_iter()
            .collect::<HashMap<_, _>>()
    });
    let networks = svc.network_names();
    let first_net = scoped(project, &networks[0]);
    let mut aliases = vec![service.to_string()];
    aliases.extend(svc.aliases(&networks[0]));
    let extra_networks: Vec<(String, Vec<String>)> = networks[1..]
        .iter()
        .map(|n| {
            let mut a = vec![service.to_string()];
            a.extend(svc.aliases(n));
            (scoped(project, n), a)
        })
        .collect();
    let stop_timeout = svc
        .stop_grace_period
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(StackError::Invalid)?
        .map(|ns| ns / 1_000_000_000);

    let host_config = HostConfig {
        mounts: Some(mounts),
        port_bindings: if bindings.is_empty() {
            None
        } else {
            Some(bindings)
        },
        restart_policy: restart,
        memory: limits.memory_bytes,
        nano_cpus: limits.nano_cpus,
        pids_limit: limits.pids,
        network_mode: Some(first_net.clone()),
        cap_drop: if svc.cap_drop.is_empty() {
            None
        } else {
            Some(svc.cap_drop.clone())
        },
        cap_add: if svc.cap_add.is_empty() {
            None
        } else {
            Some(svc.cap_add.clone())
        },
        security_opt: if svc.security_opt.is_empty() {
            None
        } else {
            Some(svc.security_opt.clone())
        },
        readonly_rootfs: svc.read_only,
        tmpfs,
        sysctls,
        init: svc.init,
        log_config: svc
            .logging
            .as_ref()
            .map(super::logging::Logging::log_config)
            .transpose()
            .map_err(StackError::Invalid)?,
        ..Default::default()
    };
    let mut endpoints = HashMap::new();
    endpoints.insert(
        first_net.clone(),
        EndpointSettings {
            aliases: Some(aliases),
            ..Default::default()
        },
    );

    let mut body = ContainerCreateBody {
        image: Some(svc.image_ref().to_string()),
        cmd: svc.command.as_ref().map(|c| c.to_words()).transpose()?,
        entrypoint: svc.entrypoint.as_ref().map(|c| c.to_words()).transpose()?,
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: svc.user.as_ref().map(|u| u.render()),
        working_dir: svc.working_dir.clone(),
        exposed_ports: if exposed.is_empty() {
            None
        } else {
            Some(exposed)
        },
        healthcheck: svc.healthcheck.as_ref().map(health_config).transpose()?,
        stop_timeout,
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
        ..Default::default()
    };
    // The hash covers everything that defines the container, plus the image ID, but not the
    // labels that carry the hash itself.
    let hash_input = serde_json::json!({
        "body": &body,
        "extra_networks": &extra_networks,
        "image_id": image_id,
        "labels": svc.labels.as_ref().map(|l| l.resolve(&compose.variables)),
    });
    let config_hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&hash_input).unwrap_or_default(),
    ));

    let mut all_labels: HashMap<String, String> = svc
        .labels
        .as_ref()
        .map(|l| l.resolve(&compose.variables).into_iter().collect())
        .unwrap_or_default();
    all_labels.extend(labels::container_labels(
        project,
        service,
        &config_hash,
        compose,
    ));
    body.labels = Some(all_labels);
    Ok(ContainerPlan {
        service: service.to_string(),
        name: format!("{project}-{service}-1"),
        body,
        extra_networks,
        config_hash,
    })
}

/// Resolves a bind-mount source: `~` is $HOME, relative paths are relative to `base`.
pub fn resolve_host_path(base: &Path, p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        return PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(rest);
    }
    let path = base.join(p);
    // Normalise `./` and `../` without touching the filesystem.
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = parse_port("127.0.0.1:8080:80").unwrap();
        assert_eq!(
            (
                p.host_ip.as_str(),
                p.host_port.as_str(),
                p.container_port.as_str()
            ),
            ("127.0.0.1", "8080", "80/tcp")
        );
        assert_eq!(parse_port("127.0.0.1:0:80").unwrap().host_port, "");
        assert_eq!(parse_port("53/udp").unwrap().container_port, "53/udp");
        assert!(parse_port("x:80").is_err());
        assert!(parse_port("1.2.3:80:80").is_err());
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("10").unwrap(), 10_000_000_000);
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("10x").is_err());
        assert_eq!(parse_size("512m").unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_size("1G").unwrap(), 1024 * 1024 * 1024);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn hardening_reaches_the_create_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-compose.yml");
        std::fs::write(
            &path,
            "services:\n  a:\n    image: a\n    read_only: true\n    user: \"1000:1000\"\n    mem_limit: 64m\n    cpus: 0.5\n    pids_limit: 32\n    tmpfs: [\"/run/x:size=1m,mode=0700,uid=1000\"]\n    logging: {driver: json-file, options: {max-size: 1m, max-file: 2}}\n",
        )
        .unwrap();
        let compose = super::super::compose::load(&path, None).unwrap();
        let plan = plan_service(&compose, "p", "a", "sha256:0").unwrap();
        assert_eq!(plan.body.user.as_deref(), Some("1000:1000"));
        let host = plan.body.host_config.unwrap();
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.pids_limit, Some(32));
        assert_eq!(host.memory, Some(64 * 1024 * 1024));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.tmpfs.unwrap()["/run/x"], "size=1m,mode=0700,uid=1000");
        let log = host.log_config.unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        assert_eq!(log.config.unwrap()["max-file"], "2");
        assert_eq!(
            parse_tmpfs("/tmp").unwrap(),
            ("/tmp".to_string(), String::new())
        );
        assert!(parse_tmpfs("/tmp:uid=www-data").is_err());
    }

    #[test]
    fn volumes() {
        let v = parse_volume("server-data:/app/data").unwrap();
        assert_eq!(v.source, MountSource::Named("server-data".into()));
        let v =
            parse_volume("../monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro").unwrap();
        assert!(v.read_only);
        assert!(matches!(v.source, MountSource::Host(_)));
        assert!(parse_volume("/data").is_err());
        assert!(parse_volume("a:b").is_err());
    }
}
