//! The exit-code contract of `mmctl`, in one place.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | a check or an operation failed (unhealthy service, failed verify, failed restore, ...) |
//! | 2 | usage error (bad flags, unknown service, malformed compose/config file) |
//! | 3 | the Docker daemon is unreachable (no answer, TLS certificate refused, ssh failed) |
//! | 4 | not confirmed: a destructive command was refused or answered "no" |
//! | 5 | the local backup succeeded but the offsite (S3) copy failed; the local copy is kept |
//! | 10 | deploy/rollback: the deploy lock is held by another run (holder and start time shown) |
//! | 11 | deploy: the pre-deploy backup failed; nothing was deployed |
//! | 12 | deploy/rollback: the new server did not become ready; the old one keeps serving |
//! | 13 | deploy/rollback: a smoke check failed; the old one keeps serving |
//! | 14 | deploy: green's 5xx rate breached during the watch; rolled back automatically |
//! | 15 | rollback refused (schema change without --restore-db, escrow events after the backup) |
//! | 30 | secrets: no age identity given opens the file (it is encrypted to other recipients) |
//! | 31 | secrets: the file was tampered with (a value's tag or the MAC fails); nothing written |
//! | 32 | secrets: no such key in the file |
//! | 33 | secrets: not a secrets file mmctl reads (not SOPS, nested values, KMS/PGP keys) |
//! | 34 | secrets edit: no tmpfs to hold the plaintext |
//! | 35 | secrets edit: the editor failed or the edited text is invalid; nothing written |
//! | 36 | secrets: the file is missing (init: it already exists) |
//! | 40 | firewall: no `nft` on PATH (Debian package nftables) |
//! | 41 | firewall: nft rejected the ruleset; nothing was changed |
//! | 42 | firewall: reading or loading the ruleset needs root |
//! | 43 | firewall status/apply: the loaded `table inet mmkt` differs from the plan |
//! | 44 | firewall status: `table inet mmkt` is not loaded |
//! | 45 | tor: the stack's `tor` service is not running (or has no container) |
//! | 46 | tor: tor runs but has not made its onion-service keys yet |
//! | 47 | tls renew: the certificate or key is refused (unparsable, key not the certificate's, expired); nothing changed |
//! | 48 | tls renew: `nginx -t` (or the reload) refused the new certificate; the old one is back and served |
//! | 49 | tls renew: certbot did not obtain a certificate; nothing changed |
//! | 55 | up: a secret the stack needs outside development is empty or unset (an alert receiver, the Grafana admin password); nothing created |
//! | 56 | up: an alert receiver's secret is malformed (not an http(s) URL, loopback outside development, SMTP without a port); nothing created |
//! | 50 | backup verify/restore db: a link of the backup's chain is missing (the newest good point is named) |
//! | 51 | backup verify/restore db: a link of the backup's chain is bad (signature, checksum, pages; the newest good point is named) |
//! | 52 | restore db --at: no database backup was taken at or before that time |
//! | 53 | backup db: another chained backup db is running on the backup directory |
//!
//! Commands return [`Outcome`] for results that are not errors (a failed health check is a
//! result, not a crash) and `anyhow::Error` for errors; [`finish`] turns either into the exit
//! code (the binary's only mapping), and [`code_for_error`] classifies errors by
//! looking for the marker types below anywhere in the error chain; [`classify_stack`] attaches
//! the marker to a stack-library error.

use mmkt_stack::StackError;

/// Exit code 0: success.
pub const OK: u8 = 0;
/// Exit code 1: a check or an operation failed.
pub const FAILED: u8 = 1;
/// Exit code 2: usage error.
pub const USAGE: u8 = 2;
/// Exit code 3: the Docker daemon is unreachable.
pub const DOCKER_UNREACHABLE: u8 = 3;
/// Exit code 4: a destructive command was not confirmed.
pub const NOT_CONFIRMED: u8 = 4;
/// Exit code 5: the local backup succeeded, the offsite copy failed.
pub const OFFSITE_FAILED: u8 = 5;

/// Exit code 10: the deploy lock is held.
pub const LOCK_HELD: u8 = 10;
/// Exit code 11: the pre-deploy backup failed.
pub const BACKUP_FAILED: u8 = 11;
/// Exit code 12: green did not become ready.
pub const GREEN_NOT_READY: u8 = 12;
/// Exit code 13: a smoke check against green failed.
pub const SMOKE_FAILED: u8 = 13;
/// Exit code 14: the deploy rolled back automatically.
pub const ROLLED_BACK: u8 = 14;
/// Exit code 15: the rollback was refused.
pub const ROLLBACK_REFUSED: u8 = 15;

/// Exit code 30: no age identity given opens the secrets file.
pub const WRONG_IDENTITY: u8 = 30;
/// Exit code 31: the secrets file was tampered with (a value's tag or the MAC fails).
pub const SECRETS_TAMPERED: u8 = 31;
/// Exit code 32: the secrets file has no such key.
pub const UNKNOWN_SECRET: u8 = 32;
/// Exit code 33: the secrets file is not one mmctl reads (not SOPS, nested, unsupported).
pub const BAD_SECRETS_FILE: u8 = 33;
/// Exit code 34: no tmpfs to edit the plaintext in.
pub const NO_TMPFS: u8 = 34;
/// Exit code 35: the edit was not saved (the editor failed, or its text is invalid).
pub const EDIT_FAILED: u8 = 35;
/// Exit code 36: the secrets file is missing (or, for `init`, already exists).
pub const SECRETS_FILE_STATE: u8 = 36;
/// Exit code 37: the `MMKT_DB_KEY` secret is not a key file's text (64 lowercase hex) or is weak.
pub const BAD_DB_KEY: u8 = 37;
/// Exit code 38: the server's key volume holds another DB key than `MMKT_DB_KEY` (not replaced).
pub const DB_KEY_DIFFERS: u8 = 38;

/// Exit code 45: the `tor` service is not running (or the project has no tor container).
pub const TOR_NOT_RUNNING: u8 = 45;
/// Exit code 46: tor has not made its onion-service keys (`hostname`) yet.
pub const ONION_NOT_CREATED: u8 = 46;

/// Exit code 47: the certificate or key given to `tls renew` is refused.
pub const TLS_REFUSED: u8 = 47;
/// Exit code 48: nginx refused the new certificate; the old one is back.
pub const TLS_NGINX_REFUSED: u8 = 48;
/// Exit code 49: certbot did not obtain a certificate.
pub const TLS_CERTBOT_FAILED: u8 = 49;

/// Exit code 55: a secret the selected services need outside development is empty or unset.
pub const SECRETS_MISSING: u8 = 55;
/// Exit code 56: an alert receiver's secret is malformed.
pub const SECRET_MALFORMED: u8 = 56;

/// Exit code 40: no `nft` program.
pub const NFT_MISSING: u8 = 40;
/// Exit code 41: nft rejected the ruleset.
pub const RULESET_REJECTED: u8 = 41;
/// Exit code 42: the firewall command needs root.
pub const NOT_ROOT: u8 = 42;
/// Exit code 43: the loaded firewall table differs from the plan.
pub const FIREWALL_DIFFERS: u8 = 43;
/// Exit code 44: the firewall table is not loaded.
pub const FIREWALL_NOT_LOADED: u8 = 44;

/// Exit code 50: a link of a backup chain is missing.
pub const CHAIN_LINK_MISSING: u8 = 50;
/// Exit code 51: a link of a backup chain is bad.
pub const CHAIN_LINK_BAD: u8 = 51;
/// Exit code 52: no backup at or before `--at`.
pub const NO_BACKUP_AT: u8 = 52;
/// Exit code 53: another chained `backup db` runs.
pub const CHAIN_BUSY: u8 = 53;

/// What a command that ran to completion reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and every check passed.
    Success,
    /// The command ran, but a check it performs failed (it already printed which one).
    CheckFailed,
    /// The local part succeeded but the offsite upload did not; the local copy is kept.
    OffsiteFailed,
    /// A deploy ran to its end but rolled back to the old version automatically.
    RolledBack,
    /// `mmctl firewall status`: the loaded table differs from the plan.
    FirewallDiffers,
    /// `mmctl firewall status`: the table is not loaded.
    FirewallNotLoaded,
}

impl Outcome {
    /// The process exit code of this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => OK,
            Outcome::CheckFailed => FAILED,
            Outcome::OffsiteFailed => OFFSITE_FAILED,
            Outcome::RolledBack => ROLLED_BACK,
            Outcome::FirewallDiffers => FIREWALL_DIFFERS,
            Outcome::FirewallNotLoaded => FIREWALL_NOT_LOADED,
        }
    }
}

/// Marker error: the input (flags, compose file, service name, config) is invalid. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Marker error: the operator did not confirm a destructive action. Exit 4.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotConfirmed(pub String);

/// Marker error: no usable connection to the Docker daemon (no answer, unusable TLS files, a
/// certificate refused on either side, ssh failure). Exit 3. The message is the stack
/// library's: the endpoint, what failed and what to check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DockerUnreachable(pub String);

/// Marker error: a deploy or rollback failed in a way with its own exit code (10-15).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DeployExit {
    /// The exit code.
    pub code: u8,
    /// The error message.
    pub message: String,
}

/// Marker error: the onion service cannot be read (exit 45 or 46, see [`TOR_NOT_RUNNING`]
/// and [`ONION_NOT_CREATED`]).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TorUnavailable {
    /// The exit code.
    pub code: u8,
    /// The error message.
    pub message: String,
}

/// Marker error: the firewall could not be read or loaded (exit 40-42, see [`NFT_MISSING`]).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FirewallExit {
    /// The exit code.
    pub code: u8,
    /// The error message.
    pub message: String,
}

/// Marker error: a secrets command failed with its own exit code (30-38, see
/// [`WRONG_IDENTITY`]) and message.
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub struct SecretsExit(pub u8, pub String);

/// Marker error: a TLS command failed with its own exit code (47-49, see [`TLS_REFUSED`]).
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub struct TlsExit(pub u8, pub String);

/// Marker error: an incremental-backup failure with its own exit code (50-53, see
/// [`CHAIN_LINK_MISSING`]).
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub struct ChainExit(pub u8, pub String);

/// Marker error: `up` refused the stack's secrets with their own exit code (55-56, see
/// [`SECRETS_MISSING`]); the message names variables, never a value.
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub struct ObservabilityExit(pub u8, pub String);

/// Ends a run: returns the outcome's code, or prints the error and returns its code. A clap
/// error prints itself (help and version to stdout with exit 0, usage errors to stderr with
/// exit 2); any other error is printed as `error: ...` with its whole context chain.
pub fn finish(result: anyhow::Result<Outcome>) -> u8 {
    let err = match result {
        Ok(outcome) => return outcome.code(),
        Err(err) => err,
    };
    if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
        let _ = clap_err.print();
        return if clap_err.use_stderr() { USAGE } else { OK };
    }
    eprintln!("error: {err:#}");
    code_for_error(&err)
}

/// Maps an error to its exit code by the first marker type found in its chain.
pub fn code_for_error(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return USAGE;
        }
        if cause.is::<NotConfirmed>() {
            return NOT_CONFIRMED;
        }
        if cause.is::<DockerUnreachable>() {
            return DOCKER_UNREACHABLE;
        }
        if let Some(deploy) = cause.downcast_ref::<DeployExit>() {
            return deploy.code;
        }
        if let Some(firewall) = cause.downcast_ref::<FirewallExit>() {
            return firewall.code;
        }
        if let Some(tor) = cause.downcast_ref::<TorUnavailable>() {
            return tor.code;
        }
        if let Some(SecretsExit(code, _)) = cause.downcast_ref::<SecretsExit>() {
            return *code;
        }
        if let Some(TlsExit(code, _)) = cause.downcast_ref::<TlsExit>() {
            return *code;
        }
        if let Some(ObservabilityExit(code, _)) = cause.downcast_ref::<ObservabilityExit>() {
            return *code;
        }
        if let Some(ChainExit(code, _)) = cause.downcast_ref::<ChainExit>() {
            return *code;
        }
    }
    FAILED
}

/// Maps a stack-library error to anyhow with the exit-code marker for its class:
/// invalid input or unreadable compose/env file -> 2, unreachable daemon -> 3, a missing or
/// malformed secret -> 55 / 56, anything else -> 1.
pub fn classify_stack(err: StackError) -> anyhow::Error {
    match err {
        StackError::Invalid(_) | StackError::ComposeSyntax { .. } | StackError::Read { .. } => {
            anyhow::Error::new(UsageError(err.to_string()))
        }
        StackError::SecretsMissing { .. } => {
            anyhow::Error::new(ObservabilityExit(SECRETS_MISSING, err.to_string()))
        }
        StackError::SecretMalformed { .. } => {
            anyhow::Error::new(ObservabilityExit(SECRET_MALFORMED, err.to_string()))
        }
        StackError::Unreachable { .. } => anyhow::Error::new(DockerUnreachable(err.to_string())),
        other => anyhow::Error::new(other),
    }
}

/// Maps an arbiter-creation error: the server's refusal (bad username or password, name taken)
/// -> 1, engine errors as [`classify_stack`] does.
pub fn classify_arbiter(err: mmkt_stack::arbiter::ArbiterError) -> anyhow::Error {
    use mmkt_stack::arbiter::ArbiterError;
    match err {
        ArbiterError::Engine(e) => classify_stack(e),
        other => anyhow::Error::new(other),
    }
}

/// Maps a development-helper error: another environment than development or input that can
/// never work -> 2, engine and arbiter errors as [`classify_stack`] / [`classify_arbiter`] do,
/// anything else (service not running, faucet short, RPC or API failures) -> 1.
pub fn classify_dev(err: mmkt_stack::dev::DevError) -> anyhow::Error {
    use mmkt_stack::dev::DevError;
    match err {
        DevError::NotDevelopment { .. } | DevError::Invalid(_) => {
            anyhow::Error::new(UsageError(err.to_string()))
        }
        DevError::Engine(e) => classify_stack(e),
        DevError::Arbiter(e) => classify_arbiter(e),
        other => anyhow::Error::new(other),
    }
}

/// Maps a backup-library error to anyhow with the exit-code marker for its class, looking
/// through [`mmkt_backup::BackupError::Context`] (kept as anyhow context): an engine error as
/// [`classify_stack`] does (unreachable daemon -> 3), an inconsistent request -> 2, no tor
/// service -> 45, no onion-service keys yet -> 46, a broken backup chain, no backup at the
/// time asked or a busy chain -> 50-53 ([`chain_code`]), anything else -> 1.
pub fn classify_backup(err: mmkt_backup::BackupError) -> anyhow::Error {
    use mmkt_backup::BackupError;
    match err {
        BackupError::Docker(e) => classify_stack(e),
        BackupError::InvalidRequest(message) => anyhow::Error::new(UsageError(message)),
        BackupError::NoTorService { .. } => tor_unavailable(TOR_NOT_RUNNING, err.to_string()),
        BackupError::OnionNotCreated { .. } => tor_unavailable(ONION_NOT_CREATED, err.to_string()),
        BackupError::ChainBroken { .. }
        | BackupError::NoBackupAt { .. }
        | BackupError::ChainBusy { .. } => {
            anyhow::Error::new(ChainExit(chain_code(&err), err.to_string()))
        }
        BackupError::Context { context, source } => classify_backup(*source).context(context),
        other => anyhow::Error::new(other),
    }
}

/// The exit code of an incremental-backup error (50-53).
pub fn chain_code(err: &mmkt_backup::BackupError) -> u8 {
    use mmkt_backup::BackupError;
    use mmkt_backup::chain::LinkProblem;
    match err {
        BackupError::ChainBroken {
            problem: LinkProblem::Missing(_),
            ..
        } => CHAIN_LINK_MISSING,
        BackupError::NoBackupAt { .. } => NO_BACKUP_AT,
        BackupError::ChainBusy { .. } => CHAIN_BUSY,
        _ => CHAIN_LINK_BAD,
    }
}

/// The [`TorUnavailable`] error of `code` (45 or 46).
pub fn tor_unavailable(code: u8, message: String) -> anyhow::Error {
    anyhow::Error::new(TorUnavailable { code, message })
}

/// Maps a deploy-library error to anyhow with its exit code: lock held 10, backup failed 11,
/// green not ready 12, smoke failed 13, rollback refused 15, invalid request 2, and engine or
/// database errors as [`classify_stack`] / [`classify_backup`] do.
pub fn classify_deploy(err: mmkt_deploy::DeployError) -> anyhow::Error {
    use mmkt_deploy::DeployError;
    let code = match &err {
        DeployError::LockHeld { .. } => LOCK_HELD,
        DeployError::BackupFailed { .. } => BACKUP_FAILED,
        DeployError::GreenNotReady { .. } => GREEN_NOT_READY,
        DeployError::SmokeFailed { .. } => SMOKE_FAILED,
        DeployError::RollbackRefused { .. } => ROLLBACK_REFUSED,
        DeployError::Invalid(message) => return anyhow::Error::new(UsageError(message.clone())),
        _ => FAILED,
    };
    match err {
        DeployError::Engine(e) => classify_stack(e),
        DeployError::Database(e) => classify_backup(e),
        other => anyhow::Error::new(DeployExit {
            code,
            message: other.to_string(),
        }),
    }
}

/// Maps a firewall-library error: a bad setting -> 2, no nft -> 40, ruleset rejected -> 41,
/// not root -> 42, anything else -> 1.
pub fn classify_firewall(err: mmkt_firewall::FirewallError) -> anyhow::Error {
    use mmkt_firewall::FirewallError;
    let code = match &err {
        FirewallError::InvalidSetting { .. } => {
            return anyhow::Error::new(UsageError(err.to_string()));
        }
        FirewallError::NftMissing { .. } => NFT_MISSING,
        FirewallError::Rejected { .. } => RULESET_REJECTED,
        FirewallError::NotRoot { .. } => NOT_ROOT,
        _ => return anyhow::Error::new(err),
    };
    anyhow::Error::new(FirewallExit {
        code,
        message: err.to_string(),
    })
}

/// Maps a secrets-library error to its exit code: wrong identity 30, tampered file 31,
/// unknown key 32, a file mmctl does not read 33, no tmpfs 34, editor failure 35; a bad key
/// name, recipient or identity file is a usage error (2); I/O errors are 1.
pub fn classify_secrets(err: mmkt_secrets::SecretsError) -> anyhow::Error {
    use mmkt_secrets::SecretsError as E;
    let code = match &err {
        E::WrongIdentity { .. } => WRONG_IDENTITY,
        E::TamperedValue { .. } | E::MacMismatch => SECRETS_TAMPERED,
        E::UnknownKey { .. } => UNKNOWN_SECRET,
        E::Format(_) | E::Nested { .. } | E::Unsupported(_) => BAD_SECRETS_FILE,
        E::NoTmpfs(_) => NO_TMPFS,
        E::Editor { .. } => EDIT_FAILED,
        E::InvalidValue { .. } | E::Recipient { .. } | E::Recipients(_) | E::Identity { .. } => {
            return anyhow::Error::new(UsageError(err.to_string()));
        }
        _ => return anyhow::Error::new(err),
    };
    anyhow::Error::new(SecretsExit(code, err.to_string()))
}

/// Maps a TLS error to its exit code: a refused certificate or key 47, nginx refusing it 48,
/// certbot failing 49, a bad setting 2, engine errors as [`classify_stack`] does, anything
/// else (nginx not running, no certificate yet) 1.
pub fn classify_tls(err: mmkt_stack::tls::TlsError) -> anyhow::Error {
    use mmkt_stack::tls::TlsError as E;
    let code = match &err {
        E::Unparsable(_)
        | E::BadKey(_)
        | E::KeyMismatch { .. }
        | E::Expired { .. }
        | E::NotYetValid { .. } => TLS_REFUSED,
        E::NginxRefused { .. } | E::ReloadFailed { .. } => TLS_NGINX_REFUSED,
        E::Certbot { .. } => TLS_CERTBOT_FAILED,
        _ => {
            return match err {
                E::Engine(e) => classify_stack(e),
                other => anyhow::Error::new(other),
            };
        }
    };
    anyhow::Error::new(TlsExit(code, err.to_string()))
}
