//! Rules that keep the top-level docs in step with the tree: ARCHITECTURE.md's code map and
//! README's two set-up commands.

use super::{Rule, Violation};

/// ARCHITECTURE.md has a code-map heading "### `crates/NAME`" for every directory under
/// `crates/` (`crate_dirs` holds their names).
pub fn architecture_maps_every_crate(architecture: &str, crate_dirs: &[String]) -> Vec<Violation> {
    let rule = Rule {
        rule: "ARCHITECTURE.md maps every crate",
        fix: "add a code-map section for the crate: what it is, its main files, and what it must never do",
    };
    crate_dirs
        .iter()
        .filter(|name| !architecture.contains(&format!("### `crates/{name}`")))
        .map(|name| {
            rule.at(
                "ARCHITECTURE.md",
                0,
                format!("no heading \"### `crates/{name}`\""),
            )
        })
        .collect()
}

/// README.md has exactly two one-line ```` ```sh ```` set-up commands, and `.ci/run` runs the
/// script the second one runs.
pub fn readme_has_two_setup_commands(readme: &str, ci_run: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "README.md has two one-line set-up commands and CI runs the second",
        fix: "keep README's set-up to one ```sh block to bootstrap and one to run the tests, and make .ci/run \
              run that same script",
    };
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or("").trim())
        .collect();
    if blocks.len() != 2 {
        return vec![rule.at(
            "README.md",
            0,
            format!("{} ```sh blocks: {blocks:?}", blocks.len()),
        )];
    }
    let mut out: Vec<Violation> = blocks
        .iter()
        .filter(|b| b.lines().count() != 1)
        .map(|b| {
            rule.at(
                "README.md",
                0,
                format!("a set-up block has several lines: {b:?}"),
            )
        })
        .collect();
    let test_script = blocks[1].split_whitespace().last().unwrap_or("");
    if test_script.is_empty() || !ci_run.contains(test_script) {
        out.push(rule.at(
            ".ci/run",
            0,
            format!("does not run README's test command ({test_script})"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crate_has_a_code_map_entry() {
        let arch = "## Code map\n\n### `crates/stack`\n\nThe stack.\n";
        let dirs = ["stack".to_owned(), "backup".to_owned()];
        let v = architecture_maps_every_crate(arch, &dirs);
        assert_eq!(v.len(), 1);
        assert!(v[0].found.contains("crates/backup"), "{}", v[0]);
        assert!(architecture_maps_every_crate(arch, &dirs[..1]).is_empty());
    }

    #[test]
    fn readme_set_up_matches_ci() {
        let readme =
            "# x\n```sh\nbash scripts/bootstrap.sh\n```\n\n```sh\nbash scripts/test.sh\n```\n";
        assert!(readme_has_two_setup_commands(readme, "exec bash scripts/test.sh\n").is_empty());
        assert_eq!(
            readme_has_two_setup_commands(readme, "cargo test\n").len(),
            1
        );
        let three = format!("{readme}```sh\nmore\n```\n");
        assert_eq!(
            readme_has_two_setup_commands(&three, "exec bash scripts/test.sh\n").len(),
            1
        );
        let long = "```sh\na\nb\n```\n```sh\nbash scripts/test.sh\n```\n";
        assert_eq!(
            readme_has_two_setup_commands(long, "bash scripts/test.sh").len(),
            1
        );
    }
}
