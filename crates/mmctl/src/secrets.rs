//! The environment's secrets file (`<compose dir>/secrets/<env>.enc.yaml`, SOPS format,
//! `mmkt-secrets`) as `mmctl secrets`, `up`, `deploy` and `rollback` use it: which file, which
//! age identity opens it (`--secrets-identity`, `MMCTL_SECRETS_IDENTITY_FILE`, the config
//! file's `secrets_identity_file`, else sops's `SOPS_AGE_KEY_FILE`), opening and saving it,
//! the stack loaded with its values as compose variables, the S3 keys the backup commands
//! fall back to, and the server's DB key (`MMKT_DB_KEY`) written into its key volume.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::Args;
use mmkt_secrets::{Identities, SecretsFile, store};
use mmkt_stack::Project;

use crate::args::StackArgs;
use mmkt_sqlcipher::DbKey;
use mmkt_stack::db_key::{KEY_FILE, KEY_VOLUME, KeyProvision, provision};
use mmkt_stack::engine::Engine;

use crate::exit::{
    BAD_DB_KEY, DB_KEY_DIFFERS, SECRETS_FILE_STATE, SecretsExit, UsageError, classify_secrets,
    classify_stack,
};

/// sops's own variable naming an age identity file, used when mmctl's setting is unset.
pub const SOPS_IDENTITY_VARIABLE: &str = "SOPS_AGE_KEY_FILE";

/// The age identity that opens the secrets file.
#[derive(Debug, Clone, Args)]
pub struct SecretsIdentityArgs {
    /// age identity file (age-keygen) that opens the environment's secrets file; unset:
    /// SOPS_AGE_KEY_FILE, as sops reads it.
    #[arg(long = "secrets-identity", env = "MMCTL_SECRETS_IDENTITY_FILE")]
    pub secrets_identity: Option<PathBuf>,
}

impl SecretsIdentityArgs {
    /// Reads the identity file: the setting, else `SOPS_AGE_KEY_FILE`; neither is a usage
    /// error (exit 2), an unreadable file too.
    pub fn load(&self) -> anyhow::Result<Identities> {
        let path = self.path().ok_or_else(|| {
            UsageError(format!(
                "no age identity for the secrets file: pass --secrets-identity FILE or set MMCTL_SECRETS_IDENTITY_FILE (or sops's {SOPS_IDENTITY_VARIABLE})"
            ))
        })?;
        Identities::from_file(&path).map_err(classify_secrets)
    }

    /// The identity file configured: the setting, else `SOPS_AGE_KEY_FILE`; `None`: neither.
    pub fn path(&self) -> Option<PathBuf> {
        let sops = std::env::var_os(SOPS_IDENTITY_VARIABLE)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        self.secrets_identity.clone().or(sops)
    }
}

/// Which secrets file: `--secrets-file`, else the environment's beside the compose file.
#[derive(Debug, Clone, Args)]
pub struct SecretsTarget {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub identity: SecretsIdentityArgs,
    /// The secrets file. Default: <compose dir>/secrets/<env>.enc.yaml.
    #[arg(long, env = "MMCTL_SECRETS_FILE")]
    pub secrets_file: Option<PathBuf>,
}

impl SecretsTarget {
    /// The file's path; without `--secrets-file` the environment must be known (exit 2).
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        if let Some(path) = &self.secrets_file {
            return Ok(path.clone());
        }
        let env = self.stack.env_name().ok_or_else(|| {
            UsageError("which environment's secrets? pass --env NAME (or --secrets-file)".into())
        })?;
        Ok(store::file_path(&self.stack.file, &env))
    }

    /// Opens the existing file (missing: exit 36) with the identity.
    pub fn open(&self) -> anyhow::Result<(PathBuf, SecretsFile)> {
        let path = self.path()?;
        let file = open_file(&path, &self.identity)?;
        Ok((path, file))
    }
}

/// Opens the secrets file at `path` (missing: exit 36).
fn open_file(path: &Path, identity: &SecretsIdentityArgs) -> anyhow::Result<SecretsFile> {
    if !path.is_file() {
        return Err(SecretsExit(
            SECRETS_FILE_STATE,
            format!(
                "no secrets file {}: create it with `mmctl secrets init --recipient age1...`",
                path.display()
            ),
        )
        .into());
    }
    let text = store::read(path).map_err(classify_secrets)?;
    let identities = identity.load()?;
    let file = SecretsFile::open(&text, &identities).map_err(classify_secrets)?;
    Ok(file)
}

/// Seals `file` now and replaces `path` with it atomically.
pub fn save(path: &Path, file: &SecretsFile) -> anyhow::Result<()> {
    let text = file.seal(time::OffsetDateTime::now_utc());
    store::write(path, &text).map_err(classify_secrets)
}

/// Loads the project of `stack`, its environment's secrets file (when there is one) decrypted
/// into the interpolation variables over the env file's values; a value exported in the
/// process environment still wins. Prints which file gave how many values (never a value).
pub fn load_project(stack: &StackArgs, identity: &SecretsIdentityArgs) -> anyhow::Result<Project> {
    let path = stack
        .env_name()
        .map(|env| store::file_path(&stack.file, &env));
    let Some(path) = path.filter(|p| p.is_file()) else {
        return stack.load();
    };
    let file = open_file(&path, identity)?;
    let values: BTreeMap<String, String> = file
        .entries()
        .iter()
        .map(|(k, v)| (k.clone(), v.text()))
        .collect();
    eprintln!("secrets: {} values from {}", values.len(), path.display());
    mmkt_stack::load_project_with_secrets(
        &stack.file,
        stack.env_name().as_deref(),
        &stack.project,
        &stack.profiles,
        values,
    )
    .map_err(classify_stack)
}

/// The S3 credentials' variables, which the environment's secrets file may hold.
pub const OFFSITE_KEY_VARS: [&str; 2] = ["MMKT_S3_ACCESS_KEY_ID", "MMKT_S3_SECRET_ACCESS_KEY"];

/// The S3 credentials read from the secrets file by [`load_offsite_keys`] (once per run).
static OFFSITE_KEYS: OnceLock<BTreeMap<String, String>> = OnceLock::new();

/// Reads the S3 credentials ([`OFFSITE_KEY_VARS`]) from the secrets file at `path` for
/// [`offsite_key`]. Nothing is read when the process environment sets both, when the file
/// does not exist, or when no identity is configured (`identity`'s setting, else
/// `SOPS_AGE_KEY_FILE`). Prints how many keys the file gave (never a value).
///
/// # Errors
/// [`SecretsExit`] with the secrets exit codes (30-38): the identity does not open the file,
/// it is tampered or not a secrets file mmctl reads; an unreadable identity file is exit 2.
pub fn load_offsite_keys(path: &Path, identity: &SecretsIdentityArgs) -> Result<(), SecretsExit> {
    read_offsite_keys(path, identity).map_err(|e| match e.downcast::<SecretsExit>() {
        Ok(exit) => exit,
        Err(other) => SecretsExit(2, format!("{other:#}")),
    })
}

fn read_offsite_keys(path: &Path, identity: &SecretsIdentityArgs) -> anyhow::Result<()> {
    let from_env = OFFSITE_KEY_VARS
        .iter()
        .all(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    if from_env || !path.is_file() || identity.path().is_none() {
        return Ok(());
    }
    let file = open_file(path, identity)?;
    let keys: BTreeMap<String, String> = file
        .entries()
        .iter()
        .filter(|(k, _)| OFFSITE_KEY_VARS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.text()))
        .collect();
    if !keys.is_empty() {
        eprintln!("secrets: {} S3 keys from {}", keys.len(), path.display());
    }
    let _ = OFFSITE_KEYS.set(keys);
    Ok(())
}

/// An S3 credential variable's value: the process environment, else the secrets file as
/// [`load_offsite_keys`] read it; `None` (the AWS credential chain) when neither sets it.
pub fn offsite_key(var: &str) -> Option<String> {
    let env = std::env::var(var).ok().filter(|v| !v.is_empty());
    env.or_else(|| OFFSITE_KEYS.get()?.get(var).cloned())
}

/// The secret (and compose variable) holding the key file's text.
pub const DB_KEY_SECRET: &str = "MMKT_DB_KEY";

/// The key `MMKT_DB_KEY` gives, `None` when it is unset or empty.
///
/// # Errors
/// Exit 37 when it is not 64 lowercase hex characters (32 bytes, as `openssl rand -hex 32`
/// prints them) or is a weak key; the message never shows the value.
pub fn db_key(project: &Project) -> anyhow::Result<Option<DbKey>> {
    let Some(text) = project.compose.variables.get(DB_KEY_SECRET) else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    let refuse = |why: &str| {
        SecretsExit(
            BAD_DB_KEY,
            format!(
                "{DB_KEY_SECRET} {why}; nothing was created. Set it with `openssl rand -hex 32 | mmctl secrets set {DB_KEY_SECRET}`"
            ),
        )
    };
    let key = DbKey::from_hex(text)
        .ok_or_else(|| refuse("is not 64 lowercase hex characters (a 32-byte key)"))?;
    if key.is_weak() {
        return Err(refuse("is a weak key (fewer than 8 distinct bytes)").into());
    }
    Ok(Some(key))
}

/// Writes `key` into the project's `server-key` volume unless a key file is there, printing
/// one line on stderr (stdout may be JSON); the same key there is fine.
///
/// # Errors
/// Exit 38 when the volume holds another key (nothing written: replacing it would make the
/// database unreadable); the stack's exit codes for engine failures.
pub async fn write_db_key(engine: &Engine, project: &Project, key: &DbKey) -> anyhow::Result<()> {
    let outcome = provision(engine, project, &key.to_hex())
        .await
        .map_err(classify_stack)?;
    let place = format!("{KEY_VOLUME}/{KEY_FILE}");
    match outcome {
        KeyProvision::Written => eprintln!("db key  {place:<28} written from {DB_KEY_SECRET}"),
        KeyProvision::Unchanged => eprintln!("db key  {place:<28} unchanged"),
        KeyProvision::Differs => {
            return Err(SecretsExit(
                DB_KEY_DIFFERS,
                format!(
                    "the {place} key file holds another key than {DB_KEY_SECRET}; it was not replaced (the database is encrypted with it). Put that key into {DB_KEY_SECRET} (`mmctl secrets set`), or remove {DB_KEY_SECRET} to keep the volume's key"
                ),
            )
            .into());
        }
        _ => {}
    }
    Ok(())
}

/// The value for `secrets set KEY`: a line typed at a terminal with echo off, else all of
/// stdin without its final newline. An empty value is a usage error (exit 2).
pub fn read_value(key: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        eprint!("value for {key}: ");
        let _echo_off = EchoOff::new();
        stdin.lock().read_line(&mut text)?;
        eprintln!();
    } else {
        stdin.lock().read_to_string(&mut text)?;
    }
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(UsageError(format!("no value for {key} on stdin")).into());
    }
    Ok(value.to_string())
}

/// The terminal's echo turned off on stdin while it lives (restored on drop).
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        let mut saved = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: fd 0 is stdin and `saved` is a valid out-pointer for tcgetattr.
        if unsafe { libc::tcgetattr(0, saved.as_mut_ptr()) } != 0 {
            return EchoOff(None);
        }
        // SAFETY: tcgetattr returned 0, so it filled `saved`.
        let saved = unsafe { saved.assume_init() };
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: `quiet` is a termios value read from this terminal with one flag cleared.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) };
        EchoOff(Some(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores the attributes tcgetattr read from this terminal.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, saved) };
        }
    }
}
