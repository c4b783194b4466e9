//! The party's state directory (mode 0700): the session (`session`, 0600) and one password file
//! per escrow wallet (`wallets/<wallet>.password`, 0600). Nothing here ever goes to the market.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use monero_types::{WalletName, WalletPassword};
use rand::RngCore;

use crate::error::PartyError;

/// Permission bits a secret file may have: only the owner's read and write.
const OWNER_ONLY: u32 = 0o600;
/// Random bytes of a wallet password (64 hex characters).
const PASSWORD_BYTES: usize = 32;

/// The state directory: `--state-dir`, else `$XDG_DATA_HOME/mmkt-party`, else
/// `~/.local/share/mmkt-party`.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// The session cookie saved by `login`: its name (`session_token` in development,
/// `__Host-session_token` over HTTPS) and value. Redacted `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The cookie's name.
    pub name: String,
    value: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({}=<redacted>)", self.name)
    }
}

impl Session {
    /// A session cookie `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Session {
        Session {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The `Cookie` header value. Do not log it.
    pub fn cookie_header(&self) -> String {
        format!("{}={}", self.name, self.value)
    }
}

impl StateDir {
    /// The default location: `$XDG_DATA_HOME/mmkt-party`, else `$HOME/.local/share/mmkt-party`.
    ///
    /// # Errors
    /// [`PartyError::Input`] when neither variable is set (pass `--state-dir`).
    pub fn default_root() -> Result<PathBuf, PartyError> {
        let non_empty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
        if let Some(xdg) = non_empty("XDG_DATA_HOME") {
            return Ok(PathBuf::from(xdg).join("mmkt-party"));
        }
        let home = non_empty("HOME").ok_or_else(|| {
            PartyError::Input("neither XDG_DATA_HOME nor HOME is set; pass --state-dir".into())
        })?;
        Ok(PathBuf::from(home).join(".local/share/mmkt-party"))
    }

    /// Uses `root`, creating it (and `wallets/`) with mode 0700 if missing.
    ///
    /// # Errors
    /// [`PartyError::State`] when a directory cannot be created.
    pub fn open(root: &Path) -> Result<StateDir, PartyError> {
        for dir in [root.to_path_buf(), root.join("wallets")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|source| PartyError::State {
                    action: "create the state directory",
                    path: dir.clone(),
                    source,
                })?;
        }
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/session`.
    pub fn session_path(&self) -> PathBuf {
        self.root.join("session")
    }

    /// `DIR/wallets/<wallet>.password`.
    pub fn password_path(&self, wallet: &WalletName) -> PathBuf {
        self.root
            .join("wallets")
            .join(format!("{}.password", wallet.as_str()))
    }

    /// Saves the session (mode 0600, replacing an older one).
    ///
    /// # Errors
    /// [`PartyError::State`] on an I/O failure.
    pub fn save_session(&self, session: &Session) -> Result<(), PartyError> {
        let path = self.session_path();
        let text = format!("{}\n{}\n", session.name, session.value);
        let tmp = self.root.join("session.tmp");
        let _ = fs::remove_file(&tmp);
        write_secret(&tmp, &text)?;
        fs::rename(&tmp, &path).map_err(|source| PartyError::State {
            action: "save the session",
            path,
            source,
        })
    }

    /// The saved session.
    ///
    /// # Errors
    /// [`PartyError::NoSession`] when there is none; [`PartyError::InsecureFile`] when it is
    /// readable by others; [`PartyError::State`] when it cannot be read.
    pub fn session(&self) -> Result<Session, PartyError> {
        let path = self.session_path();
        if !path.exists() {
            return Err(PartyError::NoSession { path });
        }
        let text = read_secret(&path)?;
        let mut lines = text.lines();
        match (lines.next(), lines.next()) {
            (Some(name), Some(value)) if !name.is_empty() && !value.is_empty() => {
                Ok(Session::new(name, value))
            }
            _ => Err(PartyError::NoSession { path }),
        }
    }

    /// The password of escrow wallet `wallet`, if one was stored.
    ///
    /// # Errors
    /// [`PartyError::InsecureFile`] or [`PartyError::State`] for an unusable file.
    pub fn wallet_password(
        &self,
        wallet: &WalletName,
    ) -> Result<Option<WalletPassword>, PartyError> {
        let path = self.password_path(wallet);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(WalletPassword::new(read_secret(&path)?.trim_end())))
    }

    /// `DIR/wallets/<wallet>.<round>`: this party's payload of a setup round, kept so that a
    /// retry resubmits it instead of calling wallet-rpc again (`make_multisig` and
    /// `exchange_multisig_keys` cannot be repeated on the same wallet).
    pub fn payload_path(&self, wallet: &WalletName, round: &str) -> PathBuf {
        self.root
            .join("wallets")
            .join(format!("{}.{round}", wallet.as_str()))
    }

    /// The stored payload of `round` for `wallet`, if any.
    ///
    /// # Errors
    /// [`PartyError::InsecureFile`] or [`PartyError::State`] for an unusable file.
    pub fn round_payload(
        &self,
        wallet: &WalletName,
        round: &str,
    ) -> Result<Option<String>, PartyError> {
        let path = self.payload_path(wallet, round);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(read_secret(&path)?))
    }

    /// Stores the payload of `round` for `wallet` (mode 0600), before it is submitted.
    ///
    /// # Errors
    /// [`PartyError::State`] when it exists already or cannot be written.
    pub fn save_round_payload(
        &self,
        wallet: &WalletName,
        round: &str,
        payload: &str,
    ) -> Result<(), PartyError> {
        write_secret(&self.payload_path(wallet, round), payload)
    }

    /// Makes, stores (mode 0600, never replacing a file) and returns a random password for
    /// `wallet`: 32 bytes from the OS generator, hex.
    ///
    /// # Errors
    /// [`PartyError::State`] when the file exists already or cannot be written.
    pub fn new_wallet_password(&self, wallet: &WalletName) -> Result<WalletPassword, PartyError> {
        let mut bytes = [0u8; PASSWORD_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let password = hex::encode(bytes);
        write_secret(&self.password_path(wallet), &password)?;
        Ok(WalletPassword::new(password))
    }
}

/// Writes a new file with mode 0600 (`O_EXCL`: never over an existing one) and syncs it.
fn write_secret(path: &Path, text: &str) -> Result<(), PartyError> {
    let fail = |source| PartyError::State {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(OWNER_ONLY)
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// Reads a secret file, refusing one that group or others may read or write.
///
/// # Errors
/// [`PartyError::InsecureFile`] for a mode wider than 0600; [`PartyError::State`] on I/O.
pub fn read_secret(path: &Path) -> Result<String, PartyError> {
    let fail = |source| PartyError::State {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let mode = fs::metadata(path).map_err(fail)?.permissions().mode() & 0o777;
    if mode & !OWNER_ONLY != 0 {
        return Err(PartyError::InsecureFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    fs::read_to_string(path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_owner_only_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("s")).unwrap();
        let mode = fs::metadata(state.root()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let wallet: WalletName = "mmkt-escrow-7".parse().unwrap();
        assert!(state.wallet_password(&wallet).unwrap().is_none());
        let made = state.new_wallet_password(&wallet).unwrap();
        assert_eq!(made.len(), 64);
        assert_eq!(state.wallet_password(&wallet).unwrap(), Some(made));
        let mode = fs::metadata(state.password_path(&wallet))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            state.new_wallet_password(&wallet).is_err(),
            "never replaced"
        );

        assert_eq!(state.round_payload(&wallet, "make").unwrap(), None);
        state
            .save_round_payload(&wallet, "make", "MultisigxV2R1...")
            .unwrap();
        assert_eq!(
            state.round_payload(&wallet, "make").unwrap().as_deref(),
            Some("MultisigxV2R1...")
        );
        let mode = fs::metadata(state.payload_path(&wallet, "make"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        fs::set_permissions(
            state.password_path(&wallet),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let err = state.wallet_password(&wallet).unwrap_err();
        assert!(
            matches!(err, PartyError::InsecureFile { mode: 0o644, .. }),
            "{err}"
        );
    }

    #[test]
    fn session_round_trips_and_debug_redacts() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        assert!(matches!(state.session(), Err(PartyError::NoSession { .. })));
        let session = Session::new("session_token", "s3cr3t");
        state.save_session(&session).unwrap();
        state.save_session(&session).unwrap();
        assert_eq!(state.session().unwrap(), session);
        assert!(!format!("{session:?}").contains("s3cr3t"));
    }
}
