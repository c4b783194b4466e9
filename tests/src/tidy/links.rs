//! The rule that keeps the docs' links inside the repository: every relative markdown link, and
//! every plain `FILE.md#anchor` mention, names a file of the tree and a heading of that file.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{Rule, Violation};

const RULE: Rule = Rule {
    rule: "docs link only to files and headings of the repository",
    fix: "point the link at a file of the repository (relative to the linking file) and an anchor \
          of one of its headings (GitHub's slug: lower case, spaces to '-', punctuation dropped), \
          or add the missing section",
};

/// `[text](target)` and `[text]: target` (reference definitions).
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[^)]*)?\)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
        .expect("link regex")
});

/// A plain mention of a markdown file with an anchor (`docs/MONITORING.md#escrowpayoutrefused`),
/// or of a markdown file by absolute path (outside the repository by definition).
static MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s`(])((?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]+\.md#[A-Za-z0-9_-]+|/[A-Za-z0-9_./-]+\.md)")
        .expect("mention regex")
});

/// Checks the links of markdown file `doc` (path relative to the repository root) with text
/// `text`. `files` holds every file of the repository (relative paths, `/`-separated); a
/// directory exists when a file lies under it. `docs` holds the markdown files' `(path, text)`,
/// for the anchors. External links (`scheme:`) are not checked; links in code blocks and code
/// spans are not links. A link resolves against `doc`'s directory; a plain mention against it or
/// the repository root.
pub fn markdown_links_resolve(
    doc: &str,
    text: &str,
    files: &BTreeSet<String>,
    docs: &[(&str, &str)],
) -> Vec<Violation> {
    let dir = doc.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let linkable = without_code_spans(line);
        for caps in LINK.captures_iter(&linkable) {
            let target = caps
                .get(1)
                .or_else(|| caps.get(2))
                .map_or("", |m| m.as_str());
            if let Some(problem) = check(doc, target, &[dir], files, docs) {
                out.push(RULE.at(doc, n, format!("{target}: {problem}")));
            }
        }
        let unlinked = LINK.replace_all(line, " ");
        for caps in MENTION.captures_iter(&unlinked) {
            let target = &caps[1];
            if let Some(problem) = check(doc, target, &[dir, ""], files, docs) {
                out.push(RULE.at(doc, n, format!("{target}: {problem}")));
            }
        }
    }
    out
}

/// What is wrong with `target` as a link from `doc` resolved against one of `bases`, if anything.
fn check(
    doc: &str,
    target: &str,
    bases: &[&str],
    files: &BTreeSet<String>,
    docs: &[(&str, &str)],
) -> Option<String> {
    if is_external(target) {
        return None;
    }
    if target.starts_with('/') {
        return Some("an absolute path, outside the repository".to_owned());
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        doc.to_owned()
    } else {
        let found = bases
            .iter()
            .filter_map(|base| normalize(base, path))
            .find(|p| exists(files, p));
        match found {
            Some(file) => file,
            None => return Some("no such file in the repository".to_owned()),
        }
    };
    let anchor = anchor?;
    let Some((_, text)) = docs.iter().find(|(p, _)| *p == file) else {
        // Anchors into other files (line numbers in code) are not headings.
        return None;
    };
    if heading_anchors(text).contains(anchor) {
        return None;
    }
    Some(format!("{file} has no heading with anchor #{anchor}"))
}

fn is_external(target: &str) -> bool {
    let scheme = target.split_once(':').map(|(s, _)| s);
    scheme.is_some_and(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
    })
}

fn exists(files: &BTreeSet<String>, path: &str) -> bool {
    let dir = format!("{}/", path.trim_end_matches('/'));
    files.contains(path)
        || files
            .range(dir.clone()..)
            .next()
            .is_some_and(|f| f.starts_with(&dir))
}

/// `path` joined to directory `base` with `.` and `..` resolved; `None` if it climbs out of the
/// repository.
fn normalize(base: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The lines outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// `line` with its `code spans` blanked out.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for (i, piece) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(piece);
        } else {
            out.push_str(&" ".repeat(piece.len() + 2));
        }
    }
    out
}

/// The anchors GitHub gives the headings of `text`: lower case, spaces to `-`, everything but
/// letters, digits, `-` and `_` dropped; a repeated heading gets `-1`, `-2`, ...
pub fn heading_anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim().trim_end_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = slug.clone();
        let mut n = 0;
        while out.contains(&anchor) {
            n += 1;
            anchor = format!("{slug}-{n}");
        }
        out.insert(anchor);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> BTreeSet<String> {
        [
            "README.md",
            "docs/API.md",
            "docs/RUNBOOK.md",
            "crates/server/src/main.rs",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    }

    const API: &str =
        "# API\n\n## Edge: nginx\n\n## Logins under load (`MMKT_AUTH`)\n\n## Notes\n\n## Notes\n";
    const RUNBOOK: &str = "# Runbook\n\n## Stack: daily checks\n";

    fn run(doc: &str, text: &str) -> Vec<Violation> {
        let docs = [
            ("docs/API.md", API),
            ("docs/RUNBOOK.md", RUNBOOK),
            (doc, text),
        ];
        markdown_links_resolve(doc, text, &files(), &docs)
    }

    #[test]
    fn anchors_follow_github_slugs() {
        let anchors = heading_anchors(API);
        for a in [
            "api",
            "edge-nginx",
            "logins-under-load-mmkt_auth",
            "notes",
            "notes-1",
        ] {
            assert!(anchors.contains(a), "{a}: {anchors:?}");
        }
        assert!(heading_anchors("```\n# not a heading\n```\n").is_empty());
    }

    #[test]
    fn links_to_files_and_headings_of_the_repo_pass() {
        let text = "See [API](API.md#edge-nginx), [top](../README.md), [code](../crates/server/src/main.rs#L3), \
                    [dir](../crates/server), [here](#runbook), [web](https://example.org/x.md#y), \
                    docs/API.md#notes-1 and `[not](a/link.md)`.\n```\n[in code](nowhere.md)\n```\n";
        assert_eq!(run("docs/RUNBOOK.md", text), vec![]);
    }

    #[test]
    fn missing_files_anchors_and_outside_paths_are_reported() {
        let text = "[gone](GONE.md) [anchor](API.md#no-such)\n[self](#backups)\n\
                    see docs/API.md#nowhere and `/work/shared/notes.md`\n[up](../../x.md)\n[ref]: ./API.md#nope\n";
        let v = run("docs/RUNBOOK.md", text);
        let found: Vec<(usize, &str)> = v.iter().map(|v| (v.line, v.found.as_str())).collect();
        assert_eq!(found.len(), 7, "{found:#?}");
        assert!(found[0].1.starts_with("GONE.md: no such file"), "{found:?}");
        assert!(
            found[1]
                .1
                .contains("docs/API.md has no heading with anchor #no-such"),
            "{found:?}"
        );
        assert_eq!(found[2].0, 2);
        assert!(
            found[2]
                .1
                .contains("docs/RUNBOOK.md has no heading with anchor #backups"),
            "{found:?}"
        );
        assert!(found[3].1.starts_with("docs/API.md#nowhere"), "{found:?}");
        assert!(found[4].1.contains("outside the repository"), "{found:?}");
        assert!(
            found[5].1.starts_with("../../x.md: no such file"),
            "{found:?}"
        );
        assert!(found[6].1.starts_with("./API.md#nope"), "{found:?}");
    }
}
