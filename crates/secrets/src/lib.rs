//! mmkt's per-environment secrets files (`deploy/secrets/<env>.enc.yaml`) in SOPS's file
//! format, so an operator with `sops` reads and edits the same file and mmkt reads what
//! sops writes.
//!
//! The format (SOPS 3, <https://github.com/getsops/sops>): a YAML mapping whose keys stay
//! readable and whose values are `ENC[AES256_GCM,data:..,iv:..,tag:..,type:str|int|float|bool]`
//! ([`cipher`]), each encrypted with one random 32-byte data key and its key path (`KEY:`) as
//! additional data; the `sops:` block holds the data key wrapped to each age X25519 recipient
//! ([`keys`]), `lastmodified`, the MAC over the values ([`SecretsFile`]), `unencrypted_suffix`
//! and `version` ([`document`]).
//!
//! Scope: flat `KEY: value` files with age recipients. Nested mappings and lists are refused
//! by name ([`SecretsError::Nested`]), as are other key services (KMS, PGP, Vault, ...) and
//! `encrypted_regex`-style selectors ([`SecretsError::Unsupported`]). YAML comments are not
//! kept when mmkt rewrites a file (sops encrypts them; they are outside the MAC).
//!
//! Plaintext stays in memory, except while an operator edits it: [`edit::in_editor`] uses a
//! 0600 file on a tmpfs only.

pub mod cipher;
pub mod document;
pub mod edit;
pub mod error;
pub mod file;
pub mod keys;
pub mod store;
pub mod value;

pub use error::SecretsError;
pub use file::{AddOutcome, SecretsFile, SetOutcome};
pub use keys::{Identities, Recipient};
pub use value::Value;
