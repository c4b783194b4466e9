//! `mmctl up` readiness against the real Docker Engine: a service counts as ready when its
//! `x-mmkt-probe` answers, not when Docker's healthcheck runs (every service here has a
//! 300 s healthcheck interval, so Docker never reports one healthy during a test); a
//! dependent starts only after its dependency's probe answered (its container may exist
//! before, created but not started); independent services start at the same time; a probe
//! that never answers is the usual not-healthy error, exit code 1.
//!
//! The services are Debian's nginx (the project's `mmkt/nginx` image) answering `GET /` on
//! port 8000. A gated one starts nginx only once the test creates `/tmp/go` in it, so the
//! test decides when its probe can answer: the assertions are on order, never on time.

mod harness;
mod stack_harness;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use stack_harness::*;

/// nginx answering `GET /` with 200 on port 8000, every writable path under /tmp.
const NGINX_CONF: &str = "pid /tmp/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path /tmp/body;\n  proxy_temp_path /tmp/proxy;\n  fastcgi_temp_path /tmp/fastcgi;\n  uwsgi_temp_path /tmp/uwsgi;\n  scgi_temp_path /tmp/scgi;\n  server {\n    listen 8000;\n    location / { return 200 \"ok\\n\"; }\n  }\n}\n";

/// The shared service definition: nginx on 8000, probed on `/`, Docker's healthcheck every
/// 300 s (its first run is 300 s after the start).
const WEB: &str = "x-web: &web\n  image: mmkt/nginx:latest\n  entrypoint: [/bin/bash, -c]\n  command: ['exec nginx -c /etc/probe/nginx.conf -g \"daemon off;\"']\n  volumes: [\"./nginx.conf:/etc/probe/nginx.conf:ro\"]\n  tmpfs: [/tmp]\n  stop_grace_period: 2s\n  healthcheck:\n    test: [CMD, curl, -fsS, --max-time, '4', 'http://127.0.0.1:8000/']\n    interval: 300s\n    timeout: 5s\n  x-mmkt-probe: {kind: http, port: 8000, paths: [/]}\n";

/// `gate` starts nginx once `/tmp/go` exists; `app` needs it healthy. `other` and
/// `other-app` are an independent pair that must not wait for `gate`.
const GATED: &str = "services:\n  gate:\n    <<: *web\n    command: ['while [ ! -e /tmp/go ]; do sleep 0.1; done; exec nginx -c /etc/probe/nginx.conf -g \"daemon off;\"']\n  app:\n    <<: *web\n    depends_on:\n      gate: {condition: service_healthy}\n  other:\n    <<: *web\n  other-app:\n    <<: *web\n    depends_on:\n      other: {condition: service_healthy}\n";

/// `silent`'s probe asks port 8001, where nothing listens; `after` needs it healthy.
const SILENT: &str = "services:\n  silent:\n    <<: *web\n    x-mmkt-probe: {kind: http, port: 8001, paths: [/]}\n  after:\n    <<: *web\n    depends_on:\n      silent: {condition: service_healthy}\n";

/// Writes the compose file (`services` after the shared definition) and nginx's config.
fn write_stack(dir: &Path, services: &str) -> String {
    std::fs::write(dir.join("nginx.conf"), NGINX_CONF).expect("write nginx.conf");
    let file = compose_file(dir, &format!("{WEB}{services}"));
    file.to_str().expect("UTF-8 temp path").to_string()
}

/// A running `mmctl up`, killed (by its PID) if the test ends before it does.
struct RunningUp(Option<Child>);

impl RunningUp {
    fn start(project: &str, file: &str) -> RunningUp {
        let mut up = mmctl().args(["up", "-p", project, "--file", file, "--timeout", "120"]);
        let child = up
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start mmctl");
        RunningUp(Some(child))
    }

    /// Waits for mmctl to exit: its exit code, stdout and stderr.
    fn finish(mut self) -> (i32, String, String) {
        let mut child = self.0.take().expect("still running");
        let mut stdout = String::new();
        let mut stderr = String::new();
        let _ = child.stdout.take().unwrap().read_to_string(&mut stdout);
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        let status = child.wait().expect("wait for mmctl");
        (status.code().unwrap_or(-1), stdout, stderr)
    }
}

impl Drop for RunningUp {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The ID of `service`'s container in the test's project, if one exists.
fn container_id(guard: &ProjectGuard, service: &str) -> Option<String> {
    let filter = format!("label=com.docker.compose.service={service}");
    let args = [
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &guard.filter(),
        "--filter",
        &filter,
    ];
    docker_lines(&args).into_iter().next()
}

/// The state of `service`'s container (`running`, ...) and its Docker health, if it exists.
fn container_state(guard: &ProjectGuard, service: &str) -> Option<(String, String)> {
    let id = container_id(guard, service)?;
    let (ok, text) = docker_try(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
        &id,
    ]);
    let text = text.trim().to_string();
    let (state, health) = text.split_once(' ').unwrap_or((&text, ""));
    ok.then(|| (state.to_string(), health.to_string()))
}

/// Whether `service`'s container was ever started (`up` may create it early, in state
/// `created`, and start it once its dependencies allow).
fn started(guard: &ProjectGuard, service: &str) -> bool {
    container_state(guard, service).is_some_and(|(state, _)| state != "created")
}

/// Polls (generously) until `service`'s container runs.
#[track_caller]
fn wait_running(guard: &ProjectGuard, service: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while container_state(guard, service).map(|(s, _)| s).as_deref() != Some("running") {
        assert!(Instant::now() < deadline, "{service} never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Byte offset of `needle` in `text`; panics with the text when it is missing.
#[track_caller]
fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} missing:\n{text}"))
}

#[test]
fn probes_decide_readiness_and_independent_services_do_not_wait() {
    with_docker("mmctl-ready", Images::Built, |DockerTest { dir, guard }| {
        let file = write_stack(dir.path(), GATED);
        let up = RunningUp::start(guard.project(), &file);

        // The independent pair comes up while `gate` still holds nginx back, and `app`,
        // which needs `gate` healthy, has not been started.
        wait_running(&guard, "gate");
        wait_running(&guard, "other-app");
        assert!(!started(&guard, "app"), "app started before gate answered");

        // Let gate's nginx start: up completes although Docker has run no healthcheck.
        let gate = container_id(&guard, "gate").expect("gate runs");
        docker_lines(&["exec", &gate, "touch", "/tmp/go"]);
        let (code, out, err) = up.finish();
        assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
        for service in ["gate", "app", "other", "other-app"] {
            let ready = service_line(service, "healthy (probe answered");
            assert!(
                out.contains(&ready),
                "{service} not ready by its probe:\n{out}"
            );
            let (state, health) = container_state(&guard, service).expect(service);
            assert_eq!(
                (state.as_str(), health.as_str()),
                ("running", "starting"),
                "{service}: Docker has not judged it yet"
            );
        }
        let waiting = position(&out, &service_line("app", "waiting for gate to be healthy"));
        let gate_ready = position(&out, &service_line("gate", "healthy"));
        let app_created = position(&out, &service_line("app", "created and started"));
        assert!(waiting < gate_ready && gate_ready < app_created, "{out}");
        assert!(
            position(&out, &service_line("other-app", "created and started")) < gate_ready,
            "other-app waited for gate:\n{out}"
        );
        run(&["down", "-p", guard.project(), "--file", &file]).assert_exit(0);
        assert_containers_and_networks_gone(&guard);
    });
}

#[test]
fn a_probe_that_never_answers_fails_up_with_the_not_healthy_error() {
    with_docker(
        "mmctl-silent",
        Images::Built,
        |DockerTest { dir, guard }| {
            let file = write_stack(dir.path(), SILENT);
            let r = run(&[
                "up",
                "-p",
                guard.project(),
                "--file",
                &file,
                "--timeout",
                "3",
            ])
            .assert_exit(1);
            let err = r.stderr();
            assert!(
                err.contains("service silent did not become healthy within 3 s"),
                "{err}"
            );
            assert!(
                err.contains("last probe: GET /:") && err.contains(":8001/"),
                "the last probe answer is named: {err}"
            );
            assert!(err.contains("mmctl logs silent"), "{err}");
            assert!(!started(&guard, "after"), "after started anyway");
            run(&["down", "-p", guard.project(), "--file", &file]).assert_exit(0);
            assert_containers_and_networks_gone(&guard);
        },
    );
}
