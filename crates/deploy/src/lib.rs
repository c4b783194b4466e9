//! `mmkt-deploy`: blue/green deploys and rollbacks of the mmkt server on one Docker Engine,
//! through `mmkt-stack` (the Engine API) and `mmkt-backup` (the pre-deploy backup and the
//! live database's schema version and escrow events). Workflows take plain request structs
//! and return a typed [`report::DeployReport`]; an automatic rollback is an outcome
//! ([`report::DeployOutcome::RolledBack`]), not an error. See docs/DEPLOY.md.
//!
//! A deploy ([`deploy::deploy`]):
//! 1. [`lock`]: a labelled volume, created atomically; a second deploy fails at once.
//! 2. The pre-deploy backup (`mmkt_backup::ops::backup`), or `--skip-backup` with a reason.
//! 3. The image is local (loaded from an archive when given); nothing is pulled.
//! 4. [`switch`]: green started from the compose plan of `server` ([`target`]) beside
//!    blue, off nginx's networks (nginx is pinned to blue only when that is impossible),
//!    `/ready` and smoke checks against green directly, green connected to nginx's networks
//!    and nginx switched ([`nginx`]), the runner lease moved ([`lease`]), green's 5xx rate
//!    watched ([`watch`]; a breach rolls back to blue, still running, pinned again), blue
//!    drained and removed (its image kept); nginx stays pinned to green.
//! 5. [`history`]: the run recorded on the target host.
//!
//! [`rollback::rollback`] runs the same switch back to a local image (with `--restore-db`,
//! on the pre-deploy backup restored by [`restore`] once blue stopped); [`status::status`]
//! reads the lock, servers and last run; [`pin`] keeps nginx pinned between deploys (`mmctl
//! up`) and checks the pin (`mmctl health`). Timings are [`settings::DeploySettings`] (seconds);
//! errors are [`DeployError`].
//!
//! The async workflows run the backup with `tokio::task::block_in_place`: call them from a
//! multi-threaded tokio runtime.

pub mod deploy;
pub mod error;
pub mod history;
pub mod lease;
pub mod lock;
pub mod nginx;
pub mod pin;
pub mod report;
pub mod restore;
pub mod rollback;
pub mod settings;
pub mod status;
pub mod switch;
pub mod target;
pub mod watch;

pub use error::DeployError;
