//! `mmctl tls renew`'s workflow: decide whether a renewal is due, obtain the pair (certbot,
//! or the operator's files) and install it ([`install`]).

use super::TlsError;
use super::cert::{CertificateInfo, PemPair};
use super::certbot::{self, CertbotRequest};
use super::install::{Installed, install, status};
use super::settings::TlsSettings;
use crate::engine::Engine;
use crate::stack::Project;

/// Where the new pair comes from.
#[derive(Debug, Clone)]
pub enum RenewSource {
    /// Let's Encrypt through certbot ([`certbot::obtain`]), when due.
    Certbot,
    /// A pair obtained elsewhere (`--from CERT --key KEY`): installed whatever the current
    /// certificate's expiry, after the same checks.
    Given(PemPair),
}

/// Whether to renew a certificate that is not due yet (certbot only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewWhen {
    /// Only when due ([`is_due`]).
    IfDue,
    /// Now (`--force`).
    Always,
}

/// One renewal.
#[derive(Debug, Clone)]
pub struct RenewRequest {
    /// The new pair's source.
    pub source: RenewSource,
    /// Due check or force.
    pub when: RenewWhen,
    /// The environment's TLS settings (server name, window, ACME contact).
    pub settings: TlsSettings,
    /// The time, Unix seconds.
    pub now: i64,
}

/// What a renewal that did not fail did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewOutcome {
    /// A new certificate is served.
    Renewed(Installed),
    /// The current certificate has at least the window's days left: nothing was done.
    NotDue {
        /// The certificate served.
        current: CertificateInfo,
        /// The window, days (`MMKT_TLS_RENEW_DAYS`).
        within_days: i64,
    },
}

/// A renewal is due when there is no certificate, the certificate is self-signed (the
/// bootstrap one is replaced at the first chance), or fewer than `within_days` days are left.
pub fn is_due(current: Option<&CertificateInfo>, within_days: i64) -> bool {
    current.is_none_or(|c| c.self_signed || c.days_left < within_days)
}

/// Runs one renewal.
///
/// Engine API: as [`status`], [`certbot::obtain`] and [`install`].
///
/// # Errors
/// As [`status`] (an unreadable current certificate counts as none), [`certbot::obtain`]
/// and [`install`].
pub async fn renew(
    engine: &Engine,
    project: &Project,
    request: RenewRequest,
) -> Result<RenewOutcome, TlsError> {
    let pair = match request.source {
        RenewSource::Given(pair) => pair,
        RenewSource::Certbot => {
            let current = match status(engine, project, request.now).await {
                Ok(info) => Some(info),
                Err(TlsError::NoCertificate { .. } | TlsError::Unparsable(_)) => None,
                Err(e) => return Err(e),
            };
            let within_days = request.settings.renew_days;
            if let (RenewWhen::IfDue, Some(current)) = (request.when, &current)
                && !is_due(Some(current), within_days)
            {
                return Ok(RenewOutcome::NotDue {
                    current: current.clone(),
                    within_days,
                });
            }
            let certbot = CertbotRequest {
                server_name: request.settings.server_name.clone(),
                email: request.settings.email.clone(),
            };
            certbot::obtain(engine, project, &certbot).await?
        }
    };
    Ok(RenewOutcome::Renewed(
        install(engine, project, &pair, request.now).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::install::tests::info;

    #[test]
    fn renewal_is_due_for_no_self_signed_or_expiring_certificates() {
        assert!(is_due(None, 30));
        assert!(is_due(Some(&info(true, 80, None, 1)), 30));
        assert!(is_due(Some(&info(false, 29, None, 1)), 30));
        assert!(!is_due(Some(&info(false, 30, None, 1)), 30));
    }
}
