//! age key pairs made by the real `age-keygen` (Debian package `age`), for tests that encrypt
//! to a recipient and decrypt with the identity file.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An age identity file and its public key.
#[derive(Debug, Clone)]
pub struct AgeKey {
    /// The identity file (`AGE-SECRET-KEY-1...`, with the `# public key:` comment).
    pub file: PathBuf,
    /// The recipient (`age1...`).
    pub recipient: String,
}

/// Runs `age-keygen -o DIR/NAME.txt` and reads the recipient from the file's comment.
///
/// # Panics
/// When `age-keygen` is missing or fails (the test cannot go on without a key).
pub fn age_keygen(dir: &Path, name: &str) -> AgeKey {
    let file = dir.join(format!("{name}.txt"));
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen runs (Debian package age)");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).expect("read the identity age-keygen wrote");
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("age-keygen writes a public key comment")
        .to_string();
    AgeKey { file, recipient }
}
