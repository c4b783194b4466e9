//! age encryption to X25519 recipients and decryption with identity files, plus the hashing and
//! counting adapters used to compute SHA-256 and sizes while streaming.
//!
//! Format: <https://age-encryption.org/v1>; the files mmctl writes decrypt with the stock
//! `age -d -i identity` CLI.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::error::BackupError;

/// The public keys a backup is encrypted to. The backup host needs only these, never an identity.
#[derive(Clone)]
pub struct Recipients(Vec<age::x25519::Recipient>);

impl Recipients {
    /// Parses recipients from flag values, a comma/space/newline-separated env value and
    /// recipients files (one `age1...` per line, `#` comments allowed, like `age -R`).
    ///
    /// # Errors
    /// [`BackupError::Recipient`] for a malformed key, [`BackupError::Io`] for an unreadable
    /// file, [`BackupError::NoRecipients`] when none at all was given.
    pub fn collect(values: &[String], files: &[PathBuf]) -> Result<Recipients, BackupError> {
        let mut texts: Vec<String> = values
            .iter()
            .flat_map(|v| {
                v.split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        for file in files {
            let content = std::fs::read_to_string(file).map_err(BackupError::io(format!(
                "read recipients file {}",
                file.display()
            )))?;
            texts.extend(
                content
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        let mut parsed = Vec::new();
        for text in texts {
            let r =
                age::x25519::Recipient::from_str(&text).map_err(|e| BackupError::Recipient {
                    recipient: text.clone(),
                    reason: e.to_string(),
                })?;
            parsed.push(r);
        }
        if parsed.is_empty() {
            return Err(BackupError::NoRecipients);
        }
        Ok(Recipients(parsed))
    }

    /// The recipients as `age1...` strings (recorded in manifests).
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|r| r.to_string()).collect()
    }

    /// Wraps `output` so that everything written is age-encrypted to these recipients.
    /// Call `finish()` on the result to write the final chunk.
    ///
    /// # Errors
    /// [`BackupError::Io`] when the header cannot be written.
    pub fn encrypt<W: Write>(
        &self,
        output: W,
    ) -> Result<age::stream::StreamWriter<W>, BackupError> {
        let encryptor =
            age::Encryptor::with_recipients(self.0.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| BackupError::Io {
                    context: "prepare age encryption".into(),
                    source: io::Error::other(e.to_string()),
                })?;
        encryptor
            .wrap_output(output)
            .map_err(BackupError::io("write age header"))
    }
}

impl fmt::Debug for Recipients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.to_strings()).finish()
    }
}

/// The private age identities (from an identity file made by `age-keygen`). `Debug` is redacted.
pub struct Identities {
    path: PathBuf,
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl Identities {
    /// Reads an age identity file (`AGE-SECRET-KEY-1...` lines, comments allowed).
    ///
    /// # Errors
    /// [`BackupError::Identity`] when the file is unreadable or has no X25519 identity.
    pub fn from_file(path: &Path) -> Result<Identities, BackupError> {
        let err = |reason: String| BackupError::Identity {
            path: path.to_owned(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let parsed = age::IdentityFile::from_buffer(io::BufReader::new(file))
            .map_err(|e| err(format!("not an age identity file: {e}")))?;
        let identities = parsed
            .into_identities()
            .map_err(|e| err(format!("unusable identity: {e}")))?;
        if identities.is_empty() {
            return Err(err(
                "contains no identity (expected AGE-SECRET-KEY-1... lines from age-keygen)".into(),
            ));
        }
        Ok(Identities {
            path: path.to_owned(),
            identities,
        })
    }

    /// Starts decrypting `input` (the age file `file`), returning a plaintext reader.
    ///
    /// # Errors
    /// [`BackupError::Decrypt`] when no identity matches (wrong identity file) or the header is
    /// corrupt.
    pub fn decrypt<R: Read>(
        &self,
        input: R,
        file: &Path,
    ) -> Result<age::stream::StreamReader<R>, BackupError> {
        let decryptor =
            age::Decryptor::new(input).map_err(|e| decrypt_error(file, &self.path, e))?;
        decryptor
            .decrypt(
                self.identities
                    .iter()
                    .map(|i| i.as_ref() as &dyn age::Identity),
            )
            .map_err(|e| decrypt_error(file, &self.path, e))
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({}, <redacted>)", self.path.display())
    }
}

fn decrypt_error(file: &Path, identity: &Path, e: age::DecryptError) -> BackupError {
    let reason = match e {
        age::DecryptError::NoMatchingKeys => format!(
            "no identity in {} can decrypt it (wrong identity file, or the backup was made for other recipients; see the manifest's recipients)",
            identity.display()
        ),
        age::DecryptError::InvalidHeader
        | age::DecryptError::InvalidMac
        | age::DecryptError::UnknownFormat => {
            format!("its age header is invalid ({e}); the file is corrupt or not an age file")
        }
        other => format!("{other}; the file is corrupt or was tampered with"),
    };
    BackupError::Decrypt {
        path: file.to_owned(),
        reason,
    }
}

/// A writer or reader that hashes (SHA-256) and counts everything passing through.
pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes passed through so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Returns the inner writer or reader, the hex SHA-256 and the byte count.
    pub fn finish(self) -> (T, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.bytes)
    }

    fn update(&mut self, data: &[u8]) -> usize {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        data.len()
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        Ok(self.update(&buf[..n]))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        Ok(self.update(&buf[..n]))
    }
}

/// A writer that counts the bytes passing through (the compressed size between gzip and age).
pub struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> CountingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        CountingWriter { inner, bytes: 0 }
    }

    /// Returns the inner writer and the byte count.
    pub fn finish(self) -> (W, u64) {
        (self.inner, self.bytes)
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 of a whole file, hex, streaming.
///
/// # Errors
/// [`BackupError::Io`] when the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<(String, u64), BackupError> {
    let file =
        std::fs::File::open(path).map_err(BackupError::io(format!("open {}", path.display())))?;
    let mut reader = Hashing::new(io::BufReader::with_capacity(1 << 20, file));
    io::copy(&mut reader, &mut io::sink())
        .map_err(BackupError::io(format!("read {}", path.display())))?;
    let (_, sha256, bytes) = reader.finish();
    Ok((sha256, bytes))
}
