//! The server's DB key from the secrets file (`MMKT_DB_KEY`) at `mmctl up`, with the real
//! binary and the real Docker Engine: a malformed key is refused before anything is created
//! (exit 37); a good one is written into the `server-key` volume as `db.key` (0600, owned by
//! the server's uid) before the server starts, and the server, whose key mount is read-only so
//! it cannot make its own, opens the database and answers `/ready`; a second `up` with another
//! key refuses (exit 38) and leaves the key file as it was; no container's `docker inspect`
//! shows the key.

mod harness;
mod stack_harness;

use std::path::Path;

use mmkt_sqlcipher::DbKey;
use stack_harness::*;

/// The server alone, in development, its key volume mounted read-only.
const SERVER: &str = "services:\n  server:\n    image: mmkt/server:latest\n    user: \"1000:1000\"\n    read_only: true\n    environment:\n      MMKT_ENV: development\n      MMKT_BIND: 0.0.0.0:8080\n      MMKT_DB_PATH: /app/data/mmkt.db\n      MMKT_DB_KEY_FILE: /app/key/db.key\n    volumes:\n      - server-data:/app/data\n      - server-key:/app/key:ro\n    tmpfs: [/tmp]\n    stop_grace_period: 2s\n    x-mmkt-probe: {kind: http, port: 8080, paths: [/health, /ready]}\nvolumes:\n  server-data: {}\n  server-key: {}\n";

/// `mmctl secrets set MMKT_DB_KEY` in the development secrets file beside `compose`.
fn set_key(compose: &Path, identity: &Path, value: &str) {
    mmctl()
        .args([
            "secrets",
            "set",
            "MMKT_DB_KEY",
            "--env",
            "development",
            "--file",
        ])
        .arg(compose)
        .env("MMCTL_SECRETS_IDENTITY_FILE", identity)
        .stdin(value)
        .run()
        .assert_exit(0);
}

/// `mmctl up` of the test project in development, the secrets opened with `identity`.
fn up(project: &str, compose: &Path, identity: &Path) -> Output {
    mmctl()
        .args([
            "up",
            "-p",
            project,
            "--env",
            "development",
            "--timeout",
            "120",
            "--file",
        ])
        .arg(compose)
        .env("MMCTL_SECRETS_IDENTITY_FILE", identity)
        .run()
}

/// `stat` and content of the key file in volume `volume`, read by a throwaway container.
fn key_file(volume: &str) -> String {
    let mount = format!("{volume}:/v:ro");
    let script = "stat -c '%a %u:%g' /v/db.key && cat /v/db.key";
    let lines = docker_lines(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        "--entrypoint",
        "/bin/sh",
        "mmkt/server:latest",
        "-c",
        script,
    ]);
    lines.join("\n")
}

#[test]
fn up_writes_the_db_key_from_the_secrets_file_once_and_refuses_another() {
    with_docker("mmctl-dbkey", Images::Built, |DockerTest { dir, guard }| {
        let project = guard.project();
        let compose = compose_file(dir.path(), SERVER);
        std::fs::create_dir_all(dir.path().join("env")).unwrap();
        std::fs::write(
            dir.path().join("env/development.env"),
            "MMKT_ENV=development\n",
        )
        .unwrap();
        let key = test_support::age::age_keygen(dir.path(), "age");
        let (identity, recipient) = (key.file, key.recipient.as_str());
        mmctl()
            .args([
                "secrets",
                "init",
                "--recipient",
                recipient,
                "--env",
                "development",
                "--file",
            ])
            .arg(&compose)
            .env("MMCTL_SECRETS_IDENTITY_FILE", &identity)
            .run()
            .assert_exit(0);

        // Not a key file's text: refused, nothing created.
        set_key(&compose, &identity, "ABCDEF-not-a-key");
        up(project, &compose, &identity)
            .assert_exit(37)
            .assert_stderr_contains("MMKT_DB_KEY is not 64 lowercase hex");
        assert_nothing_created(&guard);

        let key = DbKey::generate().to_hex();
        set_key(&compose, &identity, &key);
        let out = up(project, &compose, &identity).assert_exit(0);
        assert!(
            out.stderr().contains("written from MMKT_DB_KEY"),
            "{}",
            out.stderr()
        );
        assert!(
            out.stdout()
                .contains(&service_line("server", "healthy (probe answered")),
            "the server opened the database with the key and answered /ready:\n{}",
            out.stdout()
        );
        let volume = format!("{project}_server-key");
        assert_eq!(key_file(&volume), format!("600 1000:1000\n{key}"));

        // Another key: refused, the key file unchanged.
        set_key(&compose, &identity, &DbKey::generate().to_hex());
        up(project, &compose, &identity)
            .assert_exit(38)
            .assert_stderr_contains("was not replaced");
        assert_eq!(key_file(&volume), format!("600 1000:1000\n{key}"));

        // The key is in no container's configuration (environment, command line, labels).
        let ids = guard.container_ids();
        assert!(!ids.is_empty());
        let mut args = vec!["inspect"];
        args.extend(ids.iter().map(String::as_str));
        let inspect = docker_lines(&args).join("\n");
        assert!(!inspect.contains(&key), "docker inspect shows the DB key");
        run(&["down", "-p", project, "--file", compose.to_str().unwrap()]).assert_exit(0);
    });
}
