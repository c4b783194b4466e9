//! The typed firewall policy: which ports the world may reach, SSH's rate limit, the admin
//! networks, the ports that stay internal, and the interface facing the internet.

use std::collections::BTreeSet;
use std::fmt;

use ipnet::IpNet;

use crate::error::FirewallError;

/// The ports of the stack and its monitoring that must never be reachable from outside, even
/// when published by mistake: the server and nginx's plain HTTP (8080), monerod's RPC
/// (18081 restricted, 18085 unrestricted, 18089 the usual public restricted port), the wallet
/// RPCs (18082-18084), Prometheus (9090),
/// Alertmanager (9093), node-exporter (9100), Grafana (3000), Loki (3100) and promtail (9080).
pub const DEFAULT_INTERNAL_PORTS: [u16; 13] = [
    3000, 3100, 8080, 9080, 9090, 9093, 9100, 18081, 18082, 18083, 18084, 18085, 18089,
];

/// The port ACME's HTTP-01 challenge (and the redirect to HTTPS) needs open: 80.
pub const ACME_PORT: u16 = 80;

/// Whether port 80 is open for ACME HTTP-01 challenges (`MMKT_FIREWALL_ACME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acme {
    /// Port 80 is open to everyone (certificates are issued or renewed on this host).
    On,
    /// Port 80 stays closed (it is then internal when the compose file publishes it).
    Off,
}

/// A rate of new connections per source address: `count` per `per`, with a burst of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many new connections (1-10000) per period.
    pub count: u32,
    /// The period.
    pub per: RatePeriod,
}

/// The period of a [`RateLimit`], as nft spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatePeriod {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
}

impl RateLimit {
    /// Parses `N/second`, `N/minute` or `N/hour` (N 1-10000).
    ///
    /// # Errors
    /// [`FirewallError::InvalidSetting`] naming `name`.
    pub fn parse(name: &str, text: &str) -> Result<RateLimit, FirewallError> {
        let bad = || {
            FirewallError::invalid(
                name,
                text,
                "expected N/second, N/minute or N/hour with N 1-10000, e.g. 6/minute",
            )
        };
        let (count, per) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match per.trim() {
            "second" => RatePeriod::Second,
            "minute" => RatePeriod::Minute,
            "hour" => RatePeriod::Hour,
            _ => return Err(bad()),
        };
        if !(1..=10_000).contains(&count) {
            return Err(bad());
        }
        Ok(RateLimit { count, per })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = match self.per {
            RatePeriod::Second => "second",
            RatePeriod::Minute => "minute",
            RatePeriod::Hour => "hour",
        };
        write!(f, "{}/{per}", self.count)
    }
}

/// A network interface name as the kernel allows it: 1-15 characters of letters, digits,
/// `-`, `_`, `.` and `@`-free (what `iifname` matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface(String);

impl Interface {
    /// Checks `text` as an interface name.
    ///
    /// # Errors
    /// [`FirewallError::InvalidSetting`] naming `name`.
    pub fn parse(name: &str, text: &str) -> Result<Interface, FirewallError> {
        let ok = !text.is_empty()
            && text.len() <= 15
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(FirewallError::invalid(
                name,
                text,
                "an interface name is 1-15 letters, digits, '-', '_' or '.', e.g. eth0 (see `ip link`)",
            ));
        }
        Ok(Interface(text.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The whole policy, validated: a [`crate::render`] input that always renders a ruleset nft
/// accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// TCP ports open to everyone on the host and, for Docker-published ports, by their host
    /// port (443 by default; 80 added with [`Acme::On`]).
    pub public_tcp: BTreeSet<u16>,
    /// Whether 80 is open for ACME.
    pub acme: Acme,
    /// The SSH port (22 by default).
    pub ssh_port: u16,
    /// New SSH connections allowed per source address, beyond which they are dropped.
    pub ssh_rate: RateLimit,
    /// Networks whose SSH connections skip the rate limit (`MMKT_FIREWALL_ADMIN_CIDRS`), sorted,
    /// without overlaps.
    pub admin: Vec<IpNet>,
    /// Ports dropped from outside on the host and for Docker-published ports (TCP and UDP):
    /// [`DEFAULT_INTERNAL_PORTS`], `MMKT_FIREWALL_INTERNAL_PORTS` and every host port the
    /// compose file publishes that is not public.
    pub internal: BTreeSet<u16>,
    /// The interface facing the internet; `None`: the forward rules apply to connections from
    /// any interface.
    pub external: Option<Interface>,
}

impl Policy {
    /// Checks that no port is both public and internal and that SSH is neither.
    ///
    /// # Errors
    /// [`FirewallError::InvalidSetting`] naming the setting to change.
    pub fn check(&self) -> Result<(), FirewallError> {
        if let Some(port) = self.public_tcp.intersection(&self.internal).next() {
            return Err(FirewallError::invalid(
                crate::settings::PUBLIC_PORTS,
                &port.to_string(),
                format!(
                    "port {port} is internal (a stack or monitoring port) and cannot be public: remove it, or unpublish it in the compose file"
                ),
            ));
        }
        if self.internal.contains(&self.ssh_port) || self.public_tcp.contains(&self.ssh_port) {
            return Err(FirewallError::invalid(
                crate::settings::SSH_PORT,
                &self.ssh_port.to_string(),
                "the SSH port must be neither public nor internal: pick the port sshd listens on",
            ));
        }
        Ok(())
    }
}
