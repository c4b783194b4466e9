//! A compose `command` or `entrypoint` string split into words the way a POSIX shell would.

use crate::error::StackError;

/// Splits a command string into words like a POSIX shell (single/double quotes, backslash),
/// without any expansion.
///
/// # Errors
/// [`StackError::Invalid`] for an unterminated quote.
pub fn split_words(s: &str) -> Result<Vec<String>, StackError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => {
                            return Err(StackError::Invalid(format!("unterminated ' in {s:?}")));
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch) => cur.push(ch),
                            None => {
                                return Err(StackError::Invalid(format!(
                                    "unterminated \" in {s:?}"
                                )));
                            }
                        },
                        Some(ch) => cur.push(ch),
                        None => {
                            return Err(StackError::Invalid(format!("unterminated \" in {s:?}")));
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}
