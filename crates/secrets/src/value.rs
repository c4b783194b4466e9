//! [`Value`]: one decrypted value of a secrets file, with the SOPS type it is stored as, and
//! the flat `KEY: value` YAML that `edit` shows (read back with [`parse_plain`]).

use std::fmt;

use serde_norway::Value as Yaml;

use crate::cipher::ValueType;
use crate::error::SecretsError;

/// One plaintext value. `Debug` is redacted; [`Value::text`] gives the text a container's
/// environment gets.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// A string (`type:str`; what `mmctl secrets set` stores).
    Str(String),
    /// An integer (`type:int`), e.g. written by sops from `PORT: 25`.
    Int(i64),
    /// A number with a fraction (`type:float`), kept as the text sops encrypted.
    Float(String),
    /// A boolean (`type:bool`).
    Bool(bool),
}

impl Value {
    /// The text of the value: the string itself, the decimal number, `true` or `false`.
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) | Value::Float(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }

    /// The bytes SOPS encrypts and feeds to the MAC: as [`Value::text`], except that a
    /// boolean is `True`/`False` (Go's title-cased `FormatBool`).
    pub(crate) fn sops_bytes(&self) -> Vec<u8> {
        match self {
            Value::Bool(true) => b"True".to_vec(),
            Value::Bool(false) => b"False".to_vec(),
            other => other.text().into_bytes(),
        }
    }

    /// The `type:` it is encrypted as.
    pub(crate) fn kind(&self) -> ValueType {
        match self {
            Value::Str(_) => ValueType::Str,
            Value::Int(_) => ValueType::Int,
            Value::Float(_) => ValueType::Float,
            Value::Bool(_) => ValueType::Bool,
        }
    }

    /// The value of decrypted bytes of type `kind`; `None` when they do not read as one.
    pub(crate) fn from_sops(bytes: Vec<u8>, kind: ValueType) -> Option<Value> {
        let text = String::from_utf8(bytes).ok()?;
        match kind {
            ValueType::Str => Some(Value::Str(text)),
            ValueType::Int => text.parse().ok().map(Value::Int),
            ValueType::Float => Some(Value::Float(text)),
            ValueType::Bool => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "t" => Some(Value::Bool(true)),
                "false" | "0" | "f" => Some(Value::Bool(false)),
                _ => None,
            },
        }
    }

    /// The value of a plaintext YAML scalar under `key` (an unencrypted or edited value).
    ///
    /// # Errors
    /// [`SecretsError::Nested`] for a mapping or list; [`SecretsError::InvalidValue`] for
    /// null, a tagged value or a float (its text could change on the way through YAML).
    pub(crate) fn from_yaml(key: &str, yaml: &Yaml) -> Result<Value, SecretsError> {
        let invalid = |reason: &str| SecretsError::InvalidValue {
            key: key.to_string(),
            reason: reason.to_string(),
        };
        match yaml {
            Yaml::String(s) => Ok(Value::Str(s.clone())),
            Yaml::Bool(b) => Ok(Value::Bool(*b)),
            Yaml::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| invalid("only integers are kept as numbers; quote it as a string")),
            Yaml::Mapping(_) | Yaml::Sequence(_) => Err(SecretsError::Nested {
                key: key.to_string(),
            }),
            Yaml::Null => Err(invalid(
                "it is empty (null); write \"\" for an empty string",
            )),
            Yaml::Tagged(_) => Err(invalid("tagged YAML values are not supported")),
        }
    }

    /// The value as a YAML scalar: plain when it reads back as itself, else double-quoted.
    pub(crate) fn to_yaml(&self) -> String {
        match self {
            Value::Str(s) => scalar(s),
            other => other.text(),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Value(<redacted>)")
    }
}

/// `text` as a YAML scalar that reads back as the same string: plain when YAML agrees,
/// otherwise double-quoted with JSON escapes (valid YAML).
pub(crate) fn scalar(text: &str) -> String {
    let plain_ok = !text.is_empty()
        && !text.contains(['\n', '#', '"', '\''])
        && text.trim() == text
        && serde_norway::from_str::<Yaml>(text).ok() == Some(Yaml::String(text.to_string()));
    match plain_ok {
        true => text.to_string(),
        false => serde_json::to_string(text).expect("a string serializes as JSON"),
    }
}

/// The flat YAML `edit` shows: one `KEY: value` line per entry, in order.
pub(crate) fn to_plain(entries: &[(String, Value)]) -> String {
    entries
        .iter()
        .map(|(k, v)| format!("{}: {}\n", scalar(k), v.to_yaml()))
        .collect()
}

/// Reads the flat YAML an operator edited back into entries (an empty document: none).
///
/// # Errors
/// [`SecretsError::Format`] for YAML that is not a mapping of string keys, and the errors of
/// [`Value::from_yaml`] and [`check_key`].
pub(crate) fn parse_plain(text: &str) -> Result<Vec<(String, Value)>, SecretsError> {
    let yaml: Yaml = serde_norway::from_str(text)
        .map_err(|e| SecretsError::Format(format!("the edited text is not YAML: {e}")))?;
    let map = match yaml {
        Yaml::Null => return Ok(Vec::new()),
        Yaml::Mapping(map) => map,
        _ => {
            return Err(SecretsError::Format(
                "the edited text must be a mapping of KEY: value lines".into(),
            ));
        }
    };
    map.iter()
        .map(|(k, v)| {
            let key = k
                .as_str()
                .ok_or_else(|| SecretsError::Format(format!("key {k:?} is not a string")))?;
            check_key(key)?;
            Ok((key.to_string(), Value::from_yaml(key, v)?))
        })
        .collect()
}

/// Refuses a key mmctl would not write: empty, `sops`, or not an environment variable name
/// (`[A-Za-z_][A-Za-z0-9_]*`), since keys become compose variables.
///
/// # Errors
/// [`SecretsError::InvalidValue`] naming the key.
pub fn check_key(key: &str) -> Result<(), SecretsError> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    match first_ok && rest_ok && key != "sops" {
        true => Ok(()),
        false => Err(SecretsError::InvalidValue {
            key: key.to_string(),
            reason: "keys are variable names: letters, digits and _, not starting with a digit, and not `sops`".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for text in [
            "plain",
            "",
            "true",
            "5",
            "a: b",
            " x",
            "line\nbreak",
            "#x",
            "user:pass",
        ] {
            let yaml = format!("K: {}\n", scalar(text));
            let parsed = parse_plain(&yaml).unwrap();
            assert_eq!(
                parsed,
                vec![("K".to_string(), Value::Str(text.into()))],
                "{yaml}"
            );
        }
    }

    #[test]
    fn nested_floats_and_bad_keys_are_refused() {
        assert!(matches!(
            parse_plain("A:\n  B: c\n"),
            Err(SecretsError::Nested { .. })
        ));
        assert!(matches!(
            parse_plain("A: 1.5\n"),
            Err(SecretsError::InvalidValue { .. })
        ));
        assert!(check_key("1A").is_err() && check_key("sops").is_err());
        assert!(check_key("WALLET_RPC_LOGIN").is_ok());
    }
}
