//! [`SecretsFile`]: a secrets file opened with an age identity (its data key unwrapped, every
//! value decrypted and the MAC checked), changed in memory and sealed back into SOPS's text.
//!
//! The MAC is SOPS's: SHA-512 over each value's bytes in file order (values in clear too,
//! unless `mac_only_encrypted`), as uppercase hex, encrypted with the data key and the
//! `lastmodified` text as additional data.

use std::fmt;

use sha2::{Digest, Sha512};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cipher::{self, DataKey, Refused, ValueType};
use crate::document::{AgeStanza, DEFAULT_UNENCRYPTED_SUFFIX, Document, Stored};
use crate::error::SecretsError;
use crate::keys::{Identities, Recipient};
use crate::value::{self, Value, check_key};

/// An opened secrets file: plaintext values in order, the data key and its age stanzas.
/// `Debug` shows the keys and recipients only.
#[derive(Clone)]
pub struct SecretsFile {
    entries: Vec<(String, Value)>,
    key: DataKey,
    age: Vec<AgeStanza>,
    suffix: String,
    mac_only_encrypted: bool,
}

/// What [`SecretsFile::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// The key was new; it is appended.
    Added,
    /// The key existed; its value is replaced in place.
    Replaced,
}

/// What [`SecretsFile::add_recipient`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The recipient now has a stanza.
    Added,
    /// It already had one; nothing changed.
    AlreadyPresent,
}

impl SecretsFile {
    /// A new, empty file encrypted to `recipients` with a fresh data key.
    ///
    /// # Errors
    /// [`SecretsError::Recipients`] when `recipients` is empty; [`SecretsError::Age`].
    pub fn create(recipients: &[Recipient]) -> Result<SecretsFile, SecretsError> {
        let mut file = SecretsFile {
            entries: Vec::new(),
            key: DataKey::generate(),
            age: Vec::new(),
            suffix: DEFAULT_UNENCRYPTED_SUFFIX.into(),
            mac_only_encrypted: false,
        };
        file.wrap_to(recipients)?;
        Ok(file)
    }

    /// Opens a file's text with `identities`: unwraps the data key, decrypts each value
    /// (additional data `KEY:`) and checks the MAC.
    ///
    /// # Errors
    /// [`SecretsError::Format`], [`SecretsError::Nested`], [`SecretsError::Unsupported`] for
    /// a file we do not read; [`SecretsError::WrongIdentity`]; [`SecretsError::TamperedValue`]
    /// and [`SecretsError::MacMismatch`] for a changed file.
    pub fn open(text: &str, identities: &Identities) -> Result<SecretsFile, SecretsError> {
        let doc = Document::parse(text)?;
        let recipients = doc
            .age
            .iter()
            .map(|s| s.recipient.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let key = identities.unwrap(doc.age.iter().map(|s| s.enc.as_str()), &recipients)?;
        let mut entries = Vec::with_capacity(doc.entries.len());
        for (name, stored) in doc.entries {
            let value = match stored {
                Stored::Encrypted(text) => decrypt_value(&key, &name, &text)?,
                Stored::Clear(v)
                    if name.ends_with(&doc.suffix) || v == Value::Str(String::new()) =>
                {
                    v
                }
                Stored::Clear(_) => {
                    return Err(SecretsError::Format(format!(
                        "the value of {name:?} is not encrypted (only keys ending in {} may be in clear)",
                        doc.suffix
                    )));
                }
            };
            entries.push((name, value));
        }
        let file = SecretsFile {
            entries,
            key,
            age: doc.age,
            suffix: doc.suffix,
            mac_only_encrypted: doc.mac_only_encrypted,
        };
        let stored = cipher::decrypt(&file.key, &doc.mac, doc.lastmodified.as_bytes())
            .map_err(|_| SecretsError::MacMismatch)?;
        match stored.0.eq_ignore_ascii_case(file.mac().as_bytes()) {
            true => Ok(file),
            false => Err(SecretsError::MacMismatch),
        }
    }

    /// The keys, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[(String, Value)] {
        &self.entries
    }

    /// The value of `key`.
    ///
    /// # Errors
    /// [`SecretsError::UnknownKey`], listing the keys there are.
    pub fn get(&self, key: &str) -> Result<&Value, SecretsError> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| SecretsError::UnknownKey {
                key: key.to_string(),
                known: self.keys().collect::<Vec<_>>().join(", "),
            })
    }

    /// Sets `key` to `value` (replaced in place, or appended).
    ///
    /// # Errors
    /// [`SecretsError::InvalidValue`] for a key that is not a variable name ([`check_key`]).
    pub fn set(&mut self, key: &str, value: Value) -> Result<SetOutcome, SecretsError> {
        check_key(key)?;
        if let Some((_, old)) = self.entries.iter_mut().find(|(k, _)| k == key) {
            *old = value;
            return Ok(SetOutcome::Replaced);
        }
        self.entries.push((key.to_string(), value));
        Ok(SetOutcome::Added)
    }

    /// The values as the flat `KEY: value` YAML an editor shows.
    pub fn plain_yaml(&self) -> String {
        value::to_plain(&self.entries)
    }

    /// Replaces every entry with those of edited flat YAML; `Ok(false)` when they are the
    /// same as before (nothing to write).
    ///
    /// # Errors
    /// [`SecretsError::Format`], [`SecretsError::Nested`], [`SecretsError::InvalidValue`].
    pub fn replace_from_yaml(&mut self, text: &str) -> Result<bool, SecretsError> {
        let entries = value::parse_plain(text)?;
        let changed = entries != self.entries;
        self.entries = entries;
        Ok(changed)
    }

    /// The recipients (`age1...`), in file order.
    pub fn recipients(&self) -> Vec<String> {
        self.age.iter().map(|s| s.recipient.clone()).collect()
    }

    /// A new data key, wrapped to the current recipients; values are re-encrypted with it
    /// when sealed.
    ///
    /// # Errors
    /// [`SecretsError::Recipient`] when a stored recipient is not an X25519 key;
    /// [`SecretsError::Age`].
    pub fn rotate(&mut self) -> Result<(), SecretsError> {
        let current = self
            .recipients()
            .iter()
            .map(|r| Recipient::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        self.key = DataKey::generate();
        self.wrap_to(&current)
    }

    /// Wraps the current data key to `recipient` too.
    ///
    /// # Errors
    /// [`SecretsError::Age`].
    pub fn add_recipient(&mut self, recipient: &Recipient) -> Result<AddOutcome, SecretsError> {
        let text = recipient.to_string();
        if self.age.iter().any(|s| s.recipient == text) {
            return Ok(AddOutcome::AlreadyPresent);
        }
        self.age.push(AgeStanza {
            enc: recipient.wrap(&self.key)?,
            recipient: text,
        });
        Ok(AddOutcome::Added)
    }

    /// Removes `recipient` and rotates the data key, so the key it could unwrap opens
    /// nothing written from now on.
    ///
    /// # Errors
    /// [`SecretsError::Recipients`] when it is not a recipient or is the last one; as
    /// [`SecretsError::rotate`](SecretsFile::rotate).
    pub fn remove_recipient(&mut self, recipient: &str) -> Result<(), SecretsError> {
        let before = self.age.len();
        self.age.retain(|s| s.recipient != recipient.trim());
        if self.age.len() == before {
            return Err(SecretsError::Recipients(format!(
                "{recipient} is not a recipient of this file (recipients: {})",
                self.recipients().join(", ")
            )));
        }
        if self.age.is_empty() {
            return Err(SecretsError::Recipients(
                "refusing to remove the last recipient: nobody could decrypt the file; add the new one first".into(),
            ));
        }
        self.rotate()
    }

    /// The file's text at `now`: every value encrypted with fresh IVs, the MAC, the stanzas.
    pub fn seal(&self, now: OffsetDateTime) -> String {
        let lastmodified = now
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&Rfc3339)
            .expect("a UTC time formats as RFC 3339");
        let entries = self
            .entries
            .iter()
            .map(|(k, v)| {
                let stored = match self.in_clear(k, v) {
                    true => Stored::Clear(v.clone()),
                    false => Stored::Encrypted(cipher::encrypt(
                        &self.key,
                        &v.sops_bytes(),
                        format!("{k}:").as_bytes(),
                        v.kind(),
                    )),
                };
                (k.clone(), stored)
            })
            .collect();
        let mac = cipher::encrypt(
            &self.key,
            self.mac().as_bytes(),
            lastmodified.as_bytes(),
            ValueType::Str,
        );
        Document {
            entries,
            age: self.age.clone(),
            lastmodified,
            mac,
            suffix: self.suffix.clone(),
            mac_only_encrypted: self.mac_only_encrypted,
        }
        .render()
    }

    /// Whether a value is written in clear (as sops does): an empty string, or a key with
    /// the unencrypted suffix.
    fn in_clear(&self, key: &str, value: &Value) -> bool {
        key.ends_with(&self.suffix) || *value == Value::Str(String::new())
    }

    /// SOPS's MAC of the values, as uppercase hex.
    fn mac(&self) -> String {
        let mut hash = Sha512::new();
        for (k, v) in &self.entries {
            if self.mac_only_encrypted && self.in_clear(k, v) {
                continue;
            }
            hash.update(v.sops_bytes());
        }
        hash.finalize().iter().map(|b| format!("{b:02X}")).collect()
    }

    fn wrap_to(&mut self, recipients: &[Recipient]) -> Result<(), SecretsError> {
        if recipients.is_empty() {
            return Err(SecretsError::Recipients(
                "no age recipient given (pass --recipient age1...)".into(),
            ));
        }
        self.age = recipients
            .iter()
            .map(|r| {
                Ok(AgeStanza {
                    recipient: r.to_string(),
                    enc: r.wrap(&self.key)?,
                })
            })
            .collect::<Result<_, SecretsError>>()?;
        Ok(())
    }
}

fn decrypt_value(key: &DataKey, name: &str, text: &str) -> Result<Value, SecretsError> {
    let (bytes, kind) = cipher::decrypt(key, text, format!("{name}:").as_bytes()).map_err(
        |refused| match refused {
            Refused::Authentication => SecretsError::TamperedValue {
                key: name.to_string(),
            },
            Refused::Shape(why) => {
                SecretsError::Unsupported(format!("the value of {name:?}: {why}"))
            }
        },
    )?;
    Value::from_sops(bytes, kind).ok_or_else(|| {
        SecretsError::Format(format!(
            "the value of {name:?} does not read as its declared type"
        ))
    })
}

impl fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsFile")
            .field("keys", &self.keys().collect::<Vec<_>>())
            .field("recipients", &self.recipients())
            .finish_non_exhaustive()
    }
}
