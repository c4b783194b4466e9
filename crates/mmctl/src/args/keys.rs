//! The key argument groups of backups: age recipients and identities, the manifest signing
//! key and the keys that verify it.

use std::path::{Path, PathBuf};

use clap::Args;
use mmkt_backup::crypto::{Identities, Recipients};
use mmkt_backup::ops::verify::VerifyKeys;
use mmkt_backup::signing::{SigningKey, TrustedKeys};

use crate::exit::UsageError;

/// age recipients (public keys) to encrypt to.
#[derive(Debug, Clone, Args)]
pub struct RecipientArgs {
    /// age X25519 recipient (age1...); repeat for several. Env: comma-separated.
    #[arg(
        long = "recipient",
        env = "MMKT_BACKUP_RECIPIENTS",
        value_delimiter = ','
    )]
    pub recipients: Vec<String>,
    /// File with one recipient per line (like `age -R`).
    #[arg(long = "recipients-file", env = "MMKT_BACKUP_RECIPIENTS_FILE")]
    pub recipients_files: Vec<PathBuf>,
}

impl RecipientArgs {
    /// Parses the recipients; a missing or malformed recipient is a usage error (exit 2).
    pub fn load(&self) -> Result<Recipients, UsageError> {
        Recipients::collect(&self.recipients, &self.recipients_files)
            .map_err(|e| UsageError(e.to_string()))
    }
}

/// The age identity (private key) file, needed only to verify and restore.
#[derive(Debug, Clone, Args)]
pub struct IdentityArgs {
    /// age identity file (from age-keygen); keep it off the backup host when possible.
    #[arg(long = "identity", env = "MMKT_BACKUP_IDENTITY_FILE")]
    pub identity: Option<PathBuf>,
}

impl IdentityArgs {
    /// The identity file, or a usage error (exit 2) when none is given.
    pub fn path(&self) -> Result<&Path, UsageError> {
        self.identity.as_deref().ok_or_else(|| {
            UsageError(
                "no age identity: pass --identity FILE or set MMKT_BACKUP_IDENTITY_FILE".into(),
            )
        })
    }
}

/// The key that signs the manifests of new backups (`mmctl backup keygen` makes one).
#[derive(Debug, Clone, Args)]
pub struct SigningKeyArgs {
    /// Ed25519 signing key file (mode 0600), kept off the backup store: every manifest is signed
    /// with it, and verify, restore and drill refuse backups without a trusted signature.
    #[arg(long = "signing-key", env = "MMKT_BACKUP_SIGNING_KEY_FILE")]
    pub signing_key: Option<PathBuf>,
}

impl SigningKeyArgs {
    /// Reads the signing key: a usage error (exit 2) when none is given or when it lies inside
    /// `backup_dir` (whoever can write the store must not hold the key); a bad file is exit 1.
    pub fn load(&self, backup_dir: &Path) -> anyhow::Result<SigningKey> {
        let path = self.signing_key.as_deref().ok_or_else(|| {
            UsageError(
                "no backup signing key: pass --signing-key FILE or set MMKT_BACKUP_SIGNING_KEY_FILE (make one with `mmctl backup keygen --out FILE`)".into(),
            )
        })?;
        let inside = |p: &Path| std::fs::canonicalize(p).ok();
        if let (Some(key), Some(dir)) = (inside(path), inside(backup_dir))
            && key.starts_with(&dir)
        {
            return Err(UsageError(format!(
                "the signing key {} is inside the backup directory {}; keep it off the backup store",
                path.display(),
                backup_dir.display()
            ))
            .into());
        }
        Ok(SigningKey::from_file(path)?)
    }
}

/// The public keys trusted to have signed backups.
#[derive(Debug, Clone, Args)]
pub struct VerifyKeyArgs {
    /// Trusted Ed25519 public key (base64, as `mmctl backup keygen` prints it) or a file of
    /// them, one per line; repeat for several. Env: comma-separated.
    #[arg(long = "verify-key", value_delimiter = ',')]
    #[arg(env = "MMKT_BACKUP_VERIFY_KEYS")]
    pub verify_keys: Vec<String>,
}

impl VerifyKeyArgs {
    /// The trusted keys; none or a malformed one is a usage error (exit 2).
    pub fn load(&self) -> Result<TrustedKeys, UsageError> {
        TrustedKeys::collect(&self.verify_keys).map_err(|e| UsageError(e.to_string()))
    }
}

/// The keys verify, restore and drill read backups with (flattened into their arguments).
#[derive(Debug, Clone, Args)]
pub struct ReadKeyArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub verify: VerifyKeyArgs,
}

impl ReadKeyArgs {
    /// Loads both (trusted keys first: a missing one is a usage error before any file is read).
    pub fn load(&self) -> anyhow::Result<ReadKeys> {
        let trusted = self.verify.load()?;
        let identities = Identities::from_file(self.identity.path()?)?;
        Ok(ReadKeys {
            identities,
            trusted,
        })
    }
}

/// What verify, restore and drill read a backup with: the age identity and the trusted keys.
pub struct ReadKeys {
    /// Decrypts the data files.
    pub identities: Identities,
    /// Verify the manifests' signatures.
    pub trusted: TrustedKeys,
}

impl ReadKeys {
    /// The pair as the library takes it.
    pub fn verify_keys(&self) -> VerifyKeys<'_> {
        VerifyKeys {
            identities: &self.identities,
            trusted: &self.trusted,
        }
    }
}
