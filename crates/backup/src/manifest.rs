//! The JSON manifest written next to every backup file: what the backup holds and how to check it.
//!
//! A backup is complete only when its manifest exists and the data file it names has the
//! recorded size (and, on verify, the recorded SHA-256). The manifest is written after the
//! data file, atomically, so an interrupted backup never looks complete.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::pages::SnapshotInfo;

/// Manifest format version written by this mmctl.
pub const FORMAT_VERSION: u32 = 1;

/// What a backup contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// The server's SQLCipher database, as a gzip'd stream of decrypted pages.
    Db,
    /// One wallet-rpc's wallet directory, as a tar.gz.
    Wallets,
}

/// The three wallet-rpc roles of the stack (compose services `wallet-rpc-<role>`, volumes `wallets-<role>`).
///
/// Parsed from its lowercase name with [`FromStr`] (the CLI builds its argument parser on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WalletRole {
    /// The buyer-side wallet-rpc.
    Buyer,
    /// The vendor-side wallet-rpc.
    Vendor,
    /// The arbiter wallet-rpc.
    Arbiter,
}

impl WalletRole {
    /// All roles, in stack order.
    pub const ALL: [WalletRole; 3] = [WalletRole::Buyer, WalletRole::Vendor, WalletRole::Arbiter];

    /// Lowercase name: "buyer", "vendor", "arbiter".
    pub fn as_str(self) -> &'static str {
        match self {
            WalletRole::Buyer => "buyer",
            WalletRole::Vendor => "vendor",
            WalletRole::Arbiter => "arbiter",
        }
    }
}

impl fmt::Display for WalletRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WalletRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WalletRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown wallet role {s:?}: expected buyer, vendor or arbiter"))
    }
}

/// A series groups backups that retention treats together: "db", "wallets-buyer", ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Series {
    /// The kind of backup.
    pub kind: BackupKind,
    /// The wallet role, for wallet backups.
    pub role: Option<WalletRole>,
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.role) {
            (BackupKind::Db, _) => f.write_str("db"),
            (BackupKind::Wallets, Some(role)) => write!(f, "wallets-{role}"),
            (BackupKind::Wallets, None) => f.write_str("wallets"),
        }
    }
}

/// Details of a database backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbDetails {
    /// Path of the live database the backup was taken from.
    pub source_path: String,
    /// Snapshot facts read inside the backup's read transaction (schema version = `PRAGMA user_version`).
    #[serde(flatten)]
    pub snapshot: SnapshotInfo,
}

/// One wallet found in a wallet directory backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletEntry {
    /// Wallet file name (the keys file is `<name>.keys`).
    pub name: String,
    /// Primary address, as reported by wallet-rpc `get_address` (account 0) or the wallet's
    /// `<name>.address.txt`; `None` when neither was available.
    pub address: Option<String>,
    /// Where the address came from: "wallet-rpc" or "address.txt".
    pub address_source: Option<String>,
}

/// How a wallet directory was made consistent before it was archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    /// The wallet-rpc container was stopped (monero-wallet-rpc stores its wallet on SIGTERM)
    /// for the duration of the archive, then started again.
    ContainerStopped,
    /// The wallet-rpc was asked to `store` the open wallet just before archiving.
    RpcStore,
    /// The directory was archived as it was (no wallet-rpc was known to be using it).
    Quiescent,
}

/// Details of a wallet directory backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletDetails {
    /// Which wallet-rpc's directory this is.
    pub role: WalletRole,
    /// How consistency was obtained.
    pub consistency: Consistency,
    /// The wallets in the archive, with their addresses.
    pub wallets: Vec<WalletEntry>,
    /// Number of regular files in the archive.
    pub file_count: u64,
}

/// The manifest: `<id>.json` next to `<id>.<ext>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Backup id: `<series>-<YYYYMMDDTHHMMSSZ>-<6 hex>`.
    pub id: String,
    /// What the backup contains.
    pub kind: BackupKind,
    /// When the snapshot was taken (UTC, RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Version of the mmctl that wrote it.
    pub mmctl_version: String,
    /// Host name of the machine that made it.
    pub source_host: String,
    /// File name of the encrypted data file, in the same directory / S3 prefix.
    pub data_file: String,
    /// Encryption: always "age-x25519".
    pub encryption: String,
    /// The age recipients (public keys) it is encrypted to.
    pub recipients: Vec<String>,
    /// Compression inside the encryption: always "gzip".
    pub compression: String,
    /// Bytes before compression (pages or tar stream).
    pub plain_size: u64,
    /// Bytes after gzip, before age.
    pub compressed_size: u64,
    /// Bytes of the encrypted data file.
    pub encrypted_size: u64,
    /// Hex SHA-256 of the encrypted data file.
    pub sha256: String,
    /// Seconds the backup took.
    pub duration_seconds: f64,
    /// Database details (kind = db).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<DbDetails>,
    /// Wallet details (kind = wallets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallets: Option<WalletDetails>,
}

impl Manifest {
    /// The retention series of this backup.
    pub fn series(&self) -> Series {
        Series {
            kind: self.kind,
            role: self.wallets.as_ref().map(|w| w.role),
        }
    }

    /// Oldest first, ties broken by id: the order of every listing.
    pub fn chronological(&self, other: &Manifest) -> std::cmp::Ordering {
        self.created_at
            .cmp(&other.created_at)
            .then_with(|| self.id.cmp(&other.id))
    }

    /// The manifest file name for a backup id.
    pub fn file_name(id: &str) -> String {
        format!("{id}.json")
    }
}

/// Makes a new backup id for a series at `now`: `db-20261121T193000Z-a1b2c3`.
pub fn new_id(series: Series, now: OffsetDateTime) -> String {
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let suffix: [u8; 3] = rand::random();
    format!("{series}-{stamp}-{}", hex::encode(suffix))
}

/// Summary of row counts to compare a restored DB with its manifest.
///
/// # Errors
/// A message naming the first table whose count differs.
pub fn compare_row_counts(
    expected: &BTreeMap<String, u64>,
    actual: &BTreeMap<String, u64>,
) -> Result<(), String> {
    for (table, n) in expected {
        match actual.get(table) {
            Some(m) if m == n => {}
            Some(m) => {
                return Err(format!(
                    "table {table} has {m} rows, the backup recorded {n}"
                ));
            }
            None => return Err(format!("table {table} is missing")),
        }
    }
    Ok(())
}
