//! A service's `logging:` (Compose Specification: `driver` and `options`) checked and turned
//! into the Engine API's `HostConfig.LogConfig` (`POST /containers/create`), so every
//! container's log is rotated by the engine instead of growing without bound.
//!
//! Supported drivers: `json-file` (what `mmctl logs`, `docker logs` and promtail read, under
//! `/var/lib/docker/containers/<id>/<id>-json.log`) and `local`. Their options: `max-size` (a
//! positive whole number with an optional `k`, `m` or `g` suffix: 1000-based units, as Docker
//! reads it), `max-file` (a whole number, 1 or more), `compress` (`true`/`false`), and for
//! `json-file` also `labels`/`env` (comma-separated container label or variable names whose
//! values Docker adds to each line's `attrs`), `labels-regex`, `env-regex`.

use std::collections::{BTreeMap, HashMap};

use bollard::models::HostConfigLogConfig;
use serde::Deserialize;

use super::compose::Scalar;

/// `logging:` on a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// The log driver (`json-file` or `local`); the engine's default when absent.
    pub driver: Option<String>,
    /// Driver options, e.g. `max-size: 10m`, `max-file: 5`.
    #[serde(default)]
    pub options: BTreeMap<String, Scalar>,
}

/// The drivers mmctl accepts, with the options each takes.
const DRIVERS: &[(&str, &[&str])] = &[
    (
        "json-file",
        &[
            "max-size",
            "max-file",
            "compress",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
        ],
    ),
    ("local", &["max-size", "max-file", "compress"]),
];

impl Logging {
    /// Checks the driver and its options and returns the Engine API's `HostConfig.LogConfig`
    /// (`Type` and `Config`, every option value as a string).
    ///
    /// # Errors
    /// A message naming the unknown driver, the unknown option or the malformed value (for
    /// example `max-size: 10x`, `max-file: 0`, or `max-file` without `max-size`).
    pub fn log_config(&self) -> Result<HostConfigLogConfig, String> {
        let driver = self.driver.as_deref().unwrap_or("json-file");
        let Some((_, known)) = DRIVERS.iter().find(|(name, _)| *name == driver) else {
            let names: Vec<&str> = DRIVERS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "logging driver {driver:?} is not supported (use {})",
                names.join(" or ")
            ));
        };
        let mut config = HashMap::new();
        for (key, value) in &self.options {
            let value = value.render();
            if !known.contains(&key.as_str()) {
                return Err(format!(
                    "logging option {key:?} is not an option of the {driver} driver (known: {})",
                    known.join(", ")
                ));
            }
            check_option(key, &value)?;
            config.insert(key.clone(), value);
        }
        if config.contains_key("max-file") && !config.contains_key("max-size") {
            return Err(
                "logging option max-file needs max-size (files rotate when one reaches max-size)"
                    .into(),
            );
        }
        Ok(HostConfigLogConfig {
            typ: Some(driver.to_string()),
            config: Some(config),
        })
    }
}

fn check_option(key: &str, value: &str) -> Result<(), String> {
    let valid = match key {
        "max-size" => parse_max_size(value).is_some(),
        "max-file" => value.parse::<u32>().is_ok_and(|n| n >= 1),
        "compress" => value == "true" || value == "false",
        _ => !value.is_empty(),
    };
    if valid {
        return Ok(());
    }
    let expected = match key {
        "max-size" => "a size such as 10m, 500k or 1g",
        "max-file" => "a whole number, 1 or more",
        "compress" => "true or false",
        _ => "a non-empty value",
    };
    Err(format!(
        "logging option {key}: {value:?} is malformed (expected {expected})"
    ))
}

/// `max-size` in bytes (Docker's 1000-based units: `10m` is 10 000 000 bytes), `None` when
/// malformed or not positive.
pub fn parse_max_size(value: &str) -> Option<u64> {
    let lower = value.trim().to_ascii_lowercase();
    let (digits, factor) = match lower.chars().last()? {
        'k' => (&lower[..lower.len() - 1], 1_000u64),
        'm' => (&lower[..lower.len() - 1], 1_000_000),
        'g' => (&lower[..lower.len() - 1], 1_000_000_000),
        _ => (lower.as_str(), 1),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let bytes = digits.parse::<u64>().ok()?.checked_mul(factor)?;
    (bytes > 0).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logging(yaml: &str) -> Logging {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn json_file_with_rotation_becomes_the_log_config() {
        let config = logging("driver: json-file\noptions: {max-size: 10m, max-file: 5, labels: com.docker.compose.service}\n")
            .log_config()
            .unwrap();
        assert_eq!(config.typ.as_deref(), Some("json-file"));
        let options = config.config.unwrap();
        assert_eq!(options["max-size"], "10m");
        assert_eq!(options["max-file"], "5");
        assert_eq!(options["labels"], "com.docker.compose.service");
        assert_eq!(parse_max_size("10m"), Some(10_000_000));
        assert_eq!(parse_max_size("2G"), Some(2_000_000_000));
        assert_eq!(parse_max_size("4096"), Some(4096));
    }

    #[test]
    fn bad_drivers_options_and_sizes_are_refused_by_name() {
        for (yaml, message) in [
            (
                "driver: syslog",
                "logging driver \"syslog\" is not supported",
            ),
            (
                "driver: json-file\noptions: {max-size: 10x}",
                "max-size: \"10x\" is malformed",
            ),
            (
                "driver: json-file\noptions: {max-size: -1}",
                "max-size: \"-1\" is malformed",
            ),
            (
                "driver: json-file\noptions: {max-size: 0m}",
                "max-size: \"0m\" is malformed",
            ),
            (
                "driver: json-file\noptions: {max-size: m}",
                "max-size: \"m\" is malformed",
            ),
            (
                "driver: json-file\noptions: {max-size: 1m, max-file: 0}",
                "max-file: \"0\" is malformed",
            ),
            (
                "driver: json-file\noptions: {max-file: 3}",
                "max-file needs max-size",
            ),
            (
                "driver: local\noptions: {labels: a}",
                "\"labels\" is not an option of the local driver",
            ),
            (
                "driver: json-file\noptions: {compress: maybe}",
                "compress: \"maybe\" is malformed",
            ),
        ] {
            let err = logging(yaml).log_config().unwrap_err();
            assert!(err.contains(message), "{yaml}: {err}");
        }
        assert!(serde_norway::from_str::<Logging>("driver: json-file\nopts: {}\n").is_err());
    }
}
