//! The per-environment TLS settings, read from the project's variables (deploy/env/<env>.env,
//! overridden by the process environment): `MMKT_TLS_SERVER_NAME`, `MMKT_TLS_RENEW_DAYS`,
//! `MMKT_TLS_EMAIL`.

use crate::error::StackError;
use crate::interpolate::Variables;

/// Server name when none is set: what development serves.
pub const DEFAULT_SERVER_NAME: &str = "localhost";

/// Days before expiry from which `mmctl tls renew` renews.
pub const DEFAULT_RENEW_DAYS: i64 = 30;

/// The TLS settings of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `MMKT_TLS_SERVER_NAME`: the DNS name of the certificate (bootstrap and certbot `-d`).
    pub server_name: String,
    /// `MMKT_TLS_RENEW_DAYS`: renew when fewer whole days than this are left (1-365).
    pub renew_days: i64,
    /// `MMKT_TLS_EMAIL`: the ACME account's contact; empty registers without one.
    pub email: Option<String>,
}

impl TlsSettings {
    /// Reads the settings; an empty or unset variable takes its default.
    ///
    /// # Errors
    /// [`StackError::Invalid`] for a renewal window that is not a whole number of days in
    /// 1-365, or a server name that is not a DNS name.
    pub fn from_variables(vars: &Variables) -> Result<Self, StackError> {
        let get = |name: &str| vars.get(name).map(str::trim).filter(|v| !v.is_empty());
        let server_name = get("MMKT_TLS_SERVER_NAME").unwrap_or(DEFAULT_SERVER_NAME);
        if !is_dns_name(server_name) {
            return Err(StackError::Invalid(format!(
                "MMKT_TLS_SERVER_NAME={server_name:?} is not a DNS name: use letters, digits, - and ., e.g. market.example"
            )));
        }
        let renew_days = match get("MMKT_TLS_RENEW_DAYS") {
            None => DEFAULT_RENEW_DAYS,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|d| (1..=365).contains(d))
                .ok_or_else(|| {
                    StackError::Invalid(format!(
                        "MMKT_TLS_RENEW_DAYS={v:?} is not a whole number of days in 1-365 (default {DEFAULT_RENEW_DAYS})"
                    ))
                })?,
        };
        Ok(TlsSettings {
            server_name: server_name.to_string(),
            renew_days,
            email: get("MMKT_TLS_EMAIL").map(str::to_string),
        })
    }
}

fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        Variables::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn defaults_apply_and_bad_values_are_refused() {
        let d = TlsSettings::from_variables(&vars(&[("MMKT_TLS_RENEW_DAYS", "")])).unwrap();
        assert_eq!(
            (d.server_name.as_str(), d.renew_days, d.email),
            ("localhost", 30, None)
        );
        let set = TlsSettings::from_variables(&vars(&[
            ("MMKT_TLS_SERVER_NAME", "market.example"),
            ("MMKT_TLS_RENEW_DAYS", "21"),
            ("MMKT_TLS_EMAIL", "ops@market.example"),
        ]))
        .unwrap();
        assert_eq!(set.renew_days, 21);
        assert_eq!(set.email.as_deref(), Some("ops@market.example"));
        for bad in [
            ("MMKT_TLS_RENEW_DAYS", "0"),
            ("MMKT_TLS_RENEW_DAYS", "ten"),
            ("MMKT_TLS_SERVER_NAME", "a b"),
        ] {
            assert!(
                matches!(
                    TlsSettings::from_variables(&vars(&[bad])),
                    Err(StackError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }
}
