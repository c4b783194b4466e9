//! The encrypted data file of every backup, written and read the same way for databases and
//! wallets: plaintext -> gzip -> age -> file, with the compressed size counted and the
//! encrypted bytes hashed (SHA-256) on the way; and back: file -> age -> gunzip -> plaintext,
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
use time::OffsetDateTime;

/// Buffer size between the pipeline and the file, in bytes.
const FILE_BUFFER: usize = 1 << 20;

/// The writing side: gzip (level 0-9) -> age -> SHA-256 -> buffered file.
pub(crate) type SealWriter =
    GzEncoder<CountingWriter<age::stream::StreamWriter<Hashing<BufWriter<File>>>>>;

/// The reading side: buffered file (tallied) -> age -> gunzip.
pub(crate) type OpenedPayload = GzDecoder<age::stream::StreamReader<BufReader<Tallied>>>;

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
    /// Bytes after gzip, before age.
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

/// Opens a backup's data file for reading its plaintext (decrypted and gunzip'd as it is read),
/// with the [`Tally`] of the encrypted bytes read: read the payload to its end (see
/// [`drain_and_check`]) before trusting what came out of it.
///
/// # Errors
/// [`BackupError::Io`] when the file cannot be opened, [`BackupError::Decrypt`] when no
/// identity matches or the age header is damaged.
pub(crate) fn open_payload(
    backup: &AuthenticBackup,
    identities: &Identities,
) -> Result<(OpenedPayload, Tally), BackupError> {
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
    Ok((GzDecoder::new(decrypted), tally))
}

/// Reads what is left of a payload (tar end blocks, gzip trailer, age's final chunk, so a
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
