//! The per-environment mmctl config file, `deploy/env/<env>.mmctl.toml`: the backup
//! directory, recipients and identity, and the freshness metrics' textfile directory, each the
//! default of its environment variable.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The config file's keys. Unknown keys are refused, so a typo is an error instead of a
/// silently ignored setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmctlFile {
    /// Local backup directory (`MMKT_BACKUP_DIR`).
    pub backup_dir: Option<PathBuf>,
    /// age X25519 recipients, `age1...` (`MMKT_BACKUP_RECIPIENTS`).
    pub recipients: Option<Vec<String>>,
    /// File with one age recipient per line (`MMKT_BACKUP_RECIPIENTS_FILE`).
    pub recipients_file: Option<PathBuf>,
    /// age identity file, where backups are verified, restored or drilled
    /// (`MMKT_BACKUP_IDENTITY_FILE`).
    pub identity_file: Option<PathBuf>,
    /// Ed25519 signing key file from `mmctl backup keygen` (`MMKT_BACKUP_SIGNING_KEY_FILE`).
    pub signing_key_file: Option<PathBuf>,
    /// node-exporter's textfile collector directory, where backup, drill and deploy runs write
    /// their `mmctl_<job>.prom` freshness metrics (`MMKT_METRICS_TEXTFILE_DIR`).
    pub metrics_textfile_dir: Option<PathBuf>,
    /// age identity file that opens the environment's secrets file,
    /// `deploy/secrets/<env>.enc.yaml` (`MMCTL_SECRETS_IDENTITY_FILE`; unset: `SOPS_AGE_KEY_FILE`).
    pub secrets_identity_file: Option<PathBuf>,
    /// `backup db` writes page deltas, with a new full backup once the chain's full one is
    /// this old, e.g. `24h` (`MMKT_BACKUP_DB_FULL_EVERY`; unset: standalone full backups).
    pub db_full_every: Option<String>,
    /// Deltas a chain holds at most before the next full backup (`MMKT_BACKUP_DB_MAX_DELTAS`).
    pub db_max_deltas: Option<u32>,
    /// `backup db` keeps running, one backup per interval, e.g. `60s` (`MMKT_BACKUP_DB_EVERY`).
    pub db_every: Option<String>,
}

/// The config file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file exists but cannot be read.
    #[error("cannot read the mmctl config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type. The
    /// message names the key and its line.
    #[error("bad mmctl config file {path}: {message}. Fix or remove that key (keys: {KEYS})")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        message: String,
    },
}

/// The keys [`MmctlFile`] accepts, for messages.
pub const KEYS: &str = "backup_dir, recipients, recipients_file, identity_file, signing_key_file, metrics_textfile_dir, secrets_identity_file, db_full_every, db_max_deltas, db_every";

impl MmctlFile {
    /// Each key with the environment variable that overrides it and its values (one, or the
    /// list of recipients); keys the file does not set are left out.
    pub fn env_defaults(&self) -> Vec<(&'static str, Vec<String>)> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| vec![p.display().to_string()]);
        [
            ("MMKT_BACKUP_DIR", path(&self.backup_dir)),
            ("MMKT_BACKUP_RECIPIENTS", self.recipients.clone()),
            ("MMKT_BACKUP_RECIPIENTS_FILE", path(&self.recipients_file)),
            ("MMKT_BACKUP_IDENTITY_FILE", path(&self.identity_file)),
            ("MMKT_BACKUP_SIGNING_KEY_FILE", path(&self.signing_key_file)),
            (
                "MMKT_METRICS_TEXTFILE_DIR",
                path(&self.metrics_textfile_dir),
            ),
            (
                "MMCTL_SECRETS_IDENTITY_FILE",
                path(&self.secrets_identity_file),
            ),
            (
                "MMKT_BACKUP_DB_FULL_EVERY",
                self.db_full_every.clone().map(|v| vec![v]),
            ),
            (
                "MMKT_BACKUP_DB_MAX_DELTAS",
                self.db_max_deltas.map(|n| vec![n.to_string()]),
            ),
            (
                "MMKT_BACKUP_DB_EVERY",
                self.db_every.clone().map(|v| vec![v]),
            ),
        ]
        .into_iter()
        .filter_map(|(var, value)| value.map(|v| (var, v)))
        .collect()
    }
}

/// `<dir of the compose file>/env/<env>.mmctl.toml`.
pub fn file_path(compose_file: &Path, env: &str) -> PathBuf {
    compose_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("env")
        .join(format!("{env}.mmctl.toml"))
}

/// Reads the config file at `path`; `Ok(None)` when there is none.
///
/// # Errors
/// [`FileError::Read`] for an unreadable file, [`FileError::Invalid`] for bad TOML, an
/// unknown key or a wrong type.
pub fn load(path: &Path) -> Result<Option<MmctlFile>, FileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(FileError::Read {
                path: path.into(),
                source,
            });
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| FileError::Invalid {
            path: path.into(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = toml::from_str::<MmctlFile>("backup_dri = \"/x\"\n").unwrap_err();
        assert!(err.to_string().contains("backup_dri"), "{err}");
    }

    #[test]
    fn the_chain_keys_are_the_defaults_of_their_variables() {
        let file: MmctlFile =
            toml::from_str("db_full_every = \"24h\"\ndb_max_deltas = 60\ndb_every = \"60s\"\n")
                .unwrap();
        let defaults = file.env_defaults();
        for (var, value) in [
            ("MMKT_BACKUP_DB_FULL_EVERY", "24h"),
            ("MMKT_BACKUP_DB_MAX_DELTAS", "60"),
            ("MMKT_BACKUP_DB_EVERY", "60s"),
        ] {
            assert!(
                defaults.contains(&(var, vec![value.to_owned()])),
                "{defaults:?}"
            );
        }
        assert!(toml::from_str::<MmctlFile>("db_max_deltas = \"many\"\n").is_err());
    }

    #[test]
    fn the_shipped_example_files_parse() {
        let compose = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/docker-compose.yml");
        for env in ["development", "staging", "production"] {
            let path = file_path(&compose, env);
            assert!(load(&path).unwrap().is_some(), "{}", path.display());
        }
    }

    #[test]
    fn the_textfile_directory_defaults_its_variable() {
        let file: MmctlFile =
            toml::from_str("metrics_textfile_dir = \"/var/lib/prometheus/node-exporter\"\n")
                .unwrap();
        assert_eq!(
            file.env_defaults(),
            [(
                "MMKT_METRICS_TEXTFILE_DIR",
                vec!["/var/lib/prometheus/node-exporter".to_string()]
            )]
        );
    }

    #[test]
    fn keys_become_their_variables_defaults() {
        let file: MmctlFile =
            toml::from_str("backup_dir = \"/b\"\nrecipients = [\"age1a\", \"age1b\"]\n").unwrap();
        assert_eq!(
            file.env_defaults(),
            [
                ("MMKT_BACKUP_DIR", vec!["/b".to_string()]),
                (
                    "MMKT_BACKUP_RECIPIENTS",
                    vec!["age1a".to_string(), "age1b".to_string()]
                )
            ]
        );
    }
}
