//! Tidy: the project's conventions, checked on every `cargo test` (in the spirit of
//! rust-analyzer's tidy test). Each check names the file and line that breaks a rule and says
//! what the rule is, so a failure reads as an instruction.

use std::fs;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repo root").to_path_buf()
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "target" || n == ".git") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// (file, 1-based line, line text) for every line containing `needle`, outside `//` comments.
fn find(files: &[PathBuf], needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for file in files {
        for (i, line) in read(file).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(needle) {
                hits.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    hits
}

fn all_rust_sources() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = rust_files(&root.join("crates"));
    files.extend(rust_files(&root.join("tests")));
    // This file names the forbidden patterns on purpose.
    files.retain(|f| !f.ends_with("tests/tests/tidy.rs"));
    files
}

#[test]
fn no_ignored_panicking_or_unfinished_code() {
    let files = all_rust_sources();
    let mut hits = Vec::new();
    for needle in ["#[ignore", "should_panic", "todo!(", "unimplemented!(", "dbg!("] {
        hits.extend(find(&files, needle));
    }
    assert!(
        hits.is_empty(),
        "tests must run and assert the error they expect, and no stub is done:\n{}",
        hits.join("\n")
    );
}

#[test]
fn nothing_kills_processes_by_name() {
    let root = repo_root();
    let mut files = all_rust_sources();
    for dir in ["scripts", ".ci", "deploy"] {
        let Ok(entries) = fs::read_dir(root.join(dir)) else { continue };
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    let mut hits = Vec::new();
    for needle in ["pkill", "killall"] {
        hits.extend(find(&files, needle));
    }
    assert!(hits.is_empty(), "stop processes by PID or container id, never by name:\n{}", hits.join("\n"));
}

#[test]
fn library_crates_do_not_use_anyhow() {
    let root = repo_root();
    let mut files = Vec::new();
    for lib in ["crates/monero-rpc/src", "crates/escrow-core/src", "crates/mmctl/src"] {
        files.extend(rust_files(&root.join(lib)));
    }
    // The mmctl binary half (main.rs, cli.rs, exit.rs, cmd/) is a binary and may use anyhow.
    files.retain(|f| {
        let s = f.to_string_lossy();
        !(s.contains("crates/mmctl/src/cmd/")
            || s.ends_with("crates/mmctl/src/main.rs")
            || s.ends_with("crates/mmctl/src/cli.rs")
            || s.ends_with("crates/mmctl/src/exit.rs"))
    });
    let hits = find(&files, "anyhow");
    assert!(
        hits.is_empty(),
        "library code returns documented #[non_exhaustive] thiserror enums; only binaries use anyhow:\n{}",
        hits.join("\n")
    );
}

#[test]
fn public_error_enums_are_non_exhaustive() {
    let root = repo_root();
    let mut offenders = Vec::new();
    for lib in ["crates/monero-rpc/src", "crates/escrow-core/src", "crates/mmctl/src", "crates/server/src"] {
        for file in rust_files(&root.join(lib)) {
            let text = read(&file);
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let t = line.trim_start();
                let Some(rest) = t.strip_prefix("pub enum ") else { continue };
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.ends_with("Error") {
                    continue;
                }
                // Look back over the attribute/doc block directly above the enum.
                let attrs = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| {
                        let l = l.trim_start();
                        l.starts_with("#[") || l.starts_with("///") || l.starts_with("//") || l.ends_with(")]")
                    })
                    .any(|l| l.contains("non_exhaustive"));
                if !attrs {
                    offenders.push(format!("{}:{}: pub enum {name}", file.display(), i + 1));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "public error enums must be #[non_exhaustive]:\n{}", offenders.join("\n"));
}

#[test]
fn money_is_never_floating_point() {
    let root = repo_root();
    let mut files = rust_files(&root.join("crates/escrow-core/src"));
    files.push(root.join("crates/monero-rpc/src/amount.rs"));
    let mut hits = find(&files, "f64");
    hits.extend(find(&files, "f32"));
    assert!(hits.is_empty(), "money is u64 atomic units with checked arithmetic, never a float:\n{}", hits.join("\n"));
}

/// escrow-core does no I/O: its only dependencies are serde and thiserror, and its source never
/// touches the file system, the network, the clock, threads or randomness.
#[test]
fn escrow_core_does_no_io() {
    let root = repo_root();
    let manifest = read(&root.join("crates/escrow-core/Cargo.toml"));
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .expect("escrow-core has a [dependencies] table");
    for line in deps.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        assert!(
            ["serde", "thiserror"].contains(&name),
            "escrow-core must stay pure; dependency `{name}` is not allowed (crates/escrow-core/Cargo.toml)"
        );
    }
    let files = rust_files(&root.join("crates/escrow-core/src"));
    let mut hits = Vec::new();
    for needle in ["std::fs", "std::net", "std::time::SystemTime", "Instant::now", "std::thread", "std::process", "std::env"] {
        hits.extend(find(&files, needle));
    }
    assert!(hits.is_empty(), "escrow-core does no I/O (time arrives as a value):\n{}", hits.join("\n"));
}

/// monero-rpc knows nothing about escrow, and mmctl never links the server crate.
#[test]
fn crate_boundaries_hold() {
    let root = repo_root();
    let rpc = read(&root.join("crates/monero-rpc/Cargo.toml"));
    assert!(!rpc.contains("escrow-core"), "monero-rpc must not depend on escrow-core");
    let mmctl = read(&root.join("crates/mmctl/Cargo.toml"));
    assert!(
        !mmctl.contains("mmkt-server"),
        "mmctl reaches the server only through its HTTP endpoints and files, never its crate"
    );
    for krate in ["monero-rpc", "escrow-core"] {
        let manifest = read(&root.join(format!("crates/{krate}/Cargo.toml")));
        let deps = manifest.split("[dependencies]").nth(1).and_then(|s| s.split("\n[").next()).unwrap_or("");
        for forbidden in ["axum", "rusqlite"] {
            assert!(!deps.contains(forbidden), "{krate} must not know HTTP serving or SQL (found {forbidden})");
        }
    }
}

/// ARCHITECTURE.md has one code-map heading per crate, and README has exactly two set-up
/// commands, the second of which is what `.ci/run` runs.
#[test]
fn docs_match_the_tree() {
    let root = repo_root();
    let arch = read(&root.join("ARCHITECTURE.md"));
    for entry in fs::read_dir(root.join("crates")).expect("crates/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            arch.contains(&format!("### `crates/{name}`")),
            "ARCHITECTURE.md needs a code-map heading \"### `crates/{name}`\""
        );
    }
    let readme = read(&root.join("README.md"));
    let blocks: Vec<&str> = readme.split("```sh\n").skip(1).map(|b| b.split("```").next().unwrap_or("").trim()).collect();
    assert_eq!(blocks.len(), 2, "README.md must have exactly two set-up commands, found: {blocks:?}");
    assert!(blocks.iter().all(|b| b.lines().count() == 1), "each README set-up command is one line: {blocks:?}");
    let ci = read(&root.join(".ci/run"));
    let test_script = blocks[1].split_whitespace().last().expect("a command");
    assert!(ci.contains(test_script), ".ci/run must run README's test command ({test_script})");
}
