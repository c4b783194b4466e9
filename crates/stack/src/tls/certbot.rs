//! A Let's Encrypt certificate through certbot (Debian's package, image
//! deploy/images/certbot): the compose `certbot` service (profile `tls`, never started by
//! `up`) run once as `certonly --webroot` on the `acme-webroot` volume that nginx serves at
//! `/.well-known/acme-challenge/` (port 80), its account and lineage in the `letsencrypt`
//! volume. The image's entrypoint copies the lineage's files (symlinks under `live/`) as
//! plain files into `export/` of that volume, where they are read back.

use std::collections::HashMap;

use futures_util::StreamExt;

use super::TlsError;
use super::cert::PemPair;
use crate::engine::Engine;
use crate::error::StackError;
use crate::labels;
use crate::spec::{plan_service, scoped};
use crate::stack::{ObjectKind, Project};

/// The compose service of the certbot image.
pub const CERTBOT_SERVICE: &str = "certbot";

/// The volume of certbot's account, lineage and export (`/etc/letsencrypt`).
pub const LETSENCRYPT_VOLUME: &str = "letsencrypt";

/// The volume both certbot (writing) and nginx (serving) mount at `/var/www/acme`.
pub const WEBROOT_VOLUME: &str = "acme-webroot";

/// The certbot lineage name (`--cert-name`), so the files have a fixed path.
pub const CERT_NAME: &str = "mmkt";

/// What to ask Let's Encrypt for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertbotRequest {
    /// The DNS name (`-d`); it must resolve to this host, port 80 reaching nginx.
    pub server_name: String,
    /// The ACME account's contact address (`--email`); none registers without one.
    pub email: Option<String>,
}

impl CertbotRequest {
    /// certbot's arguments. The renewal decision is mmctl's (`due`), so certbot renews
    /// whenever it runs.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "certonly",
            "--webroot",
            "-w",
            "/var/www/acme",
            "--cert-name",
            CERT_NAME,
            "--non-interactive",
            "--agree-tos",
            "--force-renewal",
            "--config-dir",
            "/etc/letsencrypt",
            "--work-dir",
            "/tmp/certbot-work",
            "--logs-dir",
            "/tmp/certbot-logs",
            "-d",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(self.server_name.clone());
        match &self.email {
            Some(email) => args.extend(["--email".to_string(), email.clone()]),
            None => args.push("--register-unsafely-without-email".into()),
        }
        args
    }
}

/// Runs certbot once in a container of the `certbot` service (its compose definition:
/// volumes, network, hardening; removed afterwards) and returns the lineage's pair.
///
/// Engine API: `GET /images/{name}/json`, `POST /containers/create`, `POST
/// /containers/{id}/start`, `POST /containers/{id}/wait`, `GET /containers/{id}/logs`,
/// `DELETE /containers/{id}`, then as [`Engine::read_volume_file`].
///
/// # Errors
/// [`TlsError::Certbot`] (certbot's exit code and last output), [`TlsError::Engine`]
/// ([`StackError::ImageMissing`] until `mmctl image build`, [`StackError::Invalid`] without
/// a certbot service).
pub async fn obtain(
    engine: &Engine,
    project: &Project,
    request: &CertbotRequest,
) -> Result<PemPair, TlsError> {
    let svc = project.compose.file.service(CERTBOT_SERVICE)?;
    let image = svc.image.clone().unwrap_or_default();
    let Some(image_id) = crate::image::image_id(engine, &image).await? else {
        return Err(StackError::ImageMissing {
            service: CERTBOT_SERVICE.into(),
            image,
        }
        .into());
    };
    for volume in [LETSENCRYPT_VOLUME, WEBROOT_VOLUME] {
        project
            .ensure_object(engine, ObjectKind::Volume, volume)
            .await?;
    }
    let mut plan = plan_service(&project.compose, &project.name, CERTBOT_SERVICE, &image_id)?;
    plan.name = format!(
        "{}-certbot-run-{}",
        project.name,
        uuid::Uuid::new_v4().simple()
    );
    plan.body.cmd = Some(request.args());
    if let Some(host) = plan.body.host_config.as_mut() {
        host.restart_policy = None;
    }
    let id = engine.start_planned(&plan).await?;
    let exit_code = wait_exit(engine, &id).await;
    let log = engine.tail_logs(&id, 15).await;
    engine.remove_container(&id, &plan.name).await?;
    let exit_code = exit_code?;
    if exit_code != 0 {
        return Err(TlsError::Certbot { exit_code, log });
    }
    let volume = scoped(&project.name, LETSENCRYPT_VOLUME);
    let labels = HashMap::from([(labels::PROJECT.to_string(), project.name.clone())]);
    let read = async |file: &str| -> Result<Vec<u8>, TlsError> {
        let content = engine
            .read_volume_file(&volume, &image, &labels, &format!("export/{file}"))
            .await?;
        content.filter(|c| !c.is_empty()).ok_or(TlsError::Certbot {
            exit_code,
            log: format!("certbot succeeded but export/{file} is missing in volume {volume}"),
        })
    };
    Ok(PemPair {
        chain: read("fullchain.pem").await?,
        key: read("privkey.pem").await?,
    })
}

/// The exit code of container `id`, once it has exited (`POST /containers/{id}/wait`).
async fn wait_exit(engine: &Engine, id: &str) -> Result<i64, TlsError> {
    let mut stream = engine.docker().wait_container(id, None);
    match stream.next().await {
        Some(Ok(answer)) => Ok(answer.status_code),
        // bollard reports a non-zero exit as this error.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(engine.err(format!("wait for container {id}"), e).into()),
        None => Ok(-1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certbot_runs_webroot_on_the_fixed_lineage() {
        let args = CertbotRequest {
            server_name: "market.example".into(),
            email: None,
        }
        .args()
        .join(" ");
        assert!(args.starts_with("certonly --webroot -w /var/www/acme --cert-name mmkt"));
        assert!(args.contains("-d market.example"));
        assert!(args.ends_with("--register-unsafely-without-email"));
    }
}
