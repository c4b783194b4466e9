//! docs/SECURITY.md stays true: it lists every numbered money-safety item (1 to 10) with at
//! least one `test:` line, and every test it cites as `file::name` is a function of that name in
//! that file. An item whose test is still being written says `test: (pending)`.

use mmkt_repo_tests::tools::repo_root;

/// Money-safety items docs/SECURITY.md must list, by number.
const ITEMS: std::ops::RangeInclusive<u32> = 1..=11;

/// The cited `file::name` pairs of `text`: the backticked value of each `test:` line.
fn citations(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .strip_prefix("test: `")
        })
        .filter_map(|rest| rest.split('`').next())
        .filter_map(|cited| cited.rsplit_once("::"))
        .map(|(file, name)| (file.to_owned(), name.to_owned()))
        .collect()
}

/// The lines of item `n`'s section (from its `### n.` heading to the next heading).
fn section(text: &str, n: u32) -> Option<Vec<&str>> {
    let heading = format!("### {n}. ");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&heading));
    let first = lines.next()?;
    let rest = lines.take_while(|l| !l.starts_with('#'));
    Some(std::iter::once(first).chain(rest).collect())
}

#[test]
fn every_cited_test_exists_and_every_item_is_listed() {
    let text =
        std::fs::read_to_string(repo_root().join("docs/SECURITY.md")).expect("docs/SECURITY.md");
    let mut problems = Vec::new();
    for n in ITEMS {
        let Some(lines) = section(&text, n) else {
            problems.push(format!("item {n}: no `### {n}. ...` section"));
            continue;
        };
        if !lines.iter().any(|l| l.trim_start().starts_with("- test: ")) {
            problems.push(format!(
                "item {n}: no `- test: ...` line (cite file::test or write `(pending)`)"
            ));
        }
    }
    let cited = citations(&text);
    assert!(cited.len() >= 10, "too few citations parsed: {cited:?}");
    for (file, name) in cited {
        let path = repo_root().join(&file);
        let Ok(source) = std::fs::read_to_string(&path) else {
            problems.push(format!("{file}::{name}: no such file"));
            continue;
        };
        if !source.contains(&format!("fn {name}(")) {
            problems.push(format!(
                "{file}::{name}: no test function `{name}` in {file}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/SECURITY.md is out of date:\n{}",
        problems.join("\n")
    );
}

#[test]
fn citations_and_sections_parse() {
    let doc = "### 1. One\n\n- test: `a/b.rs::first`\n- test: (pending)\n### 2. Two\n  test: `c.rs::second` (and more)\n## Next\n";
    assert_eq!(
        citations(doc),
        [
            ("a/b.rs".to_owned(), "first".to_owned()),
            ("c.rs".to_owned(), "second".to_owned())
        ]
    );
    assert_eq!(section(doc, 1).map(|s| s.len()), Some(4));
    assert_eq!(section(doc, 2).map(|s| s.len()), Some(2));
    assert_eq!(section(doc, 3), None);
}
