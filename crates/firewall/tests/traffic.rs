//! Real connections through the ruleset, in network namespaces this test creates (never the
//! host's ruleset): an "outside" namespace reaches the firewalled one over a veth pair.
//! Without the ruleset every port answers (so each assertion proves the ruleset, not the
//! topology); with it 443 answers, 8080 and 18081 do not, SSH is rate-limited except for the
//! applying session's address, and connections made from inside still get their replies. The
//! Docker case: ports published by DNAT (as Docker's iptables-nft rules do, with a
//! `DOCKER-USER` chain in `table ip filter`) to a "container" namespace are dropped by their
//! original port.

use std::time::Duration;

use mmkt_firewall::nft::{DockerUser, Nft, Target};
use mmkt_firewall::policy::Policy;
use mmkt_firewall::session::SshSession;
use mmkt_firewall::settings::{self, PublishedPort};
use mmkt_firewall::workflow;
use test_support::netns::{self, NetNs};

/// Long enough that a port that answers always does; a dropped SYN just waits it out.
const WAIT: Duration = Duration::from_secs(3);

fn policy(vars: &[(&str, &str)], published: &[u16]) -> Policy {
    settings::policy_from_pairs(vars, &PublishedPort::all("nginx", published)).expect("policy")
}

fn nft(ns: &NetNs) -> Nft {
    Nft::locate(Target::Netns(ns.name().to_string()), "testing").expect("nft")
}

#[test]
fn host_ports_443_open_8080_18081_closed_ssh_limited_replies_accepted() {
    if netns::unavailable() {
        return;
    }
    let host = NetNs::create("host");
    let outside = NetNs::create("out");
    let operator = NetNs::create("op");
    host.link("ext0", "10.77.0.1/24", &outside, "up0", "10.77.0.2/24");
    host.link("ext1", "10.78.0.1/24", &operator, "up0", "10.78.0.2/24");
    for port in [443, 8080, 18081, 22] {
        host.serve(&format!("0.0.0.0:{port}"));
    }
    let back = outside.serve("10.77.0.2:9000");
    for port in [443, 8080, 18081, 22] {
        assert!(
            outside.connects(&format!("10.77.0.1:{port}"), WAIT),
            "baseline: {port} answers without the ruleset"
        );
    }

    let policy = policy(&[], &[443, 8080]);
    let session = SshSession::parse(Some("10.78.0.2 50000 10.78.0.1 22")).unwrap();
    let applied = workflow::apply(&policy, session.as_ref(), &nft(&host)).expect("apply");
    assert_eq!(applied.after, workflow::Loaded::Matches);
    assert_eq!(applied.before.docker_user, DockerUser::Absent);

    assert!(outside.connects("10.77.0.1:443", WAIT), "443 is public");
    assert!(
        !outside.connects("10.77.0.1:8080", WAIT),
        "8080 must be dropped"
    );
    assert!(
        !outside.connects("10.77.0.1:18081", WAIT),
        "18081 must be dropped"
    );
    assert!(
        host.connects(&back.to_string(), WAIT),
        "replies to connections made from inside are accepted"
    );

    // 6/minute with a burst of 6 per source: the first connects, a quick series is cut off.
    assert!(
        outside.connects("10.77.0.1:22", WAIT),
        "first SSH connection"
    );
    let limited = (0..12).any(|_| !outside.connects("10.77.0.1:22", WAIT));
    assert!(limited, "new SSH connections beyond the rate are dropped");
    // The applying session's address is never rate-limited.
    for _ in 0..12 {
        assert!(
            operator.connects("10.78.0.1:22", WAIT),
            "the SSH session's address stays reachable"
        );
    }
    assert!(
        !operator.connects("10.78.0.1:8080", WAIT),
        "the session opens only SSH"
    );
}

/// Docker's rules for two published ports, as iptables-nft writes them: DNAT in `ip nat`,
/// `FORWARD` jumping to `DOCKER-USER` first, then accepting the published container ports.
const DOCKER: &str = "table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 443 dnat to 172.30.0.2:8443
		tcp dport 8080 dnat to 172.30.0.2:8080
		tcp dport 18081 dnat to 172.30.0.2:18081
	}
}
table ip filter {
	chain DOCKER-USER {
		return
	}
	chain FORWARD {
		type filter hook forward priority filter; policy drop;
		jump DOCKER-USER
		ct state established,related accept
		ip daddr 172.30.0.2 tcp dport { 8080, 8443, 18081 } accept
		iifname \"br0\" accept
	}
}
";

#[test]
fn docker_published_ports_are_dropped_by_their_original_port() {
    if netns::unavailable() {
        return;
    }
    let host = NetNs::create("dhost");
    let outside = NetNs::create("dout");
    let container = NetNs::create("dctr");
    host.link("ext0", "10.77.0.1/24", &outside, "up0", "10.77.0.2/24");
    host.link("br0", "172.30.0.1/24", &container, "eth0", "172.30.0.2/24");
    container.ip(&["route", "add", "default", "via", "172.30.0.1"]);
    host.exec_ok("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
    let script = std::env::temp_dir().join(format!("{}.nft", host.name()));
    std::fs::write(&script, DOCKER).unwrap();
    host.exec_ok("nft", &["-f", script.to_str().unwrap()]);
    let _ = std::fs::remove_file(&script);
    for port in [8443, 8080, 18081] {
        container.serve(&format!("0.0.0.0:{port}"));
    }
    for port in [443, 8080, 18081] {
        assert!(
            outside.connects(&format!("10.77.0.1:{port}"), WAIT),
            "baseline: published {port} answers"
        );
    }

    let policy = policy(&[(settings::EXTERNAL_IFACE, "ext0")], &[443, 8080]);
    let applied = workflow::apply(&policy, None, &nft(&host)).expect("apply");
    assert_eq!(applied.before.docker_user, DockerUser::Present);

    assert!(
        outside.connects("10.77.0.1:443", WAIT),
        "published 443 (-> 8443) stays reachable"
    );
    assert!(
        !outside.connects("10.77.0.1:8080", WAIT),
        "published 8080 must be dropped"
    );
    assert!(
        !outside.connects("10.77.0.1:18081", WAIT),
        "published 18081 must be dropped"
    );
    // Docker's own chains are untouched.
    let docker_user = host.exec_ok("nft", &["list", "chain", "ip", "filter", "DOCKER-USER"]);
    assert!(docker_user.contains("return"), "{docker_user}");
}
