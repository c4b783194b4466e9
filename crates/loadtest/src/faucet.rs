//! The development stack's faucet as the load tool uses it: the `mmctl` binary, run as a child
//! process (`mmctl dev address`, `mmctl dev pay ADDRESS AMOUNTpico`), so the load tool links
//! neither the server nor the Docker client. `mmctl` finds its stack the way it always does:
//! `COMPOSE_PROJECT_NAME` (or `-p`'s default `mmkt`), `MMCTL_ENV`, `MMCTL_COMPOSE_FILE`, which
//! the child inherits from the load tool's environment.
//!
//! `mmctl dev` talks to the faucet and monerod on the stack's backend network, which nginx's
//! network namespace (where the load tool runs) does not reach; so the command may carry a
//! prefix that runs mmctl back in the caller's namespace, e.g.
//! `nsenter --net=/proc/<shell pid>/ns/net target/debug/mmctl` ([`MmctlCommand`]).

use tokio::process::Command;
use tokio::sync::Mutex;

use crate::error::LoadError;

/// How to run mmctl: a program and leading arguments, given as one command line split on
/// whitespace (`target/debug/mmctl`, or `nsenter --net=/proc/1234/ns/net target/debug/mmctl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmctlCommand {
    words: Vec<String>,
}

impl MmctlCommand {
    /// Splits `text` on whitespace (no quoting: paths with spaces are not supported).
    ///
    /// # Errors
    /// [`LoadError::Setup`] when `text` holds no word.
    pub fn parse(text: &str) -> Result<MmctlCommand, LoadError> {
        let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Err(LoadError::Setup(
                "--mmctl is empty: give the mmctl binary, e.g. target/debug/mmctl".into(),
            ));
        }
        Ok(MmctlCommand { words })
    }

    /// The command line with `args` after it, for messages.
    fn display(&self, args: &[&str]) -> String {
        let mut words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        words.extend_from_slice(args);
        words.join(" ")
    }
}

/// The regtest faucet behind `mmctl dev`.
#[derive(Debug)]
pub struct Faucet {
    mmctl: MmctlCommand,
    address: String,
    /// One payment at a time: the faucet is one wallet, and concurrent transfers would race
    /// for its unlocked outputs.
    paying: Mutex<()>,
}

impl Faucet {
    /// Asks `mmctl dev address` (at `mmctl`) for the faucet's address, proving that the
    /// development stack and its faucet answer.
    ///
    /// # Errors
    /// [`LoadError::Faucet`] when `mmctl` cannot run or exits non-zero (e.g. no development
    /// stack with the `dev` profile is up).
    pub async fn connect(mmctl: &MmctlCommand) -> Result<Faucet, LoadError> {
        let address = run_mmctl(mmctl, &["dev", "address"]).await?;
        let address = address.trim().to_string();
        if address.is_empty() {
            return Err(faucet_error(
                mmctl,
                &["dev", "address"],
                "it printed no address",
            ));
        }
        Ok(Faucet {
            mmctl: mmctl.clone(),
            address,
            paying: Mutex::new(()),
        })
    }

    /// The faucet's own address (the scenario's vendors are paid out to it, so the money
    /// returns to the faucet).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Pays `piconero` atomic units from the faucet to `address` (`mmctl dev pay ADDRESS
    /// <piconero>pico`), one payment at a time.
    ///
    /// # Errors
    /// [`LoadError::Faucet`] when `mmctl dev pay` fails (its stderr says why, e.g. not enough
    /// unlocked money yet).
    pub async fn pay(&self, address: &str, piconero: u64) -> Result<(), LoadError> {
        let _turn = self.paying.lock().await;
        let amount = format!("{piconero}pico");
        run_mmctl(&self.mmctl, &["dev", "pay", address, &amount]).await?;
        Ok(())
    }
}

/// Runs `mmctl args...`; its stdout when it exits 0.
async fn run_mmctl(mmctl: &MmctlCommand, args: &[&str]) -> Result<String, LoadError> {
    let output = Command::new(&mmctl.words[0])
        .args(&mmctl.words[1..])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| faucet_error(mmctl, args, &format!("cannot run it: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = format!("{}: {}", output.status, stderr.trim());
        return Err(faucet_error(mmctl, args, &reason));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn faucet_error(mmctl: &MmctlCommand, args: &[&str], reason: &str) -> LoadError {
    LoadError::Faucet {
        command: mmctl.display(args),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(text: &str) -> MmctlCommand {
        MmctlCommand::parse(text).unwrap()
    }

    #[test]
    fn the_mmctl_command_splits_on_whitespace_and_must_name_a_program() {
        let prefixed = command("  nsenter --net=/proc/1/ns/net\ttarget/debug/mmctl ");
        assert_eq!(
            prefixed.display(&["dev", "address"]),
            "nsenter --net=/proc/1/ns/net target/debug/mmctl dev address"
        );
        for empty in ["", "   ", "\t\n"] {
            let err = MmctlCommand::parse(empty).unwrap_err();
            assert!(err.to_string().contains("--mmctl is empty"), "{err}");
        }
    }

    #[tokio::test]
    async fn a_missing_mmctl_is_a_faucet_error_naming_the_command() {
        let err = Faucet::connect(&command("/nonexistent/mmctl"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LoadError::Faucet { .. }), "{text}");
        assert!(text.contains("/nonexistent/mmctl dev address"), "{text}");
        assert!(text.contains("--mmctl"), "{text}");
    }

    #[tokio::test]
    async fn a_failing_mmctl_is_a_faucet_error_with_its_exit_status() {
        // `false` exits 1 whatever its arguments.
        let err = Faucet::connect(&command("false")).await.unwrap_err();
        assert!(err.to_string().contains("exit status: 1"), "{err}");
    }
}
