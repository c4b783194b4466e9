//! Offsite configuration from flags/env (`MMKT_S3_*`, falling back to the standard `AWS_*`
//! variables and profiles through aws-config), and the SDK client built from it.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region};

/// Smallest part S3 accepts in a multipart upload (except the last): 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Default part size and multipart threshold: 16 MiB.
pub const DEFAULT_PART_SIZE: u64 = 16 * 1024 * 1024;

/// Where and how to store offsite copies.
#[derive(Clone)]
pub struct S3Config {
    /// Endpoint URL for S3-compatible stores (MinIO, Ceph, s3s-fs); `None` = AWS.
    pub endpoint: Option<String>,
    /// Bucket name (must exist).
    pub bucket: String,
    /// Key prefix, normalized to end with '/' (or empty).
    pub prefix: String,
    /// Region (default us-east-1).
    pub region: String,
    /// Storage class for uploads (STANDARD_IA, GLACIER_IR, ...); `None` = bucket default.
    pub storage_class: Option<String>,
    /// Access key id; `None` = the standard AWS credential chain (AWS_ACCESS_KEY_ID, profiles).
    pub access_key_id: Option<String>,
    /// Secret access key (never logged).
    pub secret_access_key: Option<String>,
    /// Path-style addressing (bucket in the path), needed by most self-hosted stores.
    pub path_style: bool,
    /// Multipart part size and threshold, in bytes (at least [`MIN_PART_SIZE`]).
    pub part_size: u64,
    /// Attempts per request, including the first (exponential backoff between them).
    pub max_attempts: u32,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("storage_class", &self.storage_class)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("path_style", &self.path_style)
            .field("part_size", &self.part_size)
            .finish()
    }
}

/// Invalid offsite configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3ConfigError {
    /// The part size is below S3's 5 MiB minimum.
    #[error("S3 part size {0} bytes is below the 5 MiB minimum S3 accepts (MMKT_S3_PART_SIZE)")]
    PartTooSmall(u64),
    /// Only one of access key id / secret was given.
    #[error(
        "set both MMKT_S3_ACCESS_KEY_ID and MMKT_S3_SECRET_ACCESS_KEY, or neither (to use the AWS credential chain)"
    )]
    HalfCredentials,
}

impl S3Config {
    /// Validates and normalizes a configuration.
    ///
    /// # Errors
    /// [`S3ConfigError`] when the part size is too small or credentials are half given.
    pub fn validate(mut self) -> Result<S3Config, S3ConfigError> {
        if self.part_size < MIN_PART_SIZE {
            return Err(S3ConfigError::PartTooSmall(self.part_size));
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(S3ConfigError::HalfCredentials);
        }
        let trimmed = self.prefix.trim_matches('/');
        self.prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}/")
        };
        self.max_attempts = self.max_attempts.max(1);
        Ok(self)
    }

    /// Builds the SDK client: standard retry mode with exponential backoff, 5 s connect timeout.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        let retry = RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(Duration::from_millis(250))
            .with_max_backoff(Duration::from_secs(5));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(120))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()));
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "mmctl"));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(self.path_style)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }
}
