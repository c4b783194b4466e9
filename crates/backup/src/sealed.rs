//! The encrypted data file of every backup, written and read the same way for databases and
//! wallets: plaintext -> gzip or zstd -> age -> file, with the compressed size counted and the
//! encrypted bytes hashed (SHA-256) on the way; and back: file -> age -> the decompressor the
//! manifest's `compression` names -> plaintext,
//! hashing the bytes as they are read, so that what was decrypted is checked against the
//! signed manifest even if the file changed after an earlier checksum pass.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::crypto::{CountingWriter, Hashing, Identities, Recipients};
use super::error::BackupError;
use super::manifest::{BackupId, BackupKind, FORMAT_VERSION, Manifest};
use super::signing::AuthenticBackup;
use super::store::{TempFile, hostname};
use super::writeback::WritebackFile;
use time::OffsetDateTime;

/// Buffer size between the pipeline and the file, in bytes.
const FILE_BUFFER: usize = 1 << 20;

/// What the compressor writes into: age -> SHA-256 -> buffered file (its writeback started as it
/// grows), with the bytes counted.
type Encrypting = CountingWriter<age::stream::StreamWriter<Hashing<BufWriter<WritebackFile>>>>;

/// What the decompressor reads from: buffered file (tallied) -> age.
type Decrypting = age::stream::StreamReader<BufReader<Tallied>>;

/// A data file's compression, as its manifest's `compression` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// gzip (RFC 1952, flate2) at level 0-9: wallet and tor archives, and DB backups written
    /// before zstd. Opens with `gunzip`.
    Gzip(u32),
    /// zstd (RFC 8878, the `zstd` crate) at level 1-19: DB backups (full and delta). Opens with
    /// `zstd -d`.
    Zstd(i32),
}

impl Codec {
    /// The manifest's name for it: `"gzip"` or `"zstd"`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Codec::Gzip(_) => GZIP,
            Codec::Zstd(_) => ZSTD,
        }
    }
}

/// Manifest name of gzip (also what a manifest without the field means).
pub(crate) const GZIP: &str = "gzip";
/// Manifest name of zstd.
pub(crate) const ZSTD: &str = "zstd";

/// The writing side: gzip or zstd -> age -> SHA-256 -> buffered file.
pub(crate) enum SealWriter {
    /// gzip at a level 0-9.
    Gzip(GzEncoder<Encrypting>),
    /// zstd at a level 1-19.
    Zstd(zstd::stream::write::Encoder<'static, Encrypting>),
}

impl std::io::Write for SealWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self {
            SealWriter::Gzip(w) => w.write(data),
            SealWriter::Zstd(w) => w.write(data),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            SealWriter::Gzip(w) => w.flush(),
            SealWriter::Zstd(w) => w.flush(),
        }
    }
}

/// The reading side: buffered file (tallied) -> age -> gunzip or zstd -d.
pub(crate) enum OpenedPayload {
    /// A gzip stream.
    Gzip(GzDecoder<Decrypting>),
    /// A zstd stream.
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Decrypting>>),
}

impl Read for OpenedPayload {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            OpenedPayload::Gzip(r) => r.read(buf),
            OpenedPayload::Zstd(r) => r.read(buf),
        }
    }
}

/// The SHA-256 and byte count of everything read from a data file so far, shared between the
/// reader deep inside the age/gzip layers and the caller that checks it at the end.
#[derive(Clone, Default)]
pub(crate) struct Tally(Arc<Mutex<(Sha256, u64)>>);

impl Tally {
    /// Checks that the bytes read were exactly the data file the manifest describes (its
    /// SHA-256 and encrypted size). Call once the payload was read to its end.
    ///
    /// # Errors
    /// [`BackupError::Checksum`] when they differ.
    pub(crate) fn check(&self, backup: &AuthenticBackup) -> Result<(), BackupError> {
        let (hasher, bytes) = &*self.0.lock().unwrap_or_else(|e| e.into_inner());
        let actual = hex::encode(hasher.clone().finalize());
        if actual == backup.manifest.sha256 && *bytes == backup.manifest.encrypted_size {
            return Ok(());
        }
        Err(BackupError::Checksum {
            path: backup.data_path.clone(),
            expected: backup.manifest.sha256.clone(),
            actual: format!("{actual} over {bytes} bytes (the file changed while it was read)"),
        })
    }
}

/// A data file whose bytes are added to a [`Tally`] as they are read.
pub(crate) struct Tallied {
    file: File,
    tally: Tally,
}

impl Read for Tallied {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        let mut state = self.tally.0.lock().unwrap_or_else(|e| e.into_inner());
        state.0.update(&buf[..n]);
        state.1 += n as u64;
        Ok(n)
    }
}

/// A finished data file, flushed but not yet fsynced.
pub(crate) struct Sealed {
    /// The file, to fsync and rename.
    pub(crate) file: File,
    /// Hex SHA-256 of the encrypted bytes.
    pub(crate) sha256: String,
    /// Bytes after compression, before age.
    pub(crate) compressed_size: u64,
    /// Bytes of the encrypted file.
    pub(crate) encrypted_size: u64,
}

/// A tar archive being sealed: tar -> (plain bytes counted) -> gzip -> age -> temp file.
pub(crate) type ArchivePipeline = tar::Builder<CountingWriter<SealWriter>>;

/// A sealed data file in its place, with what its manifest records about it.
pub(crate) struct SealedFile {
    /// The data file.
    pub(crate) data_path: PathBuf,
    /// Bytes of the tar stream.
    pub(crate) plain_size: u64,
    /// Hex SHA-256 of the encrypted bytes.
    pub(crate) sha256: String,
    /// Bytes after gzip, before age.
    pub(crate) compressed_size: u64,
    /// Bytes of the encrypted file.
    pub(crate) encrypted_size: u64,
}

/// Finishes an archive started on [`seal`] (tar end blocks, gzip, age), then fsyncs and
/// renames its temp file into place.
///
/// # Errors
/// [`BackupError::Io`] when a final write, the fsync or the rename fails.
pub(crate) fn finish_archive(
    builder: ArchivePipeline,
    temp: TempFile,
) -> Result<SealedFile, BackupError> {
    let counting = builder
        .into_inner()
        .map_err(BackupError::io("finish tar stream"))?;
    let (gz, plain_size) = counting.finish();
    let sealed = finish(gz)?;
    Ok(SealedFile {
        data_path: temp.persist(sealed.file)?,
        plain_size,
        sha256: sealed.sha256,
        compressed_size: sealed.compressed_size,
        encrypted_size: sealed.encrypted_size,
    })
}

impl SealedFile {
    /// The manifest of a fresh `kind` backup `id` in this file, encrypted to `recipients`,
    /// begun at `started`; without its kind's details (`db`, `wallets`, `tor`: the caller sets
    /// them) and unsigned (the store signs it).
    pub(crate) fn manifest(
        &self,
        id: BackupId,
        kind: BackupKind,
        created_at: OffsetDateTime,
        recipients: &Recipients,
        started: Instant,
    ) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            data_file: Manifest::data_file_name(&id, kind),
            id,
            kind,
            created_at,
            mmctl_version: env!("CARGO_PKG_VERSION").to_owned(),
            source_host: hostname(),
            encryption: "age-x25519".into(),
            recipients: recipients.to_strings(),
            compression: "gzip".into(),
            plain_size: self.plain_size,
            compressed_size: self.compressed_size,
            encrypted_size: self.encrypted_size,
            sha256: self.sha256.clone(),
            duration_seconds: started.elapsed().as_secs_f64(),
            db: None,
            wallets: None,
            tor: None,
            signing_key: None,
        }
    }
}

/// Starts writing `file` encrypted to `recipients`, compressed with `codec` (gzip levels are
/// capped at 9, zstd levels kept within 1-19).
///
/// # Errors
/// [`BackupError::Io`] when the age header cannot be written or zstd refuses its parameters.
pub(crate) fn seal(
    file: File,
    recipients: &Recipients,
    codec: Codec,
) -> Result<SealWriter, BackupError> {
    let hashing = Hashing::new(BufWriter::with_capacity(
        FILE_BUFFER,
        WritebackFile::new(file),
    ));
    let encrypted = CountingWriter::new(recipients.encrypt(hashing)?);
    Ok(match codec {
        Codec::Gzip(level) => {
            SealWriter::Gzip(GzEncoder::new(encrypted, Compression::new(level.min(9))))
        }
        Codec::Zstd(level) => {
            let mut encoder = zstd::stream::write::Encoder::new(encrypted, level.clamp(1, 19))
                .map_err(BackupError::io("start zstd stream"))?;
            // The content checksum lets `zstd -d` (and our reader) detect a corrupt frame.
            encoder
                .include_checksum(true)
                .map_err(BackupError::io("start zstd stream"))?;
            encoder
                .multithread(1)
                .map_err(BackupError::io("start zstd stream"))?;
            SealWriter::Zstd(encoder)
        }
    })
}

/// Closes the compressor and age, flushes the file and returns it with its sizes and checksum.
///
/// # Errors
/// [`BackupError::Io`] when a final write fails.
pub(crate) fn finish(writer: SealWriter) -> Result<Sealed, BackupError> {
    let counting = match writer {
        SealWriter::Gzip(gz) => gz.finish(),
        SealWriter::Zstd(z) => z.finish(),
    }
    .map_err(BackupError::io("finish compressed stream"))?;
    let (encrypted, compressed_size) = counting.finish();
    let hashing = encrypted
        .finish()
        .map_err(BackupError::io("finish age stream"))?;
    let (buffered, sha256, encrypted_size) = hashing.finish();
    let file = buffered.into_inner().map_err(|e| BackupError::Io {
        context: "flush backup file".into(),
        source: e.into_error(),
    })?;
    Ok(Sealed {
        file: file.into_file(),
        sha256,
        compressed_size,
        encrypted_size,
    })
}

/// Opens a backup's data file for reading its plaintext (decrypted and decompressed as it is
/// read, with the codec its manifest's `compression` names), with the [`Tally`] of the
/// encrypted bytes read: read the payload to its end (see [`drain_and_check`]) before trusting
/// what came out of it.
///
/// # Errors
/// [`BackupError::Mismatch`] for a compression this version does not know (upgrade mmctl),
/// [`BackupError::Io`] when the file cannot be opened, [`BackupError::Decrypt`] when no
/// identity matches or the age header is damaged.
pub(crate) fn open_payload(
    backup: &AuthenticBackup,
    identities: &Identities,
) -> Result<(OpenedPayload, Tally), BackupError> {
    let compression = backup.manifest.compression.as_str();
    if compression != GZIP && compression != ZSTD {
        return Err(BackupError::Mismatch {
            id: backup.manifest.id.to_string(),
            detail: format!(
                "unknown compression {compression:?} (this mmctl reads gzip and zstd): restore it with a newer mmctl"
            ),
        });
    }
    let file = File::open(&backup.data_path).map_err(BackupError::io(format!(
        "open {}",
        backup.data_path.display()
    )))?;
    let tally = Tally::default();
    let tallied = Tallied {
        file,
        tally: tally.clone(),
    };
    let decrypted = identities.decrypt(
        BufReader::with_capacity(FILE_BUFFER, tallied),
        &backup.data_path,
    )?;
    let payload = match compression {
        ZSTD => OpenedPayload::Zstd(
            zstd::stream::read::Decoder::new(decrypted)
                .map_err(BackupError::io("start zstd stream"))?,
        ),
        _ => OpenedPayload::Gzip(GzDecoder::new(decrypted)),
    };
    Ok((payload, tally))
}

/// Reads what is left of a payload (tar end blocks, gzip or zstd trailer, age's final chunk, so a
/// truncation is detected), then checks the tally against the manifest.
///
/// # Errors
/// [`BackupError::Decrypt`] when the rest does not decrypt, [`BackupError::Checksum`] when the
/// bytes read are not the file the manifest describes.
pub(crate) fn drain_and_check(
    rest: &mut dyn Read,
    tally: &Tally,
    backup: &AuthenticBackup,
) -> Result<(), BackupError> {
    std::io::copy(rest, &mut std::io::sink()).map_err(damaged_archive(&backup.data_path))?;
    tally.check(backup)
}

/// The error for a read failure inside an archive's encrypted payload.
pub(crate) fn damaged_archive(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Decrypt {
        path: path.to_owned(),
        reason: format!(
            "the encrypted archive is damaged ({e}); the file is corrupt or was tampered with"
        ),
    }
}
