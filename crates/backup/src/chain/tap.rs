//! The pages of a snapshot, seen one by one on their way to the compressor: each page's
//! digest computed (the page index and the manifest's `page_list_sha256`), optionally the
//! whole-stream SHA-256 (the `page_stream_sha256` of manifests written before the page list
//! existed), and each page passed on either whole (a full backup: the pages in order) or as a
//! record (a delta: page number as 4 bytes big-endian, then the page) when its digest differs
//! from the parent's.
//!
//! Digests and hashes are taken over the *canonical* page: the page with the bytes that carry
//! no database content set to zero, because SQLCipher and SQLite rewrite them whenever a page
//! is written (so a rebuilt file differs there from its source): the reserved region at the
//! end of every page (its size is byte 20 of page 1; SQLCipher keeps each page's IV and HMAC
//! there, 80 bytes by default) and, on page 1, the file change counter (bytes 24-27) and the
//! version-valid-for number (bytes 92-95). Pages are stored and restored as they are read.
//!
//! - page digest: `SHA-256(page number as u64 BE || canonical page)`, first 16 bytes;
//! - page-list SHA-256: `SHA-256("mmkt page list v1" || page size as u32 BE || page count as
//!   u64 BE || every page's digest, page 1 first)`, computable from the parent's digests plus
//!   the changed pages, so a delta never reads its unchanged pages.

use std::io::Write;

use sha2::{Digest, Sha256};

use super::rows::Census;

/// Bytes of one page digest (a truncated SHA-256: 128 bits).
pub const DIGEST_LEN: usize = 16;

/// One page's digest (see the module docs).
pub type PageDigest = [u8; DIGEST_LEN];

/// The digest of page `pgno` whose canonical form is `canonical`.
pub(crate) fn page_digest(pgno: u64, canonical: &[u8]) -> PageDigest {
    let mut hasher = Sha256::new();
    hasher.update(pgno.to_be_bytes());
    hasher.update(canonical);
    let full: [u8; 32] = hasher.finalize().into();
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

/// Hex page-list SHA-256 of a database of `page_size`-byte pages with these digests.
pub(crate) fn list_sha256(page_size: u32, digests: &[PageDigest]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"mmkt page list v1");
    hasher.update(page_size.to_be_bytes());
    hasher.update((digests.len() as u64).to_be_bytes());
    for digest in digests {
        hasher.update(digest);
    }
    hex::encode(hasher.finalize())
}

/// What the tap passes on.
#[derive(Debug, Clone)]
pub(crate) enum Emit {
    /// Every page, concatenated: a plain SQLite database file.
    AllPages,
    /// Records of the pages given whose digest differs from the parent's (these, page 1
    /// first), or that are beyond them.
    ChangedSince(Vec<PageDigest>),
}

/// Whether the whole-stream SHA-256 is computed too (only to check older manifests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamHash {
    /// Page digests only.
    Skip,
    /// Also the SHA-256 of the canonical pages concatenated.
    Compute,
}

/// What went through the tap.
#[derive(Debug, Clone)]
pub(crate) struct TapReport {
    /// Hex page-list SHA-256 of the database the pages describe (see the module docs).
    pub(crate) list_sha256: String,
    /// Hex SHA-256 of the whole canonical page stream, when asked for.
    pub(crate) stream_sha256: Option<String>,
    /// Every page's digest, page 1 first.
    pub(crate) digests: Vec<PageDigest>,
    /// Pages passed on.
    pub(crate) emitted_pages: u64,
    /// Bytes passed on.
    pub(crate) emitted_bytes: u64,
}

/// A writer that receives pages (as a stream through [`Write`], or one by one with their
/// numbers through [`PageTap::page`]) and writes what [`Emit`] says into `out`.
pub(crate) struct PageTap<W> {
    out: W,
    page_size: usize,
    partial: Vec<u8>,
    last: u64,
    stream: Option<Sha256>,
    emit: Emit,
    digests: Vec<PageDigest>,
    emitted_pages: u64,
    emitted_bytes: u64,
    reserve: usize,
    canonical: Vec<u8>,
    census: Option<Census>,
}

/// Bytes of page 1 that SQLite rewrites on every commit: the file change counter and the
/// version-valid-for number.
const PAGE1_COUNTERS: [std::ops::Range<usize>; 2] = [24..28, 92..96];

fn invalid(detail: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, detail)
}

impl<W: Write> PageTap<W> {
    /// A tap for pages of `page_size` bytes.
    pub(crate) fn new(out: W, page_size: u32, emit: Emit, stream: StreamHash) -> Self {
        // The parent's digests become the new list, updated in place.
        let (emit, digests) = match emit {
            Emit::AllPages => (Emit::AllPages, Vec::new()),
            Emit::ChangedSince(previous) => (Emit::ChangedSince(Vec::new()), previous),
        };
        PageTap {
            out,
            page_size: page_size as usize,
            partial: Vec::with_capacity(page_size as usize),
            last: 0,
            stream: (stream == StreamHash::Compute).then(Sha256::new),
            emit,
            digests,
            emitted_pages: 0,
            emitted_bytes: 0,
            reserve: 0,
            canonical: Vec::with_capacity(page_size as usize),
            census: None,
        }
    }

    /// Also notes the b-tree shape of every page (for row counts without `count(*)`).
    pub(crate) fn count_rows(&mut self) {
        self.census = Some(Census::default());
    }

    /// The b-tree shapes noted since [`PageTap::count_rows`].
    pub(crate) fn take_census(&mut self) -> Option<Census> {
        self.census.take()
    }

    /// Bytes reserved at the end of every page (byte 20 of page 1; 0 before page 1 was seen).
    pub(crate) fn reserve(&self) -> usize {
        self.reserve
    }

    /// Pages seen so far (the parent's included for a delta).
    pub(crate) fn pages_seen(&self) -> u64 {
        self.digests.len() as u64
    }

    /// The writer and the report of a database of `page_count` pages; fails when the stream
    /// ended inside a page or a page of the database was never seen nor known from the parent.
    pub(crate) fn finish(mut self, page_count: u64) -> std::io::Result<(W, TapReport)> {
        if !self.partial.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the page stream ends inside a page",
            ));
        }
        let count = usize::try_from(page_count).map_err(|_| invalid("too many pages".into()))?;
        self.digests.truncate(count);
        if self.digests.len() != count {
            return Err(invalid(format!(
                "{} of the database's {page_count} pages went through the tap",
                self.digests.len()
            )));
        }
        let report = TapReport {
            list_sha256: list_sha256(self.page_size as u32, &self.digests),
            stream_sha256: self.stream.map(|s| hex::encode(s.finalize())),
            digests: self.digests,
            emitted_pages: self.emitted_pages,
            emitted_bytes: self.emitted_bytes,
        };
        Ok((self.out, report))
    }

    /// Takes page `pgno` (numbers strictly increasing, page 1 first; with
    /// [`Emit::AllPages`], every page in order).
    pub(crate) fn page(&mut self, pgno: u64, page: &[u8]) -> std::io::Result<()> {
        if page.len() != self.page_size || pgno <= self.last {
            return Err(invalid(format!(
                "page {pgno} ({} bytes) after page {}",
                page.len(),
                self.last
            )));
        }
        self.last = pgno;
        if let Some(census) = self.census.as_mut() {
            census.observe(pgno, page);
        }
        if pgno == 1 {
            self.reserve = page.get(20).map_or(0, |&r| usize::from(r));
        }
        self.canonical.clear();
        self.canonical.extend_from_slice(page);
        let content = page.len().saturating_sub(self.reserve);
        self.canonical[content..].fill(0);
        if pgno == 1 {
            for range in PAGE1_COUNTERS {
                if let Some(bytes) = self.canonical.get_mut(range) {
                    bytes.fill(0);
                }
            }
        }
        if let Some(stream) = self.stream.as_mut() {
            stream.update(&self.canonical);
        }
        let digest = page_digest(pgno, &self.canonical);
        let index = usize::try_from(pgno - 1).map_err(|_| invalid("too many pages".into()))?;
        let known = self.digests.len();
        match self.digests.get_mut(index) {
            Some(before) if *before == digest => return Ok(()),
            Some(before) => *before = digest,
            None if index == known => self.digests.push(digest),
            None => {
                return Err(invalid(format!(
                    "page {pgno} came before page {}",
                    known + 1
                )));
            }
        }
        if matches!(self.emit, Emit::ChangedSince(_)) {
            let pgno = u32::try_from(pgno)
                .map_err(|_| invalid("page number beyond 2^32: not a SQLite database".into()))?;
            self.out.write_all(&pgno.to_be_bytes())?;
            self.emitted_bytes += 4;
        }
        self.out.write_all(page)?;
        self.emitted_pages += 1;
        self.emitted_bytes += page.len() as u64;
        Ok(())
    }
}

impl<W: Write> Write for PageTap<W> {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let total = data.len();
        if !self.partial.is_empty() {
            let need = (self.page_size - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..need]);
            data = &data[need..];
            if self.partial.len() == self.page_size {
                let page = std::mem::take(&mut self.partial);
                self.page(self.last + 1, &page)?;
                self.partial = page;
                self.partial.clear();
            }
        }
        while data.len() >= self.page_size {
            let (page, rest) = data.split_at(self.page_size);
            self.page(self.last + 1, page)?;
            data = rest;
        }
        self.partial.extend_from_slice(data);
        Ok(total)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(n: u8) -> Vec<u8> {
        (1..=n).flat_map(|i| vec![i; 8]).collect()
    }

    fn full(stream: &[u8], page_size: u32) -> TapReport {
        let mut tap = PageTap::new(
            std::io::sink(),
            page_size,
            Emit::AllPages,
            StreamHash::Compute,
        );
        tap.write_all(stream).unwrap();
        let count = (stream.len() / page_size as usize) as u64;
        tap.finish(count).unwrap().1
    }

    #[test]
    fn a_full_tap_passes_everything_and_a_delta_only_changed_or_new_pages() {
        let mut tap = PageTap::new(Vec::new(), 8, Emit::AllPages, StreamHash::Skip);
        // Odd write sizes: pages are cut at page boundaries whatever the writes are.
        for chunk in pages(3).chunks(5) {
            tap.write_all(chunk).unwrap();
        }
        let (out, report) = tap.finish(3).unwrap();
        assert_eq!(out, pages(3));
        assert_eq!(report.digests.len(), 3);
        assert_eq!(report.emitted_pages, 3);
        assert_eq!(report.stream_sha256, None);

        let mut next = pages(4);
        next[8] = 99; // page 2 changed, page 4 is new
        // Candidates 1 (same content), 2 and 4; page 3 is known from the parent.
        let mut delta = PageTap::new(
            Vec::new(),
            8,
            Emit::ChangedSince(report.digests),
            StreamHash::Skip,
        );
        for pgno in [1u64, 2, 4] {
            let at = (pgno as usize - 1) * 8;
            delta.page(pgno, &next[at..at + 8]).unwrap();
        }
        let (out, report) = delta.finish(4).unwrap();
        let mut expected = 2u32.to_be_bytes().to_vec();
        expected.extend_from_slice(&next[8..16]);
        expected.extend_from_slice(&4u32.to_be_bytes());
        expected.extend_from_slice(&next[24..32]);
        assert_eq!(out, expected);
        assert_eq!(report.emitted_pages, 2);
        // The list hash derived from the parent plus the changed pages is that of the whole
        // new database; 8-byte pages have no byte 20, so the stream hash is over every byte.
        let whole = full(&next, 8);
        assert_eq!(report.list_sha256, whole.list_sha256);
        assert_eq!(
            whole.stream_sha256,
            Some(hex::encode(Sha256::digest(&next)))
        );
    }

    #[test]
    fn a_delta_that_misses_a_new_page_or_shrinks_is_caught_or_truncated() {
        let base = full(&pages(3), 8);
        let mut delta = PageTap::new(
            Vec::new(),
            8,
            Emit::ChangedSince(base.digests.clone()),
            StreamHash::Skip,
        );
        delta.page(1, &pages(1)).unwrap();
        // Page 5 without page 4: the parent knows only 3 pages.
        assert!(delta.page(5, &[5; 8]).is_err());
        let shrunk = PageTap::new(
            Vec::new(),
            8,
            Emit::ChangedSince(base.digests.clone()),
            StreamHash::Skip,
        );
        let (_, report) = shrunk.finish(2).unwrap();
        assert_eq!(report.list_sha256, full(&pages(2), 8).list_sha256);
        let grown = PageTap::new(
            Vec::new(),
            8,
            Emit::ChangedSince(base.digests),
            StreamHash::Skip,
        );
        assert!(grown.finish(4).is_err());
    }

    #[test]
    fn digests_ignore_the_reserved_region_and_page_one_counters_but_nothing_else() {
        let mut stream = vec![5u8; 256];
        stream[20] = 16; // 16 reserved bytes per page
        let base = full(&stream, 128);
        let mut rewritten = stream.clone();
        rewritten[24] ^= 1; // change counter
        rewritten[93] ^= 1; // version-valid-for
        rewritten[127] ^= 1; // page 1's reserved region
        rewritten[250] ^= 1; // page 2's reserved region
        let same = full(&rewritten, 128);
        assert_eq!(same.list_sha256, base.list_sha256);
        assert_eq!(same.stream_sha256, base.stream_sha256);
        assert_eq!(same.digests, base.digests);
        let mut changed = stream.clone();
        changed[239] ^= 1; // the last content byte of page 2
        let other = full(&changed, 128);
        assert_ne!(other.list_sha256, base.list_sha256);
        assert_eq!(other.digests[0], base.digests[0]);
        assert_ne!(other.digests[1], base.digests[1]);
    }

    #[test]
    fn a_stream_ending_inside_a_page_is_an_error() {
        let mut tap = PageTap::new(Vec::new(), 8, Emit::AllPages, StreamHash::Skip);
        tap.write_all(&[1; 12]).unwrap();
        assert!(tap.finish(1).is_err());
    }
}
