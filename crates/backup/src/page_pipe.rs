//! The two threads of a DB backup's page stream: the reading thread (SQLCipher decrypting pages
//! inside its read transaction) writes page bytes into a [`PagePipe`], which batches them into
//! chunks for the writer thread: zstd -> age -> SHA-256 -> file. For a full backup the writer
//! thread also runs the page tap (page digests and the b-tree census, [`crate::chain::tap`]),
//! so the reading thread, the slower of the two on a 2-core machine, only reads and decrypts.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::chain::rows::Census;
use crate::chain::tap::{Emit, PageTap, StreamHash, TapReport};
use crate::crypto::Recipients;
use crate::error::BackupError;
use crate::sealed::{self, Codec, Sealed};

/// Page bytes per message from the reading thread to the writer thread.
const CHUNK: usize = 256 * 1024;
/// Messages in flight between the two threads (bounds memory to ~2 MiB).
const CHANNEL_DEPTH: usize = 8;

/// What the writer thread does with the page bytes before sealing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriterTap {
    /// Nothing: they are sealed as they come (a delta's records, chosen by the reading
    /// thread's own tap).
    Off,
    /// Every page of a full backup, `page_size` bytes each and in order, goes through a page
    /// tap first.
    AllPages {
        /// The database's page size in bytes.
        page_size: u32,
    },
}

/// What the writer thread's tap saw once the stream ended, sent back to the reading thread
/// while it still holds its read transaction (the row counts and the cipher tags need both).
#[derive(Debug, Default)]
pub(crate) struct StreamEnd {
    /// The b-tree shapes of every page.
    pub(crate) census: Census,
    /// Bytes reserved at the end of every page (byte 20 of page 1).
    pub(crate) reserve: usize,
}

/// What the writer thread produced.
pub(crate) struct Written {
    /// The sealed temp file, its sizes and SHA-256.
    pub(crate) sealed: Sealed,
    /// The tap's report ([`WriterTap::AllPages`] only).
    pub(crate) report: Option<TapReport>,
}

/// The reading side of the pipe: a [`Write`] of page bytes.
pub(crate) struct PagePipe {
    tx: Option<SyncSender<Vec<u8>>>,
    buf: Vec<u8>,
    ended: Option<Receiver<StreamEnd>>,
    writer: JoinHandle<Result<Written, BackupError>>,
}

impl PagePipe {
    /// Starts the writer thread sealing into `file` for `recipients` with `codec`.
    pub(crate) fn spawn(
        file: std::fs::File,
        recipients: Recipients,
        codec: Codec,
        tap: WriterTap,
    ) -> PagePipe {
        let (tx, rx) = sync_channel::<Vec<u8>>(CHANNEL_DEPTH);
        let (ended_tx, ended_rx) = match tap {
            WriterTap::Off => (None, None),
            WriterTap::AllPages { .. } => {
                let (tx, rx) = sync_channel(1);
                (Some(tx), Some(rx))
            }
        };
        let writer =
            std::thread::spawn(move || write_sealed(file, &recipients, codec, rx, tap, ended_tx));
        PagePipe {
            tx: Some(tx),
            buf: Vec::with_capacity(CHUNK),
            ended: ended_rx,
            writer,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        tx.send(chunk).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the compression thread stopped",
            )
        })
    }

    /// Ends the page stream: sends what is buffered, closes the channel and, with
    /// [`WriterTap::AllPages`], waits for what the tap saw (`None` without a tap, or when the
    /// stream was already ended).
    ///
    /// # Errors
    /// [`BackupError::Io`] when the writer thread stopped (its own error comes from
    /// [`PagePipe::join`]).
    pub(crate) fn end_stream(&mut self) -> Result<Option<StreamEnd>, BackupError> {
        if self.tx.is_some() && !self.buf.is_empty() {
            self.send().map_err(BackupError::io("write page stream"))?;
        }
        self.tx = None;
        let Some(ended) = self.ended.take() else {
            return Ok(None);
        };
        ended.recv().map(Some).map_err(|_| BackupError::Io {
            context: "write page stream".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the compression thread stopped",
            ),
        })
    }

    /// Ends the stream (if not yet) and waits for the writer thread.
    ///
    /// # Errors
    /// The writer's [`BackupError`] (disk full, a page stream the tap refuses, ...).
    pub(crate) fn join(mut self) -> Result<Written, BackupError> {
        self.tx = None;
        self.ended = None;
        self.writer.join().unwrap_or_else(|_| {
            Err(BackupError::Io {
                context: "compress backup".into(),
                source: std::io::Error::other("the compression thread panicked"),
            })
        })
    }
}

impl Write for PagePipe {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The writer thread: `tap` (if any), then zstd -> age -> SHA-256 -> buffered file, until the
/// channel closes.
fn write_sealed(
    file: std::fs::File,
    recipients: &Recipients,
    codec: Codec,
    rx: Receiver<Vec<u8>>,
    tap: WriterTap,
    ended: Option<SyncSender<StreamEnd>>,
) -> Result<Written, BackupError> {
    let mut seal = sealed::seal(file, recipients, codec)?;
    let WriterTap::AllPages { page_size } = tap else {
        for chunk in rx {
            seal.write_all(&chunk)
                .map_err(BackupError::io("write backup file"))?;
        }
        return Ok(Written {
            sealed: sealed::finish(seal)?,
            report: None,
        });
    };
    // The tap passes one page per write: zstd compresses whole chunks faster (its fast path
    // needs contiguous input; single pages go through the slower external-dictionary path).
    let buffered = std::io::BufWriter::with_capacity(CHUNK, seal);
    let mut tap = PageTap::new(buffered, page_size, Emit::AllPages, StreamHash::Skip);
    tap.count_rows();
    for chunk in rx {
        tap.write_all(&chunk)
            .map_err(BackupError::io("write backup file"))?;
    }
    let end = StreamEnd {
        census: tap.take_census().unwrap_or_default(),
        reserve: tap.reserve(),
    };
    if let Some(ended) = ended {
        // The reading side stops waiting when it has failed itself: nothing to tell then.
        let _ = ended.send(end);
    }
    let pages = tap.pages_seen();
    let (buffered, report) = tap
        .finish(pages)
        .map_err(BackupError::io("write page stream"))?;
    let seal = buffered
        .into_inner()
        .map_err(|e| BackupError::io("write backup file")(e.into_error()))?;
    let sealed = sealed::finish(seal)?;
    // fsync here, while the reading thread still reads the file's cipher tags and counts the
    // rows: the rename that publishes the file then finds nothing left to flush.
    sealed
        .file
        .sync_all()
        .map_err(BackupError::io("fsync backup file"))?;
    Ok(Written {
        sealed,
        report: Some(report),
    })
}
