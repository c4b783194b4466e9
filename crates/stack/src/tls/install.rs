//! The certificate files in the `tls-certs` volume and nginx around them: read what is served,
//! write the bootstrap pair, and replace the pair with an `nginx -t` check before the reload.

use std::collections::HashMap;

use super::cert::{CertificateInfo, PemPair, SelfSigned, check_pair, inspect_chain, self_signed};
use super::{BOOTSTRAP_VALIDITY_SECS, CERT_VOLUME, NGINX_SERVICE, TlsError};
use crate::engine::Engine;
use crate::labels;
use crate::spec::scoped;
use crate::stack::{ObjectKind, Project};
use crate::volume::VolumeFile;

/// The leaf and intermediates file.
pub const FULLCHAIN: &str = "fullchain.pem";
/// The private key file.
pub const PRIVKEY: &str = "privkey.pem";
/// The intermediates alone (nginx's `ssl_trusted_certificate` when stapling).
pub const CHAIN: &str = "chain.pem";
/// The stapling directives nginx includes (`include /etc/nginx/tls/*.conf`).
pub const STAPLING: &str = "stapling.conf";

/// Owner of the files: Debian's `www-data` (uid and gid 33), the user nginx runs as.
const NGINX_OWNER: (u64, u64) = (33, 33);

/// What [`bootstrap`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// A certificate is there already; nothing was written.
    Present,
    /// There was none: a self-signed one for the server name was written.
    Written(CertificateInfo),
    /// The compose file has no nginx service.
    NoNginx,
    /// The nginx image is not built yet (`up` then reports it); nothing was written.
    NoImage,
}

/// What [`install`] replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The certificate served before (none when the volume had none, or one that no longer
    /// parses).
    pub previous: Option<CertificateInfo>,
    /// The certificate nginx serves after its reload.
    pub installed: CertificateInfo,
}

/// The stapling directives for a chain: on when nginx can staple it
/// ([`CertificateInfo::can_staple`]), a comment otherwise.
pub fn stapling_conf(info: &CertificateInfo) -> String {
    let head = "# Written by `mmctl tls`; included by deploy/nginx/nginx.conf's TLS server.\n";
    if info.can_staple() {
        format!(
            "{head}# {} names the OCSP responder {}.\nssl_stapling on;\nssl_stapling_verify on;\nssl_trusted_certificate /etc/nginx/tls/{CHAIN};\n",
            info.subject,
            info.ocsp_url.as_deref().unwrap_or_default()
        )
    } else {
        format!(
            "{head}# No OCSP stapling: the certificate names no OCSP responder, or the chain lacks its issuer.\n"
        )
    }
}

/// The files of one installed pair, with their modes.
struct PairFiles {
    chain: Vec<u8>,
    key: Vec<u8>,
    intermediates: Vec<u8>,
    stapling: Vec<u8>,
}

impl PairFiles {
    fn of(pair: &PemPair, info: &CertificateInfo) -> Result<Self, TlsError> {
        Ok(PairFiles {
            chain: pair.chain.clone(),
            key: pair.key.clone(),
            intermediates: super::cert::intermediates_pem(&pair.chain)?,
            stapling: stapling_conf(info).into_bytes(),
        })
    }

    fn entries(&self) -> [VolumeFile<'_>; 4] {
        let file = |name, content, mode| VolumeFile {
            name,
            content,
            mode,
            owner: NGINX_OWNER,
        };
        [
            file(FULLCHAIN, &self.chain, 0o644),
            file(PRIVKEY, &self.key, 0o600),
            file(CHAIN, &self.intermediates, 0o644),
            file(STAPLING, &self.stapling, 0o644),
        ]
    }
}

/// The volume, the helper image and its labels for one project.
struct CertStore<'a> {
    engine: &'a Engine,
    volume: String,
    image: String,
    labels: HashMap<String, String>,
}

impl<'a> CertStore<'a> {
    fn new(engine: &'a Engine, project: &Project) -> Result<Self, TlsError> {
        let svc = project
            .compose
            .file
            .services
            .get(NGINX_SERVICE)
            .ok_or(TlsError::NoNginxService)?;
        let image = svc.image.clone().ok_or(TlsError::NoNginxService)?;
        Ok(CertStore {
            engine,
            volume: scoped(&project.name, CERT_VOLUME),
            image,
            labels: HashMap::from([(labels::PROJECT.to_string(), project.name.clone())]),
        })
    }

    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, TlsError> {
        Ok(self
            .engine
            .read_volume_file(&self.volume, &self.image, &self.labels, name)
            .await?)
    }

    async fn write(&self, files: &PairFiles) -> Result<(), TlsError> {
        Ok(self
            .engine
            .write_volume_files(&self.volume, &self.image, &self.labels, &files.entries())
            .await?)
    }

    async fn current(&self, now: i64) -> Result<Option<CertificateInfo>, TlsError> {
        Ok(self
            .read(FULLCHAIN)
            .await?
            .filter(|c| !c.is_empty())
            .and_then(|c| inspect_chain(&c, now).ok()))
    }
}

/// The certificate in the project's `tls-certs` volume (read through a helper container of
/// the nginx image; nginx need not run). `now` is Unix seconds.
///
/// Engine API: as [`Engine::read_volume_file`].
///
/// # Errors
/// [`TlsError::NoNginxService`], [`TlsError::NoCertificate`], [`TlsError::Unparsable`],
/// [`TlsError::Engine`].
pub async fn status(
    engine: &Engine,
    project: &Project,
    now: i64,
) -> Result<CertificateInfo, TlsError> {
    let store = CertStore::new(engine, project)?;
    let chain = store.read(FULLCHAIN).await?.filter(|c| !c.is_empty());
    let chain = chain.ok_or_else(|| TlsError::NoCertificate {
        volume: store.volume.clone(),
    })?;
    inspect_chain(&chain, now)
}

/// Writes a self-signed certificate for `server_name` (valid [`BOOTSTRAP_VALIDITY_SECS`] from
/// `now`, Unix seconds) when the project's `tls-certs` volume (created if missing, with the
/// compose labels) has no `fullchain.pem`, so nginx starts. Run by `mmctl up` before the
/// containers.
///
/// Engine API: `GET /images/{name}/json`, `GET /volumes/{name}`, `POST /volumes/create`, then as
/// [`Engine::write_volume_files`].
///
/// # Errors
/// [`TlsError::Generate`], [`TlsError::Engine`] (e.g. the nginx image is not built yet).
pub async fn bootstrap(
    engine: &Engine,
    project: &Project,
    server_name: &str,
    now: i64,
) -> Result<Bootstrap, TlsError> {
    if !project.compose.file.services.contains_key(NGINX_SERVICE) {
        return Ok(Bootstrap::NoNginx);
    }
    let store = CertStore::new(engine, project)?;
    if crate::image::image_id(engine, &store.image)
        .await?
        .is_none()
    {
        return Ok(Bootstrap::NoImage);
    }
    project
        .ensure_object(engine, ObjectKind::Volume, CERT_VOLUME)
        .await?;
    if store.read(FULLCHAIN).await?.is_some_and(|c| !c.is_empty()) {
        return Ok(Bootstrap::Present);
    }
    let pair = self_signed(&SelfSigned {
        server_name: server_name.to_string(),
        not_before: now - 60,
        not_after: now + BOOTSTRAP_VALIDITY_SECS,
    })?;
    let info = check_pair(&pair, now)?;
    store.write(&PairFiles::of(&pair, &info)?).await?;
    Ok(Bootstrap::Written(info))
}

/// Replaces nginx's certificate with `pair` without dropping a request: checks the pair
/// ([`check_pair`] at `now`, Unix seconds), writes it into the `tls-certs` volume, runs
/// `nginx -t` in the running nginx container and only then `nginx -s reload` (new workers
/// take the new certificate; old ones finish their requests). When nginx refuses, the
/// previous files are written back and nginx, never reloaded, keeps serving them.
///
/// Engine API: as [`Engine::read_volume_file`] and [`Engine::write_volume_files`];
/// `POST /containers/{id}/exec` for `nginx -t -q` and `nginx -s reload`.
///
/// # Errors
/// Before anything is written: [`TlsError::Unparsable`], [`TlsError::BadKey`],
/// [`TlsError::KeyMismatch`], [`TlsError::Expired`], [`TlsError::NotYetValid`],
/// [`TlsError::NoNginxService`], [`TlsError::NginxNotRunning`]; after:
/// [`TlsError::NginxRefused`], [`TlsError::ReloadFailed`] (old files back);
/// [`TlsError::Engine`].
pub async fn install(
    engine: &Engine,
    project: &Project,
    pair: &PemPair,
    now: i64,
) -> Result<Installed, TlsError> {
    let info = check_pair(pair, now)?;
    let store = CertStore::new(engine, project)?;
    let nginx = running_nginx(engine, &project.name).await?;
    let previous = store.current(now).await?;
    let old = PairFiles {
        chain: store.read(FULLCHAIN).await?.unwrap_or_default(),
        key: store.read(PRIVKEY).await?.unwrap_or_default(),
        intermediates: store.read(CHAIN).await?.unwrap_or_default(),
        stapling: match store.read(STAPLING).await? {
            Some(s) => s,
            None => b"# No certificate was installed by mmctl before.\n".to_vec(),
        },
    };
    store.write(&PairFiles::of(pair, &info)?).await?;
    let test = engine.exec(&nginx, &["nginx", "-t", "-q"], None).await?;
    if test.exit_code != 0 {
        store.write(&old).await?;
        return Err(TlsError::NginxRefused {
            detail: String::from_utf8_lossy(&test.stderr).trim().to_string(),
        });
    }
    let reload = engine
        .exec(&nginx, &["nginx", "-s", "reload"], None)
        .await?;
    if reload.exit_code != 0 {
        store.write(&old).await?;
        return Err(TlsError::ReloadFailed {
            detail: String::from_utf8_lossy(&reload.stderr).trim().to_string(),
        });
    }
    Ok(Installed {
        previous,
        installed: info,
    })
}

/// The ID of the project's running nginx container.
async fn running_nginx(engine: &Engine, project: &str) -> Result<String, TlsError> {
    engine
        .running_service_container(project, NGINX_SERVICE)
        .await?
        .ok_or_else(|| TlsError::NginxNotRunning {
            project: project.to_string(),
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn info(
        self_signed: bool,
        days_left: i64,
        ocsp: Option<&str>,
        chain_len: usize,
    ) -> CertificateInfo {
        CertificateInfo {
            subject: "CN=a".into(),
            issuer: "CN=b".into(),
            not_before: 0,
            not_after: 0,
            days_left,
            ocsp_url: ocsp.map(str::to_string),
            self_signed,
            chain_len,
            sha256: String::new(),
        }
    }

    #[test]
    fn stapling_is_on_only_with_a_responder_and_its_issuer() {
        let on = stapling_conf(&info(false, 60, Some("http://r3.o.lencr.org"), 2));
        assert!(on.contains("ssl_stapling on;") && on.contains("ssl_stapling_verify on;"));
        assert!(on.contains("ssl_trusted_certificate /etc/nginx/tls/chain.pem;"));
        for off in [
            info(false, 60, None, 2),
            info(false, 60, Some("http://o"), 1),
        ] {
            let text = stapling_conf(&off);
            assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
        }
    }
}
