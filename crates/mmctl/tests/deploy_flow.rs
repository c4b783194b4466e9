//! Deploys against the real Docker Engine: `mmctl up` pinning nginx to the server container
//! by IP (kept-alive connections; a stale pin reported by `mmctl health` and fixed by `up`),
//! v1 -> v2 blue/green with a pre-deploy backup, served through the real nginx afterwards and
//! left pinned to green; a rollback back to v1 from the local image; and `--restore-db`
//! refused once escrow events were written after the pre-deploy backup.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use deploy_support::*;

fn json(out: &Output) -> serde_json::Value {
    out.json()
}

/// Container `id`'s IP on the frontend network (nginx's).
fn frontend_ip(id: &str) -> String {
    docker_lines(&[
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
    .unwrap_or_else(|| panic!("{id} has no frontend address"))
}

/// `"{name} at {IP}:8080"` for container `id`'s address on the frontend network (nginx's).
fn pinned_text(id: &str, name: &str) -> String {
    format!("{name} at {}:8080", frontend_ip(id))
}

/// The lines of nginx's pin file `file` (in /etc/nginx/mmkt).
fn pin_file(stack: &DeployStack, file: &str) -> Vec<String> {
    let path = format!("/etc/nginx/mmkt/{file}");
    docker_lines(&["exec", &stack.container("nginx"), "cat", &path])
}

/// Asserts that nginx's pin files pin container `name` (id `id`) by its frontend IP.
#[track_caller]
fn assert_pinned(stack: &DeployStack, id: &str, name: &str) {
    let block = pin_file(stack, "active.upstream");
    let server = format!("server {}:8080 max_fails=1", frontend_ip(id));
    assert!(
        block.iter().any(|l| l.trim().starts_with(&server))
            && block.contains(&format!("# Pinned to container {name}.")),
        "{name}: {block:?}"
    );
    let entry = pin_file(stack, "upstream.conf");
    assert!(entry.contains(&"~^ mmkt_active;".to_owned()), "{entry:?}");
}

/// The local ports of nginx's TCP connections to `ip:8080` in any state (closed ones stay
/// in TIME_WAIT for a minute), and how many of them are established, from the container's
/// `/proc/net/tcp`.
fn nginx_connections_to(stack: &DeployStack, ip: &str) -> (Vec<String>, usize) {
    let octets: Vec<u8> = ip.split('.').map(|o| o.parse().unwrap()).collect();
    let remote = format!(
        "{:02X}{:02X}{:02X}{:02X}:1F90",
        octets[3], octets[2], octets[1], octets[0]
    );
    let nginx = stack.container("nginx");
    let rows: Vec<Vec<String>> = docker_lines(&["exec", &nginx, "cat", "/proc/net/tcp"])
        .iter()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .filter(|f: &Vec<String>| f.len() > 3 && f[2] == remote)
        .collect();
    let established = rows.iter().filter(|f| f[3] == "01").count();
    (
        rows.into_iter().map(|f| f[1].clone()).collect(),
        established,
    )
}

/// `mmctl up` pinned nginx to the server container; its connections there are reused. A pin
/// made stale behind mmctl's back still serves (through the relay), `mmctl health` reports it,
/// and `mmctl up` pins the running container again, then leaves the pin alone.
fn up_pins_the_server_and_repins_a_stale_pin(stack: &DeployStack) {
    let (blue, _, _) = stack.servers().remove(0);
    let blue_id = stack.container("server");
    assert_pinned(stack, &blue_id, &blue);
    let ip = frontend_ip(&blue_id);
    let (before, _) = nginx_connections_to(stack, &ip);
    for _ in 0..20 {
        assert_eq!(stack.get("/health").0, 200);
    }
    let (after, established) = nginx_connections_to(stack, &ip);
    let new: Vec<&String> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        !new.is_empty() && new.len() <= 10 && established >= 1,
        "20 requests through nginx opened {} connection(s) to {ip}:8080 ({established} kept open): not reused",
        new.len()
    );
    let (ok, detail) = health_pin(stack, 0);
    assert!(ok, "{detail}");
    assert!(detail.contains(&pinned_text(&blue_id, &blue)), "{detail}");

    // The pin names an address no container has (as after a server recreated outside mmctl).
    let stale = format!("{}.250", ip.rsplit_once('.').unwrap().0);
    let nginx = stack.container("nginx");
    let sed = format!("s/{ip}:8080/{stale}:8080/");
    docker_lines(&[
        "exec",
        "-u",
        "0",
        &nginx,
        "sed",
        "-i",
        &sed,
        "/etc/nginx/mmkt/active.upstream",
    ]);
    docker_lines(&["exec", &nginx, "nginx", "-s", "reload"]);
    for _ in 0..3 {
        assert_eq!(stack.get("/health").0, 200, "a stale pin must fail over");
    }
    let (ok, detail) = health_pin(stack, 1);
    assert!(!ok, "{detail}");
    assert!(
        detail.contains(&format!("{stale}:8080")) && detail.contains("`mmctl up`"),
        "{detail}"
    );
    stack
        .run(&["up", "--timeout", "120"])
        .assert_exit(0)
        .assert_stdout_contains("nothing to change")
        .assert_stdout_contains(&format!(
            "nginx   pinned to {} (nginx -t ok, reloaded)",
            pinned_text(&blue_id, &blue)
        ));
    assert_pinned(stack, &blue_id, &blue);
    assert!(health_pin(stack, 0).0);
    stack
        .run(&["up", "--timeout", "120"])
        .assert_exit(0)
        .assert_stdout_contains("(unchanged)");
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
    up_pins_the_server_and_repins_a_stale_pin(&stack);

    // v1 -> v2: one line per step on stderr, the report as JSON.
    let out = stack
        .run(&["deploy", "--version", "v2", "--yes", "--json"])
        .assert_exit(0);
    let report = json(&out);
    assert_eq!(report["outcome"], "deployed", "{report:#}");
    assert_eq!(report["target"]["version"], "v2");
    assert_eq!(report["previous"]["version"], "v1");
    assert!(report["backup_id"].is_string(), "{report:#}");
    // Green joins nginx's network only after its checks: no pin step, one reload (switch).
    assert!(
        out.stderr()
            .lines()
            .any(|l| l.starts_with("pin") && l.contains("skipped") && l.contains("no pin needed")),
        "{}",
        out.stderr()
    );
    for step in [
        "lock", "backup", "image", "green", "ready", "smoke", "switch", "watch", "drain", "history",
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
    // connections there alive), and the deploy ended with that pin.
    assert!(
        !out.stderr().lines().any(|l| l.starts_with("unpin")),
        "{}",
        out.stderr()
    );
    assert_step(&out, "switch", &pinned_text(&green, &green));
    assert_pinned(&stack, &green, &green);
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
    let v1 = json(&out)["target"]["container"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(json(&out)["target"]["version"], "v1");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert_pinned(&stack, &v1, &v1);
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
    // `mmctl up` pinned blue already: the pin step rewrites nothing.
    assert_pinned(&stack, &blue, &blue);
    let out = stack
        .run(&["deploy", "--version", "v2", "--yes", "--json"])
        .assert_exit(0);
    let report = json(&out);
    assert_eq!(report["outcome"], "deployed", "{report:#}");
    assert_step(
        &out,
        "pin",
        &format!("nginx pinned to {blue_pin} (already)"),
    );
    let green = report["target"]["container"].as_str().unwrap().to_string();
    assert_step(&out, "switch", &pinned_text(&green, &green));
    assert_pinned(&stack, &green, &green);
    assert_eq!(stack.get("/api/listings").0, 200);
}
