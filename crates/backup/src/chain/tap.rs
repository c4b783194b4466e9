//! The page stream of a snapshot, seen page by page on its way to the compressor: hashed as a
//! whole (the manifest's `page_stream_sha256`), hashed per page with the index key, and
//! passed on either whole (a full backup) or as records of the pages whose hash changed (a
//! delta: page number as 4 bytes big-endian, then the page).
//!
//! Both hashes are taken over the *canonical* page: the page with the bytes that carry no
//! database content set to zero, because SQLCipher and SQLite rewrite them whenever a page is
//! written (so a rebuilt file differs there from its source): the reserved region at the end
//! of every page (its size is byte 20 of page 1; SQLCipher keeps each page's IV and HMAC
//! there, 80 bytes by default) and, on page 1, the file change counter (bytes 24-27) and the
//! version-valid-for number (bytes 92-95). Pages are stored and restored as they are read.

use std::io::Write;

use sha2::{Digest, Sha256};

use super::index::{IndexKey, PageHash};

/// What the tap passes on.
#[derive(Debug, Clone)]
pub(crate) enum Emit {
    /// Every page, concatenated: a plain SQLite database file.
    AllPages,
    /// Records of the pages whose keyed hash differs from these (or that are beyond them).
    ChangedSince(Vec<PageHash>),
}

/// What went through the tap.
#[derive(Debug, Clone)]
pub(crate) struct TapReport {
    /// Hex SHA-256 of the whole page stream.
    pub(crate) stream_sha256: String,
    /// The keyed hash of every page (empty without an index key).
    pub(crate) hashes: Vec<PageHash>,
    /// Pages passed on.
    pub(crate) emitted_pages: u64,
    /// Bytes passed on.
    pub(crate) emitted_bytes: u64,
}

/// A writer that receives the page stream and writes what [`Emit`] says into `out`.
pub(crate) struct PageTap<W> {
    out: W,
    page_size: usize,
    partial: Vec<u8>,
    pgno: u64,
    stream: Sha256,
    key: Option<IndexKey>,
    emit: Emit,
    hashes: Vec<PageHash>,
    emitted_pages: u64,
    emitted_bytes: u64,
    reserve: usize,
    canonical: Vec<u8>,
}

/// Bytes of page 1 that SQLite rewrites on every commit: the file change counter and the
/// version-valid-for number.
const PAGE1_COUNTERS: [std::ops::Range<usize>; 2] = [24..28, 92..96];

impl<W: Write> PageTap<W> {
    /// A tap for pages of `page_size` bytes; page hashes are computed when `key` is given
    /// (required by [`Emit::ChangedSince`]).
    pub(crate) fn new(out: W, page_size: u32, key: Option<IndexKey>, emit: Emit) -> Self {
        PageTap {
            out,
            page_size: page_size as usize,
            partial: Vec::with_capacity(page_size as usize),
            pgno: 0,
            stream: Sha256::new(),
            key,
            emit,
            hashes: Vec::new(),
            emitted_pages: 0,
            emitted_bytes: 0,
            reserve: 0,
            canonical: Vec::with_capacity(page_size as usize),
        }
    }

    /// The writer and the report; fails when the stream ended inside a page.
    pub(crate) fn finish(self) -> std::io::Result<(W, TapReport)> {
        if !self.partial.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the page stream ends inside a page",
            ));
        }
        let report = TapReport {
            stream_sha256: hex::encode(self.stream.finalize()),
            hashes: self.hashes,
            emitted_pages: self.emitted_pages,
            emitted_bytes: self.emitted_bytes,
        };
        Ok((self.out, report))
    }

    fn page(&mut self, page: &[u8]) -> std::io::Result<()> {
        self.pgno += 1;
        if self.pgno == 1 {
            self.reserve = page.get(20).map_or(0, |&r| usize::from(r));
        }
        self.canonical.clear();
        self.canonical.extend_from_slice(page);
        let content = page.len().saturating_sub(self.reserve);
        self.canonical[content..].fill(0);
        if self.pgno == 1 {
            for range in PAGE1_COUNTERS {
                if let Some(bytes) = self.canonical.get_mut(range) {
                    bytes.fill(0);
                }
            }
        }
        self.stream.update(&self.canonical);
        let hash = self
            .key
            .as_ref()
            .map(|k| k.page_hash(self.pgno, &self.canonical));
        if let Some(hash) = hash {
            self.hashes.push(hash);
        }
        let record = match &self.emit {
            Emit::AllPages => false,
            Emit::ChangedSince(previous) => {
                let before = usize::try_from(self.pgno - 1)
                    .ok()
                    .and_then(|i| previous.get(i));
                if before.is_some() && before == hash.as_ref() {
                    return Ok(());
                }
                true
            }
        };
        if record {
            let pgno = u32::try_from(self.pgno).map_err(|_| {
                std::io::Error::other("page number beyond 2^32: not a SQLite database")
            })?;
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
                self.page(&page)?;
                self.partial = page;
                self.partial.clear();
            }
        }
        while data.len() >= self.page_size {
            let (page, rest) = data.split_at(self.page_size);
            self.page(page)?;
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
    use mmkt_sqlcipher::DbKey;

    fn pages(n: u8) -> Vec<u8> {
        (1..=n).flat_map(|i| vec![i; 8]).collect()
    }

    #[test]
    fn a_full_tap_passes_everything_and_a_delta_only_changed_or_new_pages() {
        let key = IndexKey::derive(&DbKey::generate());
        let mut full = PageTap::new(Vec::new(), 8, Some(key.clone()), Emit::AllPages);
        // Odd write sizes: pages are cut at page boundaries whatever the writes are.
        for chunk in pages(3).chunks(5) {
            full.write_all(chunk).unwrap();
        }
        let (out, report) = full.finish().unwrap();
        assert_eq!(out, pages(3));
        assert_eq!(report.hashes.len(), 3);
        assert_eq!(report.emitted_pages, 3);

        let mut next = pages(4);
        next[8] = 99; // page 2 changed, page 4 is new
        let mut delta = PageTap::new(Vec::new(), 8, Some(key), Emit::ChangedSince(report.hashes));
        delta.write_all(&next).unwrap();
        let (out, report) = delta.finish().unwrap();
        let mut expected = 2u32.to_be_bytes().to_vec();
        expected.extend_from_slice(&next[8..16]);
        expected.extend_from_slice(&4u32.to_be_bytes());
        expected.extend_from_slice(&next[24..32]);
        assert_eq!(out, expected);
        assert_eq!(report.emitted_pages, 2);
        // 8-byte pages have no byte 20, so no reserved region: the hash is over every byte.
        assert_eq!(report.stream_sha256, hex::encode(Sha256::digest(&next)));
    }

    #[test]
    fn hashes_ignore_the_reserved_region_and_page_one_counters_but_nothing_else() {
        let key = IndexKey::derive(&DbKey::generate());
        let run = |stream: &[u8]| {
            let mut tap = PageTap::new(std::io::sink(), 128, Some(key.clone()), Emit::AllPages);
            tap.write_all(stream).unwrap();
            tap.finish().unwrap().1
        };
        let mut stream = vec![5u8; 256];
        stream[20] = 16; // 16 reserved bytes per page
        let base = run(&stream);
        let mut rewritten = stream.clone();
        rewritten[24] ^= 1; // change counter
        rewritten[93] ^= 1; // version-valid-for
        rewritten[127] ^= 1; // page 1's reserved region
        rewritten[250] ^= 1; // page 2's reserved region
        let same = run(&rewritten);
        assert_eq!(same.stream_sha256, base.stream_sha256);
        assert_eq!(same.hashes, base.hashes);
        let mut changed = stream.clone();
        changed[239] ^= 1; // the last content byte of page 2
        let other = run(&changed);
        assert_ne!(other.stream_sha256, base.stream_sha256);
        assert_eq!(other.hashes[0], base.hashes[0]);
        assert_ne!(other.hashes[1], base.hashes[1]);
    }

    #[test]
    fn a_stream_ending_inside_a_page_is_an_error() {
        let mut tap = PageTap::new(Vec::new(), 8, None, Emit::AllPages);
        tap.write_all(&[1; 12]).unwrap();
        assert!(tap.finish().is_err());
    }
}
