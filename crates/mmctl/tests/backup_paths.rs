//! Operator commands that find their own paths: `mmctl backup db` with no MMKT_DB_PATH reads
//! the database and key file from the volumes of a real compose project's `server` container
//! (Engine API), takes its backup directory and recipients from the environment's
//! `env/<env>.mmctl.toml`, and `mmctl config show` names each setting's source; an
//! environment variable wins over both; a bad config file is exit 2 with nothing written.

mod backup_support;
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use backup_support::*;
use test_support::docker::{FileLock, ProjectGuard, docker_available, unique_project};

const COMPOSE: &str = "services:
  server:
    image: debian:bookworm-slim
    command: [bash, -c, 'touch /tmp/up; exec sleep infinity']
    init: true
    stop_grace_period: 2s
    volumes:
      - server-data:/app/data
      - server-key:/app/key
    healthcheck:
      test: [CMD, test, -f, /tmp/up]
      interval: 1s
      retries: 30
volumes:
  server-data: {}
  server-key: {}
";

/// A compose file in the workspace with `config` as its development mmctl config file.
fn compose_with_config(ws: &Workspace, config: &str) -> PathBuf {
    let compose = ws.path("docker-compose.yml");
    std::fs::write(&compose, COMPOSE).unwrap();
    std::fs::create_dir_all(ws.path("env")).unwrap();
    std::fs::write(ws.path("env/development.mmctl.toml"), config).unwrap();
    compose
}

/// mmctl with only the signing key from the environment; paths come from the file and stack.
fn bare(compose: &Path, project: &str, signing_key: &Path) -> harness::Mmctl {
    harness::Mmctl::new()
        .env("MMCTL_COMPOSE_FILE", compose)
        .env("COMPOSE_PROJECT_NAME", project)
        .env("MMKT_BACKUP_SIGNING_KEY_FILE", signing_key)
}

fn mountpoint(volume: &str) -> PathBuf {
    let out = Command::new("docker")
        .args(["volume", "inspect", "-f", "{{.Mountpoint}}", volume])
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn setting<'a>(shown: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let list = shown["settings"].as_array().unwrap();
    list.iter().find(|s| s["name"] == name).unwrap()
}

#[test]
fn backup_db_finds_the_database_in_the_stack_volumes_and_settings_in_the_config_file() {
    if !docker_available() {
        return;
    }
    {
        let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-stack-tests-images.lock"));
        harness::Mmctl::new()
            .args(["image", "bootstrap-base"])
            .run()
            .assert_exit(0);
    }
    let ws = Workspace::new();
    let guard = ProjectGuard::new(&unique_project("mmctl-paths"));
    let project = guard.project().to_owned();
    let config = format!(
        "# the environment's backup settings\nbackup_dir = \"{}\"\nrecipients = [\"{}\"]\n",
        ws.backups.display(),
        ws.recipient
    );
    let compose = compose_with_config(&ws, &config);
    let mmctl = || bare(&compose, &project, &ws.signing_key);

    // No stack yet and no override: a clear usage error, nothing written.
    mmctl()
        .args(["backup", "db"])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("has no server container");
    assert!(!ws.backups.exists());

    mmctl()
        .args(["up", "--timeout", "120"])
        .run()
        .assert_exit(0);
    ws.seed(50);
    let data = mountpoint(&format!("{project}_server-data"));
    let key = mountpoint(&format!("{project}_server-key"));
    std::fs::copy(&ws.db, data.join("mmkt.db")).unwrap();
    std::fs::copy(&ws.key_file, key.join("db.key")).unwrap();
    std::fs::set_permissions(key.join("db.key"), std::fs::Permissions::from_mode(0o600)).unwrap();

    let manifests: Vec<serde_json::Value> = mmctl()
        .args(["backup", "db", "--json"])
        .run()
        .assert_exit(0)
        .json();
    let data_file = manifests[0]["data_file"].as_str().unwrap();
    assert!(
        ws.backups.join(data_file).is_file(),
        "written to the file's backup_dir"
    );

    let shown: serde_json::Value = mmctl()
        .args(["config", "show", "--json"])
        .run()
        .assert_exit(0)
        .json();
    let db = setting(&shown, "MMKT_DB_PATH");
    assert_eq!(db["source"], "volume");
    assert_eq!(db["from"], format!("{project}_server-data"));
    assert_eq!(db["value"], data.join("mmkt.db").display().to_string());
    assert_eq!(setting(&shown, "MMKT_DB_KEY_FILE")["source"], "volume");
    assert_eq!(setting(&shown, "MMKT_BACKUP_DIR")["source"], "file");
    assert_eq!(setting(&shown, "MMKT_BACKUP_RECIPIENTS")["source"], "file");
    assert_eq!(
        setting(&shown, "MMKT_BACKUP_IDENTITY_FILE")["source"],
        "default"
    );

    // The environment overrides the volume and the file; secrets are masked.
    let shown: serde_json::Value = mmctl()
        .env("MMKT_DB_PATH", ws.path("elsewhere.db"))
        .env("MMKT_BACKUP_DIR", ws.path("other-backups"))
        .env("MMKT_S3_SECRET_ACCESS_KEY", "s3-secret-value")
        .args(["config", "show", "--json"])
        .run()
        .assert_exit(0)
        .json();
    assert_eq!(setting(&shown, "MMKT_DB_PATH")["source"], "env");
    assert_eq!(setting(&shown, "MMKT_BACKUP_DIR")["source"], "env");
    assert_eq!(
        setting(&shown, "MMKT_S3_SECRET_ACCESS_KEY")["value"],
        "(set)"
    );
    assert!(!shown.to_string().contains("s3-secret-value"));
    mmctl()
        .env("MMKT_DB_PATH", ws.path("elsewhere.db"))
        .args(["backup", "db"])
        .run()
        .assert_exit(1)
        .assert_stderr_contains("elsewhere.db");
}

#[test]
fn a_bad_config_file_is_exit_2_naming_the_file_and_key_and_nothing_is_written() {
    let ws = Workspace::new();
    let compose = compose_with_config(&ws, "backup_dri = \"/tmp/nowhere\"\n");
    for args in [&["backup", "db"][..], &["config", "show"]] {
        bare(&compose, "mmkt-paths-bad", &ws.signing_key)
            .env("MMKT_DB_PATH", &ws.db)
            .env("MMKT_DB_KEY_FILE", &ws.key_file)
            .env("MMKT_BACKUP_DIR", &ws.backups)
            .env("MMKT_BACKUP_RECIPIENTS", &ws.recipient)
            .args(args)
            .run()
            .assert_exit(2)
            .assert_stderr_contains("development.mmctl.toml")
            .assert_stderr_contains("backup_dri");
    }
    assert!(!ws.backups.exists());
}
