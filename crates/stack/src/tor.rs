//! The `tor` service's v3 onion service: its address (checked, from the `hostname` file or
//! derived from the public key), and the three key files of its hidden-service directory read
//! from and written into the container through the Engine API's archive endpoints (a remote
//! engine works too).
//!
//! Files and formats are tor's (`HiddenServiceDir`, tor's rend-spec-v3 "Encoding onion
//! addresses"): `hostname` (`<56 base32>.onion\n`), `hs_ed25519_public_key` (a 32-byte
//! `== ed25519v1-public: type0 ==` header and the 32-byte key), `hs_ed25519_secret_key` (a
//! 32-byte `== ed25519v1-secret: type0 ==` header and the 64-byte expanded key).

use std::fmt;
use std::io::Read;

use futures_util::StreamExt;
use sha3::{Digest, Sha3_256};

use super::engine::Engine;
use super::error::StackError;

/// The compose service running tor.
pub const TOR_SERVICE: &str = "tor";

/// tor's `DataDirectory` inside the container: the `tor-data` volume's mount point.
pub const TOR_DATA_DIR: &str = "/var/lib/tor";

/// The `HiddenServiceDir` inside the container (in the `tor-data` volume).
pub const HIDDEN_SERVICE_DIR: &str = "/var/lib/tor/hidden_service";

/// The hidden-service directory's name inside [`TOR_DATA_DIR`].
const HIDDEN_SERVICE_NAME: &str = "hidden_service";

/// The file tor writes the onion address to.
pub const HOSTNAME_FILE: &str = "hostname";

/// The public key file.
pub const PUBLIC_KEY_FILE: &str = "hs_ed25519_public_key";

/// The secret key file.
pub const SECRET_KEY_FILE: &str = "hs_ed25519_secret_key";

/// The header of `hs_ed25519_public_key` (32 bytes, NUL-padded), before the 32-byte key.
const PUBLIC_KEY_HEADER: &[u8; 32] = b"== ed25519v1-public: type0 ==\0\0\0";

/// The header of `hs_ed25519_secret_key` (32 bytes, NUL-padded), before the 64-byte key.
const SECRET_KEY_HEADER: &[u8; 32] = b"== ed25519v1-secret: type0 ==\0\0\0";

/// The onion address version this service uses.
const VERSION: u8 = 3;

/// RFC 4648 base32 alphabet, lowercase as tor writes it.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Why a text is not a v3 onion address, or key files are not a usable key set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OnionError {
    /// Not `<56 lowercase base32 characters>.onion`.
    #[error("{text:?} is not a v3 onion address (56 base32 characters and .onion)")]
    Shape {
        /// The text, trimmed.
        text: String,
    },
    /// The right shape, but the version byte is not 3 or the checksum does not match.
    #[error("{text} is not a valid v3 onion address: {reason}")]
    Checksum {
        /// The address.
        text: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key file is missing or malformed (named by its file name).
    #[error("hidden-service file {file}: {reason}")]
    KeyFile {
        /// The file name, e.g. `hs_ed25519_public_key`.
        file: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `hostname` names another address than the public key's.
    #[error(
        "hostname says {hostname} but the public key is that of {derived}: the key files do not belong together"
    )]
    Mismatch {
        /// The address in `hostname`.
        hostname: String,
        /// The address of `hs_ed25519_public_key`.
        derived: String,
    },
}

/// A checked v3 onion address, e.g. `abcd...wxyz.onion` (56 base32 characters: the ed25519
/// public key, a 2-byte SHA3-256 checksum and the version byte 3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OnionAddress(String);

impl OnionAddress {
    /// Parses `text` (surrounding whitespace, such as `hostname`'s newline, ignored) and
    /// checks its version byte and checksum.
    ///
    /// # Errors
    /// [`OnionError::Shape`] / [`OnionError::Checksum`].
    pub fn parse(text: &str) -> Result<OnionAddress, OnionError> {
        let text = text.trim();
        let shape = || OnionError::Shape {
            text: text.chars().take(80).collect(),
        };
        let label = text.strip_suffix(".onion").ok_or_else(shape)?;
        let bytes = base32_decode(label)
            .filter(|b| b.len() == 35)
            .ok_or_else(shape)?;
        let checksum = |reason| OnionError::Checksum {
            text: text.to_owned(),
            reason,
        };
        if bytes[34] != VERSION {
            return Err(checksum("its version byte is not 3"));
        }
        let key: [u8; 32] = bytes[..32].try_into().expect("35 bytes");
        if onion_checksum(&key) != bytes[32..34] {
            return Err(checksum("its checksum does not match its key"));
        }
        Ok(OnionAddress(text.to_owned()))
    }

    /// The address of an ed25519 public key.
    pub fn from_public_key(key: &[u8; 32]) -> OnionAddress {
        let mut bytes = key.to_vec();
        bytes.extend_from_slice(&onion_checksum(key));
        bytes.push(VERSION);
        OnionAddress(format!("{}.onion", base32_encode(&bytes)))
    }

    /// The address, e.g. `abcd...wxyz.onion`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OnionAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `SHA3-256(".onion checksum" | key | version)[..2]`.
fn onion_checksum(key: &[u8; 32]) -> [u8; 2] {
    let mut hasher = Sha3_256::new();
    hasher.update(b".onion checksum");
    hasher.update(key);
    hasher.update([VERSION]);
    let digest = hasher.finalize();
    [digest[0], digest[1]]
}

/// Unpadded base32, lowercase (a length that is a multiple of 5 bytes).
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        for i in (0..8).rev() {
            out.push(BASE32[((bits >> (i * 5)) & 31) as usize] as char);
        }
    }
    out
}

/// The bytes of unpadded lowercase base32 whose length is a multiple of 8, or `None`.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(8) {
        return None;
    }
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(8) {
        let mut bits = 0u64;
        for c in chunk {
            let value = BASE32.iter().position(|b| b == c)?;
            bits = (bits << 5) | value as u64;
        }
        out.extend_from_slice(&bits.to_be_bytes()[3..]);
    }
    Some(out)
}

/// The three files of a hidden-service directory. The secret key never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct HiddenServiceKeys {
    /// The onion address, from `hostname` (checked against the public key).
    pub address: OnionAddress,
    /// `hs_ed25519_public_key`, 64 bytes.
    pub public_key: Vec<u8>,
    /// `hs_ed25519_secret_key`, 96 bytes.
    pub secret_key: Vec<u8>,
}

impl fmt::Debug for HiddenServiceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HiddenServiceKeys")
            .field("address", &self.address)
            .field("secret_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl HiddenServiceKeys {
    /// Checks that three file contents are one key set: both key files have tor's header and
    /// length, `hostname` is a valid v3 address, and it is the public key's address.
    ///
    /// # Errors
    /// [`OnionError`] saying which file is wrong.
    pub fn from_files(
        hostname: &[u8],
        public_key: &[u8],
        secret_key: &[u8],
    ) -> Result<HiddenServiceKeys, OnionError> {
        let key = key_body(PUBLIC_KEY_FILE, public_key, PUBLIC_KEY_HEADER, 32)?;
        key_body(SECRET_KEY_FILE, secret_key, SECRET_KEY_HEADER, 64)?;
        let text = std::str::from_utf8(hostname).map_err(|_| OnionError::KeyFile {
            file: HOSTNAME_FILE,
            reason: "not UTF-8".into(),
        })?;
        let address = OnionAddress::parse(text)?;
        let derived = OnionAddress::from_public_key(key.try_into().expect("32 bytes"));
        if derived != address {
            return Err(OnionError::Mismatch {
                hostname: address.0,
                derived: derived.0,
            });
        }
        Ok(HiddenServiceKeys {
            address,
            public_key: public_key.to_vec(),
            secret_key: secret_key.to_vec(),
        })
    }

    /// The files as (name, content) pairs, in a fixed order: hostname, public key, secret key.
    pub fn files(&self) -> [(&'static str, Vec<u8>); 3] {
        [
            (HOSTNAME_FILE, format!("{}\n", self.address).into_bytes()),
            (PUBLIC_KEY_FILE, self.public_key.clone()),
            (SECRET_KEY_FILE, self.secret_key.clone()),
        ]
    }

    /// Picks the three files out of (name, content) pairs and checks them
    /// ([`HiddenServiceKeys::from_files`]).
    ///
    /// # Errors
    /// [`OnionError::KeyFile`] for a missing file, then as `from_files`.
    pub fn from_entries(entries: &[(String, Vec<u8>)]) -> Result<HiddenServiceKeys, OnionError> {
        let get = |file: &'static str| {
            entries
                .iter()
                .find(|(name, _)| name == file)
                .map(|(_, content)| content.as_slice())
                .ok_or(OnionError::KeyFile {
                    file,
                    reason: "missing".into(),
                })
        };
        Self::from_files(
            get(HOSTNAME_FILE)?,
            get(PUBLIC_KEY_FILE)?,
            get(SECRET_KEY_FILE)?,
        )
    }
}

/// The key after a key file's header, checked for header and length.
fn key_body<'a>(
    file: &'static str,
    content: &'a [u8],
    header: &[u8; 32],
    key_len: usize,
) -> Result<&'a [u8], OnionError> {
    let bad = |reason: String| OnionError::KeyFile { file, reason };
    if content.len() != 32 + key_len {
        return Err(bad(format!(
            "{} bytes, expected {}",
            content.len(),
            32 + key_len
        )));
    }
    if &content[..32] != header {
        return Err(bad("not a tor ed25519 key file (wrong header)".into()));
    }
    Ok(&content[32..])
}

/// A tar header of `kind` with `mode`, `size` bytes and owner (uid, gid).
fn owned_header(kind: tar::EntryType, mode: u32, size: u64, owner: (u64, u64)) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(owner.0);
    header.set_gid(owner.1);
    header
}

/// What [`Engine::onion_address`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnionLookup {
    /// The running tor service's address.
    Found(OnionAddress),
    /// The project has no `tor` container.
    NoContainer,
    /// The `tor` container exists but is not running.
    NotRunning,
    /// tor runs but has not written `hostname` yet (it makes the keys at its first start).
    NotCreated,
}

/// What [`Engine::hidden_service_keys`] found in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysLookup {
    /// The key set, checked.
    Found(HiddenServiceKeys),
    /// The hidden-service directory holds no `hostname` yet.
    NotCreated,
}

impl Engine {
    /// The onion address of `project`'s running `tor` service, read from its `hostname`
    /// file and checked.
    ///
    /// Engine API: `GET /containers/json` (compose labels), `GET /containers/{id}/json`,
    /// `GET /containers/{id}/archive?path=/var/lib/tor/hidden_service/hostname`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`]; [`StackError::Invalid`] when
    /// `hostname` is not a valid v3 address.
    pub async fn onion_address(&self, project: &str) -> Result<OnionLookup, StackError> {
        let Some(id) = self
            .find_service_container(project, TOR_SERVICE)
            .await?
            .and_then(|c| c.id)
        else {
            return Ok(OnionLookup::NoContainer);
        };
        let running = self.inspect(&id).await?.state.and_then(|s| s.running);
        if running != Some(true) {
            return Ok(OnionLookup::NotRunning);
        }
        let path = format!("{HIDDEN_SERVICE_DIR}/{HOSTNAME_FILE}");
        let Some(entries) = self.read_tar(&id, &path).await? else {
            return Ok(OnionLookup::NotCreated);
        };
        let Some((_, content)) = entries.into_iter().find(|(n, _)| n == HOSTNAME_FILE) else {
            return Ok(OnionLookup::NotCreated);
        };
        let text = String::from_utf8_lossy(&content);
        OnionAddress::parse(&text)
            .map(OnionLookup::Found)
            .map_err(|e| StackError::Invalid(format!("{path} in the tor container: {e}")))
    }

    /// The key set in container `id`'s hidden-service directory (running or stopped).
    ///
    /// Engine API: `GET /containers/{id}/archive?path=/var/lib/tor/hidden_service`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`]; [`StackError::Invalid`] when the
    /// files are there but are not one valid key set.
    pub async fn hidden_service_keys(&self, id: &str) -> Result<KeysLookup, StackError> {
        let Some(entries) = self.read_tar(id, HIDDEN_SERVICE_DIR).await? else {
            return Ok(KeysLookup::NotCreated);
        };
        if !entries.iter().any(|(n, _)| n == HOSTNAME_FILE) {
            return Ok(KeysLookup::NotCreated);
        }
        HiddenServiceKeys::from_entries(&entries)
            .map(KeysLookup::Found)
            .map_err(|e| {
                StackError::Invalid(format!("the tor container's {HIDDEN_SERVICE_DIR}: {e}"))
            })
    }

    /// Writes a key set into container `id`'s hidden-service directory (the container should
    /// be stopped: tor reads its keys at start), replacing the three files: the directory
    /// mode 0700 and the files 0600, owned like [`TOR_DATA_DIR`] (the image's `debian-tor`).
    /// `hostname` is written empty: tor writes it again from the secret key when it starts
    /// (and the image's healthcheck waits for it), so the address read afterwards is the one
    /// tor itself derived from the written key.
    ///
    /// Engine API: `GET /containers/{id}/archive?path=/var/lib/tor` (its owner),
    /// `PUT /containers/{id}/archive?path=/var/lib/tor`.
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`]; [`StackError::Invalid`] when the
    /// archive cannot be built.
    pub async fn write_hidden_service_keys(
        &self,
        id: &str,
        keys: &HiddenServiceKeys,
    ) -> Result<(), StackError> {
        let owner = self.path_owner(id, TOR_DATA_DIR).await?;
        let invalid = |e: std::io::Error| StackError::Invalid(format!("cannot pack the keys: {e}"));
        let mut builder = tar::Builder::new(Vec::new());
        let mut dir = owned_header(tar::EntryType::Directory, 0o700, 0, owner);
        builder
            .append_data(
                &mut dir,
                format!("{HIDDEN_SERVICE_NAME}/"),
                std::io::empty(),
            )
            .map_err(invalid)?;
        for (name, content) in keys.files() {
            let content = if name == HOSTNAME_FILE {
                Vec::new()
            } else {
                content
            };
            let size = content.len() as u64;
            let mut header = owned_header(tar::EntryType::Regular, 0o600, size, owner);
            let path = format!("{HIDDEN_SERVICE_NAME}/{name}");
            builder
                .append_data(&mut header, path, content.as_slice())
                .map_err(invalid)?;
        }
        let tar = builder.into_inner().map_err(invalid)?;
        self.upload_archive(id, TOR_DATA_DIR, tar).await
    }

    /// The uid and gid owning `path` in a container (the first header of its archive).
    async fn path_owner(&self, id: &str, path: &str) -> Result<(u64, u64), StackError> {
        let mut stream = std::pin::pin!(self.download_archive(id, path));
        let mut head = Vec::new();
        while head.len() < 512 {
            let Some(chunk) = stream.next().await else {
                break;
            };
            head.extend_from_slice(&chunk?);
        }
        let header = head
            .get(..512)
            .ok_or_else(|| StackError::Invalid(format!("the archive of {id}:{path} is empty")))?;
        let header = tar::Header::from_byte_slice(header);
        Ok((header.uid().unwrap_or(0), header.gid().unwrap_or(0)))
    }

    /// The regular files (name without directories, content) of `path` in a container, or
    /// `None` when the path does not exist. For small directories only (held in memory).
    async fn read_tar(
        &self,
        id: &str,
        path: &str,
    ) -> Result<Option<Vec<(String, Vec<u8>)>>, StackError> {
        let mut stream = std::pin::pin!(self.download_archive(id, path));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => tar.extend_from_slice(&bytes),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let invalid = |e: std::io::Error| StackError::Invalid(format!("unreadable archive: {e}"));
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut files = Vec::new();
        for entry in archive.entries().map_err(invalid)? {
            let mut entry = entry.map_err(invalid)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map_err(invalid)?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).map_err(invalid)?;
            files.push((name, content));
        }
        Ok(Some(files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `hs_ed25519_public_key` file holding `key`.
    fn public_key_file(key: &[u8; 32]) -> Vec<u8> {
        let mut file = PUBLIC_KEY_HEADER.to_vec();
        file.extend_from_slice(key);
        file
    }

    #[test]
    fn an_address_round_trips_through_its_key() {
        let key = [7u8; 32];
        let address = OnionAddress::from_public_key(&key);
        assert_eq!(address.as_str().len(), 62);
        assert_eq!(
            OnionAddress::parse(&format!("{address}\n")).unwrap(),
            address
        );
    }

    #[test]
    fn a_hostname_written_by_tor_parses() {
        let text = "qzqydjkjztixm5m7aadhpspeoacislf6so276s5muwdni3usfuxwswid.onion\n";
        assert_eq!(OnionAddress::parse(text).unwrap().as_str(), text.trim_end());
    }

    #[test]
    fn malformed_or_tampered_addresses_are_refused() {
        let good = OnionAddress::from_public_key(&[9u8; 32]).0;
        let mut flipped = good.clone().into_bytes();
        flipped[3] = if flipped[3] == b'a' { b'b' } else { b'a' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            "",
            "example.com",
            "abc.onion",
            &good.replace(".onion", ".onio"),
            &good.to_uppercase(),
            &good[1..],
            &flipped,
        ] {
            assert!(OnionAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_files_must_belong_together() {
        let key = [5u8; 32];
        let public = public_key_file(&key);
        let mut secret = SECRET_KEY_HEADER.to_vec();
        secret.extend_from_slice(&[1u8; 64]);
        let hostname = format!("{}\n", OnionAddress::from_public_key(&key));
        let keys = HiddenServiceKeys::from_files(hostname.as_bytes(), &public, &secret).unwrap();
        assert!(format!("{keys:?}").contains("<redacted>"));
        let other = format!("{}\n", OnionAddress::from_public_key(&[6u8; 32]));
        assert!(matches!(
            HiddenServiceKeys::from_files(other.as_bytes(), &public, &secret),
            Err(OnionError::Mismatch { .. })
        ));
        assert!(matches!(
            HiddenServiceKeys::from_files(hostname.as_bytes(), &public, &secret[..90]),
            Err(OnionError::KeyFile { .. })
        ));
        assert!(matches!(
            HiddenServiceKeys::from_files(hostname.as_bytes(), &secret[..64], &secret),
            Err(OnionError::KeyFile { .. })
        ));
    }
}
