//! Rules over Rust source text: finished code, no kill-by-name, error handling conventions,
//! money types, and the pure crates' freedom from I/O.

use super::lexer::lex;
use super::{Rule, Violation, in_crate_src, is_rust};

/// Library crates (directory names under `crates/`) that return typed errors and no anyhow.
const LIBRARIES: [&str; 7] = [
    "monero-types",
    "monero-rpc",
    "escrow-core",
    "sqlcipher-file",
    "stack",
    "backup",
    "mmctl",
];

/// The part of mmctl that is its binary and may use anyhow: the subcommands, the entry point,
/// the clap definition, the shared CLI helpers and the exit-code mapping.
const MMCTL_BINARY_HALF: [&str; 8] = [
    "crates/mmctl/src/cmd/",
    "crates/mmctl/src/accounts.rs",
    "crates/mmctl/src/secrets.rs",
    "crates/mmctl/src/main.rs",
    "crates/mmctl/src/cli.rs",
    "crates/mmctl/src/args/",
    "crates/mmctl/src/output.rs",
    "crates/mmctl/src/exit.rs",
];

/// A violation for every line of code (comments removed, strings kept) containing a needle.
pub(crate) fn code_hits(path: &str, text: &str, needles: &[&str], rule: Rule) -> Vec<Violation> {
    let lexed = lex(text);
    let mut out = Vec::new();
    for (i, code) in lexed.code.iter().enumerate() {
        if needles.iter().any(|n| code.contains(n)) {
            out.push(rule.at(path, i + 1, code.trim()));
        }
    }
    out
}

/// No `#[ignore]`, `#[should_panic]`, `todo!`, `unimplemented!` or `dbg!` in any Rust file.
pub fn no_unfinished_code(path: &str, text: &str) -> Vec<Violation> {
    if !is_rust(path) {
        return Vec::new();
    }
    let rule = Rule {
        rule: "no ignored, panicking or unfinished code",
        fix: "tests run and assert the error they expect (no #[ignore], no #[should_panic]); finish or \
              remove todo!/unimplemented!/dbg!",
    };
    code_hits(
        path,
        text,
        &[
            "#[ignore",
            "should_panic",
            "todo!(",
            "unimplemented!(",
            "dbg!(",
        ],
        rule,
    )
}

/// Nothing stops processes by name (`pkill`, `killall`): in Rust code, scripts, CI and deploy files.
pub fn no_kill_by_name(path: &str, text: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "processes are stopped by PID or container id",
        fix: "keep the PID (or container id) of what you started and signal only that; never pkill/killall",
    };
    let needles = ["pkill", "killall"];
    if is_rust(path) {
        return code_hits(path, text, &needles, rule);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| needles.iter().any(|n| l.contains(n)))
        .map(|(i, l)| rule.at(path, i + 1, l.trim()))
        .collect()
}

/// Library code returns typed errors: no `anyhow` outside binaries and mmctl's binary half.
pub fn libraries_use_no_anyhow(path: &str, text: &str) -> Vec<Violation> {
    if !in_crate_src(path, &LIBRARIES) || MMCTL_BINARY_HALF.iter().any(|p| path.starts_with(p)) {
        return Vec::new();
    }
    let rule = Rule {
        rule: "library code does not use anyhow",
        fix: "return a documented #[non_exhaustive] thiserror enum; only binaries (and mmctl's cmd layer) \
              use anyhow",
    };
    code_hits(path, text, &["anyhow"], rule)
}

/// Every `pub enum …Error` in a library crate is `#[non_exhaustive]`.
pub fn error_enums_are_non_exhaustive(path: &str, text: &str) -> Vec<Violation> {
    // The server's error enums too: its library half is shared by main and the tests.
    if !in_crate_src(path, &LIBRARIES) && !path.starts_with("crates/server/src/") {
        return Vec::new();
    }
    let rule = Rule {
        rule: "public error enums are #[non_exhaustive]",
        fix: "add #[non_exhaustive] above the enum so new variants are not breaking changes",
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("pub enum ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.ends_with("Error") {
            continue;
        }
        // The attribute and doc block directly above the enum.
        let marked = lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let l = l.trim_start();
                l.starts_with("#[") || l.starts_with("//") || l.ends_with(")]")
            })
            .any(|l| l.contains("non_exhaustive"));
        if !marked {
            out.push(rule.at(path, i + 1, format!("pub enum {name}")));
        }
    }
    out
}

/// Money is u64 atomic units: no `f64`/`f32` in escrow-core, monero-types or the amount module.
pub fn money_is_never_floating_point(path: &str, text: &str) -> Vec<Violation> {
    let applies = in_crate_src(path, &["escrow-core", "monero-types"])
        || path == "crates/monero-rpc/src/amount.rs";
    if !applies {
        return Vec::new();
    }
    let rule = Rule {
        rule: "money is never floating point",
        fix: "use the u64 piconero Amount newtype with checked arithmetic and exact decimal parsing",
    };
    code_hits(path, text, &["f64", "f32"], rule)
}

/// escrow-core and monero-types do no I/O: no file system, network, clock, threads, processes,
/// environment or async.
pub fn pure_crates_do_no_io(path: &str, text: &str) -> Vec<Violation> {
    if !in_crate_src(path, &["escrow-core", "monero-types"]) {
        return Vec::new();
    }
    let rule = Rule {
        rule: "escrow-core and monero-types do no I/O",
        fix: "take time, randomness and data as values from the caller; I/O belongs in the server, \
              monero-rpc or the ops crates",
    };
    let needles = [
        "std::fs",
        "std::net",
        "std::time::SystemTime",
        "SystemTime::now",
        "Instant::now",
        "std::thread",
        "std::process",
        "std::env",
        "tokio::",
        "async fn",
        ".await",
    ];
    code_hits(path, text, &needles, rule)
}

/// The server opens every write transaction `IMMEDIATE`. A deferred transaction that reads
/// and then writes fails at once with "database is locked" when another connection committed
/// in between (SQLite cannot upgrade a stale read snapshot, and skips the busy wait), so a
/// vendor's address change answered 500 while escrow workers were writing.
pub fn server_writes_begin_immediate(path: &str, text: &str) -> Vec<Violation> {
    // Migrations run on the one connection at start-up, before anything else writes.
    if !in_crate_src(path, &["server"]) || path.ends_with("/db/migrations.rs") {
        return Vec::new();
    }
    let rule = Rule {
        rule: "server transactions begin IMMEDIATE",
        fix: "use conn.transaction_with_behavior(TransactionBehavior::Immediate) so the write \
              lock is taken (with the busy wait) before the first read",
    };
    code_hits(
        path,
        text,
        &[".transaction()", "unchecked_transaction()"],
        rule,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tidy::{fired, quiet};

    #[test]
    fn deferred_server_transactions_are_found() {
        let bad = "let tx = conn.transaction()?;\n";
        assert_eq!(
            fired(
                server_writes_begin_immediate,
                "crates/server/src/escrow/parties.rs",
                bad
            ),
            [1]
        );
        assert!(quiet(
            server_writes_begin_immediate,
            "crates/server/src/db/migrations.rs",
            bad
        ));
        assert!(quiet(
            server_writes_begin_immediate,
            "crates/backup/src/lib.rs",
            bad
        ));
        let good = "let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;\n";
        assert!(quiet(
            server_writes_begin_immediate,
            "crates/server/src/db/orders.rs",
            good
        ));
    }

    #[test]
    fn unfinished_code_is_found_outside_comments() {
        let bad = "#[test]\n#[ignore]\nfn t() { todo!() }\nfn u() { dbg!(1); }\n";
        assert_eq!(
            fired(no_unfinished_code, "crates/a/tests/t.rs", bad),
            [2, 3, 4]
        );
        let clean =
            "// never #[ignore] a test or leave todo!() behind\nfn t() { assert_eq!(1, 1); }\n";
        assert!(quiet(no_unfinished_code, "crates/a/tests/t.rs", clean));
    }

    #[test]
    fn kill_by_name_is_found_in_rust_and_scripts() {
        assert_eq!(
            fired(
                no_kill_by_name,
                "scripts/stop.sh",
                "#!/bin/sh\npkill -f monerod\n"
            ),
            [2]
        );
        assert_eq!(
            fired(
                no_kill_by_name,
                "crates/a/src/lib.rs",
                "Command::new(\"killall\");\n"
            ),
            [1]
        );
        assert!(quiet(
            no_kill_by_name,
            "scripts/stop.sh",
            "kill \"$(cat pid)\"\n"
        ));
    }

    #[test]
    fn anyhow_only_in_binaries() {
        let text = "use anyhow::Context;\n";
        assert_eq!(
            fired(libraries_use_no_anyhow, "crates/stack/src/engine.rs", text),
            [1]
        );
        assert_eq!(
            fired(libraries_use_no_anyhow, "crates/mmctl/src/lib.rs", text),
            [1]
        );
        assert!(quiet(
            libraries_use_no_anyhow,
            "crates/mmctl/src/cmd/up.rs",
            text
        ));
        assert!(quiet(
            libraries_use_no_anyhow,
            "crates/mmctl/src/exit.rs",
            text
        ));
        assert!(quiet(
            libraries_use_no_anyhow,
            "crates/server/src/main.rs",
            text
        ));
        assert!(quiet(
            libraries_use_no_anyhow,
            "crates/stack/src/engine.rs",
            "use thiserror::Error;\n"
        ));
    }

    #[test]
    fn error_enums_need_non_exhaustive() {
        let bad = "/// Failed.\n#[derive(Debug)]\npub enum StackError {\n    A,\n}\n";
        assert_eq!(
            fired(
                error_enums_are_non_exhaustive,
                "crates/stack/src/error.rs",
                bad
            ),
            [3]
        );
        let clean = "/// Failed.\n#[derive(Debug, thiserror::Error)]\n#[non_exhaustive]\npub enum StackError {\n    A,\n}\n";
        assert!(quiet(
            error_enums_are_non_exhaustive,
            "crates/stack/src/error.rs",
            clean
        ));
        assert!(quiet(
            error_enums_are_non_exhaustive,
            "crates/stack/src/error.rs",
            "pub enum Kind { A }\n"
        ));
    }

    #[test]
    fn money_has_no_floats() {
        let bad = "pub fn xmr(a: u64) -> f64 { a as f64 / 1e12 }\n";
        assert_eq!(
            fired(
                money_is_never_floating_point,
                "crates/monero-types/src/amount.rs",
                bad
            ),
            [1]
        );
        assert_eq!(
            fired(
                money_is_never_floating_point,
                "crates/escrow-core/src/money.rs",
                bad
            ),
            [1]
        );
        let clean =
            "// never f64\npub fn add(a: u64, b: u64) -> Option<u64> { a.checked_add(b) }\n";
        assert!(quiet(
            money_is_never_floating_point,
            "crates/monero-types/src/amount.rs",
            clean
        ));
        assert!(quiet(
            money_is_never_floating_point,
            "crates/server/src/metrics.rs",
            bad
        ));
    }

    #[test]
    fn pure_crates_touch_no_world() {
        let bad =
            "use std::fs;\nfn now() { let _ = std::time::Instant::now(); }\nasync fn f() {}\n";
        assert_eq!(
            fired(pure_crates_do_no_io, "crates/escrow-core/src/order.rs", bad),
            [1, 2, 3]
        );
        assert_eq!(
            fired(pure_crates_do_no_io, "crates/monero-types/src/lib.rs", bad),
            [1, 2, 3]
        );
        let clean = "pub fn expired(now_secs: u64, deadline_secs: u64) -> bool { now_secs >= deadline_secs }\n";
        assert!(quiet(
            pure_crates_do_no_io,
            "crates/escrow-core/src/order.rs",
            clean
        ));
        assert!(quiet(
            pure_crates_do_no_io,
            "crates/server/src/main.rs",
            bad
        ));
    }
}
