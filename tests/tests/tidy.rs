//! Tidy: the project's conventions and the layout's boundaries, checked on every `cargo test`
//! (in the spirit of rust-analyzer's tidy test). The rules live in `mmkt_repo_tests::tidy`,
//! each a pure function over a file's path and text with unit tests that prove it fires; this
//! file applies them to the real tree. A failure names the file and line, the rule, and what
//! to do.

use std::fs;
use std::path::Path;

use mmkt_repo_tests::tidy::{self, Violation};
use mmkt_repo_tests::tools::repo_root;

/// A file of the tree: its path relative to the repository root (with `/`) and its text.
struct File {
    path: String,
    text: String,
}

/// Directories whose files the rules read, recursively.
const TREE: [&str; 7] = [
    "crates",
    "tests",
    "scripts",
    "deploy",
    "monitoring",
    ".ci",
    ".cargo",
];

/// Calls `visit` with the path and the `/`-separated root-relative path of every file under
/// `dir`, recursively, skipping `target/` and `.git/`.
fn visit_files(root: &Path, dir: &Path, visit: &mut dyn FnMut(&Path, String)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .file_name()
            .is_some_and(|n| n == "target" || n == ".git")
        {
            continue;
        }
        if path.is_dir() {
            visit_files(root, &path, visit);
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        visit(&path, rel);
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<File>) {
    visit_files(root, dir, &mut |path, rel| {
        if tidy::SELF_EXEMPT.iter().any(|e| rel.starts_with(e)) {
            return;
        }
        // Binary files (images, archives) are not text and break no text rule.
        let Ok(text) = fs::read_to_string(path) else {
            return;
        };
        out.push(File { path: rel, text });
    });
}

/// Every text file of the tree the rules apply to, plus the root Cargo.toml, sorted by path.
fn tree() -> Vec<File> {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in TREE {
        walk(&root, &root.join(dir), &mut files);
    }
    let manifest = root.join("Cargo.toml");
    files.push(File {
        path: "Cargo.toml".to_owned(),
        text: fs::read_to_string(manifest).expect("root Cargo.toml"),
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn assert_clean(violations: Vec<Violation>) {
    let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        lines.is_empty(),
        "{} violation(s):\n{}",
        lines.len(),
        lines.join("\n")
    );
}

/// A (path, text) rule applied to every file of the tree.
fn in_files(rule: fn(&str, &str) -> Vec<Violation>) -> Vec<Violation> {
    tree().iter().flat_map(|f| rule(&f.path, &f.text)).collect()
}

/// A manifest rule applied to every `Cargo.toml` of the tree.
fn in_manifests(rule: fn(&str, &str) -> Vec<Violation>) -> Vec<Violation> {
    let manifests = tree()
        .into_iter()
        .filter(|f| f.path == "Cargo.toml" || f.path.ends_with("/Cargo.toml"));
    manifests.flat_map(|f| rule(&f.path, &f.text)).collect()
}

#[test]
fn no_ignored_panicking_or_unfinished_code() {
    assert_clean(in_files(tidy::no_unfinished_code));
}

#[test]
fn nothing_kills_processes_by_name() {
    assert_clean(in_files(tidy::no_kill_by_name));
}

#[test]
fn library_crates_do_not_use_anyhow() {
    assert_clean(in_files(tidy::libraries_use_no_anyhow));
}

#[test]
fn public_error_enums_are_non_exhaustive() {
    assert_clean(in_files(tidy::error_enums_are_non_exhaustive));
}

#[test]
fn server_transactions_begin_immediate() {
    assert_clean(in_files(tidy::server_writes_begin_immediate));
}

#[test]
fn money_is_never_floating_point() {
    assert_clean(in_files(tidy::money_is_never_floating_point));
}

/// escrow-core and monero-types do no I/O, in their sources and in their dependencies.
#[test]
fn escrow_core_does_no_io() {
    let mut violations = in_files(tidy::pure_crates_do_no_io);
    violations.extend(in_manifests(tidy::escrow_core_stays_pure));
    assert_clean(violations);
}

/// Which crate may depend on which: monero-types is floor 0, monero-rpc knows no escrow, the
/// domain crates neither serve HTTP nor use SQL, and the ops crates never link the server.
#[test]
fn crate_boundaries_hold() {
    let rules = [
        tidy::monero_types_stands_alone,
        tidy::monero_rpc_knows_no_escrow,
        tidy::domain_crates_know_no_serving_or_sql,
        tidy::ops_crates_never_link_the_server,
    ];
    assert_clean(rules.into_iter().flat_map(in_manifests).collect());
}

#[test]
fn only_mmkt_stack_uses_bollard() {
    let mut violations = in_files(tidy::only_stack_imports_bollard);
    violations.extend(in_manifests(tidy::only_stack_depends_on_bollard));
    assert_clean(violations);
}

#[test]
fn mmctl_cmd_imports_no_backend_crate() {
    assert_clean(in_files(tidy::cmd_uses_no_backend_crates));
}

#[test]
fn mmctl_cmd_modules_are_independent() {
    assert_clean(in_files(tidy::cmd_modules_stay_independent));
}

#[test]
fn mmctl_cmd_files_are_short() {
    assert_clean(in_files(tidy::cmd_files_are_short));
}

#[test]
fn server_has_one_error_response() {
    let files = tree();
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    assert_clean(tidy::one_error_into_response(&pairs));
}

#[test]
fn comments_cite_no_issues() {
    assert_clean(in_files(tidy::comments_cite_no_issues));
}

#[test]
fn comments_name_no_people() {
    assert_clean(in_files(tidy::comments_name_no_people));
}

#[test]
fn comments_point_inside_repo() {
    assert_clean(in_files(tidy::comments_point_inside_repo));
}

/// ARCHITECTURE.md has one code-map heading per crate, and README has exactly two set-up
/// commands, the second of which is what `.ci/run` runs.
#[test]
fn docs_match_the_tree() {
    let mut crates: Vec<String> = fs::read_dir(repo_root().join("crates"))
        .expect("crates/")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    let mut violations = tidy::architecture_maps_every_crate(&read("ARCHITECTURE.md"), &crates);
    violations.extend(tidy::readme_has_two_setup_commands(
        &read("README.md"),
        &read(".ci/run"),
    ));
    assert_clean(violations);
}

/// The CI gates stay in scripts/test.sh (fmt, clippy, deny, nextest, doc tests), and the GitHub
/// workflow keeps its jobs and the production approval.
#[test]
fn ci_gates_stay_in_place() {
    let mut violations = tidy::test_script_runs_the_gates(&read("scripts/test.sh"));
    violations.extend(tidy::workflow_keeps_the_jobs(&read(
        ".github/workflows/ci.yml",
    )));
    assert_clean(violations);
}

/// README.md, ARCHITECTURE.md and docs/*.md link only to files of the repository, and their
/// `#anchors` to headings of the files they name.
#[test]
fn docs_link_inside_the_repo() {
    let root = repo_root();
    let mut files = std::collections::BTreeSet::new();
    visit_files(&root, &root, &mut |_, rel| {
        files.insert(rel);
    });
    let mut docs: Vec<(String, String)> = files
        .iter()
        .filter(|p| p.ends_with(".md"))
        .map(|p| (p.clone(), read(p)))
        .collect();
    docs.sort();
    let pairs: Vec<(&str, &str)> = docs.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let checked = pairs.iter().filter(|(p, _)| {
        *p == "README.md"
            || *p == "ARCHITECTURE.md"
            || (p.starts_with("docs/") && !p[5..].contains('/'))
    });
    let violations = checked
        .flat_map(|(path, text)| tidy::markdown_links_resolve(path, text, &files, &pairs))
        .collect();
    assert_clean(violations);
}
