//! Who holds the buyer's and vendor's multisig keys: [`EscrowMode`] (chosen by the buyer per
//! order) and [`AllowedModes`] (the modes this marketplace offers, a per-environment setting).

use serde::{Deserialize, Serialize};

use crate::error::ModeError;
use crate::label::label_text;

/// How an escrow's 2-of-3 multisig is held.
///
/// Labels (serde, [`EscrowMode::as_str`], [`FromStr`](std::str::FromStr)): `hosted`,
/// `non_custodial`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EscrowMode {
    /// The server creates and drives all three wallets (buyer, vendor, arbiter).
    #[default]
    Hosted,
    /// The server holds only the arbiter wallet; buyer and vendor run their own
    /// monero-wallet-rpc and submit their round outputs through the API
    /// ([`crate::escrow::rounds`]).
    NonCustodial,
}

impl EscrowMode {
    /// Every mode, in declaration order.
    pub const ALL: [EscrowMode; 2] = [EscrowMode::Hosted, EscrowMode::NonCustodial];

    /// Stable snake_case label (SQL column value, JSON, setting value).
    pub const fn as_str(self) -> &'static str {
        match self {
            EscrowMode::Hosted => "hosted",
            EscrowMode::NonCustodial => "non_custodial",
        }
    }
}

label_text!(EscrowMode, "escrow mode");

/// The escrow modes a marketplace offers its buyers: a non-empty set of [`EscrowMode`]s.
///
/// Parsed from a comma-separated list of labels (`FromStr`), e.g. `hosted`,
/// `hosted,non_custodial`; spaces around a label are ignored, a label given twice counts once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedModes {
    hosted: bool,
    non_custodial: bool,
}

impl AllowedModes {
    /// Only [`EscrowMode::Hosted`] (today's behaviour).
    pub const HOSTED_ONLY: AllowedModes = AllowedModes {
        hosted: true,
        non_custodial: false,
    };

    /// Every mode.
    pub const ALL: AllowedModes = AllowedModes {
        hosted: true,
        non_custodial: true,
    };

    /// Whether `mode` is offered.
    pub const fn contains(&self, mode: EscrowMode) -> bool {
        match mode {
            EscrowMode::Hosted => self.hosted,
            EscrowMode::NonCustodial => self.non_custodial,
        }
    }

    /// The offered modes, in [`EscrowMode::ALL`] order.
    pub fn modes(&self) -> Vec<EscrowMode> {
        EscrowMode::ALL
            .into_iter()
            .filter(|m| self.contains(*m))
            .collect()
    }

    /// The buyer's `chosen` mode, if this marketplace offers it.
    ///
    /// # Errors
    /// [`ModeError::NotAllowed`] naming the offered modes.
    pub fn admit(&self, chosen: EscrowMode) -> Result<EscrowMode, ModeError> {
        if self.contains(chosen) {
            return Ok(chosen);
        }
        Err(ModeError::NotAllowed {
            chosen,
            allowed: self.to_string(),
        })
    }
}

impl std::fmt::Display for AllowedModes {
    /// The offered labels joined by commas, e.g. `hosted,non_custodial`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self.modes().into_iter().map(EscrowMode::as_str).collect();
        f.write_str(&labels.join(","))
    }
}

impl std::str::FromStr for AllowedModes {
    type Err = ModeError;

    /// Parses a comma-separated list of mode labels.
    ///
    /// # Errors
    /// [`ModeError::Empty`] for a list naming no mode (empty text, only commas or spaces),
    /// [`ModeError::Unknown`] for any label that is not an [`EscrowMode`] label.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut allowed = AllowedModes {
            hosted: false,
            non_custodial: false,
        };
        for label in s.split(',').map(str::trim).filter(|l| !l.is_empty()) {
            let mode = label
                .parse::<EscrowMode>()
                .map_err(|e| ModeError::Unknown { found: e.found })?;
            match mode {
                EscrowMode::Hosted => allowed.hosted = true,
                EscrowMode::NonCustodial => allowed.non_custodial = true,
            }
        }
        if allowed.modes().is_empty() {
            return Err(ModeError::Empty);
        }
        Ok(allowed)
    }
}
