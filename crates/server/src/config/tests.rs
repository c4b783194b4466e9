//! Unit tests of [`super::Config::from_vars`]: the defaults per environment, overrides and
//! refusals.

use super::*;

#[test]
fn development_defaults() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.env, Environment::Development);
    assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.key_file_policy, KeyFilePolicy::GenerateIfMissing);
    assert_eq!(c.limits.max_escrow_atomic, 10 * ATOMIC_PER_XMR);
    assert_eq!(c.limits.rate_limit_per_minute, 1000);
    assert_eq!(c.limits.session_ttl, Duration::from_secs(86_400));
}

#[test]
fn runner_lease_settings() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.runner.id, None);
    assert_eq!(c.runner.lease_ttl, Duration::from_secs(15));
    let c = Config::from_vars(&vars(&[
        ("MMKT_RUNNER_ID", "blue-1.mmkt:a_b"),
        ("MMKT_RUNNER_LEASE_TTL_SECS", "3"),
    ]))
    .unwrap();
    assert_eq!(c.runner.id.as_deref(), Some("blue-1.mmkt:a_b"));
    assert_eq!(c.runner.lease_ttl, Duration::from_secs(3));
    let long = "x".repeat(129);
    let err = Config::from_vars(&vars(&[("MMKT_RUNNER_ID", long.as_str())])).unwrap_err();
    assert!(err.to_string().contains("MMKT_RUNNER_ID"), "{err}");
}

#[test]
fn payout_fee_limit_defaults_and_overrides() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    let limit = c.escrow.payout_fee;
    assert_eq!(limit.max_fee().as_atomic(), DEFAULT_PAYOUT_MAX_FEE_PICONERO);
    assert_eq!(
        limit.max_basis_points(),
        DEFAULT_PAYOUT_MAX_FEE_BASIS_POINTS
    );
    let c = Config::from_vars(&vars(&[
        ("MMKT_PAYOUT_MAX_FEE_PICONERO", "1000"),
        ("MMKT_PAYOUT_MAX_FEE_BASIS_POINTS", "10000"),
    ]))
    .unwrap();
    let limit = c.escrow.payout_fee;
    assert_eq!(
        (limit.max_fee().as_atomic(), limit.max_basis_points()),
        (1000, 10_000)
    );
}

#[test]
fn limits_table() {
    let s = Environment::Staging.limits();
    assert_eq!(
        (
            s.max_escrow_atomic,
            s.rate_limit_per_minute,
            s.session_ttl.as_secs()
        ),
        (ATOMIC_PER_XMR, 100, 8 * 3600)
    );
    let p = Environment::Production.limits();
    assert_eq!(
        (
            p.max_escrow_atomic,
            p.rate_limit_per_minute,
            p.session_ttl.as_secs()
        ),
        (5 * ATOMIC_PER_XMR, 60, 2 * 3600)
    );
}

#[test]
fn production_requires_key_wallets_and_login() {
    let err = Config::from_vars(&vars(&[("MMKT_ENV", "production")])).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                name: "MMKT_DB_KEY_FILE",
                ..
            }
        ),
        "{err}"
    );
    let base = [("MMKT_ENV", "production"), ("MMKT_DB_KEY_FILE", "/k")];
    let err = Config::from_vars(&vars(&base)).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                name: "MMKT_WALLET_RPC_BUYER_URL",
                ..
            }
        ),
        "{err}"
    );
    let mut all = base.to_vec();
    all.extend([
        ("MMKT_WALLET_RPC_BUYER_URL", "http://127.0.0.1:1"),
        ("MMKT_WALLET_RPC_VENDOR_URL", "http://127.0.0.1:2"),
        ("MMKT_WALLET_RPC_ARBITER_URL", "http://127.0.0.1:3"),
    ]);
    let err = Config::from_vars(&vars(&all)).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                name: "MMKT_WALLET_RPC_LOGIN",
                ..
            }
        ),
        "{err}"
    );
    all.push(("MMKT_WALLET_RPC_LOGIN", "monero:password"));
    let err = Config::from_vars(&vars(&all)).unwrap_err();
    assert!(matches!(err, ConfigError::WeakSecret { .. }), "{err}");
    assert!(
        !err.to_string().contains("password\""),
        "message must not echo the secret"
    );
    all.pop();
    all.push(("MMKT_WALLET_RPC_LOGIN", "mmkt:9f2c4e7a1b3d5f60a8c2"));
    let c = Config::from_vars(&vars(&all)).unwrap();
    assert_eq!(c.key_file_policy, KeyFilePolicy::MustExist);
    assert!(
        !format!("{c:?}").contains("9f2c4e7a1b3d5f60a8c2"),
        "Debug must redact the login"
    );
}

#[test]
fn weak_and_default_passwords() {
    for weak in [
        "short",
        "aaaaaaaaaaaaaaaaaaaa",
        "changemechangeme",
        "Monero-Wallet-RPC-2026",
        "my-secret-value-123",
    ] {
        assert!(is_weak_password(weak), "{weak}");
    }
    assert!(!is_weak_password("9f2c4e7a1b3d5f60a8c2"));
}

#[test]
fn invalid_values_are_refused() {
    for (k, v) in [
        ("MMKT_ENV", "prod"),
        ("MMKT_BIND", "localhost"),
        ("MMKT_WALLET_RPC_BUYER_URL", "127.0.0.1:18083"),
        ("MMKT_DB_POOL_SIZE", "0"),
        ("MMKT_CLIENT_IP_SOURCE", "x-forwarded-for"),
        ("MMKT_WALLET_RPC_LOGIN", "nocolon"),
        ("MMKT_PAYOUT_MAX_FEE_PICONERO", "0"),
        ("MMKT_PAYOUT_MAX_FEE_PICONERO", "0.001"),
        ("MMKT_PAYOUT_MAX_FEE_BASIS_POINTS", "0"),
        ("MMKT_PAYOUT_MAX_FEE_BASIS_POINTS", "10001"),
        ("MMKT_PAYOUT_MAX_FEE_BASIS_POINTS", "1%"),
        ("MMKT_RUNNER_LEASE_TTL_SECS", "2"),
        ("MMKT_RUNNER_LEASE_TTL_SECS", "601"),
        ("MMKT_RUNNER_LEASE_TTL_SECS", "15s"),
        ("MMKT_RUNNER_ID", "blue green"),
        ("MMKT_RUNNER_ID", "blue/1"),
    ] {
        let err = Config::from_vars(&vars(&[(k, v)])).unwrap_err();
        assert!(err.to_string().contains(k), "{k}: {err}");
    }
}

#[test]
fn staging_requires_the_wallet_login_and_production_ten_confirmations() {
    let staging = [
        ("MMKT_ENV", "staging"),
        ("MMKT_DB_KEY_FILE", "/keys/db.key"),
    ];
    let err = Config::from_vars(&vars(&staging)).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                name: "MMKT_WALLET_RPC_LOGIN",
                env: Environment::Staging,
                ..
            }
        ),
        "{err}"
    );
    let mut weak = staging.to_vec();
    weak.push(("MMKT_WALLET_RPC_LOGIN", "mmkt:changemechangeme"));
    let err = Config::from_vars(&vars(&weak)).unwrap_err();
    assert!(matches!(err, ConfigError::WeakSecret { .. }), "{err}");
    let mut ok = staging.to_vec();
    ok.push(("MMKT_WALLET_RPC_LOGIN", "mmkt:9f2c4e7a1b3d5f60a8c2"));
    ok.push(("MMKT_ESCROW_CONFIRMATIONS", "2"));
    let c = Config::from_vars(&vars(&ok)).unwrap();
    assert_eq!(c.escrow.required_confirmations, 2, "staging has no floor");

    let production = [
        ("MMKT_ENV", "production"),
        ("MMKT_DB_KEY_FILE", "/keys/db.key"),
        ("MMKT_WALLET_RPC_BUYER_URL", "http://127.0.0.1:1"),
        ("MMKT_WALLET_RPC_VENDOR_URL", "http://127.0.0.1:2"),
        ("MMKT_WALLET_RPC_ARBITER_URL", "http://127.0.0.1:3"),
        ("MMKT_WALLET_RPC_LOGIN", "mmkt:9f2c4e7a1b3d5f60a8c2"),
    ];
    for (value, accepted) in [("1", false), ("9", false), ("10", true), ("11", true)] {
        let mut all = production.to_vec();
        all.push(("MMKT_ESCROW_CONFIRMATIONS", value));
        let result = Config::from_vars(&vars(&all));
        assert_eq!(result.is_ok(), accepted, "{value}: {result:?}");
        if let Err(err) = result {
            assert!(
                matches!(err, ConfigError::TooFewConfirmations { floor: 10, .. }),
                "{err}"
            );
            assert!(
                err.to_string().contains("MMKT_ESCROW_CONFIRMATIONS"),
                "{err}"
            );
        }
    }
    let c = Config::from_vars(&vars(&production)).unwrap();
    assert_eq!(
        c.escrow.required_confirmations,
        PRODUCTION_MIN_CONFIRMATIONS
    );
}

#[test]
fn key_inside_the_database_directory_is_refused_outside_development() {
    let beside = [
        ("MMKT_DB_PATH", "/srv/mmkt/data/mmkt.db"),
        ("MMKT_DB_KEY_FILE", "/srv/mmkt/data/db.key"),
        ("MMKT_WALLET_RPC_LOGIN", "mmkt:9f2c4e7a1b3d5f60a8c2"),
    ];
    let c = Config::from_vars(&vars(&beside)).unwrap();
    assert_eq!(
        c.env,
        Environment::Development,
        "development keeps it working"
    );
    let mut staging = beside.to_vec();
    staging.push(("MMKT_ENV", "staging"));
    let err = Config::from_vars(&vars(&staging)).unwrap_err();
    assert!(
        matches!(err, ConfigError::KeyBesideDatabase { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("mount the key on its own"),
        "{err}"
    );
    staging[1] = ("MMKT_DB_KEY_FILE", "/srv/mmkt/key/db.key");
    Config::from_vars(&vars(&staging)).unwrap();
}

#[test]
fn file_then_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mmkt.yaml");
    std::fs::write(
        &path,
        "env: staging\nbind: 127.0.0.1:9000\ndb_key_file: /keys/db.key\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let login = ("MMKT_WALLET_RPC_LOGIN", "mmkt:9f2c4e7a1b3d5f60a8c2");
    let c = Config::from_vars(&vars(&[("MMKT_CONFIG_FILE", file), login])).unwrap();
    assert_eq!((c.env, c.bind.port()), (Environment::Staging, 9000));
    let c = Config::from_vars(&vars(&[
        ("MMKT_CONFIG_FILE", file),
        ("MMKT_BIND", "127.0.0.1:9001"),
        login,
    ]))
    .unwrap();
    assert_eq!(c.bind.port(), 9001);
    std::fs::write(&path, "env: staging\nbogus: 1\n").unwrap();
    let err = Config::from_vars(&vars(&[("MMKT_CONFIG_FILE", file)])).unwrap_err();
    assert!(matches!(err, ConfigError::ParseFile { .. }), "{err}");
}
