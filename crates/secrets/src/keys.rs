//! The age side of a secrets file: X25519 recipients, identity files, and the data key
//! wrapped to one recipient as an ASCII-armored age file (SOPS's `sops.age[].enc`).
//!
//! Format: <https://age-encryption.org/v1>; SOPS's age key source stores the raw 32-byte
//! data key as the age payload.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};

use crate::cipher::DataKey;
use crate::error::SecretsError;

/// An age X25519 public key (`age1...`) a file is encrypted to.
#[derive(Clone)]
pub struct Recipient(age::x25519::Recipient);

impl Recipient {
    /// Parses `age1...`.
    ///
    /// # Errors
    /// [`SecretsError::Recipient`] for anything else.
    pub fn parse(text: &str) -> Result<Recipient, SecretsError> {
        age::x25519::Recipient::from_str(text.trim())
            .map(Recipient)
            .map_err(|reason| SecretsError::Recipient {
                recipient: text.to_string(),
                reason: reason.to_string(),
            })
    }

    /// Wraps `key` to this recipient: an armored age file (`-----BEGIN AGE ENCRYPTED FILE-----`).
    ///
    /// # Errors
    /// [`SecretsError::Age`] when age cannot encrypt (it does not, for an X25519 recipient).
    pub fn wrap(&self, key: &DataKey) -> Result<String, SecretsError> {
        let age_err = |e: &dyn fmt::Display| SecretsError::Age(e.to_string());
        let encryptor = age::Encryptor::with_recipients(std::iter::once(&self.0 as _))
            .map_err(|e| age_err(&e))?;
        let armor =
            ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor).map_err(|e| age_err(&e))?;
        let mut writer = encryptor.wrap_output(armor).map_err(|e| age_err(&e))?;
        writer.write_all(&key.0).map_err(|e| age_err(&e))?;
        let armored = writer
            .finish()
            .and_then(ArmoredWriter::finish)
            .map_err(|e| age_err(&e))?;
        String::from_utf8(armored).map_err(|e| age_err(&e))
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

/// The age identities (private keys) of one identity file, as `age-keygen` writes it
/// (`AGE-SECRET-KEY-1...` lines) and `SOPS_AGE_KEY_FILE` names. `Debug` is redacted.
pub struct Identities {
    source: String,
    keys: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl Identities {
    /// Reads an identity file.
    ///
    /// # Errors
    /// [`SecretsError::Identity`] when it is unreadable or holds no identity.
    pub fn from_file(path: &Path) -> Result<Identities, SecretsError> {
        let refuse = |reason: String| SecretsError::Identity {
            path: path.display().to_string(),
            reason,
        };
        let keys = std::fs::read(path)
            .map_err(|e| refuse(format!("cannot read it ({e})")))
            .and_then(|bytes| {
                age::IdentityFile::from_buffer(bytes.as_slice())
                    .map_err(|e| refuse(format!("not an age identity file ({e})")))?
                    .into_identities()
                    .map_err(|e| refuse(format!("unusable identity ({e})")))
            })?;
        match keys.is_empty() {
            true => Err(refuse("it holds no AGE-SECRET-KEY-1... line".into())),
            false => Ok(Identities {
                source: path.display().to_string(),
                keys,
            }),
        }
    }

    /// Unwraps the data key from the first of `stanzas` (armored age files) one of these
    /// identities opens. `recipients` names the file's recipients in the error.
    ///
    /// # Errors
    /// [`SecretsError::WrongIdentity`] when none opens; [`SecretsError::Format`] when the
    /// payload opened is not a 32-byte key.
    pub fn unwrap<'a>(
        &self,
        stanzas: impl IntoIterator<Item = &'a str>,
        recipients: &str,
    ) -> Result<DataKey, SecretsError> {
        for stanza in stanzas {
            let Ok(decryptor) = age::Decryptor::new(ArmoredReader::new(stanza.as_bytes())) else {
                continue;
            };
            let identities = self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity);
            let Ok(mut reader) = decryptor.decrypt(identities) else {
                continue;
            };
            let mut bytes = Vec::new();
            if reader.read_to_end(&mut bytes).is_err() {
                continue;
            }
            return DataKey::from_bytes(&bytes).ok_or_else(|| {
                SecretsError::Format("the wrapped data key is not 32 bytes".into())
            });
        }
        Err(SecretsError::WrongIdentity {
            identity: self.source.clone(),
            recipients: recipients.to_string(),
        })
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({}, <redacted>)", self.source)
    }
}
