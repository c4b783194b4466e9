//! Order settings that keep orders from jamming the marketplace: the per-buyer cap on unfunded
//! orders, the per-buyer order rate, and the archive of unfunded escrows' wallet files (where
//! each role's wallet-rpc keeps its files, and how long archived files are kept).

use std::path::PathBuf;
use std::time::Duration;

use escrow_core::Role;

use super::{ConfigError, Environment};

/// Per-buyer order limits (`MMKT_ORDERS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSettings {
    /// Most orders one buyer may have unfunded at once (escrow `awaiting_setup`, `setup_failed`
    /// or `awaiting_funding`); one more is refused with 429 `too_many_unfunded_orders`
    /// (`MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER`, default 1000/10/5 for
    /// development/staging/production).
    pub max_unfunded_per_buyer: u32,
    /// Orders one buyer may place per minute, refilled evenly; more get 429 `rate_limited` with
    /// `Retry-After` (`MMKT_ORDERS_PER_MINUTE`, default 1000/20/10).
    pub per_minute: u32,
}

impl OrderSettings {
    /// The defaults of `env`, overridden by `MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER` and
    /// `MMKT_ORDERS_PER_MINUTE` (`get` reads a variable, `None` when unset).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for a value that is not a whole number from 1 to 2^32-1.
    pub fn parse(
        env: Environment,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (cap, rate) = match env {
            Environment::Development => (1000, 1000),
            Environment::Staging => (10, 20),
            Environment::Production => (5, 10),
        };
        Ok(OrderSettings {
            max_unfunded_per_buyer: positive_u32(get, "MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER", cap)?,
            per_minute: positive_u32(get, "MMKT_ORDERS_PER_MINUTE", rate)?,
        })
    }
}

/// Where each role's wallet-rpc keeps its wallet files (its `--wallet-dir`, mounted into the
/// server), and how long the archive keeps the files of escrows that never received funds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletArchiveSettings {
    /// `MMKT_WALLET_DIR_BUYER`: the buyer wallet-rpc's `--wallet-dir`; unset: that role's
    /// wallets are never archived.
    pub buyer_dir: Option<PathBuf>,
    /// `MMKT_WALLET_DIR_VENDOR`.
    pub vendor_dir: Option<PathBuf>,
    /// `MMKT_WALLET_DIR_ARBITER`.
    pub arbiter_dir: Option<PathBuf>,
    /// How long an archived wallet stays in `<wallet dir>/archive/` before it is deleted
    /// (`MMKT_WALLET_ARCHIVE_RETENTION_SECS`, seconds; default 7/30/90 days for
    /// development/staging/production).
    pub retention: Duration,
}

impl WalletArchiveSettings {
    /// The defaults of `env`, overridden by `MMKT_WALLET_DIR_{BUYER,VENDOR,ARBITER}` and
    /// `MMKT_WALLET_ARCHIVE_RETENTION_SECS`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for a relative directory or a retention that is not a
    /// positive whole number of seconds.
    pub fn parse(
        env: Environment,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let days = match env {
            Environment::Development => 7,
            Environment::Staging => 30,
            Environment::Production => 90,
        };
        let retention = match get("MMKT_WALLET_ARCHIVE_RETENTION_SECS") {
            None => days * 86_400,
            Some(v) => {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError::InvalidValue {
                        name: "MMKT_WALLET_ARCHIVE_RETENTION_SECS",
                        message: format!("`{v}` is not a positive whole number of seconds"),
                    })?
            }
        };
        Ok(WalletArchiveSettings {
            buyer_dir: absolute_dir(get, "MMKT_WALLET_DIR_BUYER")?,
            vendor_dir: absolute_dir(get, "MMKT_WALLET_DIR_VENDOR")?,
            arbiter_dir: absolute_dir(get, "MMKT_WALLET_DIR_ARBITER")?,
            retention: Duration::from_secs(retention),
        })
    }

    /// The wallet directory of `role`'s wallet-rpc, if configured.
    pub fn dir(&self, role: Role) -> Option<&PathBuf> {
        match role {
            Role::Buyer => self.buyer_dir.as_ref(),
            Role::Vendor => self.vendor_dir.as_ref(),
            Role::Arbiter => self.arbiter_dir.as_ref(),
        }
    }
}

fn positive_u32(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    let Some(v) = get(name) else {
        return Ok(default);
    };
    v.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ConfigError::InvalidValue {
            name,
            message: format!("`{v}` is not a whole number from 1 to 4294967295"),
        })
}

fn absolute_dir(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<PathBuf>, ConfigError> {
    let Some(v) = get(name) else {
        return Ok(None);
    };
    let path = PathBuf::from(&v);
    if !path.is_absolute() {
        return Err(ConfigError::InvalidValue {
            name,
            message: format!(
                "`{v}` is not an absolute path; give the directory the wallet-rpc's --wallet-dir is mounted at"
            ),
        });
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn parse(
        env: Environment,
        pairs: &[(&str, &str)],
    ) -> Result<(OrderSettings, WalletArchiveSettings), ConfigError> {
        let vars: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let get = |name: &str| vars.get(name).cloned();
        Ok((
            OrderSettings::parse(env, &get)?,
            WalletArchiveSettings::parse(env, &get)?,
        ))
    }

    #[test]
    fn defaults_per_environment() {
        let (o, a) = parse(Environment::Production, &[]).unwrap();
        assert_eq!((o.max_unfunded_per_buyer, o.per_minute), (5, 10));
        assert_eq!(a.retention, Duration::from_secs(90 * 86_400));
        assert_eq!(a.dir(Role::Buyer), None);
        let (o, _) = parse(Environment::Development, &[]).unwrap();
        assert_eq!((o.max_unfunded_per_buyer, o.per_minute), (1000, 1000));
    }

    #[test]
    fn overrides_and_refusals() {
        let (o, a) = parse(
            Environment::Staging,
            &[
                ("MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER", "2"),
                ("MMKT_ORDERS_PER_MINUTE", "3"),
                ("MMKT_WALLET_DIR_VENDOR", "/wallets/vendor"),
                ("MMKT_WALLET_ARCHIVE_RETENTION_SECS", "60"),
            ],
        )
        .unwrap();
        assert_eq!((o.max_unfunded_per_buyer, o.per_minute), (2, 3));
        assert_eq!(a.dir(Role::Vendor), Some(&PathBuf::from("/wallets/vendor")));
        assert_eq!(a.retention, Duration::from_secs(60));
        for (k, v) in [
            ("MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER", "0"),
            ("MMKT_ORDERS_PER_MINUTE", "-1"),
            ("MMKT_WALLET_DIR_BUYER", "wallets"),
            ("MMKT_WALLET_ARCHIVE_RETENTION_SECS", "1d"),
        ] {
            let err = parse(Environment::Development, &[(k, v)]).unwrap_err();
            assert!(err.to_string().contains(k), "{k}: {err}");
        }
    }
}
