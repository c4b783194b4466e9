//! The local page index of a chain: for every page of the chain's newest backup (its head), the
//! page's *cipher tag* (where the live file's ciphertext of that page was seen) and its
//! *digest* (what its plaintext was), so the next `backup db` finds the changed pages from the
//! ciphertext ([`super::scan`]), decrypts only those, and derives the head's page-list hash
//! without re-reading the previous backup or the unchanged pages.
//!
//! File `<backup dir>/db.page-index` (mode 0600, written atomically, never uploaded):
//! `MMKTPIX2` | id length (1 byte) | head id | page size (u32 BE) | page count (u64 BE) |
//! page-list SHA-256 (32 bytes) | nonce (12 bytes) | `page count` x 32-byte cipher tags |
//! `page count` x 16-byte page digests, ChaCha20-encrypted | 32-byte MAC.
//!
//! With `K = SHA-256("mmkt-backup page index v1" || DB key as hex)`: the digests are encrypted
//! under `SHA-256(K || "digests")` with a fresh random nonce per write, and the MAC is
//! `SHA-256(K || "mac" || everything before)`. Without the DB key the file tells nothing about
//! page contents (not even whether a page equals a guessed one: the cipher tags are copies of
//! bytes of the database file itself), and a changed or truncated file fails its MAC and is
//! ignored (the next backup is then a full one). An index of the first format (`MMKTPIX1`,
//! keyed page hashes only) is ignored the same way.

use std::io::Read;
use std::path::PathBuf;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use sha2::{Digest, Sha256};

use super::scan::{CipherTag, TAG_LEN};
use super::tap::{DIGEST_LEN, PageDigest};
use crate::error::BackupError;
use crate::manifest::BackupId;
use crate::store::BackupDir;
use mmkt_sqlcipher::DbKey;

/// File name of the index in the backup directory.
pub const INDEX_FILE: &str = "db.page-index";

const MAGIC: &[u8; 8] = b"MMKTPIX2";
/// The first format's magic: keyed page hashes, no cipher tags (read as "no index").
const MAGIC_V1: &[u8; 8] = b"MMKTPIX1";
const NONCE_LEN: usize = 12;

/// The key of the index's MAC and digest encryption, derived from the DB key.
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

    fn sub(&self, label: &[u8]) -> Sha256 {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(label);
        hasher
    }

    fn mac(&self, body: &[u8]) -> [u8; 32] {
        let mut hasher = self.sub(b"mac");
        hasher.update(body);
        hasher.finalize().into()
    }

    /// Encrypts or decrypts (the same operation) the digest bytes under `nonce`.
    fn apply_keystream(&self, nonce: &[u8; NONCE_LEN], digests: &mut [u8]) {
        let key: [u8; 32] = self.sub(b"digests").finalize().into();
        ChaCha20::new(&key.into(), nonce.into()).apply_keystream(digests);
    }
}

/// What the index knows of the chain's head, page by page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageIndex {
    /// The backup the entries describe.
    pub head: BackupId,
    /// Page size in bytes.
    pub page_size: u32,
    /// Hex page-list SHA-256 of the head (equal to its manifest's `page_list_sha256`).
    pub list_sha256: String,
    /// Per page (page 1 first), the cipher tag last seen in the database file; all zeros
    /// means "not known" (the page is then decrypted and compared next time).
    pub tags: Vec<CipherTag>,
    /// Per page (page 1 first), the digest of the head's plaintext page.
    pub digests: Vec<PageDigest>,
}

/// Path of the index in `dir`.
pub fn index_path(dir: &BackupDir) -> PathBuf {
    dir.path().join(INDEX_FILE)
}

impl PageIndex {
    /// Reads the index of `dir`; `None` when there is none or it is unusable (bad MAC,
    /// truncated, the first format): the caller then makes a full backup.
    pub fn load(dir: &BackupDir, key: &IndexKey) -> Option<PageIndex> {
        let path = index_path(dir);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .ok()?;
        if bytes.starts_with(MAGIC_V1) {
            tracing::warn!(
                "the page index {} has the first format (no cipher tags); the next backup is full",
                path.display()
            );
            return None;
        }
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
        let (nonce, rest) = rest.split_at_checked(NONCE_LEN)?;
        let count = usize::try_from(u64::from_be_bytes(count.try_into().ok()?)).ok()?;
        let (tags, digests) = rest.split_at_checked(count.checked_mul(TAG_LEN)?)?;
        if digests.len() != count.checked_mul(DIGEST_LEN)? {
            return None;
        }
        let mut digests = digests.to_vec();
        key.apply_keystream(nonce.try_into().ok()?, &mut digests);
        Some(PageIndex {
            head,
            page_size: u32::from_be_bytes(size.try_into().ok()?),
            list_sha256: hex::encode(sha),
            tags: chunks(tags),
            digests: chunks(&digests),
        })
    }

    /// Writes the index atomically (temp file, fsync, rename), its digests encrypted under a
    /// fresh nonce.
    ///
    /// # Errors
    /// [`BackupError::Io`] on write failure; [`BackupError::Mismatch`] for a malformed hash or
    /// as many tags as digests.
    pub fn store(&self, dir: &BackupDir, key: &IndexKey) -> Result<PathBuf, BackupError> {
        let bad = |detail: &str| BackupError::Mismatch {
            id: self.head.to_string(),
            detail: detail.into(),
        };
        let sha = hex::decode(&self.list_sha256)
            .ok()
            .filter(|s| s.len() == 32)
            .ok_or_else(|| bad("the page-list SHA-256 is not 32 bytes of hex"))?;
        if self.tags.len() != self.digests.len() {
            return Err(bad("the index has not one cipher tag per page digest"));
        }
        let id = self.head.as_str().as_bytes();
        let count = self.digests.len();
        let mut body = Vec::with_capacity(96 + id.len() + count * (TAG_LEN + DIGEST_LEN));
        body.extend_from_slice(MAGIC);
        body.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        body.extend_from_slice(id);
        body.extend_from_slice(&self.page_size.to_be_bytes());
        body.extend_from_slice(&(count as u64).to_be_bytes());
        body.extend_from_slice(&sha);
        let nonce: [u8; NONCE_LEN] = rand::random();
        body.extend_from_slice(&nonce);
        for tag in &self.tags {
            body.extend_from_slice(tag);
        }
        let digests_at = body.len();
        for digest in &self.digests {
            body.extend_from_slice(digest);
        }
        key.apply_keystream(&nonce, &mut body[digests_at..]);
        let mac = key.mac(&body);
        body.extend_from_slice(&mac);
        dir.write_atomic(INDEX_FILE, &body)
    }
}

/// Splits `bytes` into fixed-size arrays (the caller checked the length).
fn chunks<const N: usize>(bytes: &[u8]) -> Vec<[u8; N]> {
    bytes
        .chunks_exact(N)
        .map(|c| c.try_into().expect("chunk of N bytes"))
        .collect()
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

    fn index() -> PageIndex {
        PageIndex {
            head: BackupId::parse("db-20261121T193000Z-a1b2c3").unwrap(),
            page_size: 4096,
            list_sha256: "ab".repeat(32),
            tags: vec![[1u8; TAG_LEN], [0u8; TAG_LEN]],
            digests: vec![[7u8; DIGEST_LEN], [9u8; DIGEST_LEN]],
        }
    }

    #[test]
    fn an_index_round_trips_and_a_changed_byte_or_key_voids_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BackupDir::open(tmp.path()).unwrap();
        let key = IndexKey::derive(&DbKey::generate());
        let index = index();
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
    fn the_digests_are_encrypted_under_a_fresh_nonce_each_write() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BackupDir::open(tmp.path()).unwrap();
        let key = IndexKey::derive(&DbKey::generate());
        let first = std::fs::read(index().store(&dir, &key).unwrap()).unwrap();
        let second = std::fs::read(index().store(&dir, &key).unwrap()).unwrap();
        let digests = |b: &[u8]| b[b.len() - 32 - 2 * DIGEST_LEN..b.len() - 32].to_vec();
        assert_ne!(digests(&first), digests(&second));
        let plain: Vec<u8> = [[7u8; DIGEST_LEN], [9u8; DIGEST_LEN]].concat();
        assert_ne!(digests(&first), plain);
        // The tags are stored as they are (copies of database-file bytes).
        assert!(first.windows(TAG_LEN).any(|w| w == [1u8; TAG_LEN]));
    }

    #[test]
    fn an_index_of_the_first_format_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BackupDir::open(tmp.path()).unwrap();
        let key = IndexKey::derive(&DbKey::generate());
        let mut body = MAGIC_V1.to_vec();
        body.extend_from_slice(&[0u8; 64]);
        let mac = key.mac(&body);
        body.extend_from_slice(&mac);
        dir.write_atomic(INDEX_FILE, &body).unwrap();
        assert_eq!(PageIndex::load(&dir, &key), None);
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
