//! [`SecretsError`]: every way reading, changing or writing a secrets file can fail. Messages
//! name the file's key or recipient involved and what to do; they never contain a value.

/// Why a secrets file could not be opened, changed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The text is not YAML, or not a SOPS file (no `sops:` block, a malformed field).
    #[error("not a SOPS secrets file: {0}")]
    Format(String),
    /// A key holds a nested mapping or a list; mmkt's secrets files are flat
    /// `KEY: value` mappings.
    #[error(
        "key {key:?} holds a nested mapping or list; mmctl reads flat `KEY: value` files only (flatten it, e.g. {key}_FIELD: value)"
    )]
    Nested {
        /// The key.
        key: String,
    },
    /// The file uses a SOPS feature mmkt does not implement (another key service than
    /// age, `encrypted_regex`, a cipher other than AES256_GCM, ...). Nothing is changed.
    #[error("unsupported SOPS feature: {0}; use the sops CLI for this file")]
    Unsupported(String),
    /// A value cannot be stored (a float, null, a malformed key name).
    #[error("invalid value for {key:?}: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// None of the identities unwraps the data key: the file is encrypted to other age
    /// recipients.
    #[error(
        "none of the age identities in {identity} can decrypt this file; it is encrypted to {recipients}. Use an identity of one of them, or have its holder add yours (`mmctl secrets recipients add`)"
    )]
    WrongIdentity {
        /// Where the identities came from (a file path).
        identity: String,
        /// The file's recipients, comma-separated.
        recipients: String,
    },
    /// A value's AES-GCM tag does not verify (changed ciphertext, or a value moved to another
    /// key): the file was tampered with or damaged.
    #[error(
        "the value of {key:?} fails authentication: the file was tampered with or damaged; restore it from version control"
    )]
    TamperedValue {
        /// The key.
        key: String,
    },
    /// The file's MAC does not match its values (a value added, removed, reordered or
    /// replaced), or the MAC itself fails authentication.
    #[error(
        "the file's MAC does not match its values: the file was tampered with (a key added, removed or replaced); restore it from version control"
    )]
    MacMismatch,
    /// The key is not in the file.
    #[error("no key {key:?} in the secrets file (keys: {known})")]
    UnknownKey {
        /// The key asked for.
        key: String,
        /// The keys the file has, comma-separated.
        known: String,
    },
    /// A recipient is not an age X25519 public key.
    #[error("invalid age recipient {recipient:?}: {reason} (expected age1...)")]
    Recipient {
        /// The text given.
        recipient: String,
        /// Why it was refused.
        reason: String,
    },
    /// The recipient to remove is not one of the file's, or removing it leaves none.
    #[error("{0}")]
    Recipients(String),
    /// The identity file cannot be read or holds no X25519 identity.
    #[error("cannot use the age identity file {path}: {reason}")]
    Identity {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// age failed while wrapping or unwrapping the data key for another reason.
    #[error("age: {0}")]
    Age(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No temporary directory on tmpfs to edit in, so the plaintext would reach a disk.
    #[error(
        "no tmpfs directory to edit the plaintext in ({0}); mount a tmpfs and set MMCTL_SECRETS_TMPDIR to it, or use `mmctl secrets set`"
    )]
    NoTmpfs(String),
    /// The editor could not be started or exited with a failure; nothing is written.
    #[error("the editor {editor:?} failed: {reason}; nothing was written")]
    Editor {
        /// The editor command.
        editor: String,
        /// What happened.
        reason: String,
    },
}
