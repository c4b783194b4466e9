//! Tidy rules: the project's conventions and the workspace layout's boundaries, each a pure
//! function from file text to [`Violation`]s.
//!
//! A rule takes the file's path relative to the repository root (always with `/`) and its text.
//! It decides from the path whether it applies, so feeding it every file of the tree is safe.
//! `tests/tests/tidy.rs` applies every rule to the real tree; each rule's unit tests feed it a
//! snippet that crosses the boundary and one that does not. Rules over several files (exactly
//! one `IntoResponse` for an error type) take a slice of `(path, text)` pairs.

mod comments;
mod docs;
mod gates;
mod layout;
mod lexer;
mod links;
mod manifest;
mod source;

pub use comments::{comments_cite_no_issues, comments_name_no_people, comments_point_inside_repo};
pub use docs::{architecture_maps_every_crate, readme_has_two_setup_commands};
pub use gates::{test_script_runs_the_gates, workflow_keeps_the_jobs};
pub use layout::{
    cmd_files_are_short, cmd_modules_stay_independent, cmd_uses_no_backend_crates,
    one_error_into_response, only_stack_imports_bollard,
};
pub use links::{heading_anchors, markdown_links_resolve};
pub use manifest::{
    domain_crates_know_no_serving_or_sql, escrow_core_stays_pure, monero_rpc_knows_no_escrow,
    monero_types_stands_alone, only_stack_depends_on_bollard, ops_crates_never_link_the_server,
};
pub use source::{
    error_enums_are_non_exhaustive, libraries_use_no_anyhow, money_is_never_floating_point,
    no_kill_by_name, no_unfinished_code, pure_crates_do_no_io, server_writes_begin_immediate,
};

use std::fmt;

/// The files that spell out the forbidden patterns on purpose (the rules and their unit
/// tests); the real-tree checks skip them.
pub const SELF_EXEMPT: [&str; 2] = ["tests/src/tidy.rs", "tests/src/tidy/"];

/// One place that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The file, relative to the repository root.
    pub path: String,
    /// 1-based line, or 0 when the violation concerns the whole file or a set of files.
    pub line: usize,
    /// The rule, as a short sentence.
    pub rule: &'static str,
    /// What was found there (the offending line, trimmed, or a count).
    pub found: String,
    /// What to do about it.
    pub fix: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.path)?,
            line => write!(f, "{}:{line}", self.path)?,
        }
        write!(f, ": {}: {}\n    fix: {}", self.rule, self.found, self.fix)
    }
}

/// A rule's name and what to do, shared by every violation it reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) rule: &'static str,
    pub(crate) fix: &'static str,
}

impl Rule {
    pub(crate) fn at(self, path: &str, line: usize, found: impl Into<String>) -> Violation {
        Violation {
            path: path.to_owned(),
            line,
            rule: self.rule,
            found: found.into(),
            fix: self.fix,
        }
    }
}

/// True for a Rust source file.
pub(crate) fn is_rust(path: &str) -> bool {
    path.ends_with(".rs")
}

/// True when `path` lies in the `src/` folder of one of `crates` (directory names under
/// `crates/`).
pub(crate) fn in_crate_src(path: &str, crates: &[&str]) -> bool {
    crates
        .iter()
        .any(|c| path.starts_with(&format!("crates/{c}/src/")))
}

/// `needle` occurs in `hay` as a whole word (not inside a longer identifier), e.g. `reqwest` in
/// `use reqwest::Client` but not in `my_reqwest`.
pub(crate) fn has_word(hay: &str, needle: &str) -> bool {
    word_positions(hay, needle).next().is_some()
}

/// Byte offsets of whole-word occurrences of `needle` in `hay`.
pub(crate) fn word_positions<'a>(
    hay: &'a str,
    needle: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    hay.match_indices(needle).map(|(i, _)| i).filter(move |&i| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The lines at which `rule` fires on `text` at `path` (unit-test helper).
#[cfg(test)]
pub(crate) fn fired(rule: fn(&str, &str) -> Vec<Violation>, path: &str, text: &str) -> Vec<usize> {
    rule(path, text).iter().map(|v| v.line).collect()
}

/// `rule` finds nothing in `text` at `path` (unit-test helper).
#[cfg(test)]
pub(crate) fn quiet(rule: fn(&str, &str) -> Vec<Violation>, path: &str, text: &str) -> bool {
    rule(path, text).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_read_as_instructions() {
        let rule = Rule {
            rule: "no dbg! in code",
            fix: "remove it",
        };
        assert_eq!(
            rule.at("crates/a/src/lib.rs", 3, "dbg!(x)").to_string(),
            "crates/a/src/lib.rs:3: no dbg! in code: dbg!(x)\n    fix: remove it"
        );
        assert_eq!(
            rule.at("crates/a/src", 0, "2 found").to_string(),
            "crates/a/src: no dbg! in code: 2 found\n    fix: remove it"
        );
    }

    #[test]
    fn words_are_whole_identifiers() {
        assert!(has_word("use reqwest::Client;", "reqwest"));
        assert!(has_word("x: ::bollard::Docker", "bollard"));
        assert!(!has_word("use my_reqwest::Client;", "reqwest"));
        assert!(!has_word("reqwest2", "reqwest"));
    }
}
