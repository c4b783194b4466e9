//! Splits a Rust source file into per-line code and comments, so rules match code without
//! tripping over comments and match comments without tripping over strings such as
//! `"http://host"`.

/// One source file split into code and comments; line indices are 0-based.
#[derive(Debug, Default)]
pub struct Lexed {
    /// Each line with its comments removed; string and char literals kept as written.
    pub code: Vec<String>,
    /// Each line with its comments removed and the contents of string and char literals
    /// replaced by spaces (the quotes stay), for matching paths and braces in code only.
    pub bare: Vec<String>,
    /// Every comment piece: (0-based line, text after `//`, `///`, `//!` or inside `/* */`).
    pub comments: Vec<(usize, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    LineComment,
    BlockComment(u32),
    Str,
    RawStr(usize),
}

/// Splits `text` into [`Lexed`]. Handles nested block comments, escapes, raw strings
/// (`r#"…"#`, `br"…"`), char literals (`'"'`, `'\''`) and lifetimes (`'a`).
pub fn lex(text: &str) -> Lexed {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Lexed::default();
    let mut code = String::new();
    let mut bare = String::new();
    let mut comment: Option<String> = None;
    let mut state = State::Code;
    let mut line = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            if let Some(piece) = comment.take() {
                out.comments.push((line, piece));
            }
            if let State::BlockComment(_) = state {
                comment = Some(String::new());
            }
            if state == State::LineComment {
                state = State::Code;
            }
            out.code.push(std::mem::take(&mut code));
            out.bare.push(std::mem::take(&mut bare));
            line += 1;
            i += 1;
            continue;
        }
        match state {
            State::LineComment => push_comment(&mut comment, c),
            State::BlockComment(depth) => {
                if c == '*' && next == Some('/') {
                    state = if depth == 1 {
                        State::Code
                    } else {
                        State::BlockComment(depth - 1)
                    };
                    if state == State::Code
                        && let Some(piece) = comment.take()
                    {
                        out.comments.push((line, piece));
                    }
                    i += 2;
                    continue;
                }
                if c == '/' && next == Some('*') {
                    state = State::BlockComment(depth + 1);
                    i += 2;
                    continue;
                }
                push_comment(&mut comment, c);
            }
            State::Str => {
                code.push(c);
                if c == '\\'
                    && let Some(n) = next.filter(|n| *n != '\n')
                {
                    code.push(n);
                    bare.push_str("  ");
                    i += 2;
                    continue;
                }
                if c == '"' {
                    state = State::Code;
                    bare.push('"');
                } else {
                    bare.push(' ');
                }
            }
            State::RawStr(hashes) => {
                code.push(c);
                if c == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|h| **h == '#')
                        .count()
                        == hashes
                {
                    code.extend(std::iter::repeat_n('#', hashes));
                    bare.push('"');
                    bare.extend(std::iter::repeat_n('#', hashes));
                    state = State::Code;
                    i += 1 + hashes;
                    continue;
                }
                bare.push(' ');
            }
            State::Code => {
                if c == '/' && next == Some('/') {
                    state = State::LineComment;
                    comment = Some(String::new());
                    i += 2;
                    continue;
                }
                if c == '/' && next == Some('*') {
                    state = State::BlockComment(1);
                    comment = Some(String::new());
                    i += 2;
                    continue;
                }
                if let Some(hashes) = raw_string_start(&chars, i) {
                    // `r`, the hashes and the opening quote.
                    let len = 2 + hashes;
                    let opening: String = chars[i..i + len].iter().collect();
                    code.push_str(&opening);
                    bare.push_str(&opening);
                    state = State::RawStr(hashes);
                    i += len;
                    continue;
                }
                if c == '"' {
                    state = State::Str;
                    code.push(c);
                    bare.push(c);
                    i += 1;
                    continue;
                }
                if let Some(len) = char_literal_len(&chars, i) {
                    code.extend(&chars[i..i + len]);
                    bare.push('\'');
                    bare.extend(std::iter::repeat_n(' ', len - 2));
                    bare.push('\'');
                    i += len;
                    continue;
                }
                code.push(c);
                bare.push(c);
            }
        }
        i += 1;
    }
    if let Some(piece) = comment.take() {
        out.comments.push((line, piece));
    }
    if !code.is_empty() || !bare.is_empty() || !text.ends_with('\n') {
        out.code.push(code);
        out.bare.push(bare);
    }
    out
}

fn push_comment(comment: &mut Option<String>, c: char) {
    if let Some(piece) = comment {
        piece.push(c);
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// At `chars[i] == 'r'` opening a raw string (`r"`, `r#"`, also after a `b` or `c` prefix):
/// the number of `#`s.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    if chars[i] != 'r' {
        return None;
    }
    let before = i.checked_sub(1).map(|p| chars[p]);
    let prefixed = matches!(before, Some('b' | 'c'))
        && !i.checked_sub(2).map(|p| chars[p]).is_some_and(is_ident);
    if before.is_some_and(is_ident) && !prefixed {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// At `chars[i] == '\''`: the length of the char literal starting there, or `None` for a
/// lifetime or label.
fn char_literal_len(chars: &[char], i: usize) -> Option<usize> {
    if chars[i] != '\'' {
        return None;
    }
    if chars.get(i + 1) == Some(&'\\') {
        let close = chars[i + 2..].iter().skip(1).position(|c| *c == '\'')?;
        return Some(close + 4);
    }
    (chars.get(i + 2) == Some(&'\'')).then_some(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_split_from_code() {
        let l = lex("let a = 1; // one\n/// doc\nlet b = 2; /* two\nthree */ let c = 3;\n");
        assert_eq!(l.code, ["let a = 1; ", "", "let b = 2; ", " let c = 3;"]);
        let comments: Vec<_> = l.comments.iter().map(|(n, t)| (*n, t.trim())).collect();
        assert_eq!(
            comments,
            [(0, "one"), (1, "/ doc"), (2, "two"), (3, "three")]
        );
    }

    #[test]
    fn strings_and_chars_hide_comment_markers() {
        let text =
            "let u = \"http://x\"; let q = '\"'; let e = '\\''; let r = r#\"//\"#; // real\n";
        let l = lex(text);
        assert_eq!(l.comments.len(), 1, "{:?}", l.comments);
        assert_eq!(l.comments[0].1.trim(), "real");
        assert!(l.code[0].contains("\"http://x\""));
        assert!(!l.bare[0].contains("http"), "{}", l.bare[0]);
    }

    #[test]
    fn lifetimes_nested_comments_and_escapes() {
        let l = lex("fn f<'a>(s: &'a str) {} /* a /* b */ c */ let s = \"\\\"//\";\n");
        assert_eq!(l.code[0], "fn f<'a>(s: &'a str) {}  let s = \"\\\"//\";");
        assert_eq!(l.comments.len(), 1);
        assert!(l.comments[0].1.contains('c'));
    }
}
