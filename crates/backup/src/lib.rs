//! Backups of the server's SQLCipher database and the wallet-rpc wallet directories:
//! creation, listing, verification, restores, drills, retention and offsite copies.
//!
//! Data path: plaintext (pages or tar) -> gzip -> age (X25519 recipients) -> file, with SHA-256
//! computed on the way; the JSON [`manifest::Manifest`] is signed with an Ed25519 key kept off
//! the backup store ([`signing`]) and written last. Verify, restore and drill use only backups
//! whose signature verifies with a trusted key. See docs/BACKUP.md.
//!
//! - [`ops`]: the operations behind `mmctl backup|restore|drill`: each takes a plain request
//!   struct, reports progress through [`progress::Progress`] and returns a typed report.
//! - The building blocks: [`db`] (page-stream DB backups), [`chain`] (incremental DB backups:
//!   a full base and page deltas), [`wallets`] (wallet archives),
//!   [`pages`] (SQLCipher page access), [`crypto`] (age), [`signing`] (manifest signatures,
//!   [`signing::AuthenticBackup`]), [`manifest`] (with the checked [`manifest::BackupId`]), [`store`] (the local
//!   directory), [`verify`], [`restore_db`] and [`restore_wallet`] (restore primitives),
//!   [`wallet_source`], [`escrow_wallets`] (each escrow wallet's password and record, read
//!   from a database snapshot), [`wallet_stack`] (containers through `mmkt_stack`) and [`wallet_rpc`];
//!   [`retention`], [`s3`] (offsite), [`systemd`] (unit generation); [`live_db`] (the live
//!   database's schema version and the escrow events a restore would forget, for deploys);
//!   [`pre_restore`] (the copies `restore db` keeps of the replaced database, and their retention);
//!   [`freshness`] (each mmctl job's last run and last success as textfile-collector metrics);
//!   [`tor_keys`] (the `tor` service's onion-service keys, sealed and read back checked).
//!
//! The key file and keyed open are the shared contract of `mmkt_sqlcipher`. The async
//! operations run blocking work with `tokio::task::block_in_place`: call them from a
//! multi-threaded tokio runtime.

pub mod backup_id;
pub mod chain;
pub mod crypto;
pub mod db;
pub mod error;
pub mod escrow_wallets;
pub mod freshness;
pub mod live_db;
pub mod manifest;
pub mod ops;
mod page_pipe;
pub mod pages;
pub mod pre_restore;
pub mod progress;
pub mod restore_db;
pub mod restore_wallet;
pub mod retention;
pub mod s3;
mod sealed;
pub mod settings;
pub mod signing;
pub mod store;
pub mod systemd;
pub mod tor_keys;
pub mod verify;
pub mod wallet_rpc;
pub mod wallet_source;
pub mod wallet_stack;
pub mod wallets;
mod writeback;

pub use error::BackupError;
