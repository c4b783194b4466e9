//! Certificates as files: a PEM chain read into [`CertificateInfo`] (x509-parser), a key
//! checked against it, and the self-signed bootstrap pair made (rcgen). No I/O.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::pem::Pem;

use super::TlsError;

/// Seconds in a day, for [`CertificateInfo::days_left`].
const DAY_SECS: i64 = 86_400;

/// What `mmctl tls status` shows of a certificate: its leaf (the first certificate of the
/// chain file) and how many certificates the file holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateInfo {
    /// The leaf's subject, RFC 4514 style (e.g. `CN=market.example`).
    pub subject: String,
    /// The leaf's issuer, same form.
    pub issuer: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity (`notAfter`), Unix seconds.
    pub not_after: i64,
    /// Whole days from the time asked about until `not_after` (rounded down; negative once
    /// expired).
    pub days_left: i64,
    /// The OCSP responder URL of the leaf's Authority Information Access extension
    /// (RFC 5280 4.2.2.1, `id-ad-ocsp`), when it has one.
    pub ocsp_url: Option<String>,
    /// Subject equals issuer: the bootstrap certificate (or another self-signed one).
    pub self_signed: bool,
    /// Certificates in the file: the leaf, then its intermediates.
    pub chain_len: usize,
    /// SHA-256 of the leaf's DER, lowercase hex (what a client sees as the fingerprint).
    pub sha256: String,
}

impl CertificateInfo {
    /// Whether nginx can staple OCSP answers for this chain: the leaf names a responder and
    /// the file carries its issuer (nginx needs it to ask and to verify the answer).
    pub fn can_staple(&self) -> bool {
        self.ocsp_url.is_some() && self.chain_len >= 2
    }

    /// Five lines for a terminal: subject, issuer (self-signed marked), expiry (RFC 3339) and
    /// days left, OCSP responder and stapling, chain length and fingerprint.
    pub fn describe(&self) -> String {
        use time::format_description::well_known::Rfc3339;
        let expiry = time::OffsetDateTime::from_unix_timestamp(self.not_after)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        let signed = match self.self_signed {
            true => " (self-signed: browsers warn; `mmctl tls renew` replaces it)",
            false => "",
        };
        let ocsp = match &self.ocsp_url {
            Some(url) if self.can_staple() => format!("{url} (stapled)"),
            Some(url) => format!("{url} (not stapled: the chain lacks the issuer)"),
            None => "none (no stapling)".into(),
        };
        format!(
            "subject     {}\nissuer      {}{signed}\nexpires     {expiry} ({} days left)\nocsp        {ocsp}\nchain       {} certificate(s), sha256 {}",
            self.subject, self.issuer, self.days_left, self.chain_len, self.sha256
        )
    }
}

/// A certificate chain and its private key, both PEM.
#[derive(Clone)]
pub struct PemPair {
    /// The leaf first, then its intermediates (`fullchain.pem`).
    pub chain: Vec<u8>,
    /// The private key (`privkey.pem`): PKCS 8, SEC1 or PKCS 1.
    pub key: Vec<u8>,
}

impl std::fmt::Debug for PemPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemPair")
            .field("chain_bytes", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The DER of every `CERTIFICATE` block of a PEM file, in order.
fn chain_ders(chain: &[u8]) -> Result<Vec<Vec<u8>>, TlsError> {
    let mut ders = Vec::new();
    for block in Pem::iter_from_buffer(chain) {
        let pem = block.map_err(|e| TlsError::Unparsable(format!("not PEM: {e}")))?;
        if pem.label != "CERTIFICATE" {
            return Err(TlsError::Unparsable(format!(
                "a {} block in the certificate file (only CERTIFICATE blocks belong there; the key goes in its own file)",
                pem.label
            )));
        }
        ders.push(pem.contents);
    }
    if ders.is_empty() {
        return Err(TlsError::Unparsable(
            "no CERTIFICATE block in the certificate file".into(),
        ));
    }
    Ok(ders)
}

fn parse_der(der: &[u8], index: usize) -> Result<X509Certificate<'_>, TlsError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| TlsError::Unparsable(format!("certificate {} of the chain: {e}", index + 1)))
}

fn ocsp_url(cert: &X509Certificate<'_>) -> Option<String> {
    cert.extensions().iter().find_map(|ext| {
        let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() else {
            return None;
        };
        aia.accessdescs
            .iter()
            .find_map(|d| match &d.access_location {
                GeneralName::URI(uri) if d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP => {
                    Some((*uri).to_string())
                }
                _ => None,
            })
    })
}

/// Reads a PEM chain (leaf first): every block must be a certificate that parses, and each
/// certificate's issuer must be the next one's subject. `now` is Unix seconds.
///
/// # Errors
/// [`TlsError::Unparsable`].
pub fn inspect_chain(chain: &[u8], now: i64) -> Result<CertificateInfo, TlsError> {
    let ders = chain_ders(chain)?;
    let certs: Vec<X509Certificate<'_>> = ders
        .iter()
        .enumerate()
        .map(|(i, der)| parse_der(der, i))
        .collect::<Result<_, _>>()?;
    for (i, pair) in certs.windows(2).enumerate() {
        if pair[0].issuer() != pair[1].subject() {
            return Err(TlsError::Unparsable(format!(
                "certificate {} is issued by {}, but certificate {} is {}: put the chain in order, leaf first",
                i + 1,
                pair[0].issuer(),
                i + 2,
                pair[1].subject()
            )));
        }
    }
    let leaf = &certs[0];
    let not_after = leaf.validity().not_after.timestamp();
    Ok(CertificateInfo {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        not_before: leaf.validity().not_before.timestamp(),
        not_after,
        days_left: (not_after - now).div_euclid(DAY_SECS),
        ocsp_url: ocsp_url(leaf),
        self_signed: leaf.subject() == leaf.issuer(),
        chain_len: certs.len(),
        sha256: sha256_hex(&ders[0]),
    })
}

/// SHA-256 of `der`, lowercase hex.
pub fn sha256_hex(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

/// Checks a pair before it may replace the served one: the chain reads
/// ([`inspect_chain`]), the leaf is valid at `now` (Unix seconds), and the key is the leaf's
/// (its public key equals the certificate's SubjectPublicKeyInfo).
///
/// # Errors
/// [`TlsError::Unparsable`], [`TlsError::Expired`], [`TlsError::NotYetValid`],
/// [`TlsError::BadKey`], [`TlsError::KeyMismatch`].
pub fn check_pair(pair: &PemPair, now: i64) -> Result<CertificateInfo, TlsError> {
    let info = inspect_chain(&pair.chain, now)?;
    if info.not_after <= now {
        return Err(TlsError::Expired {
            subject: info.subject,
            not_after: info.not_after,
        });
    }
    if info.not_before > now {
        return Err(TlsError::NotYetValid {
            subject: info.subject,
            not_before: info.not_before,
        });
    }
    let key_text = std::str::from_utf8(&pair.key)
        .map_err(|_| TlsError::BadKey("the key file is not PEM text".into()))?;
    let key = KeyPair::from_pem(key_text).map_err(|e| {
        TlsError::BadKey(format!(
            "{e}; give an unencrypted PEM key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)"
        ))
    })?;
    let ders = chain_ders(&pair.chain)?;
    let leaf = parse_der(&ders[0], 0)?;
    if key.subject_public_key_info() != leaf.tbs_certificate.subject_pki.raw {
        return Err(TlsError::KeyMismatch {
            subject: info.subject,
        });
    }
    Ok(info)
}

/// What a self-signed certificate is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSigned {
    /// The DNS name (subject CN and the only subjectAltName).
    pub server_name: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

/// Makes a self-signed ECDSA P-256 certificate and its PKCS 8 key for `spec` (what `mmctl up`
/// installs when nginx has no certificate yet, so it starts; browsers warn until
/// `mmctl tls renew` replaces it).
///
/// # Errors
/// [`TlsError::Generate`] for a name rcgen refuses or a time out of range.
pub fn self_signed(spec: &SelfSigned) -> Result<PemPair, TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let time = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|e| TlsError::Generate(format!("validity {secs}: {e}")))
    };
    let mut params = CertificateParams::new(vec![spec.server_name.clone()]).map_err(generate)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, spec.server_name.clone());
    params.distinguished_name = name;
    params.not_before = time(spec.not_before)?;
    params.not_after = time(spec.not_after)?;
    let key = KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok(PemPair {
        chain: cert.pem().into_bytes(),
        key: key.serialize_pem().into_bytes(),
    })
}

/// The certificates after the leaf (`chain.pem`, nginx's `ssl_trusted_certificate` for OCSP
/// stapling), PEM.
///
/// # Errors
/// [`TlsError::Unparsable`].
pub fn intermediates_pem(chain: &[u8]) -> Result<Vec<u8>, TlsError> {
    let ders = chain_ders(chain)?;
    let blocks: Vec<pem::Pem> = ders[1..]
        .iter()
        .map(|der| pem::Pem::new("CERTIFICATE", der.clone()))
        .collect();
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    Ok(pem::encode_many_config(&blocks, config).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn pair(name: &str, not_before: i64, not_after: i64) -> PemPair {
        self_signed(&SelfSigned {
            server_name: name.into(),
            not_before,
            not_after,
        })
        .unwrap()
    }

    #[test]
    fn a_self_signed_pair_reads_back_and_checks() {
        let p = pair("market.test", NOW - 60, NOW + 2 * DAY_SECS + 5);
        let info = check_pair(&p, NOW).unwrap();
        assert_eq!(info.subject, "CN=market.test");
        assert_eq!(info.issuer, "CN=market.test");
        assert!(info.self_signed);
        assert_eq!(info.days_left, 2);
        assert_eq!(info.not_after, NOW + 2 * DAY_SECS + 5);
        assert_eq!((info.chain_len, info.ocsp_url.as_deref()), (1, None));
        assert!(!info.can_staple());
        assert_eq!(info.sha256.len(), 64);
        let text = info.describe();
        assert!(text.contains("(self-signed"), "{text}");
        assert!(
            text.contains("(2 days left)") && text.contains("none (no stapling)"),
            "{text}"
        );
    }

    #[test]
    fn a_foreign_key_an_expired_or_a_broken_chain_is_refused() {
        let a = pair("a.test", NOW - 60, NOW + DAY_SECS);
        let b = pair("b.test", NOW - 60, NOW + DAY_SECS);
        let mixed = PemPair {
            chain: a.chain.clone(),
            key: b.key.clone(),
        };
        assert!(matches!(
            check_pair(&mixed, NOW),
            Err(TlsError::KeyMismatch { .. })
        ));
        let old = pair("a.test", NOW - 2 * DAY_SECS, NOW - DAY_SECS);
        assert!(matches!(
            check_pair(&old, NOW),
            Err(TlsError::Expired { .. })
        ));
        assert_eq!(inspect_chain(&old.chain, NOW).unwrap().days_left, -1);
        let key_as_cert = PemPair {
            chain: a.key.clone(),
            key: a.key.clone(),
        };
        assert!(matches!(
            check_pair(&key_as_cert, NOW),
            Err(TlsError::Unparsable(_))
        ));
        let unordered = [a.chain.clone(), b.chain.clone()].concat();
        assert!(matches!(
            inspect_chain(&unordered, NOW),
            Err(TlsError::Unparsable(m)) if m.contains("in order")
        ));
        let not_a_key = PemPair {
            chain: a.chain.clone(),
            key: b"garbage".to_vec(),
        };
        assert!(matches!(
            check_pair(&not_a_key, NOW),
            Err(TlsError::BadKey(_))
        ));
    }

    /// A CA-issued leaf whose AIA names `ocsp` (RFC 5280 4.2.2.1, DER by hand), with its chain.
    fn issued_with_ocsp(ocsp: &str) -> PemPair {
        use rcgen::{BasicConstraints, CertifiedIssuer, CustomExtension, IsCa};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "Test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let mut leaf = CertificateParams::new(vec!["market.test".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "market.test");
        let oid_ocsp = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
        let mut desc = oid_ocsp.to_vec();
        desc.extend([0x86, ocsp.len() as u8]);
        desc.extend(ocsp.as_bytes());
        let mut access = vec![0x30, desc.len() as u8];
        access.extend(desc);
        let mut aia = vec![0x30, access.len() as u8];
        aia.extend(access);
        leaf.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            aia,
        )];
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &ca).unwrap();
        PemPair {
            chain: [cert.pem(), ca.as_ref().pem()].concat().into_bytes(),
            key: key.serialize_pem().into_bytes(),
        }
    }

    #[test]
    fn an_issued_chain_names_its_ocsp_responder_and_can_be_stapled() {
        let p = issued_with_ocsp("http://ocsp.test/");
        let info = check_pair(&p, time::OffsetDateTime::now_utc().unix_timestamp()).unwrap();
        assert_eq!(info.ocsp_url.as_deref(), Some("http://ocsp.test/"));
        assert_eq!((info.chain_len, info.self_signed), (2, false));
        assert_eq!(info.issuer, "CN=Test CA");
        assert!(info.can_staple());
        assert!(info.describe().contains("http://ocsp.test/ (stapled)"));
    }

    #[test]
    fn intermediates_are_the_chain_after_the_leaf() {
        let a = pair("a.test", NOW - 60, NOW + DAY_SECS);
        assert!(intermediates_pem(&a.chain).unwrap().is_empty());
        let doubled = [a.chain.clone(), a.chain.clone()].concat();
        let rest = intermediates_pem(&doubled).unwrap();
        assert_eq!(chain_ders(&rest).unwrap(), chain_ders(&a.chain).unwrap());
    }
}
