//! Settings layers below the command line and the environment: the per-environment config
//! file (`deploy/env/<env>.mmctl.toml`) and, for the commands that read the server's database,
//! its host paths found through the running stack; for the commands with S3 settings, the S3
//! keys in the environment's secrets file (`crate::secrets::load_offsite_keys`). Each layer becomes the clap default of the
//! argument its environment variable feeds, so one precedence holds for every command:
//! flag > environment > stack volume > config file > built-in default.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use mmkt_backup::settings::{FileError, MmctlFile, Source, StackPaths, file, server_paths};

use crate::args::{DEFAULT_ENV, connect, non_empty};
use crate::cli::Cli;
use crate::exit::SecretsExit;
use crate::secrets::SecretsIdentityArgs;

/// Why the command line could not be parsed with its settings layers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// clap refused the command line (or printed help or the version).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// The environment's config file is unreadable or invalid (exit 2).
    #[error(transparent)]
    File(#[from] FileError),
    /// The command reads the server's database, and neither an override nor the stack gives
    /// its paths (exit 2); the text says why the stack did not.
    #[error(
        "cannot find the server's database: {0}; or set MMKT_DB_PATH and MMKT_DB_KEY_FILE (or --db and --key-file) to the database and key file on this host"
    )]
    NoDatabase(String),
    /// The environment's secrets file, read for the S3 keys, could not be opened; the error
    /// carries its secrets exit code (30-39).
    #[error(transparent)]
    Secrets(#[from] SecretsExit),
}

/// The variables the stack's volumes can give.
pub const DB_VARS: [&str; 2] = ["MMKT_DB_PATH", "MMKT_DB_KEY_FILE"];

/// The layers in effect for one environment.
#[derive(Debug, Clone)]
pub struct Layers {
    /// The config file's path (it may not exist).
    pub file_path: PathBuf,
    /// Its content, when it exists.
    pub file: Option<MmctlFile>,
    /// The database and key file found through the stack, when they were looked up.
    pub stack: Option<StackPaths>,
}

impl Layers {
    /// Reads the config file of `env` beside `compose_file`.
    ///
    /// # Errors
    /// [`FileError`] for an unreadable or invalid file.
    pub fn load(compose_file: &Path, env: &str) -> Result<Layers, FileError> {
        let file_path = file::file_path(compose_file, env);
        let file = file::load(&file_path)?;
        Ok(Layers {
            file_path,
            file,
            stack: None,
        })
    }

    /// Looks up the server's database and key file in `project` on the engine `docker_host`.
    pub async fn look_up_stack(&mut self, docker_host: Option<&str>, project: &str) {
        let found = match connect(docker_host).await {
            Ok(engine) => server_paths(&engine, project)
                .await
                .unwrap_or_else(|e| StackPaths::Missing(e.to_string())),
            Err(e) => StackPaths::Missing(format!("{e:#}")),
        };
        self.stack = Some(found);
    }

    /// The value and source `var` gets from the layers (not the environment), if any.
    pub fn value(&self, var: &str) -> Option<(Vec<String>, Source)> {
        if let Some(StackPaths::Found { db, key_file }) = &self.stack {
            let hit = [(DB_VARS[0], db), (DB_VARS[1], key_file)]
                .into_iter()
                .find(|(v, _)| *v == var);
            if let Some((_, f)) = hit {
                return Some((
                    vec![f.path.display().to_string()],
                    Source::Volume(f.volume.clone()),
                ));
            }
        }
        let (_, values) = self
            .file
            .as_ref()?
            .env_defaults()
            .into_iter()
            .find(|(v, _)| *v == var)?;
        Some((values, Source::File(self.file_path.clone())))
    }
}

/// Parses `argv` with the layers of its environment as defaults.
///
/// # Errors
/// [`SettingsError`]: clap's own errors, a bad config file, or a command that needs the
/// server's database with neither an override nor a stack to find it in.
pub async fn parse(argv: Vec<OsString>) -> Result<Cli, SettingsError> {
    let plain = Cli::try_parse_from(&argv)?;
    let stack = plain.command.stack();
    let compose = stack.map_or_else(compose_file, |s| s.file.clone());
    let env = stack.and_then(|s| s.env_name()).unwrap_or_else(env_name);
    let mut layers = Layers::load(&compose, &env)?;
    let matches = Cli::command().try_get_matches_from(&argv)?;
    let (path, leaf) = leaf(&matches);
    let need = needs_db(&path);
    let overridden = ["db", "key_file"].map(|id| given(leaf, id));
    if need != Need::No && overridden.contains(&false) {
        let project = leaf
            .try_get_one::<String>("project")
            .ok()
            .flatten()
            .cloned()
            .unwrap_or_else(project_name);
        // The commands that read the database take no --env, so only --docker-host, then
        // DOCKER_HOST, names their engine.
        let host = non_empty(plain.global.docker_host.clone());
        layers.look_up_stack(host.as_deref(), &project).await;
        if let (Need::Required, Some(StackPaths::Missing(why))) = (need, &layers.stack) {
            return Err(SettingsError::NoDatabase(why.clone()));
        }
    }
    if let Some(identity) = offsite_identity(leaf, &layers) {
        let path = mmkt_secrets::store::file_path(&compose, &env);
        crate::secrets::load_offsite_keys(&path, &identity)?;
    }
    let command = with_defaults(Cli::command(), &layers);
    Ok(Cli::from_arg_matches(
        &command.try_get_matches_from(&argv)?,
    )?)
}

/// For a command with S3 settings and a bucket, the age identity that opens the environment's
/// secrets file for the S3 keys: `--secrets-identity` or `MMCTL_SECRETS_IDENTITY_FILE`, else
/// the config file's `secrets_identity_file` (`SOPS_AGE_KEY_FILE` after those, when read).
fn offsite_identity(leaf: &ArgMatches, layers: &Layers) -> Option<SecretsIdentityArgs> {
    let bucket = leaf.try_get_one::<String>("bucket").ok().flatten();
    bucket.filter(|b| !b.is_empty())?;
    let var = "MMCTL_SECRETS_IDENTITY_FILE";
    let setting = leaf
        .try_get_one::<PathBuf>("secrets_identity")
        .ok()
        .flatten()
        .cloned()
        .or_else(|| non_empty(std::env::var(var).ok()).map(PathBuf::from))
        .or_else(|| layers.value(var)?.0.into_iter().next().map(PathBuf::from));
    Some(SecretsIdentityArgs {
        secrets_identity: setting,
    })
}

/// Whether a command reads the server's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// It cannot run without it.
    Required,
    /// It uses it when found (escrow wallets' passwords).
    Optional,
    /// It does not read it.
    No,
}

fn needs_db(path: &[&str]) -> Need {
    match path {
        ["backup", "db" | "all"] | ["restore", "db"] | ["drill"] => Need::Required,
        ["backup", "wallets"] | ["restore", "wallet"] => Need::Optional,
        _ => Need::No,
    }
}

/// The subcommand path and the innermost subcommand's matches.
fn leaf(matches: &ArgMatches) -> (Vec<&str>, &ArgMatches) {
    let mut path = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        path.push(name);
        current = sub;
    }
    (path, current)
}

/// Whether argument `id` was given on the command line or by its environment variable.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches
            .try_contains_id(id)
            .ok()
            .and_then(|_| matches.value_source(id)),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// `command` with each argument fed by a variable the layers set defaulting to their value.
fn with_defaults(command: clap::Command, layers: &Layers) -> clap::Command {
    command
        .mut_args(|arg| {
            let var = arg.get_env().and_then(|e| e.to_str()).map(str::to_owned);
            match var.and_then(|v| layers.value(&v)) {
                // clap keeps defaults as `'static` text; one small leak per setting per run.
                Some((values, _)) => {
                    arg.default_values(values.into_iter().map(|v| &*String::leak(v)))
                }
                None => arg,
            }
        })
        .mut_subcommands(|sub| with_defaults(sub, layers))
}

/// The compose file when the command has no `--file`: `MMCTL_COMPOSE_FILE`, else the default.
pub fn compose_file() -> PathBuf {
    non_empty(std::env::var("MMCTL_COMPOSE_FILE").ok()).map_or_else(
        || PathBuf::from(mmkt_stack::DEFAULT_COMPOSE_FILE),
        PathBuf::from,
    )
}

/// The environment when the command has no `--env`: `MMCTL_ENV`, else development.
pub fn env_name() -> String {
    non_empty(std::env::var("MMCTL_ENV").ok()).unwrap_or_else(|| DEFAULT_ENV.to_string())
}

/// The compose project when the command has no `-p`: `COMPOSE_PROJECT_NAME`, else `mmkt`.
pub fn project_name() -> String {
    non_empty(std::env::var("COMPOSE_PROJECT_NAME").ok())
        .unwrap_or_else(|| mmkt_stack::DEFAULT_PROJECT.to_string())
}

/// One resolved setting: its variable, value (`None`: unset) and source.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The environment variable that sets it.
    pub var: &'static str,
    /// Its values (one, or a list), `None` when nothing sets it.
    pub values: Option<Vec<String>>,
    /// Where they came from.
    pub source: Source,
}

/// `var` resolved: the process environment, else the layers, else `default`.
pub fn resolve(layers: &Layers, var: &'static str, default: Option<&str>) -> Resolved {
    if let Some(value) = non_empty(std::env::var(var).ok()) {
        let values = value.split(',').map(str::to_owned).collect();
        return Resolved {
            var,
            values: Some(values),
            source: Source::Env(var.to_string()),
        };
    }
    if let Some((values, source)) = layers.value(var) {
        return Resolved {
            var,
            values: Some(values),
            source,
        };
    }
    Resolved {
        var,
        values: default.map(|d| vec![d.to_string()]),
        source: Source::Default,
    }
}
