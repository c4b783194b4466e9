//! `plan`, `apply` and `status`: the rendered ruleset compared with what is loaded, and loaded
//! atomically after `nft -c` accepted it.

use crate::error::FirewallError;
use crate::nft::{DockerUser, Mode, Nft};
use crate::policy::Policy;
use crate::render::{Ruleset, normalize};
use crate::session::SshSession;

/// How the loaded table compares with the plan (the SSH session kept reachable and the rate
/// meters' run-time contents left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// Our table is not loaded.
    Absent,
    /// It is loaded and equal to the plan.
    Matches,
    /// It is loaded and differs: a unified diff from the loaded table to the plan.
    Differs {
        /// `--- loaded` / `+++ planned` unified diff.
        diff: String,
    },
}

/// The ruleset planned for a policy and how it compares with the loaded one.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The ruleset to load.
    pub ruleset: Ruleset,
    /// The loaded table compared with it.
    pub loaded: Loaded,
    /// Whether Docker's DOCKER-USER chain exists where the ruleset goes.
    pub docker_user: DockerUser,
}

/// What `apply` did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The plan, compared with the table loaded before.
    pub before: Plan,
    /// The table read back after loading, compared with the plan ([`Loaded::Matches`] unless
    /// something changed it in between).
    pub after: Loaded,
}

/// Renders `policy` (keeping `session` reachable) and compares it with what `nft` has loaded.
///
/// # Errors
/// [`FirewallError::Nft`] when the loaded ruleset cannot be read.
pub fn plan(
    policy: &Policy,
    session: Option<&SshSession>,
    nft: &Nft,
) -> Result<Plan, FirewallError> {
    let ruleset = Ruleset::render(policy, session);
    let loaded = compare(&ruleset, nft.list_table()?.as_deref());
    Ok(Plan {
        ruleset,
        loaded,
        docker_user: nft.docker_user()?,
    })
}

/// Checks the plan with `nft -c -f`, then loads it with `nft -f` in one transaction (our
/// table replaced, no other table touched; established connections, the applying SSH session
/// among them, stay accepted throughout), then reads it back.
///
/// # Errors
/// [`FirewallError::Rejected`] (nothing changed), [`FirewallError::Nft`].
pub fn apply(
    policy: &Policy,
    session: Option<&SshSession>,
    nft: &Nft,
) -> Result<Applied, FirewallError> {
    let before = plan(policy, session, nft)?;
    let script = before.ruleset.script();
    nft.load(&script, Mode::Check)?;
    nft.load(&script, Mode::Apply)?;
    let after = compare(&before.ruleset, nft.list_table()?.as_deref());
    Ok(Applied { before, after })
}

/// The loaded table `listing` compared with `ruleset`.
pub fn compare(ruleset: &Ruleset, listing: Option<&str>) -> Loaded {
    let Some(listing) = listing else {
        return Loaded::Absent;
    };
    let loaded = normalize(listing);
    let planned = normalize(ruleset.listing());
    if loaded == planned {
        return Loaded::Matches;
    }
    let diff = similar::TextDiff::from_lines(&loaded, &planned)
        .unified_diff()
        .context_radius(2)
        .header("loaded", "planned")
        .to_string();
    Loaded::Differs { diff }
}
