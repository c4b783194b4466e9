//! A backup data file that starts its own writeback as it grows: every [`WRITEBACK_STEP`]
//! bytes written, `sync_file_range(2)` with `SYNC_FILE_RANGE_WRITE` asks the kernel to begin
//! writing that range to the disk without waiting for it. The fsync that ends the backup then
//! waits for the last few MiB instead of the whole file (a 200 MiB full backup's fsync took
//! 0.37 s of wall time on a 2-core VM when the kernel got it all at the end).
//!
//! The hint changes no data and no durability: the caller's fsync is still what makes the file
//! durable, so a failed hint (a file system without support) is ignored.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;

/// Bytes written between two writeback hints (8 MiB).
pub(crate) const WRITEBACK_STEP: u64 = 8 << 20;

/// A [`File`] being written from its start, with writeback started every [`WRITEBACK_STEP`]
/// bytes (see the module docs).
#[derive(Debug)]
pub(crate) struct WritebackFile {
    file: File,
    written: u64,
    hinted: u64,
}

impl WritebackFile {
    /// Wraps `file`, empty and positioned at its start.
    pub(crate) fn new(file: File) -> Self {
        WritebackFile {
            file,
            written: 0,
            hinted: 0,
        }
    }

    /// The file, for its fsync and rename.
    pub(crate) fn into_file(self) -> File {
        self.file
    }

    fn hint(&mut self) {
        let len = self.written - self.hinted;
        let (Ok(offset), Ok(nbytes)) = (i64::try_from(self.hinted), i64::try_from(len)) else {
            return;
        };
        // SAFETY: plain syscall on a descriptor this struct owns; no memory is passed.
        let _ = unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                offset,
                nbytes,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        self.hinted = self.written;
    }
}

impl Write for WritebackFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(data)?;
        self.written += n as u64;
        if self.written - self.hinted >= WRITEBACK_STEP {
            self.hint();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_byte_in_order_across_hints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let mut out = WritebackFile::new(File::create(&path).unwrap());
        let block: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        for _ in 0..20 {
            out.write_all(&block).unwrap();
        }
        assert_eq!(out.hinted, 16 << 20, "two hints for 20 MiB");
        out.into_file().sync_all().unwrap();
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back.len(), 20 << 20);
        assert!(back.chunks(1 << 20).all(|c| c == block.as_slice()));
    }
}
