//! Arbiter accounts, made the way the server makes them: `mmkt-server create-arbiter
//! --username NAME` run inside the running `server` container through an Engine API exec,
//! with the password written to the command's standard input (never on a command line, in an
//! environment variable or in a log). Arbiters cannot self-register over HTTP.

use super::engine::Engine;
use super::error::StackError;
use super::ready::SERVER_SERVICE;
use super::stack::Project;

/// The server binary inside its image (deploy/images/server/Dockerfile).
pub const SERVER_BINARY: &str = "/usr/local/bin/mmkt-server";

/// An account password (an arbiter's, or a demo account's in [`crate::dev::seed`]). `Debug`
/// is redacted and there is no `Display`: it is only ever sent to the server (the command's
/// standard input, a request body), or printed once by the caller when it was generated for
/// the operator.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountPassword(String);

impl AccountPassword {
    /// Wraps a password (the server checks its rules: at least 10 characters).
    pub fn new(password: String) -> Self {
        AccountPassword(password)
    }

    /// A fresh random password: 24 characters of `[A-Za-z0-9]` (about 143 bits).
    pub fn generate() -> Self {
        use rand::distr::{Alphanumeric, SampleString};
        AccountPassword(Alphanumeric.sample_string(&mut rand::rng(), 24))
    }

    /// The password text, for printing a generated one to the operator.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccountPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountPassword(<redacted>)")
    }
}

/// The account `create-arbiter` made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArbiterCreated {
    /// The username, as given.
    pub username: String,
    /// What the server printed, e.g. `created arbiter judge (id 3)`.
    pub message: String,
}

/// Why no arbiter was created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArbiterError {
    /// The server refused: bad username, password too short, username taken. The text is the
    /// server's own (it never contains the password).
    #[error("the server refused to create arbiter {username}: {message}")]
    Refused {
        /// The username asked for.
        username: String,
        /// The server's error line.
        message: String,
    },
    /// No running server container, or the engine failed.
    #[error(transparent)]
    Engine(#[from] StackError),
}

/// Creates arbiter `username` with `password` in the project's running server.
///
/// Engine API: `POST /containers/{id}/exec` (`mmkt-server create-arbiter --username NAME`,
/// stdin attached), `POST /exec/{id}/start` with the password line on stdin,
/// `GET /exec/{id}/json` for the exit code.
///
/// # Errors
/// [`ArbiterError::Refused`] when the command exits non-zero (nothing was created);
/// [`ArbiterError::Engine`] with [`StackError::NoContainer`] when the server is not running.
pub async fn create(
    project: &Project,
    engine: &Engine,
    username: &str,
    password: &AccountPassword,
) -> Result<ArbiterCreated, ArbiterError> {
    let id = engine
        .require_service_container(&project.name, SERVER_SERVICE)
        .await?;
    let cmd = [SERVER_BINARY, "create-arbiter", "--username", username];
    let line = format!("{}\n", password.0);
    let out = engine
        .exec_with_input(&id, &cmd, None, Some(line.as_bytes()))
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.exit_code == 0 {
        return Ok(ArbiterCreated {
            username: username.to_string(),
            message: stdout,
        });
    }
    Err(ArbiterError::Refused {
        username: username.to_string(),
        message: refusal(&String::from_utf8_lossy(&out.stderr), out.exit_code),
    })
}

/// The server's error line from its stderr (`Error: ...`, else the last line), which names
/// what to fix.
fn refusal(stderr: &str, exit_code: i64) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let error = lines.iter().position(|l| l.starts_with("Error:"));
    match error {
        Some(at) => lines[at..].join(" "),
        None => lines
            .last()
            .map_or_else(|| format!("exit code {exit_code}"), |l| l.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_and_generated_ones_are_long() {
        let p = AccountPassword::generate();
        assert_eq!(p.expose().len(), 24);
        assert!(p.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(p, AccountPassword::generate());
        assert_eq!(format!("{p:?}"), "AccountPassword(<redacted>)");
    }

    #[test]
    fn the_server_error_line_is_kept() {
        let stderr = "{\"level\":\"INFO\"}\nError: username judge is taken; choose another\n";
        assert_eq!(
            refusal(stderr, 1),
            "Error: username judge is taken; choose another"
        );
        assert_eq!(refusal("", 2), "exit code 2");
        assert_eq!(refusal("x\nlast words\n", 1), "last words");
    }
}
