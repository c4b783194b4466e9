//! Which pages may differ from the chain's head, found without decrypting: each page's
//! *cipher tag* in the database file (the first 32 bytes of its reserved region: SQLCipher's
//! 16-byte IV, drawn at random whenever the page is encrypted, then the start of its HMAC)
//! compared with the tag the page index recorded, plus every page that has a frame in the WAL
//! file (frame headers are not encrypted). See docs/BACKUP.md, "How changed pages are found",
//! for why, inside one read transaction, a page outside the WAL whose tag is unchanged is the
//! head's page.
//!
//! Sources: <https://sqlite.org/fileformat2.html#walformat> (32-byte WAL header with the page
//! size at offset 8; per frame a 24-byte header whose first 4 bytes are the page number,
//! big-endian, then the page); SQLCipher 4's page layout (IV then HMAC in the reserved bytes).

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::BackupError;

/// Bytes of a cipher tag.
pub const TAG_LEN: usize = 32;

/// A page's cipher tag (see the module docs); all zeros means "not known".
pub type CipherTag = [u8; TAG_LEN];

/// The tag recorded for a page whose file image is not known to be the backed-up one.
pub(crate) const UNKNOWN: CipherTag = [0; TAG_LEN];

const WAL_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;
const WAL_MAGIC: [u32; 2] = [0x377f_0682, 0x377f_0683];
/// Bytes of the database file read at a time while collecting tags.
const SCAN_CHUNK: usize = 1 << 20;

/// The pages with a frame in the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WalPages {
    /// The page numbers of every complete frame in the file (current or left from an
    /// earlier generation: a superset of the snapshot's frames).
    Pages(BTreeSet<u64>),
    /// The file is there but is not a WAL of this page size: every page is a candidate.
    Unreadable,
}

impl WalPages {
    /// Whether page `pgno` may have a newer image in the WAL than in the database file.
    pub(crate) fn holds(&self, pgno: u64) -> bool {
        match self {
            WalPages::Pages(pages) => pages.contains(&pgno),
            WalPages::Unreadable => true,
        }
    }
}

/// The WAL file of database `db` (`<db>-wal`).
pub(crate) fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// Reads the page numbers of the frames of the WAL file `wal` whose pages are `page_size`
/// bytes. No file, or one shorter than its header, holds no frame.
///
/// # Errors
/// [`BackupError::Io`] when the file exists but cannot be read.
pub(crate) fn wal_pages(wal: &Path, page_size: u32) -> Result<WalPages, BackupError> {
    let context = || format!("read the WAL frame headers of {}", wal.display());
    let file = match File::open(wal) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(WalPages::Pages(BTreeSet::new()));
        }
        Err(e) => return Err(BackupError::io(context())(e)),
    };
    let len = file.metadata().map_err(BackupError::io(context()))?.len();
    if len < WAL_HEADER {
        return Ok(WalPages::Pages(BTreeSet::new()));
    }
    let mut header = [0u8; WAL_HEADER as usize];
    file.read_exact_at(&mut header, 0)
        .map_err(BackupError::io(context()))?;
    let word = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    if !WAL_MAGIC.contains(&word(0)) || word(8) != page_size {
        return Ok(WalPages::Unreadable);
    }
    let frame = FRAME_HEADER + u64::from(page_size);
    let frames = (len - WAL_HEADER) / frame;
    let mut pages = BTreeSet::new();
    let mut number = [0u8; 4];
    for i in 0..frames {
        file.read_exact_at(&mut number, WAL_HEADER + i * frame)
            .map_err(|e| BackupError::io(context())(e))?;
        pages.insert(u64::from(u32::from_be_bytes(number)));
    }
    Ok(WalPages::Pages(pages))
}

/// The cipher tags of pages 1..=`page_count` as the database file (`file`) holds them now;
/// [`UNKNOWN`] for a page the file does not hold whole, and for every page when the reserved
/// region (`reserve` bytes) is too small to hold a tag (no SQLCipher IV to compare).
///
/// # Errors
/// [`BackupError::Io`] on a read error.
pub(crate) fn cipher_tags(
    file: &File,
    page_size: u32,
    reserve: usize,
    page_count: u64,
) -> Result<Vec<CipherTag>, BackupError> {
    let count = usize::try_from(page_count).unwrap_or(usize::MAX);
    let size = page_size as usize;
    let mut tags = vec![UNKNOWN; count];
    if reserve < TAG_LEN || reserve > size || size == 0 {
        return Ok(tags);
    }
    let at = size - reserve;
    let per_read = (SCAN_CHUNK / size).max(1);
    let mut buf = vec![0u8; per_read * size];
    let mut first = 0usize;
    while first < count {
        let want = per_read.min(count - first);
        let offset = first as u64 * u64::from(page_size);
        let got = read_at_most(file, &mut buf[..want * size], offset)
            .map_err(BackupError::io("read the database file's cipher tags"))?;
        for (i, page) in buf[..got].chunks_exact(size).enumerate() {
            tags[first + i].copy_from_slice(&page[at..at + TAG_LEN]);
        }
        if got < want * size {
            break; // the file ends here: the remaining pages stay UNKNOWN
        }
        first += want;
    }
    Ok(tags)
}

/// Reads into `buf` from `offset` until it is full or the file ends; returns the bytes read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The tags to record for the snapshot: the file's tags, except [`UNKNOWN`] for pages with a
/// WAL frame (their file image may be older than the snapshot's page).
pub(crate) fn snapshot_tags(mut tags: Vec<CipherTag>, wal: &WalPages) -> Vec<CipherTag> {
    for (i, tag) in tags.iter_mut().enumerate() {
        if wal.holds(i as u64 + 1) {
            *tag = UNKNOWN;
        }
    }
    tags
}

/// The pages a delta must decrypt and compare, in increasing order: page 1 (it carries the
/// reserved-region size), every page whose recorded or current tag is [`UNKNOWN`] or differs,
/// and every page beyond the head's. `tags` are [`snapshot_tags`].
pub(crate) fn candidates(previous: &[CipherTag], tags: &[CipherTag]) -> Vec<u64> {
    (1..=tags.len() as u64)
        .filter(|&pgno| {
            let i = (pgno - 1) as usize;
            let now = tags[i];
            pgno == 1
                || now == UNKNOWN
                || previous
                    .get(i)
                    .is_none_or(|&before| before != now || before == UNKNOWN)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn wal(page_size: u32, frames: &[u32]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&WAL_MAGIC[0].to_be_bytes());
        bytes.extend_from_slice(&3_007_000u32.to_be_bytes());
        bytes.extend_from_slice(&page_size.to_be_bytes());
        bytes.resize(WAL_HEADER as usize, 7);
        for pgno in frames {
            bytes.extend_from_slice(&pgno.to_be_bytes());
            bytes.resize(
                bytes.len() + FRAME_HEADER as usize - 4 + page_size as usize,
                9,
            );
        }
        bytes
    }

    #[test]
    fn wal_frame_headers_name_their_pages_and_a_foreign_file_makes_every_page_a_candidate() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db-wal");
        assert_eq!(
            wal_pages(&path, 512).unwrap(),
            WalPages::Pages(BTreeSet::new())
        );
        let mut bytes = wal(512, &[3, 1, 3, 9]);
        bytes.extend_from_slice(&[1; 100]); // a frame being written: not complete, not read
        std::fs::write(&path, &bytes).unwrap();
        let pages = wal_pages(&path, 512).unwrap();
        assert_eq!(pages, WalPages::Pages([1, 3, 9].into()));
        assert!(pages.holds(9) && !pages.holds(2));
        assert_eq!(wal_pages(&path, 1024).unwrap(), WalPages::Unreadable);
        std::fs::write(&path, [0u8; 64]).unwrap();
        assert!(WalPages::Unreadable.holds(2));
        assert_eq!(wal_pages(&path, 512).unwrap(), WalPages::Unreadable);
    }

    #[test]
    fn tags_come_from_the_reserved_region_and_a_short_file_leaves_them_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        let mut file = File::create(&path).unwrap();
        for page in 1..=3u8 {
            let mut bytes = vec![0u8; 128];
            bytes[128 - 48..128 - 16].fill(page); // 48 reserved bytes: the tag is their first 32
            file.write_all(&bytes).unwrap();
        }
        let file = File::open(&path).unwrap();
        let tags = cipher_tags(&file, 128, 48, 4).unwrap();
        assert_eq!(tags, vec![[1; 32], [2; 32], [3; 32], UNKNOWN]);
        assert_eq!(cipher_tags(&file, 128, 16, 2).unwrap(), vec![UNKNOWN; 2]);
    }

    #[test]
    fn candidates_are_page_one_changed_unknown_wal_and_new_pages() {
        let previous = vec![[1; 32], [2; 32], [3; 32], UNKNOWN, [5; 32]];
        let now = vec![
            [1; 32], [2; 32], [9; 32], [4; 32], [5; 32], [6; 32], [7; 32],
        ];
        let wal = WalPages::Pages([2].into());
        let tags = snapshot_tags(now, &wal);
        assert_eq!(tags[1], UNKNOWN);
        // 1 always, 2 in the WAL, 3 changed, 4 unknown before, 6 and 7 new; 5 unchanged.
        assert_eq!(candidates(&previous, &tags), vec![1, 2, 3, 4, 6, 7]);
    }

    #[test]
    fn sqlcipher_keeps_wal_frame_headers_in_clear_and_a_fresh_iv_per_written_page() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("live.db");
        let key = mmkt_sqlcipher::DbKey::generate();
        let options = mmkt_sqlcipher::OpenOptions {
            access: mmkt_sqlcipher::Access::Create,
            busy_timeout: std::time::Duration::from_secs(5),
            page_size: None,
        };
        let conn = mmkt_sqlcipher::open(&path, &key, &options).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (x TEXT); INSERT INTO t VALUES (hex(randomblob(3000)));",
        )
        .unwrap();
        let count = |c: &rusqlite::Connection| -> u64 {
            c.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
                .unwrap() as u64
        };
        let pages = count(&conn);
        let WalPages::Pages(in_wal) = wal_pages(&wal_path(&path), 4096).unwrap() else {
            panic!("SQLCipher's WAL header is not readable in clear");
        };
        // Page 1 (the schema) and the new table's pages, all within the database.
        assert!(in_wal.contains(&1), "{in_wal:?}");
        assert!(
            in_wal.iter().all(|&p| (1..=pages).contains(&p)),
            "{in_wal:?} of {pages}"
        );
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let file = File::open(&path).unwrap();
        let before = cipher_tags(&file, 4096, 80, pages).unwrap();
        assert!(before.iter().all(|t| *t != UNKNOWN));
        // Rewriting page 1 only (same content for every table row) gives it a new IV; a
        // page nobody wrote keeps its tag.
        conn.execute_batch("CREATE TABLE u (y); PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        let after = cipher_tags(&file, 4096, 80, pages).unwrap();
        assert_ne!(after[0], before[0]);
        assert_eq!(after[pages as usize - 1], before[pages as usize - 1]);
    }
}
