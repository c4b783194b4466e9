//! Comments explain the code: they cite no issue numbers, no people, and no paths outside the
//! repository. Applies to Rust comments and to the `#` comments of TOML, YAML, shell, systemd,
//! nginx, env and Docker files, and the `--` comments of SQL files.

use std::sync::LazyLock;

use regex::Regex;

use super::lexer::lex;
use super::{Rule, Violation, is_rust};

/// Every comment of `text` as (1-based line, comment text), by the comment syntax of `path`.
pub(crate) fn comments_of(path: &str, text: &str) -> Vec<(usize, String)> {
    if is_rust(path) {
        return lex(text)
            .comments
            .into_iter()
            .map(|(i, c)| (i + 1, c))
            .collect();
    }
    let marker = comment_marker(path);
    let Some(marker) = marker else {
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| line_comment(line, marker).map(|c| (i + 1, c.to_owned())))
        .collect()
}

/// The line-comment marker of a non-Rust file, or `None` for a file kind without comments
/// this rule reads (Markdown, JSON, lock files).
fn comment_marker(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e);
    match ext {
        Some("toml" | "yml" | "yaml" | "sh" | "env" | "conf" | "service" | "timer") => Some("#"),
        Some("sql") => Some("--"),
        None if name.starts_with("Dockerfile")
            || path.starts_with("scripts/")
            || path.starts_with(".ci/") =>
        {
            Some("#")
        }
        Some(e) if name.starts_with("Dockerfile") || e == "dockerfile" => Some("#"),
        _ => None,
    }
}

/// The comment on `line`: text after `marker` at the line start or after whitespace, outside
/// single or double quotes.
fn line_comment<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if prev.is_whitespace() && line[i..].starts_with(marker) => {
                return Some(&line[i + marker.len()..]);
            }
            None => {}
        }
        prev = c;
    }
    None
}

/// A rule that fires on every comment matching a pattern.
struct CommentRule {
    rule: Rule,
    pattern: LazyLock<Regex>,
}

impl CommentRule {
    fn check(&self, path: &str, text: &str) -> Vec<Violation> {
        comments_of(path, text)
            .into_iter()
            .filter(|(_, c)| self.pattern.is_match(c))
            .map(|(line, c)| {
                self.rule
                    .at(path, line, c.trim_start_matches(['/', '!', '*']).trim())
            })
            .collect()
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("tidy pattern {pattern}: {e}"))
}

static ISSUES: CommentRule = CommentRule {
    rule: Rule {
        rule: "comments cite no issue numbers",
        fix: "say what the code does and why in the comment itself; the tracker's history is not \
              part of the code",
    },
    pattern: LazyLock::new(|| {
        regex(
            r"(?i)\b(issues?|prs?|pull requests?|tickets?|bugs?)\s*#?\d+|(^|[^\w&])#\d+\b|/(issues|pull)/\d+",
        )
    }),
};

/// No comment cites an issue, pull request or ticket number (`issue 12`, `#12`, `issue #12`,
/// `.../issues/12`), in this repository or upstream.
pub fn comments_cite_no_issues(path: &str, text: &str) -> Vec<Violation> {
    ISSUES.check(path, text)
}

static PEOPLE: CommentRule = CommentRule {
    rule: Rule {
        rule: "comments name no people",
        fix: "state the reason itself instead of who gave it",
    },
    pattern: LazyLock::new(|| {
        regex(concat!(
            r"(^|[\s(\[,;:])@[A-Za-z][\w-]*",
            r"|\b[A-Z][a-z]+'s (review|suggestion|request|comment|feedback|advice|idea|note)s?\b",
            r"|\b(suggested|requested|reported|reviewed|raised|asked for|pointed out) by [A-Z@]",
            r"|\b(TODO|FIXME|XXX|HACK)\(",
        ))
    }),
};

/// No comment names a person: no `@handle`, no "per Alice's review", no "suggested by Bob", no
/// `TODO(name)`.
pub fn comments_name_no_people(path: &str, text: &str) -> Vec<Violation> {
    PEOPLE.check(path, text)
}

static OUTSIDE: CommentRule = CommentRule {
    rule: Rule {
        rule: "comments point only inside the repository",
        fix: "write in-repository paths from the repository root (e.g. docs/BACKUP.md) and put what \
              an outside file says into the comment or the repository's docs",
    },
    pattern: LazyLock::new(|| {
        regex(r#"(^|[\s"'`(\[=:,])(/work/|/home/|/Users/|/root/|[A-Za-z]:\\|\.\./[\w.-])"#)
    }),
};

/// No comment points outside the repository: no `../shared`-style relative paths and no
/// absolute paths into home directories or other checkouts (`/work/`, `/home/`, `/Users/`,
/// `/root/`, `C:\`). Paths inside the repository are written from its root (`docs/BACKUP.md`).
pub fn comments_point_inside_repo(path: &str, text: &str) -> Vec<Violation> {
    OUTSIDE.check(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tidy::{fired, quiet};

    #[test]
    fn issue_numbers_are_found() {
        let bad = "// see issue 12\n/// fixed in #12\nfn f() {} /* issue #4's watcher */\n// upstream: monero #8328\n";
        assert_eq!(
            fired(comments_cite_no_issues, "crates/a/src/lib.rs", bad),
            [1, 2, 3, 4]
        );
        assert_eq!(
            fired(comments_cite_no_issues, "deploy/x.yml", "a: 1 # PR 7\n"),
            [1]
        );
        let clean = "// wallet-rpc 0.18 stores the flag in the .keys file\n#[derive(Debug)]\nlet s = \"issue 12\";\n// # Errors\n";
        assert!(quiet(comments_cite_no_issues, "crates/a/src/lib.rs", clean));
        assert!(quiet(
            comments_cite_no_issues,
            "deploy/x.yml",
            "color: \"#12\"\n"
        ));
    }

    #[test]
    fn people_are_found() {
        let bad =
            "// as @alice said\n// per Bob's review\n// TODO(carol): later\n// suggested by Dave\n";
        assert_eq!(
            fired(comments_name_no_people, "crates/a/src/lib.rs", bad),
            [1, 2, 3, 4]
        );
        let clean =
            "// connect as user@host; Monero's docs say the flag persists\nlet u = \"@alice\";\n";
        assert!(quiet(comments_name_no_people, "crates/a/src/lib.rs", clean));
    }

    #[test]
    fn outside_paths_are_found() {
        let bad = "//! Source: /work/shared/monero-regtest.md\n// see ../shared/dependencies.md\n// built in /home/me/mmkt\n";
        assert_eq!(
            fired(comments_point_inside_repo, "crates/a/src/lib.rs", bad),
            [1, 2, 3]
        );
        let toml = "[env]\n# see docs/BACKUP.md and ../shared/dependencies.md\nX = \"1\"\n";
        assert_eq!(
            fired(comments_point_inside_repo, ".cargo/config.toml", toml),
            [2]
        );
        let clean = "// `<compose dir>/../target`; normalise `./` and `../`; see docs/BACKUP.md\nlet p = \"/home/x\";\n";
        assert!(quiet(
            comments_point_inside_repo,
            "crates/a/src/lib.rs",
            clean
        ));
        assert!(quiet(
            comments_point_inside_repo,
            "docs/A.md",
            "see ../shared\n"
        ));
    }

    #[test]
    fn comment_syntax_follows_the_file_kind() {
        assert_eq!(
            comments_of("scripts/test.sh", "echo '#1' # real\n"),
            [(1, " real".to_owned())]
        );
        assert_eq!(
            comments_of("crates/server/migrations/1.sql", "-- one\nSELECT 1;\n"),
            [(1, " one".to_owned())]
        );
        assert_eq!(
            comments_of("deploy/Dockerfile.server", "# base\nFROM x\n"),
            [(1, " base".to_owned())]
        );
        assert!(comments_of("docs/A.md", "# heading\n").is_empty());
    }
}
