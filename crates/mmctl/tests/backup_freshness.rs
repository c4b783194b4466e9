//! The freshness metrics of `mmctl backup db` (`mmctl_backup_db.prom` for node-exporter's
//! textfile collector): the real mmctl binary against a real SQLCipher database writes them
//! where the setting says (variable or config file), keeps the last success when a run fails,
//! says so on stderr when it cannot write them without changing the exit code, and, with the
//! stack's own node-exporter and Prometheus, finds the `node-textfile` volume by itself and
//! Prometheus reads the new timestamp.

mod backup_support;
mod harness;
mod stack_harness;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backup_support::*;
use stack_harness::{Images, docker_lines, with_docker};

/// The value of `metric{job="backup_db"}` in a textfile, if present.
fn sample(text: &str, metric: &str) -> Option<u64> {
    let prefix = format!("{metric}{{job=\"backup_db\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().expect("an integer sample"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The three samples of `dir/mmctl_backup_db.prom`: last success, last run's result, last run.
fn read_prom(dir: &Path) -> (Option<u64>, u64, u64) {
    let text = std::fs::read_to_string(dir.join("mmctl_backup_db.prom")).expect("the .prom file");
    (
        sample(&text, "mmctl_last_success_timestamp_seconds"),
        sample(&text, "mmctl_last_run_success").expect("last_run_success"),
        sample(&text, "mmctl_last_run_timestamp_seconds").expect("last_run_timestamp"),
    )
}

/// How many entries `dir` holds.
fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn backup_db_records_its_success_and_a_failed_run_keeps_it() {
    let ws = Workspace::new();
    ws.seed(10);
    let textfile = ws.path("textfile");
    std::fs::create_dir(&textfile).unwrap();

    let before = now();
    ws.mmctl(&["backup", "db", "--json"])
        .env("MMKT_METRICS_TEXTFILE_DIR", &textfile)
        .run()
        .assert_exit(0);
    let (success, ok, run) = read_prom(&textfile);
    let success = success.expect("a last success after a successful run");
    assert!((before..=now()).contains(&success), "{success}");
    assert_eq!((ok, run), (1, success));
    // Only the job's own file (read above): no temporary file, nothing for other jobs.
    assert_eq!(entries(&textfile), 1);

    // A run that fails (its key file is gone) keeps its exit code and the last success.
    let failed = ws
        .mmctl(&["backup", "db"])
        .env("MMKT_METRICS_TEXTFILE_DIR", &textfile)
        .env("MMKT_DB_KEY_FILE", ws.path("no-such.key"))
        .run();
    assert_ne!(failed.code(), 0, "{}", failed.stderr());
    let (kept, ok, run) = read_prom(&textfile);
    assert_eq!((kept, ok), (Some(success), 0));
    assert!(run >= success, "{run} < {success}");
    assert_eq!(ws.list().len(), 1);

    // Commands that are no scheduled job record nothing.
    ws.mmctl(&["backup", "list"])
        .env("MMKT_METRICS_TEXTFILE_DIR", &textfile)
        .run()
        .assert_exit(0);
    assert_eq!(entries(&textfile), 1);
}

#[test]
fn the_config_file_names_the_directory() {
    let ws = Workspace::new();
    ws.seed(5);
    let textfile = ws.path("from-config");
    std::fs::create_dir(&textfile).unwrap();
    let deploy = ws.path("deploy");
    std::fs::create_dir_all(deploy.join("env")).unwrap();
    std::fs::write(
        deploy.join("env/staging.mmctl.toml"),
        format!("metrics_textfile_dir = \"{}\"\n", textfile.display()),
    )
    .unwrap();
    ws.mmctl(&["backup", "db"])
        .env("MMCTL_COMPOSE_FILE", deploy.join("docker-compose.yml"))
        .env("MMCTL_ENV", "staging")
        .run()
        .assert_exit(0);
    assert_eq!(read_prom(&textfile).1, 1);
}

#[test]
fn a_missing_directory_is_a_warning_and_the_backup_still_succeeds() {
    let ws = Workspace::new();
    ws.seed(5);
    let missing = ws.path("no-textfile-dir");
    let out = ws
        .mmctl(&["backup", "db"])
        .env("MMKT_METRICS_TEXTFILE_DIR", &missing)
        .run()
        .assert_exit(0)
        .assert_stderr_contains("warning: the backup_db freshness metrics were not written")
        .assert_stderr_contains("no-textfile-dir");
    assert!(
        out.stderr().contains("MMKT_METRICS_TEXTFILE_DIR"),
        "{}",
        out.stderr()
    );
    assert!(!missing.exists());
    assert_eq!(ws.list().len(), 1);
}

#[test]
fn without_a_directory_or_a_stack_the_metrics_are_skipped_with_a_note() {
    let ws = Workspace::new();
    ws.seed(5);
    let out = ws
        .mmctl(&["backup", "db"])
        .env("COMPOSE_PROJECT_NAME", "mmkt-freshness-no-such-project")
        .run()
        .assert_exit(0)
        .assert_stderr_contains("note: freshness metrics not written")
        .assert_stderr_contains("MMKT_METRICS_TEXTFILE_DIR");
    assert_eq!(
        out.stderr().matches("note: freshness").count(),
        1,
        "{}",
        out.stderr()
    );
    assert_eq!(ws.list().len(), 1);
}

/// The value of a PromQL `query` from Prometheus inside its container, with the series' `job`
/// and `instance` labels; `None` while there is no result.
fn query(prometheus: &str, query: &str) -> Option<(String, String, String)> {
    let out = docker_lines(&[
        "exec",
        prometheus,
        "curl",
        "-fsS",
        "--max-time",
        "5",
        "--data-urlencode",
        &format!("query={query}"),
        "http://127.0.0.1:9090/api/v1/query",
    ])
    .join("\n");
    let body: serde_json::Value = serde_json::from_str(&out).expect("Prometheus JSON");
    let first = body["data"]["result"].get(0)?;
    let label = |name: &str| {
        first["metric"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let value = first["value"][1].as_str()?.to_owned();
    Some((value, label("job"), label("instance")))
}

/// Polls `query` until its value is `expected` (Prometheus scrapes node-exporter every 15 s).
#[track_caller]
fn wait_for(prometheus: &str, promql: &str, expected: u64) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = None;
    while Instant::now() < deadline {
        last = query(prometheus, promql);
        if let Some((value, job, instance)) = &last
            && value == &expected.to_string()
        {
            return (job.clone(), instance.clone());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("Prometheus never answered {expected} for {promql}; last answer: {last:?}");
}

#[test]
fn prometheus_in_the_stack_reads_the_new_backup_timestamp() {
    with_docker("mmkt-fresh", Images::Built, |t| {
        let project = t.guard.project().to_owned();
        stack_harness::run(&["up", "-p", &project, "node-exporter", "prometheus"]).assert_exit(0);
        let ws = Workspace::new();
        ws.seed(10);

        // No directory configured: mmctl finds the stack's node-textfile volume itself.
        ws.mmctl(&["backup", "db"])
            .env("COMPOSE_PROJECT_NAME", &project)
            .run()
            .assert_exit(0);
        let volume = format!("{project}_node-textfile");
        let mountpoint =
            docker_lines(&["volume", "inspect", "-f", "{{.Mountpoint}}", &volume]).join("");
        let (success, ok, _) = read_prom(Path::new(&mountpoint));
        let success = success.expect("a last success");
        assert_eq!(ok, 1);

        let prometheus = docker_lines(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--filter",
            "label=com.docker.compose.service=prometheus",
        ])
        .join("");
        let last_success = "mmctl_last_success_timestamp_seconds{job=\"backup_db\"}";
        let (job, instance) = wait_for(&prometheus, last_success, success);
        assert_eq!(
            (job.as_str(), instance.as_str()),
            ("backup_db", "node-exporter:9100")
        );
        wait_for(&prometheus, "mmctl_last_run_success{job=\"backup_db\"}", 1);

        // A failed run: Prometheus sees the failure and still the same last success.
        let failed = ws
            .mmctl(&["backup", "db"])
            .env("COMPOSE_PROJECT_NAME", &project)
            .env("MMKT_DB_KEY_FILE", ws.path("no-such.key"))
            .run();
        assert_ne!(failed.code(), 0, "{}", failed.stderr());
        wait_for(&prometheus, "mmctl_last_run_success{job=\"backup_db\"}", 0);
        wait_for(&prometheus, last_success, success);
    });
}
