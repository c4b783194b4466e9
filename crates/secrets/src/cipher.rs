//! SOPS's value cipher: AES-256-GCM with a 32-byte random IV and a 16-byte tag, written as
//! `ENC[AES256_GCM,data:<base64>,iv:<base64>,tag:<base64>,type:<type>]` (standard base64 with
//! padding). The additional data binds a value to its place: a top-level key `K` gives
//! `K:`, and the MAC uses the file's `lastmodified` text.

use std::fmt;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// AES-256-GCM with SOPS's 32-byte nonce.
type Gcm = AesGcm<Aes256, U32>;

const TAG_LEN: usize = 16;

/// The file's 32-byte data key, which encrypts every value and the MAC. It is kept only
/// wrapped to the age recipients on disk. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey(pub(crate) [u8; 32]);

impl DataKey {
    /// A fresh random key (the thread-local CSPRNG).
    pub fn generate() -> DataKey {
        DataKey(rand::random())
    }

    /// The key from the bytes an age stanza held; `None` unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<DataKey> {
        bytes.try_into().ok().map(DataKey)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The `type:` of an encrypted value, which says how its plaintext text is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `str`: the text as is.
    Str,
    /// `int`: a decimal integer.
    Int,
    /// `float`: a decimal number as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it.
    Float,
    /// `bool`: `True` or `False`.
    Bool,
}

impl ValueType {
    fn label(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
        }
    }

    fn parse(label: &str) -> Option<ValueType> {
        [
            ValueType::Str,
            ValueType::Int,
            ValueType::Float,
            ValueType::Bool,
        ]
        .into_iter()
        .find(|t| t.label() == label)
    }
}

/// Why an `ENC[...]` text could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// It is not of the `ENC[AES256_GCM,...]` shape (or another cipher, or a type we do not
    /// read); the text says which part.
    Shape(String),
    /// The tag does not verify under this key and additional data.
    Authentication,
}

/// Encrypts `plain` under `key` with `aad`, as `ENC[...]` of type `kind`.
pub(crate) fn encrypt(key: &DataKey, plain: &[u8], aad: &[u8], kind: ValueType) -> String {
    let iv: [u8; 32] = rand::random();
    let sealed = Gcm::new((&key.0).into())
        .encrypt(Nonce::from_slice(&iv), Payload { msg: plain, aad })
        .expect("AES-GCM encryption of an in-memory value cannot fail");
    let (data, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
        STANDARD.encode(data),
        STANDARD.encode(iv),
        STANDARD.encode(tag),
        kind.label()
    )
}

/// Whether `text` looks like a SOPS encrypted value (any cipher).
pub(crate) fn is_encrypted(text: &str) -> bool {
    text.starts_with("ENC[") && text.ends_with(']')
}

/// Decrypts an `ENC[...]` text under `key` with `aad`: the plaintext bytes and their type.
pub(crate) fn decrypt(
    key: &DataKey,
    text: &str,
    aad: &[u8],
) -> Result<(Vec<u8>, ValueType), Refused> {
    let body = text
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| Refused::Shape("not ENC[AES256_GCM,...]".into()))?;
    let mut parts = [None; 4];
    for field in body.split(',') {
        let (name, value) = field
            .split_once(':')
            .ok_or_else(|| Refused::Shape(format!("field {field:?} has no name")))?;
        let slot = ["data", "iv", "tag", "type"]
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| Refused::Shape(format!("unknown field {name:?}")))?;
        parts[slot] = Some(value);
    }
    let [Some(data), Some(iv), Some(tag), Some(kind)] = parts else {
        return Err(Refused::Shape(
            "a data, iv, tag or type field is missing".into(),
        ));
    };
    let kind = ValueType::parse(kind)
        .ok_or_else(|| Refused::Shape(format!("values of type {kind:?} are not read")))?;
    let decode = |name: &str, b64: &str| {
        STANDARD
            .decode(b64)
            .map_err(|_| Refused::Shape(format!("{name} is not base64")))
    };
    let iv = decode("iv", iv)?;
    if iv.len() != 32 {
        return Err(Refused::Shape(format!("iv is {} bytes, not 32", iv.len())));
    }
    let mut sealed = decode("data", data)?;
    sealed.extend(decode("tag", tag)?);
    let plain = Gcm::new((&key.0).into())
        .decrypt(Nonce::from_slice(&iv), Payload { msg: &sealed, aad })
        .map_err(|_| Refused::Authentication)?;
    Ok((plain, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_only_with_its_key_and_additional_data() {
        let key = DataKey::generate();
        let text = encrypt(&key, b"hunter2", b"PASSWORD:", ValueType::Str);
        assert!(text.starts_with("ENC[AES256_GCM,data:") && text.ends_with(",type:str]"));
        assert_eq!(
            decrypt(&key, &text, b"PASSWORD:"),
            Ok((b"hunter2".to_vec(), ValueType::Str))
        );
        assert_eq!(
            decrypt(&key, &text, b"OTHER:"),
            Err(Refused::Authentication)
        );
        assert_eq!(
            decrypt(&DataKey::generate(), &text, b"PASSWORD:"),
            Err(Refused::Authentication)
        );
        assert!(matches!(
            decrypt(&key, "ENC[AES256_CBC,data:x]", b""),
            Err(Refused::Shape(_))
        ));
    }
}
