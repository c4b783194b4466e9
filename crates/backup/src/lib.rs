//! Backups of the server's SQLCipher database and the wallet-rpc wallet directories:
//! creation, listing, verification and the restore primitives.
//!
//! Data path: plaintext (pages or tar) -> gzip -> age (X25519 recipients) -> file, with SHA-256
//! computed on the way; a JSON [`manifest::Manifest`] is written last. See docs/BACKUP.md.

pub mod crypto;
pub mod db;
pub mod error;
pub mod keyfile;
pub mod manifest;
pub mod restore_db;
pub mod restore_wallet;
pub mod sqlcipher;
pub mod store;
pub mod verify;
pub mod wallet_rpc;
pub mod wallet_source;
pub mod wallet_stack;
pub mod wallets;

pub use error::BackupError;
