//! The SQLCipher file contract of mmkt, written once for the two programs that open the
//! marketplace database: the server (`mmkt-server`) and its backups (`mmkt-backup`).
//!
//! - [`key`]: the raw key ([`DbKey`], 256 bits, `Debug` redacted) and the key file rules:
//!   64 lowercase hex characters (surrounding whitespace such as the trailing newline ignored),
//!   mode 0600 or stricter, written whole (a fsynced temporary file hard-linked into place, so
//!   a reader never sees a partial key) and never overwritten.
//! - [`open`]: opening a file with its raw key and the pragmas both programs need, in order:
//!   `PRAGMA key` first (raw-key form, no KDF), `cipher_log_level = NONE`, the optional
//!   `cipher_page_size`, a read of `sqlite_master` that proves the key, `busy_timeout`, and
//!   `synchronous = FULL`.
//!
//! The crate knows files, keys and pragmas; it knows no table. Source: SQLCipher API
//! (<https://www.zetetic.net/sqlcipher/sqlcipher-api/>).

pub mod key;
pub mod open;

pub use key::{DbKey, KeyFileError, read_key_file, write_key_file};
pub use open::{Access, OpenError, OpenOptions, open};
