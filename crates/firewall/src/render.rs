//! The policy rendered as an nftables script: our own `table inet mmkt`, written in the exact
//! form `nft -s list table inet mmkt` prints it back, so the loaded table can be compared
//! with the plan line by line.

use std::fmt::Write as _;

use ipnet::IpNet;

use crate::policy::Policy;
use crate::session::SshSession;

/// The family and name of our table.
pub const TABLE: &str = "inet mmkt";

/// Sets whose elements change at run time (the SSH rate meters) or per operator (the SSH
/// session kept reachable); their elements are left out when comparing.
pub const VOLATILE_SETS: [&str; 4] = ["session_v4", "session_v6", "ssh_meter_v4", "ssh_meter_v6"];

/// A rendered ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    listing: String,
}

impl Ruleset {
    /// Renders `policy`, keeping `session` reachable.
    pub fn render(policy: &Policy, session: Option<&SshSession>) -> Ruleset {
        Ruleset {
            listing: listing(policy, session),
        }
    }

    /// The table as `nft list table inet mmkt` prints it.
    pub fn listing(&self) -> &str {
        &self.listing
    }

    /// The script for `nft -f`: the table created if missing, deleted and written anew, in
    /// one transaction (nft applies a file atomically), touching no other table.
    pub fn script(&self) -> String {
        format!("table {TABLE}\ndelete table {TABLE}\n{}", self.listing)
    }
}

/// `elements = { .. }` of a set, or nothing for an empty one.
fn elements(out: &mut String, items: &[String]) {
    if !items.is_empty() {
        let _ = writeln!(out, "\t\telements = {{ {} }}", items.join(", "));
    }
}

/// One named set.
fn set(out: &mut String, name: &str, header: &[&str], items: &[String]) {
    let _ = writeln!(out, "\tset {name} {{");
    for line in header {
        let _ = writeln!(out, "\t\t{line}");
    }
    elements(out, items);
    out.push_str("\t}\n\n");
}

/// An address or network as nft prints it (a host route without its prefix length).
fn net(n: &IpNet) -> String {
    match n.prefix_len() == n.max_prefix_len() {
        true => n.addr().to_string(),
        false => n.to_string(),
    }
}

fn listing(policy: &Policy, session: Option<&SshSession>) -> String {
    let ports = |set: &std::collections::BTreeSet<u16>| -> Vec<String> {
        set.iter().map(u16::to_string).collect()
    };
    let admin = |v4: bool| -> Vec<String> {
        policy
            .admin
            .iter()
            .filter(|n| matches!(n, IpNet::V4(_)) == v4)
            .map(net)
            .collect()
    };
    let keep = |v4: bool| -> Vec<String> {
        session
            .filter(|s| s.client.is_ipv4() == v4)
            .map(|s| format!("{} . {}", s.client, s.server_port))
            .into_iter()
            .collect()
    };
    let mut out = format!("table {TABLE} {{\n");
    set(
        &mut out,
        "public_tcp",
        &["type inet_service"],
        &ports(&policy.public_tcp),
    );
    set(
        &mut out,
        "internal_ports",
        &["type inet_service"],
        &ports(&policy.internal),
    );
    set(
        &mut out,
        "admin_v4",
        &["type ipv4_addr", "flags interval"],
        &admin(true),
    );
    set(
        &mut out,
        "admin_v6",
        &["type ipv6_addr", "flags interval"],
        &admin(false),
    );
    set(
        &mut out,
        "session_v4",
        &["type ipv4_addr . inet_service"],
        &keep(true),
    );
    set(
        &mut out,
        "session_v6",
        &["type ipv6_addr . inet_service"],
        &keep(false),
    );
    let meter = ["size 65535", "flags dynamic,timeout", "timeout 1h"];
    set(
        &mut out,
        "ssh_meter_v4",
        &[&["type ipv4_addr"][..], &meter].concat(),
        &[],
    );
    set(
        &mut out,
        "ssh_meter_v6",
        &[&["type ipv6_addr"][..], &meter].concat(),
        &[],
    );
    let ssh = policy.ssh_port;
    let rate = policy.ssh_rate;
    let burst = rate.count;
    let input = [
        "type filter hook input priority filter - 10; policy drop;".to_string(),
        "ct state established,related accept".into(),
        "ct state invalid drop".into(),
        "iif \"lo\" accept".into(),
        "meta l4proto { tcp, udp } th dport @internal_ports drop".into(),
        "icmp type echo-request limit rate 10/second burst 20 packets accept".into(),
        "icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept".into(),
        "icmpv6 type echo-request limit rate 10/second burst 20 packets accept".into(),
        "ip saddr . tcp dport @session_v4 accept".into(),
        "ip6 saddr . tcp dport @session_v6 accept".into(),
        format!("ip saddr @admin_v4 tcp dport {ssh} accept"),
        format!("ip6 saddr @admin_v6 tcp dport {ssh} accept"),
        format!("tcp dport {ssh} ct state new add @ssh_meter_v4 {{ ip saddr limit rate over {rate} burst {burst} packets }} drop"),
        format!("tcp dport {ssh} ct state new add @ssh_meter_v6 {{ ip6 saddr limit rate over {rate} burst {burst} packets }} drop"),
        format!("tcp dport {ssh} accept"),
        "tcp dport @public_tcp accept".into(),
    ];
    chain(&mut out, "input", &input);
    out.push('\n');
    // Docker publishes ports by DNAT in its own nat table, so such connections are forwarded to
    // the container and never reach the input chain. This chain sees them first (priority
    // filter - 10, before Docker's iptables-nft FORWARD and DOCKER-USER at filter) and drops
    // those whose original destination port, before the DNAT, is not public. A drop here is
    // final whatever Docker's chains say; an accept is not, so Docker's own rules still apply.
    let from = match &policy.external {
        Some(iface) => format!("iifname \"{}\" ", iface.as_str()),
        None => String::new(),
    };
    let dnat = format!("{from}ct state new ct status dnat");
    let forward = [
        "type filter hook forward priority filter - 10; policy accept;".to_string(),
        format!("{dnat} meta l4proto {{ tcp, udp }} ct original proto-dst @internal_ports drop"),
        format!("{dnat} meta l4proto tcp ct original proto-dst != @public_tcp drop"),
        format!("{dnat} meta l4proto udp drop"),
    ];
    chain(&mut out, "forward", &forward);
    out.push_str("}\n");
    out
}

/// One chain with its lines.
fn chain(out: &mut String, name: &str, lines: &[String]) {
    let _ = writeln!(out, "\tchain {name} {{");
    for line in lines {
        let _ = writeln!(out, "\t\t{line}");
    }
    out.push_str("\t}\n");
}

/// `text` (a listing) in the form compared: every set's elements on one line, and the
/// elements of [`VOLATILE_SETS`] left out.
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut in_set: Option<String> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if let Some(name) = trimmed
            .strip_prefix("set ")
            .and_then(|r| r.strip_suffix(" {"))
        {
            in_set = Some(name.to_string());
        }
        if trimmed == "}" {
            in_set = None;
        }
        if !trimmed.starts_with("elements = {") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut joined = trimmed.to_string();
        while !joined.ends_with('}') {
            let Some(next) = lines.next() else { break };
            joined.push(' ');
            joined.push_str(next.trim());
        }
        if in_set
            .as_deref()
            .is_some_and(|s| VOLATILE_SETS.contains(&s))
        {
            continue;
        }
        let _ = writeln!(out, "\t\t{joined}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_joins_wrapped_elements_and_drops_volatile_ones() {
        let listed = "table inet mmkt {\n\tset internal_ports {\n\t\ttype inet_service\n\t\telements = { 3000, 8080,\n\t\t\t     9090 }\n\t}\n\n\tset ssh_meter_v4 {\n\t\ttype ipv4_addr\n\t\telements = { 198.51.100.7 limit rate over 6/minute burst 6 packets,\n\t\t\t     198.51.100.8 limit rate over 6/minute burst 6 packets }\n\t}\n}\n";
        let planned = "table inet mmkt {\n\tset internal_ports {\n\t\ttype inet_service\n\t\telements = { 3000, 8080, 9090 }\n\t}\n\n\tset ssh_meter_v4 {\n\t\ttype ipv4_addr\n\t}\n}\n";
        assert_eq!(normalize(listed), normalize(planned));
        let other = planned.replace("9090", "9091");
        assert_ne!(normalize(listed), normalize(&other));
    }

    #[test]
    fn the_script_replaces_only_our_table() {
        let policy = crate::settings::policy_from_pairs(&[], &[]).unwrap();
        let script = Ruleset::render(&policy, None).script();
        assert!(script.starts_with("table inet mmkt\ndelete table inet mmkt\ntable inet mmkt {\n"));
        assert_eq!(script.matches("table ").count(), 3, "{script}");
    }
}
