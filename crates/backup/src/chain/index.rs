//! The local page index of a chain: one keyed hash per page of the chain's newest backup, so
//! the next `backup db` finds the changed pages by comparing hashes instead of keeping or
//! re-reading the previous backup.
//!
//! File `<backup dir>/db.page-index` (mode 0600, written atomically, never uploaded):
//! `MMKTPIX1` | id length (1 byte) | head id | page size (u32 BE) | page count (u64 BE) |
//! page-stream SHA-256 (32 bytes) | `page count` x 16-byte page hashes | 32-byte MAC.
//!
//! Hashes and MAC are keyed with `SHA-256("mmkt-backup page index v1" || DB key as hex)`:
//! without the DB key the file tells nothing about page contents (not even whether a page
//! equals a guessed one), and a changed or truncated file fails its MAC and is ignored (the
//! next backup is then a full one).

use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::BackupError;
use crate::manifest::BackupId;
use crate::store::BackupDir;
use mmkt_sqlcipher::DbKey;

/// File name of the index in the backup directory.
pub const INDEX_FILE: &str = "db.page-index";

const MAGIC: &[u8; 8] = b"MMKTPIX1";

/// Bytes of one page hash (a truncated keyed SHA-256: 128 bits).
pub const PAGE_HASH_LEN: usize = 16;

/// One page's keyed hash.
pub type PageHash = [u8; PAGE_HASH_LEN];

/// The key of the page hashes and the index MAC, derived from the DB key.
#[derive(Clone)]
pub struct IndexKey([u8; 32]);

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey(redacted)")
    }
}

impl IndexKey {
    /// Derives the index key from the database key.
    pub fn derive(key: &DbKey) -> IndexKey {
        let mut hasher = Sha256::new();
        hasher.update(b"mmkt-backup page index v1");
        hasher.update(key.to_hex().as_bytes());
        IndexKey(hasher.finalize().into())
    }

    /// The keyed hash of page `pgno`: `SHA-256(key || pgno as u64 BE || page)`, truncated.
    pub fn page_hash(&self, pgno: u64, page: &[u8]) -> PageHash {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(pgno.to_be_bytes());
        hasher.update(page);
        let full: [u8; 32] = hasher.finalize().into();
        let mut out = [0u8; PAGE_HASH_LEN];
        out.copy_from_slice(&full[..PAGE_HASH_LEN]);
        out
    }

    fn mac(&self, body: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(b"mac");
        hasher.update(body);
        hasher.finalize().into()
    }
}

/// The page hashes of one backup (the chain's head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageIndex {
    /// The backup the hashes describe.
    pub head: BackupId,
    /// Page size in bytes.
    pub page_size: u32,
    /// Hex SHA-256 of its page stream (equal to the head manifest's `page_stream_sha256`).
    pub stream_sha256: String,
    /// One hash per page, page 1 first.
    pub hashes: Vec<PageHash>,
}

/// Path of the index in `dir`.
pub fn index_path(dir: &BackupDir) -> PathBuf {
    dir.path().join(INDEX_FILE)
}

impl PageIndex {
    /// Reads the index of `dir`; `None` when there is none or it is unusable (bad MAC,
    /// truncated, another format): the caller then makes a full backup.
    pub fn load(dir: &BackupDir, key: &IndexKey) -> Option<PageIndex> {
        let path = index_path(dir);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .ok()?;
        let parsed = Self::parse(&bytes, key);
        if parsed.is_none() {
            tracing::warn!(
                "ignoring the page index {}: it does not check out; the next backup is full",
                path.display()
            );
        }
        parsed
    }

    fn parse(bytes: &[u8], key: &IndexKey) -> Option<PageIndex> {
        let (body, mac) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if key.mac(body) != mac {
            return None;
        }
        let rest = body.strip_prefix(MAGIC.as_slice())?;
        let (&id_len, rest) = rest.split_first()?;
        let (id, rest) = rest.split_at_checked(usize::from(id_len))?;
        let head = BackupId::parse(std::str::from_utf8(id).ok()?).ok()?;
        let (size, rest) = rest.split_at_checked(4)?;
        let (count, rest) = rest.split_at_checked(8)?;
        let (sha, rest) = rest.split_at_checked(32)?;
        let count = usize::try_from(u64::from_be_bytes(count.try_into().ok()?)).ok()?;
        if rest.len() != count.checked_mul(PAGE_HASH_LEN)? {
            return None;
        }
        let hashes = rest
            .chunks_exact(PAGE_HASH_LEN)
            .map(|c| c.try_into().expect("chunk of PAGE_HASH_LEN"))
            .collect();
        Some(PageIndex {
            head,
            page_size: u32::from_be_bytes(size.try_into().ok()?),
            stream_sha256: hex::encode(sha),
            hashes,
        })
    }

    /// Writes the index atomically (temp file, fsync, rename).
    ///
    /// # Errors
    /// [`BackupError::Io`] on write failure; [`BackupError::Mismatch`] for a malformed hash.
    pub fn store(&self, dir: &BackupDir, key: &IndexKey) -> Result<PathBuf, BackupError> {
        let sha = hex::decode(&self.stream_sha256).map_err(|_| BackupError::Mismatch {
            id: self.head.to_string(),
            detail: "the page stream SHA-256 is not hex".into(),
        })?;
        let id = self.head.as_str().as_bytes();
        let mut body = Vec::with_capacity(64 + id.len() + self.hashes.len() * PAGE_HASH_LEN);
        body.extend_from_slice(MAGIC);
        body.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        body.extend_from_slice(id);
        body.extend_from_slice(&self.page_size.to_be_bytes());
        body.extend_from_slice(&(self.hashes.len() as u64).to_be_bytes());
        body.extend_from_slice(&sha);
        for hash in &self.hashes {
            body.extend_from_slice(hash);
        }
        let mac = key.mac(&body);
        body.extend_from_slice(&mac);
        dir.write_atomic(INDEX_FILE, &body)
    }
}

/// An exclusive lock on the chain of `dir` (`flock` on `db.page-index.lock`), held while a
/// chained backup runs so two runs never build on the same head at once. Released on drop
/// (also when the process dies).
#[derive(Debug)]
pub struct ChainLock {
    _file: std::fs::File,
}

impl ChainLock {
    /// Takes the lock without waiting.
    ///
    /// # Errors
    /// [`BackupError::ChainBusy`] when another `backup db` holds it, [`BackupError::Io`].
    pub fn acquire(dir: &BackupDir) -> Result<ChainLock, BackupError> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let path: PathBuf = dir.path().join(format!("{INDEX_FILE}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(BackupError::io(format!("open {}", path.display())))?;
        // SAFETY: flock on a file descriptor this function owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(BackupError::ChainBusy { lock: path });
        }
        Ok(ChainLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_round_trips_and_a_changed_byte_or_key_voids_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BackupDir::open(tmp.path()).unwrap();
        let key = IndexKey::derive(&DbKey::generate());
        let index = PageIndex {
            head: BackupId::parse("db-20261121T193000Z-a1b2c3").unwrap(),
            page_size: 4096,
            stream_sha256: "ab".repeat(32),
            hashes: vec![
                key.page_hash(1, &[0u8; 4096]),
                key.page_hash(2, &[1u8; 4096]),
            ],
        };
        let path = index.store(&dir, &key).unwrap();
        assert_eq!(PageIndex::load(&dir, &key), Some(index.clone()));
        assert_eq!(
            PageIndex::load(&dir, &IndexKey::derive(&DbKey::generate())),
            None
        );
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(PageIndex::load(&dir, &key), None);
        std::fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
        assert_eq!(PageIndex::load(&dir, &key), None);
    }

    #[test]
    fn page_hashes_depend_on_the_key_the_page_number_and_every_byte() {
        let key = IndexKey::derive(&DbKey::generate());
        let page = [7u8; 4096];
        let mut other = page;
        other[4095] = 8;
        assert_ne!(key.page_hash(1, &page), key.page_hash(2, &page));
        assert_ne!(key.page_hash(1, &page), key.page_hash(1, &other));
        let second = IndexKey::derive(&DbKey::generate());
        assert_ne!(key.page_hash(1, &page), second.page_hash(1, &page));
    }

    #[test]
    fn a_second_lock_on_the_same_chain_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BackupDir::open(tmp.path()).unwrap();
        let held = ChainLock::acquire(&dir).unwrap();
        assert!(matches!(
            ChainLock::acquire(&dir),
            Err(BackupError::ChainBusy { .. })
        ));
        drop(held);
        ChainLock::acquire(&dir).unwrap();
    }
}
