//! Typed model of the compose-file subset mmkt uses (Compose Specification keys: image, build,
//! command, entrypoint, environment, env_file, volumes, networks, ports, depends_on, healthcheck,
//! restart, user, deploy.resources.limits, mem_limit, cpus, pids_limit, profiles, labels,
//! sysctls, cap_drop, security_opt, read_only, tmpfs, stop_grace_period, working_dir, init,
//! logging)
//! and its loader: YAML -> interpolation -> typed structs. Any other key is refused (exit 2)
//! rather than silently ignored; `x-` extension keys are allowed.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::StackError;
use super::interpolate::Variables;

mod load;
mod words;

pub use load::{LoadedCompose, load, load_with_secrets, load_with_variables};
pub use words::split_words;

/// A whole compose file after interpolation.
#[derive(Debug, Clone, Deserialize)]
pub struct ComposeFile {
    /// Obsolete `version:` key, accepted and ignored (compose 1.29 still reads it).
    #[serde(default)]
    pub version: Option<String>,
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// Networks by name (`null` body = defaults).
    #[serde(default)]
    pub networks: BTreeMap<String, Option<NetworkDef>>,
    /// Named volumes by name (`null` body = defaults).
    #[serde(default)]
    pub volumes: BTreeMap<String, Option<VolumeDef>>,
    /// `x-` extension keys and anything unknown (validated by [`ComposeFile::check_keys`]).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_norway::Value>,
}

/// A string or a list of strings (`command`, `entrypoint`, `env_file`, healthcheck `test`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    /// Shell-like string form, split into words (quotes honoured).
    String(String),
    /// Exec form.
    List(Vec<String>),
}

impl StringOrList {
    /// The words, splitting the string form like a POSIX shell would (quotes, backslashes; no expansion).
    pub fn to_words(&self) -> Result<Vec<String>, StackError> {
        match self {
            StringOrList::List(items) => Ok(items.clone()),
            StringOrList::String(s) => split_words(s),
        }
    }
}

/// A scalar YAML value used where compose accepts strings, numbers or booleans.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    String(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean (rendered "true"/"false").
    Bool(bool),
}

impl Scalar {
    /// The value as compose renders it into the container.
    pub fn render(&self) -> String {
        match self {
            Scalar::String(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// `environment` / `labels`: a `KEY=VALUE` list or a mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ListOrMap {
    /// `- KEY=VALUE` (a bare `KEY` means "take it from mmctl's environment").
    List(Vec<String>),
    /// `KEY: VALUE` (a null value means "take it from mmctl's environment").
    Map(BTreeMap<String, Option<Scalar>>),
}

impl ListOrMap {
    /// Resolves to ordered `(key, value)` pairs; keys without a value are looked up in `vars`
    /// and dropped when unset (compose behaviour).
    pub fn resolve(&self, vars: &Variables) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match self {
            ListOrMap::List(items) => {
                for item in items {
                    match item.split_once('=') {
                        Some((k, v)) => {
                            out.insert(k.to_string(), v.to_string());
                        }
                        None => {
                            if let Some(v) = vars.get(item) {
                                out.insert(item.clone(), v.to_string());
                            }
                        }
                    }
                }
            }
            ListOrMap::Map(map) => {
                for (k, v) in map {
                    match v {
                        Some(v) => {
                            out.insert(k.clone(), v.render());
                        }
                        None => {
                            if let Some(v) = vars.get(k) {
                                out.insert(k.clone(), v.to_string());
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// One service.
#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    /// Image reference; required by mmctl (it is also the tag `mmctl image build` produces).
    pub image: Option<String>,
    /// How to build the image offline (`mmctl image build`).
    pub build: Option<Build>,
    /// Overrides the image's CMD.
    pub command: Option<StringOrList>,
    /// Overrides the image's ENTRYPOINT.
    pub entrypoint: Option<StringOrList>,
    /// Container environment.
    pub environment: Option<ListOrMap>,
    /// Env files (relative to the compose file) whose `KEY=VALUE` lines go into the container.
    pub env_file: Option<StringOrList>,
    /// Short-syntax mounts: `NAMED_VOLUME:/path[:ro]` or `./host/path:/path[:ro]`.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Networks the service joins (list, or map with optional `aliases`).
    pub networks: Option<ServiceNetworks>,
    /// Published ports: `[IP:][HOST:]CONTAINER[/PROTO]`.
    #[serde(default)]
    pub ports: Vec<Scalar>,
    /// Start-order dependencies.
    pub depends_on: Option<DependsOn>,
    /// Container healthcheck.
    pub healthcheck: Option<Healthcheck>,
    /// `no`, `always`, `on-failure[:N]`, `unless-stopped`.
    pub restart: Option<String>,
    /// `uid[:gid]` or a name known in the image.
    pub user: Option<Scalar>,
    /// Only `deploy.resources.limits` is used.
    pub deploy: Option<Deploy>,
    /// Memory limit, e.g. `512m`, `1g` (bytes when a number).
    pub mem_limit: Option<Scalar>,
    /// CPU limit in cores, e.g. `0.5`.
    pub cpus: Option<Scalar>,
    /// Maximum number of processes (`HostConfig.PidsLimit`).
    pub pids_limit: Option<i64>,
    /// Profiles that enable this service; none = always enabled.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Extra container labels.
    pub labels: Option<ListOrMap>,
    /// Namespaced kernel parameters, e.g. `net.ipv4.ip_unprivileged_port_start: 0`.
    pub sysctls: Option<ListOrMap>,
    /// Capabilities to drop, e.g. `[ALL]`.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// Capabilities to add.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// e.g. `no-new-privileges:true`.
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// Read-only root filesystem (Engine API `HostConfig.ReadonlyRootfs`); writable paths then
    /// come from volumes and `tmpfs`.
    pub read_only: Option<bool>,
    /// tmpfs mounts: `/path[:options]` (`HostConfig.Tmpfs`; see [`super::spec::parse_tmpfs`]).
    pub tmpfs: Option<StringOrList>,
    /// Time to wait after SIGTERM before SIGKILL, e.g. `30s`.
    pub stop_grace_period: Option<String>,
    /// Working directory inside the container.
    pub working_dir: Option<String>,
    /// Run an init process (tini) as PID 1.
    pub init: Option<bool>,
    /// Log driver and rotation (`HostConfig.LogConfig`; see [`super::logging`]).
    pub logging: Option<super::logging::Logging>,
    /// `x-` extension keys and anything unknown.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_norway::Value>,
}

/// `build:` as a context path or a mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Build {
    /// `build: ./dir`.
    Context(String),
    /// `build: {context, dockerfile, args}`.
    Full {
        /// Context directory, relative to the compose file.
        context: String,
        /// Dockerfile path inside the context (default `Dockerfile`).
        dockerfile: Option<String>,
        /// Build arguments.
        args: Option<ListOrMap>,
    },
}

/// `networks:` on a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ServiceNetworks {
    /// `- name`.
    List(Vec<String>),
    /// `name: {aliases: [...]}` or `name: null`.
    Map(BTreeMap<String, Option<ServiceNetworkAttach>>),
}

/// Per-network options of a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetworkAttach {
    /// Extra DNS names on that network (the service name is always one).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// `depends_on:` as a list (= service_started) or a map with conditions.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DependsOn {
    /// `- other`.
    List(Vec<String>),
    /// `other: {condition: service_healthy}`.
    Map(BTreeMap<String, DependsOnCondition>),
}

/// One conditional dependency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependsOnCondition {
    /// `service_started` (default), `service_healthy`, or `service_completed_successfully`.
    #[serde(default = "default_condition")]
    pub condition: String,
}

fn default_condition() -> String {
    "service_started".to_string()
}

/// `healthcheck:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]`, or a string (= CMD-SHELL).
    pub test: Option<StringOrList>,
    /// Duration between checks, e.g. `15s`.
    pub interval: Option<String>,
    /// Duration before a check is considered failed.
    pub timeout: Option<String>,
    /// Consecutive failures before `unhealthy`.
    pub retries: Option<i64>,
    /// Grace period during which failures do not count.
    pub start_period: Option<String>,
    /// `true` disables the image's healthcheck.
    pub disable: Option<bool>,
}

/// `deploy:` (only resource limits are honoured outside swarm).
#[derive(Debug, Clone, Deserialize)]
pub struct Deploy {
    /// Resources.
    pub resources: Option<Resources>,
    /// Other deploy keys (swarm only); refused by validation unless `x-`.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_norway::Value>,
}

/// `deploy.resources`.
#[derive(Debug, Clone, Deserialize)]
pub struct Resources {
    /// Hard limits.
    pub limits: Option<Limits>,
    /// Reservations (accepted, informational: cgroup v1 soft limits are not applied).
    pub reservations: Option<Limits>,
}

/// `deploy.resources.limits`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU cores, e.g. `"0.50"`.
    pub cpus: Option<Scalar>,
    /// Memory, e.g. `512M`.
    pub memory: Option<Scalar>,
    /// Maximum number of processes.
    pub pids: Option<i64>,
}

/// A top-level network.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDef {
    /// Network driver (default `bridge`).
    pub driver: Option<String>,
    /// No route to the outside world (Docker's `--internal`).
    #[serde(default)]
    pub internal: bool,
    /// Extra labels.
    pub labels: Option<ListOrMap>,
}

/// A top-level named volume.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {
    /// Volume driver (default `local`).
    pub driver: Option<String>,
    /// Extra labels.
    pub labels: Option<ListOrMap>,
}

impl ComposeFile {
    /// Refuses keys mmctl does not implement (instead of ignoring them); `x-*` keys are allowed.
    ///
    /// # Errors
    /// [`StackError::Invalid`] naming the key and where it is.
    pub fn check_keys(&self) -> Result<(), StackError> {
        let bad = |where_: &str,
                   extra: &BTreeMap<String, serde_norway::Value>|
         -> Result<(), StackError> {
            if let Some(k) = extra
                .keys()
                .find(|k| !k.starts_with("x-") && k.as_str() != "name")
            {
                return Err(StackError::Invalid(format!(
                    "unsupported compose key `{k}` in {where_} (mmctl implements the subset documented in docs/MMCTL.md)"
                )));
            }
            Ok(())
        };
        bad("the top level", &self.extra)?;
        for (name, svc) in &self.services {
            bad(&format!("service {name}"), &svc.extra)?;
            if let Some(deploy) = &svc.deploy {
                bad(&format!("service {name} deploy"), &deploy.extra)?;
            }
        }
        Ok(())
    }

    /// Cross-checks references: every service has an image, dependencies exist and have no
    /// cycle, named volumes and networks are declared, healthy-conditions have a healthcheck,
    /// ports/durations/sizes parse.
    ///
    /// # Errors
    /// [`StackError::Invalid`] describing the first problem found.
    pub fn validate(&self) -> Result<(), StackError> {
        if self.services.is_empty() {
            return Err(StackError::Invalid(
                "the compose file defines no services".into(),
            ));
        }
        for (name, svc) in &self.services {
            if svc.image.as_deref().unwrap_or("").is_empty() {
                return Err(StackError::Invalid(format!(
                    "service {name} has no `image:` (mmctl needs it: it is also the tag `mmctl image build` produces)"
                )));
            }
            for dep in svc.dependencies().keys() {
                if !self.services.contains_key(dep) {
                    return Err(StackError::Invalid(format!(
                        "service {name} depends on unknown service {dep}"
                    )));
                }
            }
            for (dep, cond) in svc.dependencies() {
                if ![
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully",
                ]
                .contains(&cond.as_str())
                {
                    return Err(StackError::Invalid(format!(
                        "service {name}: unknown depends_on condition {cond:?} for {dep}"
                    )));
                }
            }
            for net in svc.network_names() {
                if !self.networks.contains_key(&net) {
                    return Err(StackError::Invalid(format!(
                        "service {name} uses network {net}, which is not declared under top-level `networks:`"
                    )));
                }
            }
            for spec in &svc.volumes {
                let mount = super::spec::parse_volume(spec)
                    .map_err(|m| StackError::Invalid(format!("service {name}: {m}")))?;
                if let super::spec::MountSource::Named(vol) = &mount.source
                    && !self.volumes.contains_key(vol)
                {
                    return Err(StackError::Invalid(format!(
                        "service {name} mounts volume {vol}, which is not declared under top-level `volumes:`"
                    )));
                }
            }
            for port in &svc.ports {
                super::spec::parse_port(&port.render())
                    .map_err(|m| StackError::Invalid(format!("service {name}: {m}")))?;
            }
            for entry in svc
                .tmpfs
                .as_ref()
                .map(StringOrList::to_words)
                .transpose()?
                .into_iter()
                .flatten()
            {
                super::spec::parse_tmpfs(&entry)
                    .map_err(|m| StackError::Invalid(format!("service {name}: {m}")))?;
            }
            if let Some(hc) = &svc.healthcheck {
                for d in [&hc.interval, &hc.timeout, &hc.start_period]
                    .into_iter()
                    .flatten()
                {
                    super::spec::parse_duration(d).map_err(|m| {
                        StackError::Invalid(format!("service {name} healthcheck: {m}"))
                    })?;
                }
            }
            if let Some(d) = &svc.stop_grace_period {
                super::spec::parse_duration(d).map_err(|m| {
                    StackError::Invalid(format!("service {name} stop_grace_period: {m}"))
                })?;
            }
            super::spec::resource_limits(svc)
                .map_err(|m| StackError::Invalid(format!("service {name}: {m}")))?;
            if let Some(restart) = &svc.restart {
                super::spec::parse_restart(restart)
                    .map_err(|m| StackError::Invalid(format!("service {name}: {m}")))?;
            }
            if let Some(logging) = &svc.logging {
                logging
                    .log_config()
                    .map_err(|m| StackError::Invalid(format!("service {name}: {m}")))?;
            }
        }
        // Cycle check over the whole graph.
        let all: Vec<String> = self.services.keys().cloned().collect();
        self.start_order(&all)?;
        Ok(())
    }

    /// Services enabled by `profiles`: those without profiles plus those listing one of them.
    pub fn enabled_services(&self, profiles: &[String]) -> Vec<String> {
        self.services
            .iter()
            .filter(|(_, s)| {
                s.profiles.is_empty() || s.profiles.iter().any(|p| profiles.contains(p))
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Orders `selected` so that every service comes after its dependencies.
    ///
    /// # Errors
    /// [`StackError::Invalid`] on a dependency cycle, or when a selected service depends on one
    /// that is not selected (e.g. disabled by profiles).
    pub fn start_order(&self, selected: &[String]) -> Result<Vec<String>, StackError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit(
            file: &ComposeFile,
            name: &str,
            selected: &[String],
            marks: &mut BTreeMap<String, Mark>,
            out: &mut Vec<String>,
            path: &mut Vec<String>,
        ) -> Result<(), StackError> {
            match marks.get(name) {
                Some(Mark::Done) => return Ok(()),
                Some(Mark::Visiting) => {
                    path.push(name.to_string());
                    return Err(StackError::Invalid(format!(
                        "dependency cycle: {}",
                        path.join(" -> ")
                    )));
                }
                None => {}
            }
            marks.insert(name.to_string(), Mark::Visiting);
            path.push(name.to_string());
            let svc = &file.services[name];
            for dep in svc.dependencies().keys() {
                if !selected.iter().any(|s| s == dep) {
                    return Err(StackError::Invalid(format!(
                        "service {name} depends on {dep}, which is not enabled (check --profile)"
                    )));
                }
                visit(file, dep, selected, marks, out, path)?;
            }
            path.pop();
            marks.insert(name.to_string(), Mark::Done);
            out.push(name.to_string());
            Ok(())
        }
        let mut marks = BTreeMap::new();
        let mut out = Vec::new();
        for name in selected {
            if !self.services.contains_key(name) {
                return Err(StackError::Invalid(format!("unknown service {name}")));
            }
            visit(self, name, selected, &mut marks, &mut out, &mut Vec::new())?;
        }
        Ok(out)
    }

    /// The service definition, or [`StackError::Invalid`] listing the known names.
    pub fn service(&self, name: &str) -> Result<&Service, StackError> {
        self.services.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.services.keys().map(String::as_str).collect();
            StackError::Invalid(format!(
                "unknown service {name}; the compose file defines: {}",
                known.join(", ")
            ))
        })
    }
}

impl Service {
    /// Dependencies with their condition (`service_started` for the list form).
    pub fn dependencies(&self) -> BTreeMap<String, String> {
        match &self.depends_on {
            None => BTreeMap::new(),
            Some(DependsOn::List(items)) => items
                .iter()
                .map(|d| (d.clone(), default_condition()))
                .collect(),
            Some(DependsOn::Map(map)) => map
                .iter()
                .map(|(d, c)| (d.clone(), c.condition.clone()))
                .collect(),
        }
    }

    /// Network names in declaration order (`default` when none is given).
    pub fn network_names(&self) -> Vec<String> {
        match &self.networks {
            None => vec!["default".to_string()],
            Some(ServiceNetworks::List(items)) => items.clone(),
            Some(ServiceNetworks::Map(map)) => map.keys().cloned().collect(),
        }
    }

    /// Extra aliases on one network.
    pub fn aliases(&self, network: &str) -> Vec<String> {
        match &self.networks {
            Some(ServiceNetworks::Map(map)) => map
                .get(network)
                .and_then(|a| a.as_ref())
                .map(|a| a.aliases.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The image reference (validated to be present by [`ComposeFile::validate`]).
    pub fn image_ref(&self) -> &str {
        self.image.as_deref().unwrap_or("")
    }

    /// An `x-` extension value deserialized into `T`, if present.
    ///
    /// # Errors
    /// [`StackError::Invalid`] when the value has the wrong shape.
    pub fn extension<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StackError> {
        match self.extra.get(key) {
            None => Ok(None),
            Some(v) => serde_norway::from_value(v.clone())
                .map(Some)
                .map_err(|e| StackError::Invalid(format!("{key}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests;
