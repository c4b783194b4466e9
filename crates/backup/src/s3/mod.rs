//! Offsite copies on any S3-compatible store (aws-sdk-s3): upload (multipart above one part),
//! remote listing of complete backups, download, and deletion for retention.
//!
//! Object layout mirrors the local directory: `<prefix><id>.json` (manifest, uploaded last),
//! `<prefix><id>.manifest.sig` (its signature) and `<prefix><data file>`. A remote backup is
//! complete only when its manifest exists and its data object has the recorded size; it is
//! used only when its signature verifies with a trusted key ([`Offsite::check_signature`]).
//! Manifests are copied byte for byte, never re-serialized. Source: Amazon S3 API (PutObject, CreateMultipartUpload,
//! UploadPart, CompleteMultipartUpload, ListObjectsV2, GetObject, DeleteObject).

mod config;

pub use config::{DEFAULT_PART_SIZE, MIN_PART_SIZE, S3Config, S3ConfigError};

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, StorageClass};
use tokio::io::AsyncReadExt;

use crate::error::BackupError;
use crate::manifest::Manifest;
use crate::signing::{SignedManifest, TrustedKeys, signature_file_name};
use crate::store::{BackupDir, LocalBackup};

/// Errors of offsite operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// An S3 request failed after the SDK's retries (unreachable endpoint, auth, missing bucket).
    #[error("S3 {operation} s3://{bucket}/{key} failed: {detail}")]
    Request {
        /// The S3 operation (PutObject, UploadPart, ...).
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
        /// The SDK error with its source chain.
        detail: String,
    },
    /// A remote manifest is malformed.
    #[error("remote manifest s3://{bucket}/{key}: {reason}")]
    Manifest {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
        /// Parser message.
        reason: String,
    },
    /// No complete remote backup has this id.
    #[error("no complete backup {0} in the S3 bucket; see `mmctl backup list --remote`")]
    NotFound(String),
    /// A local file could not be read or written (the upload's source, the download's target).
    #[error(transparent)]
    Local(#[from] crate::BackupError),
}

/// Wraps a local I/O error with the step and path it concerned.
fn local_io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> S3Error {
    let wrap = crate::BackupError::io(context);
    move |source| S3Error::Local(wrap(source))
}

/// A complete backup found in the bucket.
#[derive(Debug, Clone)]
pub struct RemoteBackup {
    /// Its manifest (downloaded), parsed from [`RemoteBackup::manifest_bytes`].
    pub manifest: Manifest,
    /// The manifest object, byte for byte (what the signature covers).
    pub manifest_bytes: Vec<u8>,
    /// Object key of the manifest.
    pub manifest_key: String,
    /// Object key of the data file.
    pub data_key: String,
    /// Object key of the signature, when the bucket has one.
    pub signature_key: Option<String>,
}

/// A connected offsite store.
#[derive(Debug, Clone)]
pub struct Offsite {
    client: Client,
    config: S3Config,
}

impl Offsite {
    /// Builds the client (no request is made yet).
    pub async fn connect(config: S3Config) -> Offsite {
        let client = config.client().await;
        Offsite { client, config }
    }

    /// The configuration in use.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.config.prefix)
    }

    fn request_error<E: std::error::Error>(
        &self,
        operation: &'static str,
        key: &str,
        e: &E,
    ) -> S3Error {
        S3Error::Request {
            operation,
            bucket: self.config.bucket.clone(),
            key: key.to_owned(),
            detail: crate::error::error_chain(e),
        }
    }

    /// Uploads a local backup: the data file (multipart when larger than one part), its
    /// signature (when it has one), then the manifest, so the remote copy is complete only once
    /// all are there.
    ///
    /// # Errors
    /// [`S3Error::Request`] when S3 stays unreachable or refuses after retries with backoff.
    pub async fn upload(&self, backup: &LocalBackup) -> Result<(), S3Error> {
        let data_key = self.key(&backup.manifest.data_file);
        self.upload_file(&backup.data_path, &data_key).await?;
        if backup.signature_path.exists() {
            let signature_key = self.key(&signature_file_name(&backup.manifest.id));
            self.upload_file(&backup.signature_path, &signature_key)
                .await?;
        }
        let manifest_key = self.key(&Manifest::file_name(&backup.manifest.id));
        self.upload_file(&backup.manifest_path, &manifest_key).await
    }

    async fn upload_file(&self, path: &Path, key: &str) -> Result<(), S3Error> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(local_io(format!("stat {}", path.display())))?
            .len();
        if size <= self.config.part_size {
            let body = ByteStream::from_path(path).await.map_err(|e| {
                local_io(format!("read {}", path.display()))(std::io::Error::other(e.to_string()))
            })?;
            let mut req = self
                .client
                .put_object()
                .bucket(&self.config.bucket)
                .key(key)
                .body(body)
                .content_length(size as i64);
            if let Some(class) = &self.config.storage_class {
                req = req.storage_class(StorageClass::from(class.as_str()));
            }
            req.send()
                .await
                .map_err(|e| self.request_error("PutObject", key, &e))?;
            return Ok(());
        }
        self.upload_multipart(path, key).await
    }

    async fn upload_multipart(&self, path: &Path, key: &str) -> Result<(), S3Error> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.config.bucket)
            .key(key);
        if let Some(class) = &self.config.storage_class {
            req = req.storage_class(StorageClass::from(class.as_str()));
        }
        let created = req
            .send()
            .await
            .map_err(|e| self.request_error("CreateMultipartUpload", key, &e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let result = self.upload_parts(path, key, &upload_id).await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.config.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(&self, path: &Path, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(local_io(format!("open {}", path.display())))?;
        let mut parts = Vec::new();
        let mut part_number = 1;
        loop {
            let mut buf = Vec::with_capacity(self.config.part_size as usize);
            let read = (&mut file)
                .take(self.config.part_size)
                .read_to_end(&mut buf)
                .await
                .map_err(local_io(format!("read {}", path.display())))?;
            if read == 0 && part_number > 1 {
                break;
            }
            let uploaded = self
                .client
                .upload_part()
                .bucket(&self.config.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(part_number)
                .content_length(read as i64)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| self.request_error("UploadPart", key, &e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(part_number)
                    .set_e_tag(uploaded.e_tag().map(String::from))
                    .build(),
            );
            part_number += 1;
            if (read as u64) < self.config.part_size {
                break;
            }
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.config.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.request_error("CompleteMultipartUpload", key, &e))?;
        Ok(())
    }

    /// Lists complete remote backups, oldest first. Manifests whose data object is missing or
    /// has the wrong size are skipped (and logged).
    ///
    /// # Errors
    /// [`S3Error::Request`] when listing or reading a manifest fails.
    pub async fn list(&self) -> Result<Vec<RemoteBackup>, S3Error> {
        let mut sizes = std::collections::HashMap::new();
        let mut manifests = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.config.bucket)
            .prefix(&self.config.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| self.request_error("ListObjectsV2", &self.config.prefix, &e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some(name) = key.strip_prefix(&self.config.prefix) else {
                    continue;
                };
                if name.contains('/') {
                    continue;
                }
                sizes.insert(name.to_owned(), object.size().unwrap_or(-1));
                if name.ends_with(".json") && !name.ends_with(".verified.json") {
                    manifests.push(key.to_owned());
                }
            }
        }
        let mut found = Vec::new();
        for manifest_key in manifests {
            let bytes = self.get_bytes(&manifest_key).await?;
            let malformed = |reason: String| S3Error::Manifest {
                bucket: self.config.bucket.clone(),
                key: manifest_key.clone(),
                reason,
            };
            let manifest = Manifest::from_json(&bytes).map_err(malformed)?;
            if self.key(&Manifest::file_name(&manifest.id)) != manifest_key {
                return Err(malformed(format!(
                    "its id {} does not match its key",
                    manifest.id
                )));
            }
            match sizes.get(&manifest.data_file) {
                Some(&size) if size == manifest.encrypted_size as i64 => {}
                other => {
                    tracing::warn!(
                        "remote backup {} is incomplete (data object size {other:?}), skipped",
                        manifest.id
                    );
                    continue;
                }
            }
            let data_key = self.key(&manifest.data_file);
            let signature_name = signature_file_name(&manifest.id);
            let signature_key = sizes
                .contains_key(&signature_name)
                .then(|| self.key(&signature_name));
            found.push(RemoteBackup {
                manifest,
                manifest_bytes: bytes,
                manifest_key,
                data_key,
                signature_key,
            });
        }
        found.sort_by(|a, b| a.manifest.chronological(&b.manifest));
        Ok(found)
    }

    /// `GetObject` of `key`: the response, whose body streams the object.
    async fn get_object(&self, key: &str) -> Result<GetObjectOutput, S3Error> {
        self.client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.request_error("GetObject", key, &e))
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let out = self.get_object(key).await?;
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| self.request_error("GetObject", key, &e))?;
        Ok(data.into_bytes().to_vec())
    }

    /// Checks, before anything is downloaded, that a trusted key signed the remote manifest.
    ///
    /// # Errors
    /// [`BackupError::Unsigned`] / [`BackupError::BadSignature`]; [`BackupError::Offsite`]
    /// when the signature cannot be read.
    pub async fn check_signature(
        &self,
        remote: &RemoteBackup,
        trusted: &TrustedKeys,
    ) -> Result<(), BackupError> {
        let signature = self.signature(remote).await?;
        let location = format!(
            "s3://{}/{}",
            self.config.bucket,
            self.key(&signature_file_name(&remote.manifest.id))
        );
        let signed = SignedManifest {
            id: &remote.manifest.id,
            bytes: &remote.manifest_bytes,
            signature: signature.as_deref(),
            signature_location: Path::new(&location),
        };
        signed.verify(trusted).map(|_| ())
    }

    async fn signature(&self, remote: &RemoteBackup) -> Result<Option<Vec<u8>>, S3Error> {
        match &remote.signature_key {
            Some(key) => self.get_bytes(key).await.map(Some),
            None => Ok(None),
        }
    }

    /// Downloads a remote backup into the local directory (data file first, then its
    /// signature and the manifest, byte for byte, each atomically) and returns it as a local
    /// backup. Signature and checksum are checked by whoever uses it (verify/restore).
    ///
    /// # Errors
    /// [`S3Error::Request`] on download failure, [`S3Error::Local`] on write failure.
    pub async fn download(
        &self,
        remote: &RemoteBackup,
        dir: &BackupDir,
    ) -> Result<LocalBackup, S3Error> {
        let mut temp = dir.temp_file(&remote.manifest.data_file)?;
        let file = tokio::fs::File::from_std(temp.take());
        let out = self.get_object(&remote.data_key).await?;
        let mut reader = out.body.into_async_read();
        let mut writer = tokio::io::BufWriter::new(file);
        tokio::io::copy(&mut reader, &mut writer)
            .await
            .map_err(local_io(format!(
                "download s3://{}/{}",
                self.config.bucket, remote.data_key
            )))?;
        use tokio::io::AsyncWriteExt;
        writer.flush().await.map_err(local_io("flush download"))?;
        let file = writer.into_inner().into_std().await;
        let data_path = temp.persist(file)?;
        let signature = self.signature(remote).await?;
        Ok(dir.write_verbatim(
            remote.manifest.clone(),
            &remote.manifest_bytes,
            signature.as_deref(),
            data_path,
        )?)
    }

    /// Deletes a remote backup: manifest first (so it never looks complete half-deleted), then
    /// its signature and data.
    ///
    /// # Errors
    /// [`S3Error::Request`] when a delete fails.
    pub async fn delete(&self, remote: &RemoteBackup) -> Result<(), S3Error> {
        let keys = [Some(&remote.manifest_key), remote.signature_key.as_ref()];
        for key in keys.into_iter().flatten().chain([&remote.data_key]) {
            self.client
                .delete_object()
                .bucket(&self.config.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| self.request_error("DeleteObject", key, &e))?;
        }
        Ok(())
    }
}
