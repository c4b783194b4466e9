//! The encrypted data file of every backup, written and read the same way for databases and
//! wallets: plaintext -> gzip -> age -> file, with the compressed size counted and the
//! encrypted bytes hashed (SHA-256) on the way; and back: file -> age -> gunzip -> plaintext.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::crypto::{CountingWriter, Hashing, Identities, Recipients};
use super::error::BackupError;
use super::store::LocalBackup;

/// Buffer size between the pipeline and the file, in bytes.
const FILE_BUFFER: usize = 1 << 20;

/// The writing side: gzip (level 0-9) -> age -> SHA-256 -> buffered file.
pub(crate) type SealWriter =
    GzEncoder<CountingWriter<age::stream::StreamWriter<Hashing<BufWriter<File>>>>>;

/// The reading side: buffered file -> age -> gunzip.
pub(crate) type OpenedPayload = GzDecoder<age::stream::StreamReader<BufReader<File>>>;

/// A finished data file, flushed but not yet fsynced.
pub(crate) struct Sealed {
    /// The file, to fsync and rename.
    pub(crate) file: File,
    /// Hex SHA-256 of the encrypted bytes.
    pub(crate) sha256: String,
    /// Bytes after gzip, before age.
    pub(crate) compressed_size: u64,
    /// Bytes of the encrypted file.
    pub(crate) encrypted_size: u64,
}

/// Starts writing `file` encrypted to `recipients`, gzip'd at `level`.
///
/// # Errors
/// [`BackupError::Io`] when the age header cannot be written.
pub(crate) fn seal(
    file: File,
    recipients: &Recipients,
    level: u32,
) -> Result<SealWriter, BackupError> {
    let hashing = Hashing::new(BufWriter::with_capacity(FILE_BUFFER, file));
    let encrypted = recipients.encrypt(hashing)?;
    Ok(GzEncoder::new(
        CountingWriter::new(encrypted),
        Compression::new(level),
    ))
}

/// Closes gzip and age, flushes the file and returns it with its sizes and checksum.
///
/// # Errors
/// [`BackupError::Io`] when a final write fails.
pub(crate) fn finish(gz: SealWriter) -> Result<Sealed, BackupError> {
    let counting = gz.finish().map_err(BackupError::io("finish gzip stream"))?;
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
        file,
        sha256,
        compressed_size,
        encrypted_size,
    })
}

/// Opens a backup's data file for reading its plaintext (decrypted and gunzip'd as it is read).
/// The checksum is not checked here.
///
/// # Errors
/// [`BackupError::Io`] when the file cannot be opened, [`BackupError::Decrypt`] when no
/// identity matches or the age header is damaged.
pub(crate) fn open_payload(
    backup: &LocalBackup,
    identities: &Identities,
) -> Result<OpenedPayload, BackupError> {
    let file = File::open(&backup.data_path).map_err(BackupError::io(format!(
        "open {}",
        backup.data_path.display()
    )))?;
    let decrypted = identities.decrypt(
        BufReader::with_capacity(FILE_BUFFER, file),
        &backup.data_path,
    )?;
    Ok(GzDecoder::new(decrypted))
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
