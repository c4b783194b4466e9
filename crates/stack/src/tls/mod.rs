//! nginx's TLS certificate: what is served ([`status`]), a self-signed one when there is none
//! so nginx starts on a fresh host ([`bootstrap`], run by `mmctl up`), and a new one put in
//! place without a dropped request ([`install`]: checked, written into the `tls-certs` volume,
//! `nginx -t` in the nginx container, then `nginx -s reload`, the old files put back when
//! nginx refuses), obtained from Let's Encrypt by certbot in a one-shot container
//! ([`certbot::obtain`]) or given by the operator.
//!
//! Files in the `tls-certs` volume (nginx's `/etc/nginx/tls`, read-only there; written through
//! a never-started helper container, so a remote engine works too): `fullchain.pem` (leaf
//! first), `privkey.pem` (mode 0600, owned by nginx's user), `chain.pem` (the intermediates)
//! and `stapling.conf` (included by deploy/nginx/nginx.conf: OCSP stapling on only when the
//! certificate names a responder and the chain carries its issuer, as nginx warns otherwise).
//!
//! - `cert`: [`CertificateInfo`], [`check_pair`], [`self_signed`] (no I/O).
//! - `install`: the volume files, [`status`], [`bootstrap`], [`install`].
//! - `renew`: [`renew`] (due check, source, install) and its [`RenewOutcome`].
//! - [`certbot`]: `certonly --webroot` in the `certbot` service's image.
//! - [`settings`]: `MMKT_TLS_*` from the environment's variables.

mod cert;
pub mod certbot;
mod install;
mod renew;
pub mod settings;

pub use cert::{
    CertificateInfo, PemPair, SelfSigned, check_pair, inspect_chain, self_signed, sha256_hex,
};
pub use install::{Bootstrap, Installed, bootstrap, install, stapling_conf, status};
pub use renew::{RenewOutcome, RenewRequest, RenewSource, RenewWhen, is_due, renew};
pub use settings::TlsSettings;

use super::error::StackError;

/// The compose service that serves TLS.
pub const NGINX_SERVICE: &str = "nginx";

/// The compose volume holding nginx's certificate files (`/etc/nginx/tls` in nginx).
pub const CERT_VOLUME: &str = "tls-certs";

/// Validity of the bootstrap certificate, seconds (90 days, like an ACME one).
pub const BOOTSTRAP_VALIDITY_SECS: i64 = 90 * 86_400;

/// Why a certificate could not be read, made, obtained or put in place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file is not a PEM chain of X.509 certificates, leaf first.
    #[error("the certificate does not parse: {0}")]
    Unparsable(String),
    /// The private key cannot be read.
    #[error("the private key cannot be read: {0}")]
    BadKey(String),
    /// The key is not the certificate's.
    #[error(
        "the private key does not belong to the certificate {subject}: give the key made with that certificate"
    )]
    KeyMismatch {
        /// The certificate's subject.
        subject: String,
    },
    /// The certificate's `notAfter` has passed.
    #[error("the certificate {subject} expired at {not_after} (Unix seconds): obtain a new one")]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// Its `notAfter`, Unix seconds.
        not_after: i64,
    },
    /// The certificate's `notBefore` is in the future.
    #[error(
        "the certificate {subject} is valid only from {not_before} (Unix seconds): check the clock of the machine that made it"
    )]
    NotYetValid {
        /// The certificate's subject.
        subject: String,
        /// Its `notBefore`, Unix seconds.
        not_before: i64,
    },
    /// `nginx -t` refused the configuration with the new files; the old ones are back and
    /// nginx kept serving them (never reloaded).
    #[error(
        "nginx -t refused the configuration with the new certificate, so the previous certificate was put back and nginx was not reloaded: {detail}"
    )]
    NginxRefused {
        /// nginx's own message.
        detail: String,
    },
    /// `nginx -s reload` failed after `nginx -t` passed; the old files are back.
    #[error("nginx -s reload failed, so the previous certificate was put back: {detail}")]
    ReloadFailed {
        /// nginx's own message.
        detail: String,
    },
    /// No running container of the nginx service in the project.
    #[error("no running nginx container in project {project}: start it with `mmctl up`")]
    NginxNotRunning {
        /// The compose project.
        project: String,
    },
    /// The project's compose file has no nginx service.
    #[error(
        "the compose file has no {NGINX_SERVICE} service, so there is no certificate to manage"
    )]
    NoNginxService,
    /// The certificate volume holds no `fullchain.pem`.
    #[error(
        "no certificate in volume {volume}: `mmctl up` writes a self-signed one, `mmctl tls renew` a real one"
    )]
    NoCertificate {
        /// The volume's full name.
        volume: String,
    },
    /// certbot did not obtain a certificate.
    #[error("certbot failed (exit code {exit_code}); its last output: {log}")]
    Certbot {
        /// certbot's exit code.
        exit_code: i64,
        /// Its last lines of output.
        log: String,
    },
    /// rcgen could not make the self-signed certificate.
    #[error("cannot make the self-signed certificate: {0}")]
    Generate(String),
    /// The Engine API failed.
    #[error(transparent)]
    Engine(#[from] StackError),
}
