//! Rules that keep the CI gates from silently vanishing: scripts/test.sh (what `.ci/run` runs)
//! runs each gate, and the GitHub workflow keeps the jobs that mirror them.

use super::{Rule, Violation};

/// A gate of scripts/test.sh: its name and the words one uncommented line must hold (in any
/// order, other words allowed).
struct Gate {
    name: &'static str,
    words: &'static [&'static str],
}

/// The gates scripts/test.sh must run.
const GATES: [Gate; 6] = [
    Gate {
        name: "fmt",
        words: &["cargo", "fmt", "--all", "--check"],
    },
    Gate {
        name: "clippy",
        words: &[
            "export",
            "RUSTC_WORKSPACE_WRAPPER=\"$clippy_driver\"",
            "CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
        ],
    },
    Gate {
        name: "build",
        words: &["step", "cargo", "build", "--workspace", "--all-targets"],
    },
    Gate {
        name: "deny",
        words: &["cargo", "deny", "check", "licenses", "bans", "sources"],
    },
    Gate {
        name: "nextest",
        words: &["cargo", "nextest", "run", "--workspace"],
    },
    Gate {
        name: "doctest",
        words: &["cargo", "test", "--workspace", "--doc"],
    },
];

/// The jobs `.github/workflows/ci.yml` must define.
const JOBS: [&str; 6] = [
    "quality",
    "test",
    "security",
    "images",
    "deploy-staging",
    "deploy-production",
];

/// scripts/test.sh runs every gate (fmt, clippy as the build's compiler of the workspace with
/// `-D warnings`, deny, the build, nextest, doc tests) on an uncommented line.
pub fn test_script_runs_the_gates(script: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "scripts/test.sh runs every CI gate",
        fix: "put the gate's command back in scripts/test.sh (the README's test command, run by .ci/run)",
    };
    let lines: Vec<Vec<&str>> = script
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    GATES
        .iter()
        .filter(|gate| {
            !lines
                .iter()
                .any(|words| gate.words.iter().all(|w| words.contains(w)))
        })
        .map(|gate| {
            rule.at(
                "scripts/test.sh",
                0,
                format!("no `{}` gate ({})", gate.name, gate.words.join(" ")),
            )
        })
        .collect()
}

/// `.github/workflows/ci.yml` defines the jobs quality, test, security, images, deploy-staging
/// and deploy-production; the test job runs scripts/test.sh and production deploys wait for
/// the `production` environment's approval.
pub fn workflow_keeps_the_jobs(workflow: &str) -> Vec<Violation> {
    let path = ".github/workflows/ci.yml";
    let rule = Rule {
        rule: "the GitHub workflow mirrors the CI gates and deploys",
        fix: "keep the jobs quality, test (bash scripts/test.sh), security, images, deploy-staging and \
              deploy-production (environment: production) in .github/workflows/ci.yml",
    };
    let mut out: Vec<Violation> = JOBS
        .iter()
        .filter(|job| !workflow.lines().any(|l| l == format!("  {job}:")))
        .map(|job| rule.at(path, 0, format!("no job `{job}`")))
        .collect();
    let uncommented = |needle: &str| {
        workflow
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains(needle))
    };
    for needle in ["run: bash scripts/test.sh", "environment: production"] {
        if !uncommented(needle) {
            out.push(rule.at(path, 0, format!("no `{needle}`")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "#!/usr/bin/env bash\nset -e\nstep fmt cargo fmt --all --check\n\
        step deny cargo deny check licenses bans sources\n\
        export RUSTC_WORKSPACE_WRAPPER=\"$clippy_driver\" CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__\n\
        step clippy cargo build --workspace --all-targets --keep-going\n\
        step nextest cargo nextest run --workspace --profile ci\n\
        cargo test --workspace --doc\n";

    #[test]
    fn every_gate_present_passes() {
        assert!(test_script_runs_the_gates(SCRIPT).is_empty());
    }

    #[test]
    fn a_removed_or_commented_gate_is_named() {
        let without_clippy = SCRIPT.replace("export RUSTC", "# export RUSTC");
        let v = test_script_runs_the_gates(&without_clippy);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].found.contains("`clippy`"), "{}", v[0]);

        let weakened = SCRIPT.replace("-D__CLIPPY_HACKERY__", "-W__CLIPPY_HACKERY__");
        assert_eq!(test_script_runs_the_gates(&weakened).len(), 1);

        let unbuilt = SCRIPT.replace("step clippy cargo build", "step clippy cargo check");
        let v = test_script_runs_the_gates(&unbuilt);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].found.contains("`build`"), "{}", v[0]);

        let v = test_script_runs_the_gates("cargo test\n");
        assert_eq!(v.len(), GATES.len(), "{v:?}");
    }

    const WORKFLOW: &str = "on: push\njobs:\n  quality:\n    x: 1\n  test:\n    steps:\n      - run: bash scripts/test.sh\n\
        \x20 security:\n  images:\n  deploy-staging:\n  deploy-production:\n    environment: production\n";

    #[test]
    fn a_workflow_with_every_job_passes() {
        assert!(workflow_keeps_the_jobs(WORKFLOW).is_empty());
    }

    #[test]
    fn a_missing_job_or_approval_is_named() {
        let v = workflow_keeps_the_jobs(&WORKFLOW.replace("  images:\n", ""));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].found.contains("`images`"), "{}", v[0]);

        let ungated = WORKFLOW.replace("    environment: production\n", "");
        let v = workflow_keeps_the_jobs(&ungated);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].found.contains("environment: production"), "{}", v[0]);

        let commented = WORKFLOW.replace("- run: bash", "# - run: bash");
        assert_eq!(workflow_keeps_the_jobs(&commented).len(), 1);
    }
}
