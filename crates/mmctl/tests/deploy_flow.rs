//! Deploys against the real Docker Engine: v1 -> v2 blue/green with a pre-deploy backup,
//! served through the real nginx afterwards; a rollback back to v1 from the local image; and
//! `--restore-db` refused once escrow events were written after the pre-deploy backup.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use deploy_support::*;

fn json(out: &Output) -> serde_json::Value {
    out.json()
}

/// `"{name} at {IP}:8080"` for container `id`'s address on the frontend network (nginx's).
fn pinned_text(id: &str, name: &str) -> String {
    let ip = docker_lines(&[
        "inspect",
        "-f",
        "{{range $net, $ep := .NetworkSettings.Networks}}{{$net}} {{$ep.IPAddress}}\n{{end}}",
        id,
    ])
    .into_iter()
    .find_map(|l| {
        l.split_once(' ')
            .filter(|(net, _)| net.ends_with("_frontend"))
            .map(|(_, ip)| ip.to_owned())
    })
    .unwrap_or_else(|| panic!("{name} has no frontend address"));
    format!("{name} at {ip}:8080")
}

/// Asserts that nginx's pin files hold only comments (nginx on the service name).
fn assert_unpinned(stack: &DeployStack) {
    let nginx = stack.container("nginx");
    for file in ["active.upstream", "upstream.conf"] {
        let path = format!("/etc/nginx/mmkt/{file}");
        let lines = docker_lines(&["exec", &nginx, "cat", &path]);
        assert!(
            !lines.is_empty() && lines.iter().all(|l| l.starts_with('#')),
            "{path}: {lines:?}"
        );
    }
}

#[test]
fn deploy_v2_then_rollback_then_restore_db_refused_after_escrow_events() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    let stack = DeployStack::up("mmctl-deploy");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert_eq!(stack.get("/health").0, 200);

    // v1 -> v2: one line per step on stderr, the report as JSON.
    let out = stack
        .run(&["deploy", "--version", "v2", "--yes", "--json"])
        .assert_exit(0);
    let report = json(&out);
    assert_eq!(report["outcome"], "deployed", "{report:#}");
    assert_eq!(report["target"]["version"], "v2");
    assert_eq!(report["previous"]["version"], "v1");
    assert!(report["backup_id"].is_string(), "{report:#}");
    // Green joins nginx's network only after its checks: no pin, two reloads (switch, unpin).
    assert!(
        out.stderr()
            .lines()
            .any(|l| l.starts_with("pin") && l.contains("skipped") && l.contains("no pin needed")),
        "{}",
        out.stderr()
    );
    for step in [
        "lock", "backup", "image", "green", "ready", "smoke", "switch", "watch", "drain", "unpin",
        "history",
    ] {
        assert!(
            out.stderr()
                .lines()
                .any(|l| l.starts_with(step) && l.contains(" ok ")),
            "step {step}:\n{}",
            out.stderr()
        );
    }
    let green = report["target"]["container"].as_str().unwrap().to_string();
    assert_eq!(
        stack.servers(),
        vec![(green.clone(), format!("{IMAGE}:v2"), "running".into())]
    );
    // The switch pinned nginx to green's address on their shared network (nginx keeps its
    // connections there alive), and the unpin left only comments in the pin files.
    assert_step(&out, "switch", &pinned_text(&green, &green));
    assert_unpinned(&stack);
    let (status, body) = stack.get("/health");
    assert_eq!((status, body.contains("ok")), (200, true), "{body}");
    assert_eq!(stack.get("/api/listings").0, 200);
    assert!(!stack.lock_exists(), "the lock was not released");

    // History and status, read back from the target host.
    let history = json(&stack.run(&["deploy", "history", "--json"]).assert_exit(0));
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{history:#}");
    assert_eq!(entries[0]["outcome"], "deployed");
    assert_eq!(entries[0]["backup_id"], report["backup_id"]);
    assert_eq!(entries[0]["migrated"], false, "same schema: {history:#}");
    let status = json(&stack.run(&["deploy", "status", "--json"]).assert_exit(0));
    assert_eq!(status["servers"][0]["version"], "v2", "{status:#}");
    assert!(status["lock"].is_null());

    // Rollback: back to v1 from its local image.
    let out = stack.run(&["rollback", "--yes", "--json"]).assert_exit(0);
    assert_eq!(json(&out)["target"]["version"], "v1");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert_eq!(stack.get("/health").0, 200);

    // Deploy v2 again, then escrow events happen after its pre-deploy backup.
    stack
        .run(&["deploy", "--version", "v2", "--yes"])
        .assert_exit(0);
    let conn = stack.ws.connect();
    // Events of escrows this test does not create: no escrow rows to reference.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for (escrow, event) in [(42, "funded"), (42, "confirmed"), (7, "disputed")] {
        conn.execute(
            "INSERT INTO escrow_events (escrow_id, event, actor, from_state, to_state, created_at) VALUES (?1, ?2, 'system', 'a', 'b', 0)",
            rusqlite::params![escrow, event],
        )
        .unwrap();
    }
    drop(conn);
    stack
        .run(&["rollback", "--restore-db", "--yes"])
        .assert_exit(15)
        .assert_stderr_contains("3 escrow event(s)")
        .assert_stderr_contains("escrow 7 (1), escrow 42 (2)")
        .assert_stderr_contains("deploy a fixed version");
    assert_eq!(
        stack.only_server_image(),
        format!("{IMAGE}:v2"),
        "the refused rollback changed the stack"
    );
    assert!(!stack.lock_exists());
    let history = json(&stack.run(&["deploy", "history", "--json"]).assert_exit(0));
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["outcome"].as_str()),
        (Some("rollback"), Some("failed")),
        "{last:#}"
    );
}

#[test]
fn a_green_on_nginx_network_from_its_start_waits_behind_a_pin_to_blue_address() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    // The server's first network is nginx's: green carries the `server` alias there from its
    // start, so nginx is pinned to blue's address until the switch pins green's.
    let compose = COMPOSE.replace(
        "    networks: [backend, frontend]\n",
        "    networks: [frontend, backend]\n",
    );
    let stack = DeployStack::up_with("mmctl-deploy-pin", &compose, ENV, &[]);
    let (blue, _, _) = stack.servers().remove(0);
    let blue_pin = pinned_text(&blue, &blue);
    let out = stack
        .run(&["deploy", "--version", "v2", "--yes", "--json"])
        .assert_exit(0);
    let report = json(&out);
    assert_eq!(report["outcome"], "deployed", "{report:#}");
    assert_step(&out, "pin", &format!("nginx pinned to {blue_pin}"));
    let green = report["target"]["container"].as_str().unwrap().to_string();
    assert_step(&out, "switch", &pinned_text(&green, &green));
    assert_unpinned(&stack);
    assert_eq!(stack.get("/api/listings").0, 200);
}
