//! The JSON manifest written next to every backup file: what the backup holds and how to check it.
//!
//! A backup is complete only when its manifest exists and the data file it names has the
//! recorded size (and, on verify, the recorded SHA-256). The manifest is written after the
//! data file, atomically, so an interrupted backup never looks complete. Its bytes are signed
//! (see [`crate::signing`]) and never re-serialized once written.
//!
//! Every id is a [`BackupId`], checked against the id pattern when it is parsed (from a
//! manifest, an S3 listing or the command line), because ids become file names and S3 keys.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::pages::SnapshotInfo;

pub use super::backup_id::{BackupId, Selector, new_id};

/// Manifest format version written by this mmctl: 2 = signed (`signing_key` field and an
/// `<id>.manifest.sig` file); 1 = unsigned (refused by verify, restore and drill).
pub const FORMAT_VERSION: u32 = 2;

/// Suffix of database backup data files written before zstd: gzip'd page stream inside age
/// (manifests with `"compression": "gzip"` or none).
pub const DB_DATA_SUFFIX: &str = "db.gz.age";

/// Suffix of database backup data files: zstd'd page stream inside age (`age -d | zstd -d`).
pub const DB_ZSTD_DATA_SUFFIX: &str = "db.zst.age";

/// Suffix of database delta data files: zstd'd page records inside age (see [`crate::chain`]).
pub const DB_DELTA_SUFFIX: &str = "delta.zst.age";

/// Suffix of wallet backup data files: tar.gz inside age.
pub const WALLET_DATA_SUFFIX: &str = "tar.gz.age";

/// Suffix of onion-service key backup data files: tar.gz inside age, like wallets.
pub const TOR_DATA_SUFFIX: &str = "tar.gz.age";

/// What a backup contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// The server's SQLCipher database, as a gzip'd stream of decrypted pages.
    Db,
    /// One wallet-rpc's wallet directory, as a tar.gz.
    Wallets,
    /// The `tor` service's onion-service keys (`hostname` and the two key files), as a tar.gz.
    Tor,
}

impl BackupKind {
    /// The suffix of its data file name (`<id>.<suffix>`): [`DB_DATA_SUFFIX`],
    /// [`WALLET_DATA_SUFFIX`] or [`TOR_DATA_SUFFIX`].
    pub fn data_suffix(self) -> &'static str {
        match self {
            BackupKind::Db => DB_DATA_SUFFIX,
            BackupKind::Wallets => WALLET_DATA_SUFFIX,
            BackupKind::Tor => TOR_DATA_SUFFIX,
        }
    }
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

/// A series groups backups that retention treats together: "db", "wallets-buyer", ..., "tor".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Series {
    /// The kind of backup.
    pub kind: BackupKind,
    /// The wallet role, for wallet backups.
    pub role: Option<WalletRole>,
}

impl Series {
    /// The onion-service keys' series, `tor`.
    pub const TOR: Series = Series {
        kind: BackupKind::Tor,
        role: None,
    };

    /// The series a backup id can start with, in stack order: `db`, then `wallets-<role>`,
    /// then `tor`.
    pub fn with_ids() -> impl Iterator<Item = Series> {
        let db = Series {
            kind: BackupKind::Db,
            role: None,
        };
        let wallets = WalletRole::ALL.map(|role| Series {
            kind: BackupKind::Wallets,
            role: Some(role),
        });
        std::iter::once(db)
            .chain(wallets)
            .chain(std::iter::once(Series::TOR))
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.role) {
            (BackupKind::Db, _) => f.write_str("db"),
            (BackupKind::Wallets, Some(role)) => write!(f, "wallets-{role}"),
            (BackupKind::Wallets, None) => f.write_str("wallets"),
            (BackupKind::Tor, _) => f.write_str("tor"),
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
    /// Hex SHA-256 of the database's whole page stream (every page in order, `page_count` x
    /// `page_size` bytes) as of this backup: for a delta, after applying it to its parent.
    /// Absent in manifests written before chains existed, and in those written since the
    /// page list (`page_list_sha256`) replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_stream_sha256: Option<String>,
    /// Hex page-list SHA-256 of the database as of this backup (for a delta, after applying
    /// it): `SHA-256("mmkt page list v1" || page size u32 BE || page count u64 BE || every
    /// page's digest)`, a page's digest being the first 16 bytes of `SHA-256(page number u64
    /// BE || canonical page)` (docs/BACKUP.md, "Format"). Absent in older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_list_sha256: Option<String>,
    /// Bytes of the database as of this backup (`page_count` x `page_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_size: Option<u64>,
    /// Set for a delta: its place in a chain (see [`crate::chain`]); absent for a full backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainLink>,
}

/// Where a delta sits in its chain: a full backup (the base) and deltas, each holding the
/// pages that changed since its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// The backup this delta applies to (the base or an earlier delta).
    pub parent: BackupId,
    /// The full backup the chain starts from.
    pub base: BackupId,
    /// Position in the chain: 1 for the first delta after the base.
    pub depth: u32,
    /// Pages the delta holds (changed or new since the parent).
    pub changed_pages: u64,
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

/// Details of an onion-service key backup: the address the keys make, checked against the
/// public key when the backup was taken, so a restore can prove it brings the same address back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TorDetails {
    /// The v3 onion address (`<56 base32>.onion`), from `hostname`.
    pub onion_address: String,
    /// The files in the archive, by name (`hostname`, `hs_ed25519_public_key`,
    /// `hs_ed25519_secret_key`).
    pub files: Vec<String>,
}

/// The manifest: `<id>.json` next to `<id>.<ext>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Backup id: `<series>-<YYYYMMDDTHHMMSSZ>-<6 hex>`.
    pub id: BackupId,
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
    /// Compression inside the encryption: "zstd" (DB backups) or "gzip" (wallet and tor
    /// archives, DB backups of older versions); "gzip" when absent.
    #[serde(default = "default_compression")]
    pub compression: String,
    /// Bytes before compression (pages or tar stream).
    pub plain_size: u64,
    /// Bytes after compression, before age.
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
    /// Onion-service details (kind = tor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tor: Option<TorDetails>,
    /// The ed25519 public key (base64) whose signature is in `<id>.manifest.sig`, as the
    /// signer recorded it; informative only: trust comes from the verify keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
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
    pub fn file_name(id: &BackupId) -> String {
        format!("{id}.json")
    }

    /// The chain link of a delta; `None` for a full DB backup or a wallet backup.
    pub fn chain_link(&self) -> Option<&ChainLink> {
        self.db.as_ref().and_then(|d| d.chain.as_ref())
    }

    /// The data file name this manifest must name: a delta's `<id>.delta.zst.age`, a full DB
    /// backup's `<id>.db.zst.age` unless its compression is gzip (older versions), else
    /// [`Manifest::data_file_name`] (gzip'd DB backups, wallet and tor archives). An unknown
    /// compression keeps the zstd name, so verify can name the compression it does not read.
    pub fn expected_data_file(&self) -> String {
        match (self.chain_link(), self.kind, self.compression.as_str()) {
            (Some(_), _, _) => format!("{}.{DB_DELTA_SUFFIX}", self.id),
            (None, BackupKind::Db, compression) if compression != crate::sealed::GZIP => {
                Manifest::db_zstd_data_file_name(&self.id)
            }
            (None, kind, _) => Manifest::data_file_name(&self.id, kind),
        }
    }

    /// The data file name of a gzip'd backup: `<id>.db.gz.age` or `<id>.tar.gz.age`.
    pub fn data_file_name(id: &BackupId, kind: BackupKind) -> String {
        format!("{id}.{}", kind.data_suffix())
    }

    /// The data file name of a zstd full DB backup: `<id>.db.zst.age`.
    pub fn db_zstd_data_file_name(id: &BackupId) -> String {
        format!("{id}.{DB_ZSTD_DATA_SUFFIX}")
    }

    /// The manifest as written to disk and signed: pretty JSON, UTF-8.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("manifest serializes")
    }

    /// Parses a manifest and checks that it is self-consistent: a valid id whose series is
    /// the manifest's, a data file named `<id>.<suffix of its kind>`, and the details of its
    /// kind.
    ///
    /// # Errors
    /// A message saying what is malformed (the caller names the file).
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| format!("not a valid manifest: {e}"))?;
        if manifest.id.series() != manifest.series() {
            return Err(format!(
                "id {} does not belong to a {} backup",
                manifest.id,
                manifest.series()
            ));
        }
        if let Some(link) = manifest.chain_link()
            && (link.parent == manifest.id
                || link.depth == 0
                || link.parent.series() != manifest.series())
        {
            return Err(format!(
                "chain link of {} is malformed (parent {}, depth {})",
                manifest.id, link.parent, link.depth
            ));
        }
        let expected = manifest.expected_data_file();
        if manifest.data_file != expected {
            return Err(format!(
                "data file name {:?} is not {expected:?}",
                manifest.data_file
            ));
        }
        let present = (
            manifest.db.is_some(),
            manifest.wallets.is_some(),
            manifest.tor.is_some(),
        );
        let details_match = match manifest.kind {
            BackupKind::Db => present == (true, false, false),
            BackupKind::Wallets => present == (false, true, false),
            BackupKind::Tor => present == (false, false, true),
        };
        if !details_match {
            return Err(format!("the details do not match kind {:?}", manifest.kind));
        }
        Ok(manifest)
    }
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

/// What a manifest without a `compression` field used: gzip.
fn default_compression() -> String {
    crate::sealed::GZIP.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BackupError;

    #[test]
    fn ids_of_every_series_parse_and_name_their_series() {
        for (text, series) in [
            ("db-20261121T193000Z-a1b2c3", "db"),
            ("wallets-buyer-20261121T020000Z-0f1e2d", "wallets-buyer"),
            ("wallets-vendor-20260101T000000Z-000000", "wallets-vendor"),
            ("wallets-arbiter-20261231T235959Z-ffffff", "wallets-arbiter"),
            ("tor-20261201T120000Z-abcdef", "tor"),
        ] {
            let id = BackupId::parse(text).unwrap();
            assert_eq!(id.as_str(), text);
            assert_eq!(id.series().to_string(), series);
        }
        for series in Series::with_ids() {
            let id = new_id(series, OffsetDateTime::now_utc());
            assert_eq!(BackupId::parse(id.as_str()).unwrap(), id);
            assert_eq!(id.series(), series);
        }
    }

    #[test]
    fn anything_that_could_leave_the_directory_is_not_an_id() {
        for bad in [
            "",
            "../x",
            "/abs",
            "/etc/passwd",
            "db-20261121T193000Z-a1b2c3/../../x",
            "../db-20261121T193000Z-a1b2c3",
            "db-20261121T193000Z-a1b2c",
            "db-20261121T193000Z-a1b2c3d",
            "db-20261121T193000Z-A1B2C3",
            "db-20261121T193000-a1b2c3",
            "db-2026112xT193000Z-a1b2c3",
            "wallets-20261121T193000Z-a1b2c3",
            "wallets-root-20261121T193000Z-a1b2c3",
            "tor-buyer-20261121T193000Z-a1b2c3",
            "torx-20261121T193000Z-a1b2c3",
            "db-20261121T193000Z-a1b2c3\n",
            "db-20261121T193000Z-a1b2c\u{e9}",
            "db -20261121T193000Z-a1b2c3",
            "latest",
        ] {
            let err = BackupId::parse(bad).unwrap_err();
            assert!(
                matches!(err, BackupError::InvalidId { .. }),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(Selector::parse("latest").unwrap(), Selector::Latest);
        assert!(Selector::parse("../x").is_err());
    }

    #[test]
    fn a_manifest_with_a_bad_id_or_data_file_does_not_parse() {
        let good = serde_json::json!({
            "format_version": 2, "id": "db-20261121T193000Z-a1b2c3", "kind": "db",
            "created_at": "2026-11-21T19:30:00Z", "mmctl_version": "0", "source_host": "h",
            "data_file": "db-20261121T193000Z-a1b2c3.db.gz.age", "encryption": "age-x25519",
            "recipients": [], "compression": "gzip", "plain_size": 1, "compressed_size": 1,
            "encrypted_size": 1, "sha256": "00", "duration_seconds": 0.1,
            "db": {"source_path": "/d", "page_size": 4096, "page_count": 1, "schema_version": 1,
                   "row_counts": {}, "integrity_check": "ok"}
        });
        let parse = |v: &serde_json::Value| Manifest::from_json(&serde_json::to_vec(v).unwrap());
        parse(&good).unwrap();
        for (field, value) in [
            ("id", "../../etc/cron.d/x"),
            ("id", "wallets-buyer-20261121T193000Z-a1b2c3"),
            ("data_file", "../data/mmkt.db"),
            ("data_file", "db-20261121T193000Z-ffffff.db.gz.age"),
            ("kind", "wallets"),
            ("kind", "tor"),
        ] {
            let mut bad = good.clone();
            bad[field] = value.into();
            assert!(parse(&bad).is_err(), "{field} = {value:?}");
        }
        // A delta names its `.delta.zst.age` file and a parent other than itself.
        let mut delta = good.clone();
        delta["db"]["chain"] = serde_json::json!({"parent": "db-20261121T192900Z-000000",
            "base": "db-20261121T192900Z-000000", "depth": 1, "changed_pages": 0});
        assert!(
            parse(&delta).is_err(),
            "a delta with a full backup's file name"
        );
        delta["data_file"] = "db-20261121T193000Z-a1b2c3.delta.zst.age".into();
        assert!(parse(&delta).unwrap().chain_link().is_some());
        for (field, value) in [
            ("parent", serde_json::json!("db-20261121T193000Z-a1b2c3")),
            (
                "parent",
                serde_json::json!("wallets-buyer-20261121T192900Z-000000"),
            ),
            ("depth", serde_json::json!(0)),
        ] {
            let mut bad = delta.clone();
            bad["db"]["chain"][field] = value.clone();
            assert!(parse(&bad).is_err(), "chain.{field} = {value}");
        }
    }
}
