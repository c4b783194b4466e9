//! The per-environment firewall settings (`MMKT_FIREWALL_*` in `deploy/env/<env>.env`, the
//! process environment overriding them) and the compose file's published ports, made into a
//! [`Policy`].

use std::collections::BTreeSet;

use ipnet::IpNet;
use mmkt_stack::Project;

use crate::error::FirewallError;
use crate::policy::{ACME_PORT, Acme, DEFAULT_INTERNAL_PORTS, Interface, Policy, RateLimit};

/// Comma-separated TCP ports open to everyone (default `443`).
pub const PUBLIC_PORTS: &str = "MMKT_FIREWALL_PUBLIC_PORTS";
/// `on` opens port 80 for ACME HTTP-01 challenges, `off` keeps it closed (default `off`).
pub const ACME: &str = "MMKT_FIREWALL_ACME";
/// The port sshd listens on (default `22`).
pub const SSH_PORT: &str = "MMKT_FIREWALL_SSH_PORT";
/// New SSH connections allowed per source address (default `6/minute`).
pub const SSH_RATE: &str = "MMKT_FIREWALL_SSH_RATE";
/// Comma-separated CIDRs whose SSH connections skip the rate limit (default: none).
pub const ADMIN_CIDRS: &str = "MMKT_FIREWALL_ADMIN_CIDRS";
/// Comma-separated extra ports that must stay internal (default: none besides the built-in
/// list, [`DEFAULT_INTERNAL_PORTS`]).
pub const INTERNAL_PORTS: &str = "MMKT_FIREWALL_INTERNAL_PORTS";
/// The interface facing the internet, e.g. `eth0` (default: empty, every interface).
pub const EXTERNAL_IFACE: &str = "MMKT_FIREWALL_EXTERNAL_IFACE";

/// One port a compose service publishes on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// The compose service.
    pub service: String,
    /// The host port (what a client outside connects to, before Docker's DNAT).
    pub host_port: u16,
}

impl PublishedPort {
    /// `service` publishing each of `host_ports`.
    pub fn all(service: &str, host_ports: &[u16]) -> Vec<PublishedPort> {
        host_ports
            .iter()
            .map(|&host_port| PublishedPort {
                service: service.to_string(),
                host_port,
            })
            .collect()
    }
}

/// The host ports every service of `project` publishes (all profiles: a profile enabled later
/// must not open a port the firewall forgot). Ephemeral ports (no host port) are left out.
///
/// # Errors
/// [`FirewallError::InvalidSetting`] for a malformed `ports:` entry.
pub fn published_ports(project: &Project) -> Result<Vec<PublishedPort>, FirewallError> {
    let mut out = Vec::new();
    for (service, svc) in &project.compose.file.services {
        for port in &svc.ports {
            let text = port.render();
            let spec = mmkt_stack::spec::parse_port(&text).map_err(|reason| {
                FirewallError::invalid(&format!("services.{service}.ports"), &text, reason)
            })?;
            if let Ok(host_port) = spec.host_port.parse::<u16>() {
                out.push(PublishedPort {
                    service: service.clone(),
                    host_port,
                });
            }
        }
    }
    Ok(out)
}

/// The policy of `project`'s environment: its variables ([`PUBLIC_PORTS`] and the others of
/// this module) with their defaults, and its published ports.
///
/// # Errors
/// [`FirewallError::InvalidSetting`] for a malformed value or a contradiction.
pub fn policy_for(project: &Project) -> Result<Policy, FirewallError> {
    let vars = &project.compose.variables;
    policy_from(
        &|name| vars.get(name).map(str::to_string),
        &published_ports(project)?,
    )
}

/// The policy from the variables `lookup` returns (unset or empty: the default) and the
/// compose file's `published` ports.
///
/// # Errors
/// [`FirewallError::InvalidSetting`] for a malformed value or a contradiction.
pub fn policy_from(
    lookup: &dyn Fn(&str) -> Option<String>,
    published: &[PublishedPort],
) -> Result<Policy, FirewallError> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let acme = match get(ACME).as_deref() {
        None | Some("off") => Acme::Off,
        Some("on") => Acme::On,
        Some(other) => return Err(FirewallError::invalid(ACME, other, "expected on or off")),
    };
    let mut public_tcp = ports(
        PUBLIC_PORTS,
        &get(PUBLIC_PORTS).unwrap_or_else(|| "443".into()),
    )?;
    if acme == Acme::On {
        public_tcp.insert(ACME_PORT);
    }
    let ssh_port = match get(SSH_PORT) {
        None => 22,
        Some(text) => port(SSH_PORT, &text)?,
    };
    let ssh_rate = RateLimit::parse(
        SSH_RATE,
        &get(SSH_RATE).unwrap_or_else(|| "6/minute".into()),
    )?;
    let admin = cidrs(&get(ADMIN_CIDRS).unwrap_or_default())?;
    let mut internal: BTreeSet<u16> = DEFAULT_INTERNAL_PORTS.into_iter().collect();
    internal.extend(ports(
        INTERNAL_PORTS,
        &get(INTERNAL_PORTS).unwrap_or_default(),
    )?);
    internal.extend(
        published
            .iter()
            .map(|p| p.host_port)
            .filter(|p| !public_tcp.contains(p) && *p != ssh_port),
    );
    let external = get(EXTERNAL_IFACE)
        .map(|text| Interface::parse(EXTERNAL_IFACE, &text))
        .transpose()?;
    let policy = Policy {
        public_tcp,
        acme,
        ssh_port,
        ssh_rate,
        admin,
        internal,
        external,
    };
    policy.check()?;
    Ok(policy)
}

/// The policy from explicit `(variable, value)` pairs, e.g. a rehearsal's settings (as
/// [`policy_from`] with a lookup in `vars`).
///
/// # Errors
/// As [`policy_from`].
pub fn policy_from_pairs(
    vars: &[(&str, &str)],
    published: &[PublishedPort],
) -> Result<Policy, FirewallError> {
    policy_from(
        &|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        },
        published,
    )
}

/// One port number 1-65535.
fn port(name: &str, text: &str) -> Result<u16, FirewallError> {
    match text.trim().parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(FirewallError::invalid(
            name,
            text,
            format!("{:?} is not a port number 1-65535", text.trim()),
        )),
    }
}

/// A comma-separated list of ports (empty: none).
fn ports(name: &str, text: &str) -> Result<BTreeSet<u16>, FirewallError> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| port(name, p))
        .collect()
}

/// A comma-separated list of CIDRs (or single addresses), sorted, refused when a network has
/// host bits set or two overlap (nft refuses overlapping intervals).
fn cidrs(text: &str) -> Result<Vec<IpNet>, FirewallError> {
    let mut nets = Vec::new();
    for item in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let net: IpNet = match item.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => item
                .parse::<std::net::IpAddr>()
                .map(IpNet::from)
                .map_err(|_| {
                    FirewallError::invalid(
                        ADMIN_CIDRS,
                        item,
                        "not a CIDR (e.g. 198.51.100.0/24 or 2001:db8::/48) or an address",
                    )
                })?,
        };
        if net.trunc() != net {
            return Err(FirewallError::invalid(
                ADMIN_CIDRS,
                item,
                format!("host bits are set: did you mean {}?", net.trunc()),
            ));
        }
        nets.push(net);
    }
    nets.sort();
    if let Some(pair) = nets.windows(2).find(|w| w[0].contains(&w[1].network())) {
        return Err(FirewallError::invalid(
            ADMIN_CIDRS,
            text,
            format!("{} and {} overlap: keep the wider one", pair[0], pair[1]),
        ));
    }
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(vars: &[(&str, &str)], published: &[u16]) -> Result<Policy, FirewallError> {
        policy_from_pairs(vars, &PublishedPort::all("nginx", published))
    }

    #[test]
    fn defaults_open_443_and_ssh_and_keep_published_non_public_ports_internal() {
        let p = policy(&[], &[8080, 443, 3000, 9999]).unwrap();
        assert_eq!(p.public_tcp, BTreeSet::from([443]));
        assert_eq!(p.ssh_port, 22);
        assert_eq!(p.ssh_rate.to_string(), "6/minute");
        assert!(p.internal.contains(&9999) && p.internal.contains(&18081));
        assert!(!p.internal.contains(&443));
        assert_eq!(p.acme, Acme::Off);
        assert!(p.external.is_none() && p.admin.is_empty());
    }

    #[test]
    fn acme_opens_80_and_off_keeps_a_published_80_internal() {
        let on = policy(&[(ACME, "on")], &[80, 443]).unwrap();
        assert!(on.public_tcp.contains(&80) && !on.internal.contains(&80));
        let off = policy(&[(ACME, "off")], &[80, 443]).unwrap();
        assert!(!off.public_tcp.contains(&80) && off.internal.contains(&80));
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (name, value) in [
            (PUBLIC_PORTS, "443,70000"),
            (PUBLIC_PORTS, "0"),
            (PUBLIC_PORTS, "8080"),
            (SSH_PORT, "ssh"),
            (SSH_PORT, "9090"),
            (SSH_RATE, "6/fortnight"),
            (SSH_RATE, "0/minute"),
            (ADMIN_CIDRS, "10.0.0.0/33"),
            (ADMIN_CIDRS, "10.0.0.1/8"),
            (ADMIN_CIDRS, "10.0.0.0/8,10.1.0.0/16"),
            (ADMIN_CIDRS, "not-a-net"),
            (EXTERNAL_IFACE, "eth0; drop"),
            (EXTERNAL_IFACE, "averyveryverylongname"),
            (ACME, "maybe"),
        ] {
            let err = policy(&[(name, value)], &[]).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, FirewallError::InvalidSetting { .. }),
                "{name}={value}: {text}"
            );
            assert!(text.contains(name), "{name}={value}: {text}");
        }
    }

    #[test]
    fn admin_cidrs_are_sorted_and_single_addresses_accepted() {
        let p = policy(
            &[(ADMIN_CIDRS, "2001:db8::/32, 198.51.100.7, 10.0.0.0/8")],
            &[],
        )
        .unwrap();
        let shown: Vec<String> = p.admin.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "198.51.100.7/32", "2001:db8::/32"]);
    }
}
