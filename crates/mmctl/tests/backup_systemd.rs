//! `mmctl systemd install`: units pass `systemd-analyze verify`, carry the hardening and the
//! schedules, and the reference copies in deploy/systemd are what the command writes.

mod harness;

use std::path::Path;
use std::process::Command;

use harness::{Mmctl, Output};

/// Runs `mmctl systemd install --dir DIR --mmctl-path MMCTL` (no MMKT_* from the environment).
fn install(dir: &Path, mmctl: &str) -> Output {
    Mmctl::new()
        .args(["systemd", "install", "--dir"])
        .arg(dir)
        .args(["--mmctl-path", mmctl])
        .run()
}

fn have_systemd_analyze() -> bool {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("MMKT_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!(
            "systemd-analyze is required (MMKT_REQUIRE_SERVICES=1) but not installed (apt-get install systemd)"
        );
    }
    found
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    if !have_systemd_analyze() {
        eprintln!("skipping: systemd-analyze not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units");
    install(&units, env!("CARGO_BIN_EXE_mmctl")).assert_exit(0);
    let mut names: Vec<String> = std::fs::read_dir(&units)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "mmctl-backup-db.service",
            "mmctl-backup-db.timer",
            "mmctl-backup-prune.service",
            "mmctl-backup-prune.timer",
            "mmctl-backup-wallets.service",
            "mmctl-backup-wallets.timer",
            "mmctl-drill.service",
            "mmctl-drill.timer",
            "mmctl-tls-renew.service",
            "mmctl-tls-renew.timer"
        ]
    );
    let paths: Vec<_> = names.iter().map(|n| units.join(n)).collect();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .current_dir(&units)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stdout}{stderr}"
    );
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze warnings: {stderr}"
    );

    let read = |name: &str| std::fs::read_to_string(units.join(name)).unwrap();
    let db = read("mmctl-backup-db.service");
    for needle in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/backups/mmkt",
        "Type=oneshot",
    ] {
        assert!(db.contains(needle), "missing {needle}:\n{db}");
    }
    assert!(db.contains(&format!(
        "ExecStart={} backup db",
        env!("CARGO_BIN_EXE_mmctl")
    )));
    // The signing key path comes from the EnvironmentFile; each unit says which settings it needs.
    assert!(db.contains("MMKT_BACKUP_SIGNING_KEY_FILE"), "{db}");
    let drill = read("mmctl-drill.service");
    for setting in ["MMKT_BACKUP_SIGNING_KEY_FILE", "MMKT_BACKUP_VERIFY_KEYS"] {
        assert!(drill.contains(setting), "missing {setting}:\n{drill}");
    }
    assert!(read("mmctl-backup-db.timer").contains("OnCalendar=*-*-* 00/6:00:00"));
    assert!(read("mmctl-backup-wallets.timer").contains("OnCalendar=*-*-* 02:00:00"));
    assert!(read("mmctl-backup-prune.timer").contains("OnCalendar=*-*-* 04:30:00"));
    assert!(read("mmctl-drill.timer").contains("OnCalendar=*-*-01 05:00:00"));
    // TLS renewal: twice a day at a random offset like Debian's certbot.timer, on the engine.
    let renew_timer = read("mmctl-tls-renew.timer");
    assert!(
        renew_timer.contains("OnCalendar=*-*-* 00,12:00:00"),
        "{renew_timer}"
    );
    assert!(
        renew_timer.contains("RandomizedDelaySec=12h"),
        "{renew_timer}"
    );
    let renew = read("mmctl-tls-renew.service");
    assert!(
        renew.contains(" tls renew\n") && renew.contains("docker.service"),
        "{renew}"
    );
    assert!(
        read("mmctl-drill.service").contains("ExecStart=")
            && read("mmctl-drill.service").contains(" drill\n")
    );
    // Every schedule is a valid calendar expression.
    let out = Command::new("systemd-analyze")
        .args([
            "calendar",
            "*-*-* 00/6:00:00",
            "*-*-* 02:00:00",
            "*-*-* 04:30:00",
            "*-*-01 05:00:00",
            "*-*-* 00,12:00:00",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reference_units_in_deploy_match_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "/usr/local/bin/mmctl").assert_exit(0);
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/systemd");
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = entry.file_name();
        let expected = std::fs::read_to_string(entry.path()).unwrap();
        let actual = std::fs::read_to_string(reference.join(&name))
            .unwrap_or_else(|e| panic!("deploy/systemd/{} missing ({e}); regenerate with mmctl systemd install --dir deploy/systemd --mmctl-path /usr/local/bin/mmctl", name.to_string_lossy()));
        assert_eq!(
            actual,
            expected,
            "deploy/systemd/{} is stale",
            name.to_string_lossy()
        );
    }
}

#[test]
fn relative_paths_are_a_usage_error_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "mmctl")
        .assert_exit(2)
        .assert_stderr_contains("absolute path");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn minutely_db_schedule_writes_a_verified_one_minute_delta_timer_with_the_same_hardening() {
    let dir = tempfile::tempdir().unwrap();
    let (six_hourly, minutely) = (dir.path().join("6h"), dir.path().join("1m"));
    install(&six_hourly, env!("CARGO_BIN_EXE_mmctl")).assert_exit(0);
    Mmctl::new()
        .args(["systemd", "install", "--db-schedule", "minutely", "--dir"])
        .arg(&minutely)
        .args(["--mmctl-path", env!("CARGO_BIN_EXE_mmctl")])
        .run()
        .assert_exit(0);
    let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let timer = read(&minutely, "mmctl-backup-db.timer");
    for needle in [
        "OnCalendar=minutely\n",
        "Persistent=true\n",
        "AccuracySec=1s\n",
        "RandomizedDelaySec=0\n",
    ] {
        assert!(timer.contains(needle), "missing {needle}:\n{timer}");
    }
    let service = read(&minutely, "mmctl-backup-db.service");
    // A default chain policy the EnvironmentFile can override (it comes after).
    let env_at = service.find("Environment=MMKT_BACKUP_DB_FULL_EVERY=24h\n");
    let file_at = service.find("EnvironmentFile=");
    assert!(env_at.is_some() && env_at < file_at, "{service}");
    // The same hardening as the six-hourly service.
    let hardening = |s: &str| s[s.find("UMask=").unwrap()..].to_owned();
    assert_eq!(
        hardening(&service),
        hardening(&read(&six_hourly, "mmctl-backup-db.service"))
    );
    // The other units are unchanged.
    for name in ["mmctl-backup-wallets.timer", "mmctl-drill.service"] {
        assert_eq!(read(&minutely, name), read(&six_hourly, name), "{name}");
    }
    Mmctl::new()
        .args(["systemd", "install", "--db-schedule", "hourly", "--print"])
        .args(["--mmctl-path", env!("CARGO_BIN_EXE_mmctl")])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("minutely");
    if !have_systemd_analyze() {
        eprintln!("skipping systemd-analyze: not installed");
        return;
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args([
            minutely.join("mmctl-backup-db.service"),
            minutely.join("mmctl-backup-db.timer"),
        ])
        .current_dir(&minutely)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    let out = Command::new("systemd-analyze")
        .args(["calendar", "minutely"])
        .output()
        .unwrap();
    assert!(out.status.success());
}
