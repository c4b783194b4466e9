//! Alertmanager's configuration rendered from its template (`monitoring/alertmanager.tmpl.yml`)
//! and the receiver secrets, because Alertmanager 0.25 does not expand variables in its config.
//!
//! The template is an Alertmanager config whose integrations (`webhook_configs`,
//! `slack_configs`, `email_configs`, ... entries of each receiver) reference the secrets as
//! `${ALERTMANAGER_*}`; top-level `x-` keys hold YAML anchors and are left out of the result.
//! Rendering, by the project's `MMKT_ENV`:
//!
//! - **staging, production**: every referenced variable must be set and non-empty, else
//!   [`StackError::SecretsMissing`] names them all: no running stack has an empty receiver.
//! - **development**: an integration with an unset or empty variable is left out, and reported
//!   ([`Rendered::unset`]); a receiver left without integrations drops its alerts (Alertmanager's
//!   null receiver), which `mmctl up` says explicitly.
//!
//! Set values are checked by the variable's name ([`StackError::SecretMalformed`], naming the
//! variable, never its value): `*_URL` an `http(s)://host...` URL, `*_SMARTHOST` `host:port`,
//! `*_FROM`/`*_TO` e-mail addresses (`*_TO` may list several, comma-separated), any other no
//! control characters; outside development a loopback host is refused too (inside the
//! container it is Alertmanager itself: a placeholder, never a person). Values are put into
//! the parsed YAML tree and serialized, so no value can change the document's structure.
//!
//! [`deliver`] writes the result into the service's config volume at `up`.

pub mod deliver;

use std::collections::BTreeSet;

use serde_norway::Value;

use super::error::StackError;
use super::interpolate::{Variables, interpolate_value};

/// The environment in which unset receivers are allowed (left out of the rendered config).
const DEVELOPMENT: &str = "development";

/// What needs the receiver variables, for [`StackError::SecretsMissing`].
const NEEDED_BY: &str = "the Alertmanager receivers (service alertmanager)";

/// One integration kept in the rendered config: its receiver and kind (`webhook`, `slack`,
/// `email`: the `*_configs` key without `_configs`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Integration {
    /// The receiver's `name`, e.g. `ops-critical`.
    pub receiver: String,
    /// The integration kind, e.g. `webhook`.
    pub kind: String,
}

/// A rendered Alertmanager config. It holds secrets: its `Debug` shows only the integrations.
#[derive(Clone)]
pub struct Rendered {
    yaml: String,
    integrations: Vec<Integration>,
    unset: Vec<String>,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("yaml", &"<redacted: holds the receiver secrets>")
            .field("integrations", &self.integrations)
            .field("unset", &self.unset)
            .finish()
    }
}

impl Rendered {
    /// The config file's text (YAML, with the secrets in it).
    pub fn yaml(&self) -> &str {
        &self.yaml
    }

    /// The integrations it delivers to, in template order.
    pub fn integrations(&self) -> &[Integration] {
        &self.integrations
    }

    /// Development only: the variables that were unset or empty, whose integrations were left
    /// out (sorted). Empty outside development (those fail instead).
    pub fn unset(&self) -> &[String] {
        &self.unset
    }
}

/// Renders `template` (the text of an Alertmanager config template, see the module docs) with
/// `variables` for environment `environment` (`MMKT_ENV`).
///
/// # Errors
/// [`StackError::Invalid`] for a template that is not YAML or has no `receivers:` list;
/// [`StackError::SecretsMissing`] (outside development) listing every unset or empty variable
/// an integration references; [`StackError::SecretMalformed`] for a set value of the wrong
/// shape.
pub fn render(
    template: &str,
    variables: &Variables,
    environment: &str,
) -> Result<Rendered, StackError> {
    let invalid = |m: String| StackError::Invalid(format!("the Alertmanager template: {m}"));
    let mut doc: Value = serde_norway::from_str(template).map_err(|e| invalid(e.to_string()))?;
    // Anchors built on anchors leave merge keys behind: resolve until none is left.
    for _ in 0..8 {
        doc.apply_merge().map_err(|e| invalid(e.to_string()))?;
    }
    let Some(top) = doc.as_mapping_mut() else {
        return Err(invalid("the top level must be a mapping".into()));
    };
    top.retain(|key, _| !key.as_str().is_some_and(|k| k.starts_with("x-")));
    let strict = environment != DEVELOPMENT;
    let is_unset = |name: &String| variables.get(name).is_none_or(str::is_empty);
    let mut missing = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut integrations = Vec::new();
    let Some(receivers) = doc.get_mut("receivers").and_then(Value::as_sequence_mut) else {
        return Err(invalid("it has no `receivers:` list".into()));
    };
    for receiver in receivers {
        let name = receiver
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let Some(fields) = receiver.as_mapping_mut() else {
            continue;
        };
        for (key, entries) in fields.iter_mut() {
            let Some(kind) = key.as_str().and_then(|k| k.strip_suffix("_configs")) else {
                continue;
            };
            let Some(entries) = entries.as_sequence_mut() else {
                continue;
            };
            entries.retain(|entry| {
                let names = referenced(entry);
                let unset: Vec<String> = names.iter().filter(|n| is_unset(n)).cloned().collect();
                if unset.is_empty() {
                    used.extend(names);
                    integrations.push(Integration {
                        receiver: name.clone(),
                        kind: kind.to_owned(),
                    });
                }
                missing.extend(unset.iter().cloned());
                unset.is_empty()
            });
        }
        fields.retain(|_, v| !v.as_sequence().is_some_and(Vec::is_empty));
    }
    if strict && !missing.is_empty() {
        return Err(StackError::SecretsMissing {
            environment: environment.to_owned(),
            variables: missing.into_iter().collect(),
            needed_by: NEEDED_BY.to_owned(),
        });
    }
    for name in &used {
        check_value(name, variables.get(name).unwrap_or(""), strict)?;
    }
    let mut unresolved = Vec::new();
    interpolate_value(
        &mut doc,
        variables,
        "the Alertmanager template",
        &mut unresolved,
    )?;
    let body = serde_norway::to_string(&doc).map_err(|e| invalid(e.to_string()))?;
    let unset: Vec<String> = missing.into_iter().collect();
    let mut yaml = format!(
        "# Rendered by `mmctl up` from monitoring/alertmanager.tmpl.yml for MMKT_ENV={environment};\n\
         # holds the receiver secrets, and the next `mmctl up` overwrites any edit.\n"
    );
    if !unset.is_empty() {
        yaml.push_str(&format!(
            "# development: {} unset, so the integrations using them are left out; a receiver\n\
             # without integrations drops its alerts.\n",
            unset.join(", ")
        ));
    }
    yaml.push_str(&body);
    Ok(Rendered {
        yaml,
        integrations,
        unset,
    })
}

/// The variables `value` references without a default (`${NAME}`, `$NAME`), found by
/// interpolating a copy with no variable set; a malformed reference is reported by the final
/// interpolation of the whole document.
fn referenced(value: &Value) -> BTreeSet<String> {
    let mut names = Vec::new();
    let _ = interpolate_value(&mut value.clone(), &Variables::default(), "", &mut names);
    names.into_iter().collect()
}

/// Checks one set value by its variable's name (see the module docs).
fn check_value(name: &str, value: &str, strict: bool) -> Result<(), StackError> {
    let malformed = |reason: &str| StackError::SecretMalformed {
        variable: name.to_owned(),
        reason: reason.to_owned(),
    };
    if value.chars().any(char::is_control) {
        return Err(malformed("it contains a control character (a newline?)"));
    }
    let loopback = |host: &str| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
    };
    let placeholder = "a loopback address reaches the Alertmanager container itself, never a person: give the receiver's real address";
    if name.ends_with("_URL") {
        let Some(rest) = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
        else {
            return Err(malformed("expected an http:// or https:// URL"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host_port.split(':').next().unwrap_or(""),
        };
        if host.is_empty() || value.contains(char::is_whitespace) {
            return Err(malformed(
                "expected an http(s) URL with a host and no spaces",
            ));
        }
        if strict && loopback(host) {
            return Err(malformed(placeholder));
        }
        return Ok(());
    }
    if name.ends_with("_SMARTHOST") {
        let valid = value
            .rsplit_once(':')
            .filter(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        let Some((host, _)) = valid else {
            return Err(malformed(
                "expected HOST:PORT of the SMTP server, e.g. smtp.provider.example:587",
            ));
        };
        if strict && loopback(host) {
            return Err(malformed(placeholder));
        }
        return Ok(());
    }
    if name.ends_with("_FROM") || name.ends_with("_TO") {
        let address = |a: &str| {
            let a = a.trim();
            a.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty() && !domain.is_empty() && !a.contains(char::is_whitespace)
            })
        };
        let several = name.ends_with("_TO");
        let valid = if several {
            value.split(',').all(address)
        } else {
            address(value)
        };
        if !valid {
            return Err(malformed(if several {
                "expected one or more e-mail addresses, comma-separated"
            } else {
                "expected one e-mail address"
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "x-hooks:\n  page: &page\n    url: \"${ALERTMANAGER_WEBHOOK_URL}\"\n\
route:\n  receiver: ops\nreceivers:\n  - name: ops\n    webhook_configs: [*page]\n    email_configs:\n      - to: \"${ALERTMANAGER_SMTP_TO}\"\n        smarthost: \"${ALERTMANAGER_SMTP_SMARTHOST}\"\n        auth_password: \"${ALERTMANAGER_SMTP_PASSWORD}\"\n";

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        Variables::from_pairs(pairs)
    }

    const ALL: [(&str, &str); 4] = [
        (
            "ALERTMANAGER_WEBHOOK_URL",
            "https://hooks.example.net/mmkt?t=1",
        ),
        (
            "ALERTMANAGER_SMTP_TO",
            "ops@example.net, oncall@example.net",
        ),
        ("ALERTMANAGER_SMTP_SMARTHOST", "smtp.example.net:587"),
        ("ALERTMANAGER_SMTP_PASSWORD", "pa'ss\"word: {x}"),
    ];

    #[test]
    fn every_receiver_value_lands_in_the_parsed_config() {
        let rendered = render(TEMPLATE, &vars(&ALL), "production").unwrap();
        let doc: Value = serde_norway::from_str(rendered.yaml()).unwrap();
        assert!(doc.get("x-hooks").is_none(), "{}", rendered.yaml());
        let ops = &doc["receivers"][0];
        assert_eq!(
            ops["webhook_configs"][0]["url"].as_str(),
            Some("https://hooks.example.net/mmkt?t=1")
        );
        // Quotes and YAML syntax in a value stay inside its string.
        assert_eq!(
            ops["email_configs"][0]["auth_password"].as_str(),
            Some("pa'ss\"word: {x}")
        );
        assert_eq!(rendered.integrations().len(), 2);
        assert!(rendered.unset().is_empty());
        assert!(
            !format!("{rendered:?}").contains("pa'ss"),
            "Debug shows a secret"
        );
    }

    #[test]
    fn staging_and_production_refuse_any_empty_receiver_by_name_only() {
        for env in ["staging", "production"] {
            let mut pairs = ALL.to_vec();
            pairs[0].1 = "";
            pairs.remove(3);
            let err = render(TEMPLATE, &vars(&pairs), env).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StackError::SecretsMissing { .. }), "{text}");
            assert!(
                text.contains(&format!(
                    "{env}: ALERTMANAGER_SMTP_PASSWORD, ALERTMANAGER_WEBHOOK_URL empty or unset"
                )),
                "{text}"
            );
            assert!(!text.contains("smtp.example.net"), "a value in {text}");
        }
    }

    #[test]
    fn development_leaves_unset_integrations_out_and_says_so() {
        let only_hook = vars(&ALL[..1]);
        let rendered = render(TEMPLATE, &only_hook, "development").unwrap();
        assert_eq!(rendered.integrations()[0].kind, "webhook");
        assert_eq!(rendered.integrations().len(), 1);
        assert_eq!(
            rendered.unset(),
            [
                "ALERTMANAGER_SMTP_PASSWORD",
                "ALERTMANAGER_SMTP_SMARTHOST",
                "ALERTMANAGER_SMTP_TO"
            ]
        );
        let doc: Value = serde_norway::from_str(rendered.yaml()).unwrap();
        assert!(doc["receivers"][0].get("email_configs").is_none());
        let none = render(TEMPLATE, &vars(&[]), "development").unwrap();
        assert!(none.integrations().is_empty());
        let doc: Value = serde_norway::from_str(none.yaml()).unwrap();
        assert_eq!(
            doc["receivers"][0].as_mapping().unwrap().len(),
            1,
            "a null receiver"
        );
    }

    #[test]
    fn malformed_values_are_refused_without_showing_them() {
        for (name, value, env, reason) in [
            (
                "ALERTMANAGER_WEBHOOK_URL",
                "hooks.example.net/x",
                "production",
                "http:// or https://",
            ),
            (
                "ALERTMANAGER_WEBHOOK_URL",
                "https://:80/x",
                "production",
                "with a host",
            ),
            (
                "ALERTMANAGER_WEBHOOK_URL",
                "https://[::1]:80/x",
                "production",
                "loopback",
            ),
            (
                "ALERTMANAGER_WEBHOOK_URL",
                "http://127.0.0.1:5001/x",
                "staging",
                "loopback",
            ),
            (
                "ALERTMANAGER_WEBHOOK_URL",
                "http://localhost/x",
                "production",
                "loopback",
            ),
            (
                "ALERTMANAGER_SMTP_SMARTHOST",
                "smtp.example.net",
                "production",
                "HOST:PORT",
            ),
            (
                "ALERTMANAGER_SMTP_TO",
                "ops@example.net, nobody",
                "production",
                "e-mail addresses",
            ),
            (
                "ALERTMANAGER_SMTP_PASSWORD",
                "two\nlines",
                "development",
                "control character",
            ),
        ] {
            let mut pairs = ALL.to_vec();
            let slot = pairs.iter_mut().find(|(n, _)| *n == name).unwrap();
            slot.1 = value;
            let err = render(TEMPLATE, &vars(&pairs), env).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, StackError::SecretMalformed { .. }) && text.contains(reason),
                "{name}={value:?}: {text}"
            );
            assert!(text.starts_with(name) && !text.contains(value), "{text}");
        }
        let loopback_in_dev = [("ALERTMANAGER_WEBHOOK_URL", "http://127.0.0.1:5001/x")];
        assert!(render(TEMPLATE, &vars(&loopback_in_dev), "development").is_ok());
    }
}
