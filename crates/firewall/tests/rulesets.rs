//! Every generated ruleset variant (each environment's settings, with and without an SSH
//! session, admin networks and an external interface) passes `nft -c -f`, and loaded into a
//! network namespace this test creates, `nft list` prints it back exactly as planned. Never
//! the host's ruleset.

use std::path::Path;

use mmkt_firewall::FirewallError;
use mmkt_firewall::nft::{Mode, Nft, Target};
use mmkt_firewall::policy::Policy;
use mmkt_firewall::render::Ruleset;
use mmkt_firewall::session::SshSession;
use mmkt_firewall::settings::{self, PublishedPort};
use mmkt_firewall::workflow::{self, Loaded};
use test_support::netns::{self, NetNs};

fn compose() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/docker-compose.yml")
}

/// nft aimed at the test's namespace.
fn nft_in(ns: &NetNs) -> Nft {
    Nft::locate(Target::Netns(ns.name().to_string()), "testing").expect("nft and root")
}

fn environment_policy(env: &str) -> Policy {
    let project = mmkt_stack::load_project(&compose(), Some(env), "mmkt", &[]).expect("project");
    settings::policy_for(&project).expect("policy")
}

fn variants() -> Vec<(String, Policy, Option<SshSession>)> {
    let mut out = Vec::new();
    for env in ["development", "staging", "production"] {
        out.push((env.to_string(), environment_policy(env), None));
    }
    let vars = [
        (
            settings::ADMIN_CIDRS,
            "198.51.100.0/24, 203.0.113.9, 2001:db8::/48, ::1",
        ),
        (settings::EXTERNAL_IFACE, "eth0"),
        (settings::ACME, "on"),
        (settings::SSH_PORT, "2222"),
        (settings::SSH_RATE, "3/second"),
        (settings::INTERNAL_PORTS, "5432,6379"),
        (settings::PUBLIC_PORTS, "443,8448"),
    ];
    let full =
        settings::policy_from_pairs(&vars, &PublishedPort::all("nginx", &[80])).expect("policy");
    for session in [
        "203.0.113.7 50000 198.51.100.1 22",
        "2001:db8::7 50000 2001:db8::1 2222",
    ] {
        out.push((
            "full".into(),
            full.clone(),
            SshSession::parse(Some(session)).unwrap(),
        ));
    }
    out
}

#[test]
fn every_variant_passes_nft_check_and_lists_back_as_planned() {
    if netns::unavailable() {
        return;
    }
    for (name, policy, session) in variants() {
        let ns = NetNs::create("chk");
        let nft = nft_in(&ns);
        let ruleset = Ruleset::render(&policy, session.as_ref());
        nft.load(&ruleset.script(), Mode::Check)
            .unwrap_or_else(|e| panic!("{name}: nft -c -f refused:\n{e}\n{}", ruleset.script()));
        let before = workflow::plan(&policy, session.as_ref(), &nft).unwrap();
        assert_eq!(
            before.loaded,
            Loaded::Absent,
            "{name}: nft -c must load nothing"
        );
        let applied = workflow::apply(&policy, session.as_ref(), &nft).unwrap();
        assert_eq!(
            applied.after,
            Loaded::Matches,
            "{name}: listing differs from the plan"
        );
        // Loading twice replaces the table (no duplicate rules, still equal).
        let again = workflow::apply(&policy, session.as_ref(), &nft).unwrap();
        assert_eq!(again.before.loaded, Loaded::Matches, "{name}");
        assert_eq!(again.after, Loaded::Matches, "{name}");
        if let Some(s) = session {
            let set = if s.client.is_ipv4() {
                "session_v4"
            } else {
                "session_v6"
            };
            let listed = ns.exec_ok("nft", &["list", "set", "inet", "mmkt", set]);
            assert!(listed.contains(&s.client.to_string()), "{name}: {listed}");
        }
    }
}

#[test]
fn a_changed_table_shows_as_a_diff_and_a_broken_script_is_rejected_unchanged() {
    if netns::unavailable() {
        return;
    }
    let ns = NetNs::create("diff");
    let nft = nft_in(&ns);
    let policy = environment_policy("production");
    workflow::apply(&policy, None, &nft).unwrap();
    ns.exec_ok(
        "nft",
        &[
            "insert", "rule", "inet", "mmkt", "input", "tcp", "dport", "8080", "accept",
        ],
    );
    let plan = workflow::plan(&policy, None, &nft).unwrap();
    let Loaded::Differs { diff } = plan.loaded else {
        panic!("expected a diff")
    };
    assert!(diff.contains("-\t\ttcp dport 8080 accept"), "{diff}");

    let before = nft.list_table().unwrap();
    let err = nft
        .load(
            "table inet mmkt {\n\tchain input {\n\t\tnonsense\n\t}\n}\n",
            Mode::Apply,
        )
        .unwrap_err();
    assert!(matches!(err, FirewallError::Rejected { .. }), "{err}");
    assert_eq!(
        nft.list_table().unwrap(),
        before,
        "a rejected script changes nothing"
    );
}
