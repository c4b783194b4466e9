//! The host firewall behind `mmctl firewall plan | apply | status`: a default-deny nftables
//! ruleset in our own `table inet mmkt`, aware of Docker.
//!
//! - [`settings`]: the per-environment `MMKT_FIREWALL_*` settings and the compose file's
//!   published ports -> a validated [`policy::Policy`] (443 public, 80 only for ACME, SSH with
//!   a per-source rate limit, admin CIDRs, the stack's and monitoring's ports internal).
//! - [`render`]: the policy -> the table's script, written as `nft list` prints it, so the
//!   loaded table compares line by line. Its input chain drops by default; its forward chain
//!   (priority before Docker's `FORWARD`/`DOCKER-USER`) drops new connections Docker DNATs to a
//!   published port whose original port is not public, which a plain input chain (or UFW)
//!   never sees.
//! - [`session`]: the applying operator's `SSH_CONNECTION`, kept reachable.
//! - [`nft`]: the `nft` subprocess, on the host or inside a network namespace.
//! - [`workflow`]: [`workflow::plan`] (ruleset + diff against the loaded table) and
//!   [`workflow::apply`] (`nft -c -f`, then `nft -f`, atomically).
//!
//! Errors are [`FirewallError`]s.

pub mod error;
pub mod nft;
pub mod policy;
pub mod render;
pub mod session;
pub mod settings;
pub mod workflow;

pub use error::FirewallError;
