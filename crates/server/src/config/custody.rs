//! Custody settings: the cap on the total value held in open escrows (refusing orders beyond it)
//! and the interval of the check for finished escrows whose wallets still hold money.
//!
//! In hosted mode the server holds the keys of all three wallets of every escrow, so whoever
//! controls the server can move every escrowed piconero; the cap bounds that loss (docs/SECURITY.md).

use std::time::Duration;

use escrow_core::{Amount, EscrowStateKind};

use super::{ConfigError, Environment};

/// Longest accepted `MMKT_CUSTODY_CHECK_INTERVAL_SECS`: one day.
pub const MAX_CUSTODY_CHECK_INTERVAL_SECS: u64 = 86_400;

/// The custody settings of one environment (`MMKT_CUSTODY_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustodySettings {
    /// Cap on the sum of the amounts of all open escrows (`MMKT_CUSTODY_CAP_XMR`).
    pub cap: CustodyCap,
    /// Pause between two sweeps of the terminal-wallet check (`MMKT_CUSTODY_CHECK_INTERVAL_SECS`,
    /// 1-86400 s; default 60 s in development, 900 s in staging, 3600 s in production).
    pub terminal_check_interval: Duration,
}

impl CustodySettings {
    /// The built-in settings of `env`: cap 1000 / 10 / 50 XMR and check interval 60 / 900 /
    /// 3600 s for development / staging / production.
    pub fn defaults(env: Environment) -> Self {
        let (cap_xmr, interval_secs) = match env {
            Environment::Development => (1000, 60),
            Environment::Staging => (10, 900),
            Environment::Production => (50, 3600),
        };
        CustodySettings {
            cap: CustodyCap::new(Amount::from_xmr(cap_xmr).unwrap_or(Amount::MAX)),
            terminal_check_interval: Duration::from_secs(interval_secs),
        }
    }

    /// The settings of `env` with the overrides `cap_xmr` (`MMKT_CUSTODY_CAP_XMR`, decimal XMR
    /// such as `50` or `12.5`, parsed exactly) and `interval_secs`
    /// (`MMKT_CUSTODY_CHECK_INTERVAL_SECS`, whole seconds); `None` keeps the default.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for a cap that is not a positive decimal XMR amount with at
    /// most 12 decimals, or an interval that is not a whole number of seconds in 1..=86400.
    pub fn parse(
        env: Environment,
        cap_xmr: Option<&str>,
        interval_secs: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut settings = Self::defaults(env);
        if let Some(text) = cap_xmr {
            let cap = text
                .parse::<Amount>()
                .ok()
                .filter(|a| !a.is_zero())
                .ok_or_else(|| ConfigError::InvalidValue {
                    name: "MMKT_CUSTODY_CAP_XMR",
                    message: format!(
                        "`{text}` is not a positive amount of XMR; write decimal XMR with at most 12 decimals, e.g. 50 or 12.5"
                    ),
                })?;
            settings.cap = CustodyCap::new(cap);
        }
        if let Some(text) = interval_secs {
            settings.terminal_check_interval = parse_interval(
                "MMKT_CUSTODY_CHECK_INTERVAL_SECS",
                text,
                MAX_CUSTODY_CHECK_INTERVAL_SECS,
            )?;
        }
        Ok(settings)
    }
}

/// Parses `text`, the value of the variable `name`, as whole seconds in `1..=max`.
///
/// # Errors
/// [`ConfigError::InvalidValue`] naming `name` for anything else.
pub(super) fn parse_interval(
    name: &'static str,
    text: &str,
    max: u64,
) -> Result<Duration, ConfigError> {
    text.parse::<u64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .map(Duration::from_secs)
        .ok_or_else(|| ConfigError::InvalidValue {
            name,
            message: format!("`{text}` is not a whole number of seconds between 1 and {max}"),
        })
}

/// Whether an escrow in state `kind` counts toward the custody cap: every state that is neither
/// terminal (`released`, `refunded`: the money has left) nor closed unfunded (`expired`,
/// `cancelled`: nothing was received; a late payment reopens them as `disputed`, which counts).
/// So `awaiting_setup`, `setup_failed`, `awaiting_funding`, `funded`, `disputed`, `releasing` and
/// `refunding` count: an escrow is counted from its order until its payout.
pub const fn counts_toward_cap(kind: EscrowStateKind) -> bool {
    !kind.is_terminal() && !matches!(kind, EscrowStateKind::Expired | EscrowStateKind::Cancelled)
}

/// The largest total, piconero, that all open escrows ([`counts_toward_cap`]) may hold together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustodyCap(Amount);

impl CustodyCap {
    /// A cap of `max` (inclusive: open escrows may total exactly `max`).
    pub const fn new(max: Amount) -> Self {
        CustodyCap(max)
    }

    /// The cap, piconero.
    pub const fn max(&self) -> Amount {
        self.0
    }

    /// Admits a new escrow of `amount` beside open escrows of the given amounts when their
    /// checked sum stays at or below the cap.
    ///
    /// # Errors
    /// [`CustodyCapReached`] when the sum would exceed the cap (a sum that overflows `u64`
    /// exceeds it too).
    pub fn admit(
        &self,
        open: impl IntoIterator<Item = Amount>,
        amount: Amount,
    ) -> Result<(), CustodyCapReached> {
        let reached = CustodyCapReached { cap: self.0 };
        let total = Amount::checked_sum(open.into_iter().chain([amount])).ok_or(reached)?;
        if total > self.0 {
            return Err(reached);
        }
        Ok(())
    }
}

/// A new order would take the total held in open escrows above the custody cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the open escrows would exceed the custody cap of {cap} XMR")]
pub struct CustodyCapReached {
    /// The cap, piconero (formats as decimal XMR).
    pub cap: Amount,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xmr(text: &str) -> Amount {
        text.parse().unwrap()
    }

    #[test]
    fn defaults_per_environment() {
        let d = CustodySettings::defaults(Environment::Development);
        let s = CustodySettings::defaults(Environment::Staging);
        let p = CustodySettings::defaults(Environment::Production);
        assert_eq!(
            [d.cap.max(), s.cap.max(), p.cap.max()],
            [xmr("1000"), xmr("10"), xmr("50")]
        );
        assert_eq!(
            [d, s, p].map(|c| c.terminal_check_interval.as_secs()),
            [60, 900, 3600]
        );
    }

    #[test]
    fn overrides_parse_exactly_and_bad_values_are_refused() {
        let c = CustodySettings::parse(Environment::Production, Some("12.5"), Some("1")).unwrap();
        assert_eq!(c.cap.max().as_atomic(), 12_500_000_000_000);
        assert_eq!(c.terminal_check_interval, Duration::from_secs(1));
        for bad in ["0", "-1", "1e3", "0.0000000000001", "ten", "1,5"] {
            let err = CustodySettings::parse(Environment::Development, Some(bad), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("MMKT_CUSTODY_CAP_XMR"), "{bad}: {err}");
        }
        for bad in ["0", "86401", "1.5", "1h"] {
            let err = CustodySettings::parse(Environment::Development, None, Some(bad))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("MMKT_CUSTODY_CHECK_INTERVAL_SECS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn admit_is_inclusive_checked_and_names_the_cap() {
        let cap = CustodyCap::new(xmr("3"));
        assert_eq!(cap.admit([xmr("1"), xmr("1")], xmr("1")), Ok(()));
        let refused = cap.admit([xmr("1"), xmr("1.5")], xmr("0.500000000001"));
        assert_eq!(refused, Err(CustodyCapReached { cap: xmr("3") }));
        assert_eq!(
            refused.unwrap_err().to_string(),
            "the open escrows would exceed the custody cap of 3 XMR"
        );
        assert!(cap.admit([Amount::MAX], Amount::ONE_PICONERO).is_err());
        assert_eq!(cap.admit([], xmr("3")), Ok(()));
    }

    #[test]
    fn only_states_from_order_to_payout_count() {
        use EscrowStateKind as K;
        for kind in K::ALL {
            let closed = matches!(kind, K::Released | K::Refunded | K::Expired | K::Cancelled);
            assert_eq!(counts_toward_cap(kind), !closed, "{kind:?}");
        }
    }
}
