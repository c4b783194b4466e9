//! `FirewallError`: every way planning, checking or applying the ruleset can fail.

use std::path::PathBuf;

/// An error of the firewall workflow. Messages say what failed and what to do; none carries a
/// secret (the ruleset holds addresses and ports only).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FirewallError {
    /// A firewall setting (an `MMKT_FIREWALL_*` variable, `SSH_CONNECTION`, a published port of
    /// the compose file or the network namespace name) is malformed or contradicts another.
    /// Nothing was applied.
    #[error("invalid firewall setting {name}={value:?}: {reason}")]
    InvalidSetting {
        /// The variable (or compose entry) that holds the value.
        name: String,
        /// The value as given.
        value: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// No `nft` program on `PATH` (Debian package `nftables`).
    #[error("nft not found on PATH ({path}): install the Debian package nftables")]
    NftMissing {
        /// The `PATH` searched.
        path: String,
    },
    /// Reading or changing the kernel's ruleset needs root (CAP_NET_ADMIN).
    #[error("{action} needs root (CAP_NET_ADMIN): run mmctl firewall as root, e.g. with sudo")]
    NotRoot {
        /// What was attempted (`reading the loaded ruleset`, `applying the ruleset`).
        action: &'static str,
    },
    /// `nft -c -f` (or `nft -f`) refused the generated ruleset; the loaded ruleset is unchanged
    /// (nft applies a file as one transaction).
    #[error("nft rejected the ruleset (nothing was changed): {stderr}")]
    Rejected {
        /// nft's own error output.
        stderr: String,
    },
    /// Another nft (or `ip netns exec`) invocation failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Nft {
        /// The command line run.
        command: String,
        /// Its exit status.
        status: String,
        /// Its error output.
        stderr: String,
    },
    /// A program could not be started or a file read.
    #[error("{what} ({path}): {source}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// The program or file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl FirewallError {
    /// An [`FirewallError::InvalidSetting`] for `name`'s `value`.
    pub(crate) fn invalid(name: &str, value: &str, reason: impl Into<String>) -> FirewallError {
        FirewallError::InvalidSetting {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
