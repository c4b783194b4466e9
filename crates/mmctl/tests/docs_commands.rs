//! Every `mmctl …` command line in README.md and docs/*.md parses with mmctl's real clap
//! definition (`mmctl::cli::Cli::try_parse_from`). A failure names the doc file, the line and
//! clap's error, so a renamed or removed flag cannot linger in the docs.
//!
//! How the docs write command lines, and how this test reads them:
//!
//! - **Where.** Fenced blocks without a language or marked `sh`, `bash`, `shell` or `console`:
//!   every line; when a block has lines starting with `$ `, only those (the rest is output).
//!   Everywhere else, inline code spans, headings and tables included, also when a span wraps
//!   onto the next line.
//! - **Shell.** A line ending in `\` continues on the next; `#` at a word start begins a comment;
//!   quotes work as in sh (`$role` stays as written). `&&`, `||`, `;`, `&` and a `|` with a space
//!   on either side separate commands; a redirection (`>`, `>>`, `2>&1`, `< file`) ends the
//!   arguments. Before the command word, `NAME=value` prefixes and `sudo`, `env`, `time`,
//!   `exec`, `nohup`, `do`, `then`, `else` are skipped (the variables are not applied: clap reads
//!   this test's own environment). The command word is `mmctl` or a path ending in `/mmctl`
//!   (`target/release/mmctl`); `mmctl's`, `mmctl-drill.timer` and `mmctl::cli` are prose.
//! - **Usage notation.** `[…]` is an optional group; `a|b` (no spaces), and `a | b` inside a
//!   group, are alternatives; `...` after a word or group (`SERVICE...`, `[--writable P]...`)
//!   means "repeatable" and is dropped; a parenthesised remark (`(both of the above)`) is prose
//!   and dropped. A line with usage notation is checked as its required part alone, then with
//!   each alternative and each optional group added one at a time.
//! - **Placeholders.** `<id>` (also inside a word: `db-<id>`), all-caps words (`ID`, `ROLE`,
//!   `NAME=PATH`) and `$var` stand for a value. Where clap accepts the placeholder as it is, it
//!   stays. Where clap rejects it as an invalid value, the test retries with each value clap
//!   lists as valid, then with typical values (`1`, `10m`, a timestamp); another error stands.
//! - **Inline code may name a command** without running it: `mmctl backup` (a group without
//!   its subcommand) or `mmctl logs` (a command without its required arguments) passes in
//!   prose; a line in a code block must be complete.
//! - **Parses** means `try_parse_from` returns `Ok`, or clap's `--help`/`--version` output.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use mmctl::cli::Cli;

/// A command line found in a doc file.
#[derive(Debug, Clone, PartialEq)]
struct DocCommand {
    /// 1-based line where it starts.
    line: usize,
    /// The arguments after the command word, in usage notation.
    items: Vec<Item>,
    /// Found in inline code (may name a command without completing it).
    inline: bool,
}

/// One element of a command's arguments.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// A required word; several when written as alternatives (`bash|zsh|fish`).
    Word(Vec<String>),
    /// An optional group `[…]`: its alternatives, each a list of words.
    Group(Vec<Vec<String>>),
}

/// A token of the shell-and-usage lexer.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// `|` between alternatives.
    Alt,
    Open,
    Close,
    /// A command separator (`&&`, `||`, `;`, `|`, `&`).
    Sep,
    /// A redirection: the rest of the command is not arguments.
    Redirect,
}

/// Splits one logical line into tokens (see the conventions at the top of this file).
fn lex(line: &str) -> Vec<Token> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        let w = std::mem::take(word);
        let w = w.strip_suffix("...").map(str::to_owned).unwrap_or(w);
        if !w.is_empty() {
            tokens.push(Token::Word(w));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let at_word_start = word.is_empty();
        let next = chars.get(i + 1).copied();
        match c {
            '\'' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|c| *c == '\'')
                    .map_or(chars.len(), |p| i + 1 + p);
                word.extend(&chars[i + 1..close]);
                i = close + 1;
                continue;
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                i += 1;
                continue;
            }
            '\\' => {
                word.extend(next);
                i += 2;
                continue;
            }
            '#' if at_word_start => break,
            '(' if at_word_start => {
                // A parenthesised remark: skip to its closing parenthesis.
                let mut level = 0;
                while i < chars.len() {
                    level += i32::from(chars[i] == '(') - i32::from(chars[i] == ')');
                    i += 1;
                    if level == 0 {
                        break;
                    }
                }
                continue;
            }
            '<' if placeholder_len(&chars[i..]).is_some() => {
                let len = placeholder_len(&chars[i..]).unwrap_or(1);
                word.extend(&chars[i..i + len]);
                i += len;
                continue;
            }
            '[' if at_word_start => {
                depth += 1;
                tokens.push(Token::Open);
            }
            ']' if depth > 0 => {
                flush(&mut word, &mut tokens);
                depth -= 1;
                tokens.push(Token::Close);
                // `]...`: the group repeats.
                if chars[i + 1..].starts_with(&['.', '.', '.']) {
                    i += 3;
                }
            }
            '|' => {
                let glued = !at_word_start && next.is_some_and(|n| !n.is_whitespace() && n != '|');
                flush(&mut word, &mut tokens);
                if next == Some('|') {
                    tokens.push(Token::Sep);
                    i += 1;
                } else if glued || depth > 0 {
                    tokens.push(Token::Alt);
                } else {
                    tokens.push(Token::Sep);
                }
            }
            '&' if next == Some('&') => {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Sep);
                i += 1;
            }
            ';' | '&' => {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Sep);
            }
            '>' | '<' => {
                // `2>`: the digits were the file descriptor, not a word.
                if word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                }
                flush(&mut word, &mut tokens);
                tokens.push(Token::Redirect);
            }
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            c => word.push(c),
        }
        i += 1;
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// Length of a `<name>` placeholder at the start of `chars`.
fn placeholder_len(chars: &[char]) -> Option<usize> {
    let close = chars.iter().position(|c| *c == '>')?;
    let inner = &chars[1..close];
    let ok = !inner.is_empty()
        && inner
            .iter()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then_some(close + 1)
}

/// Words skipped before the command word.
const PREFIX_WORDS: [&str; 9] = [
    "sudo", "env", "time", "exec", "nohup", "do", "then", "else", "!",
];

fn is_env_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The mmctl commands on one logical line, as argument items.
fn commands_in(text: &str) -> Vec<Vec<Item>> {
    let tokens = lex(text);
    tokens
        .split(|t| *t == Token::Sep)
        .filter_map(|command| {
            let command: Vec<&Token> = command
                .iter()
                .take_while(|t| **t != Token::Redirect)
                .collect();
            let start = command.iter().position(|t| match t {
                Token::Word(w) => !is_env_assignment(w) && !PREFIX_WORDS.contains(&w.as_str()),
                _ => true,
            })?;
            let Token::Word(program) = command[start] else {
                return None;
            };
            (program == "mmctl" || program.ends_with("/mmctl"))
                .then(|| items(&command[start + 1..]))
        })
        .collect()
}

/// Groups tokens into usage items: words with their glued alternatives, and optional groups.
fn items(tokens: &[&Token]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            Token::Open => {
                let mut alternatives = vec![Vec::new()];
                let mut level = 1;
                i += 1;
                while i < tokens.len() && level > 0 {
                    match tokens[i] {
                        Token::Open => level += 1,
                        Token::Close => level -= 1,
                        Token::Alt if level == 1 => alternatives.push(Vec::new()),
                        Token::Word(w) => alternatives.last_mut().expect("one").push(w.clone()),
                        _ => {}
                    }
                    i += 1;
                }
                alternatives.retain(|a| !a.is_empty());
                out.push(Item::Group(alternatives));
                continue;
            }
            Token::Word(w) => {
                let glued = i > 0 && *tokens[i - 1] == Token::Alt;
                match out.last_mut() {
                    Some(Item::Word(alts)) if glued => alts.push(w.clone()),
                    _ => out.push(Item::Word(vec![w.clone()])),
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The argument lists a usage line stands for: its required part, then each alternative and
/// each optional group added one at a time.
fn variants(items: &[Item]) -> Vec<Vec<String>> {
    let base = |replace: Option<(usize, &[String])>| -> Vec<String> {
        let mut args = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match (item, replace) {
                (_, Some((at, words))) if at == i => args.extend(words.iter().cloned()),
                (Item::Word(alts), _) => args.push(alts[0].clone()),
                (Item::Group(_), _) => {}
            }
        }
        args
    };
    let mut out = vec![base(None)];
    for (i, item) in items.iter().enumerate() {
        let choices: Vec<Vec<String>> = match item {
            Item::Word(alts) => alts.iter().skip(1).map(|a| vec![a.clone()]).collect(),
            Item::Group(alternatives) => alternatives.clone(),
        };
        out.extend(choices.iter().map(|words| base(Some((i, words)))));
    }
    out
}

/// A word that stands for a value: `<id>`, `db-<id>`, `$role`, `ID`, `NAME=PATH`.
fn is_placeholder(word: &str) -> bool {
    let caps = word.chars().any(|c| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "_-=:/.".contains(c));
    caps || word.starts_with('$') || (word.contains('<') && word.contains('>'))
}

/// Values tried for a placeholder clap rejects, after the values clap lists as valid.
const TYPICAL_VALUES: [&str; 5] = ["1", "10m", "2025-01-01T00:00:00Z", "latest", "buyer"];

/// The value clap rejected as invalid, if the error names one.
fn invalid_value(err: &clap::Error) -> Option<String> {
    match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => Some(v.clone()),
        _ => None,
    }
}

/// Parses `args` (after the command word) with the real definition, substituting values for
/// placeholders clap rejects.
fn parse(args: &[String]) -> Result<(), clap::Error> {
    let try_parse = |args: &[String]| {
        Cli::try_parse_from(std::iter::once("mmctl").chain(args.iter().map(String::as_str)))
    };
    let mut args = args.to_vec();
    // Each round replaces one placeholder by a value, so there are at most as many as words.
    for _ in 0..=args.len() {
        let err = match try_parse(&args) {
            Ok(_) => return Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
                return Ok(());
            }
            Err(e) => e,
        };
        let Some(bad) = invalid_value(&err).filter(|v| is_placeholder(v)) else {
            return Err(err);
        };
        let Some(at) = args
            .iter()
            .position(|a| *a == bad || a.ends_with(&format!("={bad}")))
        else {
            return Err(err);
        };
        let valid = match err.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(values)) => values.clone(),
            _ => Vec::new(),
        };
        let mut candidates = valid.iter().map(String::as_str).chain(TYPICAL_VALUES);
        let fits = candidates.find(|value| {
            let mut tried = args.clone();
            tried[at] = args[at].replace(&bad, value);
            try_parse(&tried)
                .err()
                .and_then(|e| invalid_value(&e))
                .as_deref()
                != Some(*value)
        });
        let Some(value) = fits else { return Err(err) };
        args[at] = args[at].replace(&bad, value);
    }
    try_parse(&args).map(drop)
}

/// Checks one doc command: every variant parses. Returns the failures as messages.
fn check(command: &DocCommand) -> Vec<String> {
    let named_only = |kind: ErrorKind| {
        matches!(
            kind,
            ErrorKind::MissingSubcommand
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                | ErrorKind::MissingRequiredArgument
        )
    };
    variants(&command.items)
        .into_iter()
        .filter_map(|args| match parse(&args) {
            Ok(()) => None,
            Err(e) if command.inline && named_only(e.kind()) => None,
            Err(e) => {
                let message = e.to_string();
                let first = message
                    .split("\n\n")
                    .next()
                    .unwrap_or(&message)
                    .trim()
                    .to_owned();
                Some(format!("`mmctl {}`: {first}", args.join(" ")))
            }
        })
        .collect()
}

/// The mmctl commands of a Markdown text.
fn doc_commands(markdown: &str) -> Vec<DocCommand> {
    let mut out = Vec::new();
    let lines: Vec<&str> = markdown.lines().collect();
    let mut prose: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = fence(lines[i]) else {
            prose.push((i + 1, lines[i]));
            i += 1;
            continue;
        };
        let end = (i + 1..lines.len())
            .find(|&j| fence(lines[j]).is_some())
            .unwrap_or(lines.len());
        if ["", "sh", "bash", "shell", "console"].contains(&info) {
            out.extend(block_commands(&lines[i + 1..end], i + 2));
        }
        out.extend(inline_commands(&prose));
        prose.clear();
        i = end + 1;
    }
    out.extend(inline_commands(&prose));
    out.sort_by_key(|c| c.line);
    out
}

/// The info string of a fence line (```` ```sh ```` → `sh`), or `None` for another line.
fn fence(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix("```").or_else(|| t.strip_prefix("~~~"))?;
    Some(rest.split_whitespace().next().unwrap_or(""))
}

/// The commands of a shell block whose first line is line `first`.
fn block_commands(block: &[&str], first: usize) -> Vec<DocCommand> {
    let prompted = block.iter().any(|l| l.trim_start().starts_with("$ "));
    let mut out = Vec::new();
    let mut i = 0;
    while i < block.len() {
        let start = i;
        let mut text = block[i].trim_start().to_owned();
        while text.trim_end().ends_with('\\') && i + 1 < block.len() {
            text = format!(
                "{} {}",
                text.trim_end().trim_end_matches('\\'),
                block[i + 1]
            );
            i += 1;
        }
        i += 1;
        let text = match text.strip_prefix("$ ") {
            Some(command) => command.to_owned(),
            None if prompted => continue,
            None => text,
        };
        out.extend(commands_in(&text).into_iter().map(|items| DocCommand {
            line: first + start,
            items,
            inline: false,
        }));
    }
    out
}

/// The commands in the inline code spans of prose lines (1-based line, text); a span may wrap
/// onto the next line of its paragraph.
fn inline_commands(prose: &[(usize, &str)]) -> Vec<DocCommand> {
    let mut out = Vec::new();
    for paragraph in prose.split(|(_, l)| l.trim().is_empty()) {
        let mut open: Option<(usize, String, usize)> = None;
        for (line, text) in paragraph {
            let chars: Vec<char> = text.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                if chars[i] != '`' {
                    if let Some((_, span, _)) = open.as_mut() {
                        span.push(chars[i]);
                    }
                    i += 1;
                    continue;
                }
                let run = chars[i..].iter().take_while(|c| **c == '`').count();
                i += run;
                match open.take() {
                    Some((start, span, width)) if width == run => {
                        let span = span.trim();
                        let span = span.strip_prefix("$ ").unwrap_or(span);
                        out.extend(commands_in(span).into_iter().map(|items| DocCommand {
                            line: start,
                            items,
                            inline: true,
                        }));
                    }
                    Some(still_open) => open = Some(still_open),
                    None => open = Some((*line, String::new(), run)),
                }
            }
            if let Some((_, span, _)) = open.as_mut() {
                span.push(' ');
            }
        }
    }
    out
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// README.md and every docs/*.md, relative to the repository root.
fn doc_files(root: &Path) -> Vec<String> {
    let mut files = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn documented_mmctl_commands_parse() {
    let root = repo_root();
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in doc_files(&root) {
        let text =
            fs::read_to_string(root.join(&file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
        for command in doc_commands(&text) {
            checked += 1;
            failures.extend(
                check(&command)
                    .into_iter()
                    .map(|f| format!("{file}:{}: {f}", command.line)),
            );
        }
    }
    assert!(
        checked >= 50,
        "found only {checked} mmctl command lines in README.md and docs/*.md: is the extraction broken?"
    );
    assert!(
        failures.is_empty(),
        "{} documented mmctl command line(s) do not parse; fix the doc (or the CLI):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The conventions above, on small documents.
mod conventions {
    use super::*;

    fn args(markdown: &str) -> Vec<Vec<String>> {
        doc_commands(markdown)
            .iter()
            .flat_map(|c| variants(&c.items))
            .collect()
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn shell_lines_are_read_like_sh() {
        let md = "```sh\n$ MMKT_X=1 mmctl up --env production   # comment\n\
                  out: mmctl up\n$ mmctl backup list | grep db && sudo mmctl down \\\n  --volumes > log 2>&1\n\
                  $ for r in a b; do target/release/mmctl restore wallet \"$r\" latest; done\n```\n";
        assert_eq!(
            args(md),
            [
                words(&["up", "--env", "production"]),
                words(&["backup", "list"]),
                words(&["down", "--volumes"]),
                words(&["restore", "wallet", "$r", "latest"]),
            ]
        );
        let lines: Vec<usize> = doc_commands(md).iter().map(|c| c.line).collect();
        assert_eq!(lines, [2, 4, 4, 6]);
    }

    #[test]
    fn prose_and_other_programs_are_not_commands() {
        let md = "mmctl's output, `mmctl-drill.timer`, `mmctl::cli::Cli`, `cargo build -p mmctl`.\n\
                  ```json\n{\"cmd\": \"mmctl up\"}\n```\n```sh\n# mmctl up in a comment\nMMCTL=target/mmctl scripts/bench.sh\n```\n";
        assert!(doc_commands(md).is_empty(), "{:?}", doc_commands(md));
    }

    #[test]
    fn inline_spans_wrap_and_name_commands() {
        let md = "Run `mmctl image build &&\nmmctl image save x.tar.gz` then `mmctl backup`.\n\nNext `mmctl up`.\n";
        let commands = doc_commands(md);
        assert!(commands.iter().all(|c| c.inline));
        let found: Vec<(usize, Vec<Vec<String>>)> = commands
            .iter()
            .map(|c| (c.line, variants(&c.items)))
            .collect();
        assert_eq!(
            found,
            [
                (1, vec![words(&["image", "build"])]),
                (1, vec![words(&["image", "save", "x.tar.gz"])]),
                (2, vec![words(&["backup"])]),
                (4, vec![words(&["up"])]),
            ]
        );
    }

    #[test]
    fn usage_notation_expands_one_option_at_a_time() {
        let md = "```\nmmctl backup verify  [ID | --all] [--identity F]...  (default: newest)\n\
                  mmctl up [SERVICE...]\nmmctl completions bash|zsh\nmmctl restore db [ID|latest] --yes <id>\n```\n";
        assert_eq!(
            args(md),
            [
                words(&["backup", "verify"]),
                words(&["backup", "verify", "ID"]),
                words(&["backup", "verify", "--all"]),
                words(&["backup", "verify", "--identity", "F"]),
                words(&["up"]),
                words(&["up", "SERVICE"]),
                words(&["completions", "bash"]),
                words(&["completions", "zsh"]),
                words(&["restore", "db", "--yes", "<id>"]),
                words(&["restore", "db", "ID", "--yes", "<id>"]),
                words(&["restore", "db", "latest", "--yes", "<id>"]),
            ]
        );
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            "ID",
            "ROLE",
            "NAME=PATH",
            "<id>",
            "db-<id>",
            "$role",
            "S3_URL",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for v in ["latest", "buyer", "--all", "10m", "Db"] {
            assert!(!is_placeholder(v), "{v}");
        }
    }

    #[test]
    fn wrong_command_lines_fail_with_clap_errors() {
        let bad = doc_commands(
            "```sh\nmmctl up --no-such-flag\nmmctl backup\nmmctl frobnicate\nmmctl completions tcsh\n```\n",
        );
        let failures: Vec<String> = bad.iter().flat_map(check).collect();
        assert_eq!(failures.len(), 4, "{failures:?}");
        assert!(failures[0].contains("--no-such-flag"), "{}", failures[0]);
        let good = doc_commands(
            "```sh\nmmctl up --env production\nmmctl --help\nmmctl --version\n\
             mmctl completions SHELL\nmmctl backup prune --keep-last N --keep-daily N\n```\nSee `mmctl backup`.\n",
        );
        let failures: Vec<String> = good.iter().flat_map(check).collect();
        assert!(failures.is_empty(), "{failures:?}");
        // Without the placeholder retry, clap rejects `SHELL`.
        assert!(Cli::try_parse_from(["mmctl", "completions", "SHELL"]).is_err());
    }
}
