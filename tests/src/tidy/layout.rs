//! Rules for the crate layout's boundaries inside the source: who may import bollard, what
//! mmctl's `cmd/` modules may import and how long they may be, and the server's one error
//! response mapping.

use super::lexer::lex;
use super::{Rule, Violation, has_word, is_rust, word_positions};

/// mmctl's subcommand modules.
const CMD: &str = "crates/mmctl/src/cmd/";

/// Most lines of code a file in mmctl's `cmd/` may have.
pub const CMD_FILE_MAX_LINES: usize = 150;

/// Lines of bare code (comments removed, string contents blanked) that reference crate
/// `krate` as a path (`krate::`, `use krate`, `extern crate krate`): (1-based line, code).
fn crate_references(text: &str, krate: &str) -> Vec<(usize, String)> {
    let lexed = lex(text);
    let mut out = Vec::new();
    for (i, bare) in lexed.bare.iter().enumerate() {
        let hit = word_positions(bare, krate).any(|p| {
            let before = bare[..p].trim_end();
            bare[p + krate.len()..].starts_with("::")
                || before.ends_with("use")
                || before.ends_with("extern crate")
                || before.ends_with("::")
        });
        if hit {
            out.push((i + 1, lexed.code[i].trim().to_owned()));
        }
    }
    out
}

/// Only mmkt-stack (`crates/stack`) imports bollard: no `bollard::` or `use bollard` in any
/// other crate's sources, tests or examples.
pub fn only_stack_imports_bollard(path: &str, text: &str) -> Vec<Violation> {
    if !is_rust(path) || path.starts_with("crates/stack/") {
        return Vec::new();
    }
    let rule = Rule {
        rule: "only mmkt-stack imports bollard",
        fix: "add the Engine API operation to mmkt-stack (crates/stack) and call it from there; no other \
              crate names bollard types",
    };
    crate_references(text, "bollard")
        .into_iter()
        .map(|(line, code)| rule.at(path, line, code))
        .collect()
}

/// mmctl's `cmd/` modules build a request, call a library crate and print: they import no
/// bollard, rusqlite, reqwest or AWS crate.
pub fn cmd_uses_no_backend_crates(path: &str, text: &str) -> Vec<Violation> {
    if !path.starts_with(CMD) || !is_rust(path) {
        return Vec::new();
    }
    let rule = Rule {
        rule: "mmctl's cmd/ imports no bollard, rusqlite, reqwest or aws crate",
        fix: "move the operation into mmkt-stack or mmkt-backup (plain request struct in, typed report out) \
              and call that",
    };
    let mut hits: Vec<(usize, String)> =
        ["bollard", "rusqlite", "reqwest", "aws_sdk_s3", "aws_config"]
            .iter()
            .flat_map(|k| crate_references(text, k))
            .collect();
    hits.sort();
    hits.dedup();
    hits.into_iter()
        .map(|(line, code)| rule.at(path, line, code))
        .collect()
}

/// The module path of a file under `cmd/`: `cmd/up.rs` → `[cmd, up]`, `cmd/backup/mod.rs` →
/// `[cmd, backup]`, `cmd/mod.rs` → `[cmd]`.
fn cmd_module_path(path: &str) -> Vec<String> {
    let rel = path
        .strip_prefix(CMD)
        .unwrap_or(path)
        .trim_end_matches(".rs");
    let mut segments: Vec<String> = std::iter::once("cmd")
        .chain(rel.split('/'))
        .map(str::to_owned)
        .collect();
    if segments.last().is_some_and(|s| s == "mod") {
        segments.pop();
    }
    segments
}

/// The path segments written at `bare[at..]`: identifiers joined by `::`, ending before
/// anything else (`{` and `*` are kept as a final segment: a group or glob).
fn path_segments(bare: &str, at: usize) -> Vec<String> {
    let mut segments = Vec::new();
    let mut rest = &bare[at..];
    loop {
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            if rest.starts_with('{') || rest.starts_with('*') {
                segments.push(rest[..1].to_owned());
            }
            return segments;
        }
        segments.push(rest[..len].to_owned());
        let Some(next) = rest[len..].strip_prefix("::") else {
            return segments;
        };
        rest = next.trim_start();
    }
}

/// The module a `super::…`, `crate::cmd::…` or `mmctl::cmd::…` path starting at `at` reaches,
/// when it lies under `cmd`, from a file whose module path is `own` and `inline` inline
/// modules deep.
fn cmd_target(bare: &str, at: usize, own: &[String], inline: usize) -> Option<Vec<String>> {
    // Only a path's first segment starts a path (`super` in `super::super` once).
    if bare[..at].trim_end().ends_with("::") {
        return None;
    }
    let segments = path_segments(bare, at);
    // A lone `crate` or `super` (as in `pub(crate)`) is a visibility, not a path.
    if segments.len() < 2 {
        return None;
    }
    let first = &segments[0];
    let (mut target, rest) = match first.as_str() {
        "crate" | "mmctl" => (Vec::new(), &segments[1..]),
        "super" => {
            let ups = segments.iter().take_while(|s| *s == "super").count();
            // Inline modules (`mod tests { … }`) sit below the file's own module.
            let depth = own.len() + inline;
            let base = depth.checked_sub(ups)?;
            let mut here: Vec<String> = own.to_vec();
            here.extend(std::iter::repeat_n(String::new(), inline));
            here.truncate(base);
            (here, &segments[ups..])
        }
        _ => return None,
    };
    target.extend(rest.iter().cloned());
    (target.first().is_some_and(|s| s == "cmd")).then_some(target)
}

/// No `cmd` module imports another: a file under `crates/mmctl/src/cmd/` refers only to itself
/// and its own child modules (`cmd/mod.rs` dispatches to every subcommand). Shared CLI helpers
/// live outside `cmd/` (`src/args/`, `src/output.rs`).
pub fn cmd_modules_stay_independent(path: &str, text: &str) -> Vec<Violation> {
    if !path.starts_with(CMD) || !is_rust(path) {
        return Vec::new();
    }
    let rule = Rule {
        rule: "no cmd module imports another cmd module",
        fix: "move what both need out of cmd/ (src/args/ for shared clap args, src/output.rs for printing, \
              or the library crate) and import it from there",
    };
    let own = cmd_module_path(path);
    let lexed = lex(text);
    let mut out = Vec::new();
    let mut inline_modules: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    for (i, bare) in lexed.bare.iter().enumerate() {
        let starts: Vec<usize> = ["super", "crate", "mmctl"]
            .iter()
            .flat_map(|w| word_positions(bare, w))
            .collect();
        let crosses = starts.into_iter().any(|at| {
            cmd_target(bare, at, &own, inline_modules.len())
                .is_some_and(|target| !target.starts_with(&own))
        });
        if crosses {
            out.push(rule.at(path, i + 1, lexed.code[i].trim()));
        }
        let opens_module = bare
            .trim_start()
            .trim_start_matches("pub ")
            .starts_with("mod ")
            && bare.contains('{');
        for c in bare.chars() {
            if c == '{' {
                depth += 1;
                if opens_module && inline_modules.last() != Some(&depth) {
                    inline_modules.push(depth);
                }
            } else if c == '}' {
                if inline_modules.last() == Some(&depth) {
                    inline_modules.pop();
                }
                depth = depth.saturating_sub(1);
            }
        }
    }
    out
}

/// Lines of code in `text` (not blank, not only a comment), up to its `#[cfg(test)]` module.
pub fn lines_of_code(text: &str) -> usize {
    let lexed = lex(text);
    lexed
        .code
        .iter()
        .take_while(|l| l.trim_end() != "#[cfg(test)]")
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// A file in mmctl's `cmd/` has at most [`CMD_FILE_MAX_LINES`] lines of code (tests below
/// `#[cfg(test)]` not counted): it builds a request, calls a library and prints.
pub fn cmd_files_are_short(path: &str, text: &str) -> Vec<Violation> {
    if !path.starts_with(CMD) || !is_rust(path) {
        return Vec::new();
    }
    let loc = lines_of_code(text);
    if loc <= CMD_FILE_MAX_LINES {
        return Vec::new();
    }
    let rule = Rule {
        rule: "a cmd/ file has at most 150 lines of code",
        fix: "move the workflow into the library crate (mmkt-stack, mmkt-backup) and shared CLI pieces into \
              src/args/ or src/output.rs; the subcommand only builds the request, calls and prints",
    };
    vec![rule.at(path, 0, format!("{loc} lines of code"))]
}

/// `impl … IntoResponse for <Type>Error` blocks in `text`: (1-based line, type name).
fn error_into_response_impls(text: &str) -> Vec<(usize, String)> {
    let lexed = lex(text);
    let mut out = Vec::new();
    for (i, bare) in lexed.bare.iter().enumerate() {
        if !has_word(bare, "impl") {
            continue;
        }
        let Some((_, after)) = bare.split_once("IntoResponse for ") else {
            continue;
        };
        let ty = after
            .split(|c: char| c.is_whitespace() || c == '{' || c == '<')
            .next()
            .unwrap_or("");
        let name = ty.rsplit("::").next().unwrap_or(ty);
        if name.ends_with("Error") {
            out.push((i + 1, name.to_owned()));
        }
    }
    out
}

/// The server has exactly one `impl IntoResponse for` an error type (`…Error`) in
/// `crates/server/src`: one HTTP error enum, one status mapping, one response shape.
pub fn one_error_into_response(files: &[(&str, &str)]) -> Vec<Violation> {
    let rule = Rule {
        rule: "exactly one `impl IntoResponse for` an error type in crates/server/src",
        fix: "convert other error types into the one HTTP error enum (crates/server/src/error.rs) with From and \
              let that enum's IntoResponse build the response",
    };
    let impls: Vec<(&str, usize, String)> = files
        .iter()
        .filter(|(p, _)| p.starts_with("crates/server/src/") && is_rust(p))
        .flat_map(|(p, t)| {
            error_into_response_impls(t)
                .into_iter()
                .map(move |(l, n)| (*p, l, n))
        })
        .collect();
    match impls.len() {
        1 => Vec::new(),
        0 => vec![rule.at("crates/server/src", 0, "none found")],
        _ => impls
            .into_iter()
            .map(|(p, l, n)| rule.at(p, l, format!("impl IntoResponse for {n}")))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tidy::{fired, quiet};

    #[test]
    fn bollard_only_in_stack() {
        let bad =
            "use bollard::Docker;\nfn f(d: &::bollard::Docker) {}\nuse mmkt_stack::bollard;\n";
        assert_eq!(
            fired(
                only_stack_imports_bollard,
                "crates/backup/src/wallet_stack.rs",
                bad
            ),
            [1, 2, 3]
        );
        assert_eq!(
            fired(
                only_stack_imports_bollard,
                "crates/mmctl/tests/stack.rs",
                bad
            ),
            [1, 2, 3]
        );
        assert!(quiet(
            only_stack_imports_bollard,
            "crates/stack/src/engine.rs",
            bad
        ));
        let clean = "// talks to the Engine API through bollard\nuse mmkt_stack::Engine;\nlet s = \"bollard::x\";\n";
        assert!(quiet(
            only_stack_imports_bollard,
            "crates/backup/src/wallet_stack.rs",
            clean
        ));
    }

    #[test]
    fn cmd_imports_no_backend_crates() {
        let bad = "use rusqlite::Connection;\nlet c = reqwest::Client::new();\nuse aws_sdk_s3 as s3;\nuse bollard;\n";
        assert_eq!(
            fired(
                cmd_uses_no_backend_crates,
                "crates/mmctl/src/cmd/backup.rs",
                bad
            ),
            [1, 2, 3, 4]
        );
        assert!(quiet(
            cmd_uses_no_backend_crates,
            "crates/mmctl/src/exit.rs",
            bad
        ));
        let clean = "use mmkt_backup::{BackupRequest, backup_db};\n// rusqlite errors arrive as BackupError\n";
        assert!(quiet(
            cmd_uses_no_backend_crates,
            "crates/mmctl/src/cmd/backup.rs",
            clean
        ));
    }

    #[test]
    fn cmd_modules_do_not_import_each_other() {
        let bad = "use super::stack_common::load;\nuse crate::cmd::up::UpArgs;\nuse mmctl::cmd::{down, up};\nuse super::*;\n";
        assert_eq!(
            fired(
                cmd_modules_stay_independent,
                "crates/mmctl/src/cmd/restart.rs",
                bad
            ),
            [1, 2, 3, 4]
        );
        let nested = "mod tests {\n    use super::super::up::UpArgs;\n}\n";
        assert_eq!(
            fired(
                cmd_modules_stay_independent,
                "crates/mmctl/src/cmd/restart.rs",
                nested
            ),
            [2]
        );
        let child_to_parent = "use super::Shared;\n";
        assert_eq!(
            fired(
                cmd_modules_stay_independent,
                "crates/mmctl/src/cmd/backup/db.rs",
                child_to_parent
            ),
            [1]
        );
        let clean = "pub(super) fn g() {}\nuse crate::args::StackArgs;\nuse super::super::output;\nuse crate::cmd::restart::Mode;\n\
                     fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::f;\n}\n";
        let v = cmd_modules_stay_independent("crates/mmctl/src/cmd/restart.rs", clean);
        assert!(v.is_empty(), "{v:?}");
        let dispatch = "pub mod up;\npub mod down;\npub fn run() { up::run(); super::cmd::down::run(); crate::cmd::up::run(); }\n";
        assert!(quiet(
            cmd_modules_stay_independent,
            "crates/mmctl/src/cmd/mod.rs",
            dispatch
        ));
        assert!(quiet(
            cmd_modules_stay_independent,
            "crates/mmctl/src/cmd/backup/mod.rs",
            "use super::super::cmd::backup::db;\n"
        ));
    }

    #[test]
    fn cmd_files_stay_short() {
        let long: String = (0..151).map(|i| format!("let x{i} = {i};\n")).collect();
        let v = cmd_files_are_short("crates/mmctl/src/cmd/backup.rs", &long);
        assert_eq!(v.len(), 1);
        assert!(v[0].found.starts_with("151 lines"), "{}", v[0]);
        let mut fits: String = (0..150)
            .map(|i| format!("let x{i} = {i};\n// note\n\n"))
            .collect();
        fits.push_str("#[cfg(test)]\nmod tests {\n");
        fits.push_str(&long);
        fits.push_str("}\n");
        assert!(quiet(
            cmd_files_are_short,
            "crates/mmctl/src/cmd/backup.rs",
            &fits
        ));
        assert!(quiet(cmd_files_are_short, "crates/mmctl/src/cli.rs", &long));
    }

    #[test]
    fn one_into_response_for_errors() {
        let error = "impl IntoResponse for ApiError {\n}\n";
        let other = "impl axum::response::IntoResponse for crate::db::DbError {}\nimpl IntoResponse for Page {}\n";
        let two = [
            ("crates/server/src/error.rs", error),
            ("crates/server/src/db/mod.rs", other),
        ];
        let v = one_error_into_response(&two);
        assert_eq!(
            v.iter()
                .map(|v| (v.path.as_str(), v.line))
                .collect::<Vec<_>>(),
            [
                ("crates/server/src/error.rs", 1),
                ("crates/server/src/db/mod.rs", 1)
            ]
        );
        assert_eq!(
            one_error_into_response(&[(
                "crates/server/src/db/mod.rs",
                "impl IntoResponse for Page {}\n"
            )])
            .len(),
            1
        );
        let one = [
            ("crates/server/src/error.rs", error),
            (
                "crates/server/src/routes/x.rs",
                "impl IntoResponse for Page {}\n",
            ),
        ];
        assert!(one_error_into_response(&one).is_empty());
    }
}
