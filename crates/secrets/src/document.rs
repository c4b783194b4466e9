//! The on-disk form of a secrets file, SOPS's YAML layout: the keys in clear, each value
//! `ENC[...]` (or in clear: an empty string, or a key ending in the unencrypted suffix), and
//! the `sops:` block (`age` stanzas, `lastmodified`, `mac`, `unencrypted_suffix`,
//! `mac_only_encrypted`, `version`). [`Document::parse`] reads it, [`Document::render`]
//! writes it the way sops 3.11 does (4-space indents, armored age stanzas as literal blocks).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_norway::Value as Yaml;

use crate::cipher::is_encrypted;
use crate::error::SecretsError;
use crate::value::{Value, scalar};

/// The SOPS format version mmkt writes (the sops release whose output it matches).
pub const SOPS_VERSION: &str = "3.11.0";

/// SOPS's default suffix of keys whose values stay in clear.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// One value as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored {
    /// `ENC[...]` text.
    Encrypted(String),
    /// In clear: an empty string, or a key with the unencrypted suffix.
    Clear(Value),
}

/// The data key wrapped to one age recipient (`sops.age[]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AgeStanza {
    /// The recipient, `age1...`.
    pub recipient: String,
    /// The armored age file holding the 32-byte data key.
    pub enc: String,
}

/// The `sops:` block as read.
#[derive(Debug, Deserialize)]
struct RawMetadata {
    #[serde(default)]
    age: Vec<AgeStanza>,
    lastmodified: String,
    mac: String,
    #[serde(default)]
    unencrypted_suffix: Option<String>,
    #[serde(default)]
    mac_only_encrypted: Option<bool>,
    version: String,
    /// Other key services and selectors: refused unless empty.
    #[serde(flatten)]
    other: BTreeMap<String, Yaml>,
}

/// A parsed secrets file.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub entries: Vec<(String, Stored)>,
    pub age: Vec<AgeStanza>,
    pub lastmodified: String,
    pub mac: String,
    pub suffix: String,
    pub mac_only_encrypted: bool,
}

impl Document {
    /// Parses a file's text.
    pub fn parse(text: &str) -> Result<Document, SecretsError> {
        let yaml: Yaml = serde_norway::from_str(text)
            .map_err(|e| SecretsError::Format(format!("invalid YAML: {e}")))?;
        let Yaml::Mapping(map) = yaml else {
            return Err(SecretsError::Format(
                "the top level is not a mapping".into(),
            ));
        };
        let mut entries = Vec::new();
        let mut metadata = None;
        for (k, v) in map {
            let Some(key) = k.as_str().map(str::to_owned) else {
                return Err(SecretsError::Format(format!("key {k:?} is not a string")));
            };
            if key == "sops" {
                let raw: RawMetadata = serde_norway::from_value(v)
                    .map_err(|e| SecretsError::Format(format!("bad sops: block: {e}")))?;
                metadata = Some(raw);
                continue;
            }
            let stored = match &v {
                Yaml::String(s) if is_encrypted(s) => Stored::Encrypted(s.clone()),
                other => Stored::Clear(Value::from_yaml(&key, other)?),
            };
            entries.push((key, stored));
        }
        let raw = metadata.ok_or_else(|| {
            SecretsError::Format("no sops: block (encrypt it with mmctl secrets or sops)".into())
        })?;
        if let Some((name, _)) = raw.other.iter().find(|(_, v)| in_use(v)) {
            return Err(SecretsError::Unsupported(format!("sops.{name}")));
        }
        if raw.age.is_empty() {
            return Err(SecretsError::Unsupported(
                "a file without age recipients".into(),
            ));
        }
        if !raw.version.starts_with("3.") {
            return Err(SecretsError::Unsupported(format!(
                "SOPS format version {}",
                raw.version
            )));
        }
        Ok(Document {
            entries,
            age: raw.age,
            lastmodified: raw.lastmodified,
            mac: raw.mac,
            suffix: raw
                .unencrypted_suffix
                .unwrap_or_else(|| DEFAULT_UNENCRYPTED_SUFFIX.into()),
            mac_only_encrypted: raw.mac_only_encrypted.unwrap_or(false),
        })
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (key, stored) in &self.entries {
            let value = match stored {
                Stored::Encrypted(text) => text.clone(),
                Stored::Clear(v) => v.to_yaml(),
            };
            out.push_str(&format!("{}: {value}\n", scalar(key)));
        }
        out.push_str("sops:\n    age:\n");
        for stanza in &self.age {
            out.push_str(&format!(
                "        - recipient: {}\n          enc: |\n",
                stanza.recipient
            ));
            for line in stanza.enc.lines() {
                out.push_str(&format!("            {line}\n"));
            }
        }
        out.push_str(&format!("    lastmodified: \"{}\"\n", self.lastmodified));
        out.push_str(&format!("    mac: {}\n", self.mac));
        if self.mac_only_encrypted {
            out.push_str("    mac_only_encrypted: true\n");
        }
        out.push_str(&format!(
            "    unencrypted_suffix: {}\n    version: {SOPS_VERSION}\n",
            scalar(&self.suffix)
        ));
        out
    }
}

/// Whether a metadata field we do not implement is set (not null, not an empty list/map/text).
fn in_use(value: &Yaml) -> bool {
    match value {
        Yaml::Null => false,
        Yaml::Sequence(s) => !s.is_empty(),
        Yaml::Mapping(m) => !m.is_empty(),
        Yaml::String(s) => !s.is_empty(),
        _ => true,
    }
}
