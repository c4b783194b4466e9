//! Pointing nginx at one server container: render the upstream file into nginx's config
//! volume (`/etc/nginx/mmkt/upstream.conf`, included by the `$mmkt_upstream` map of
//! deploy/nginx/nginx.conf), check it with `nginx -t` and `nginx -s reload` (old workers
//! finish their in-flight requests), all through the Engine API (archive upload and exec).

use mmkt_stack::Engine;
use mmkt_stack::volume::single_file_tar;

use crate::error::DeployError;

/// The compose service of the reverse proxy.
pub const NGINX: &str = "nginx";

/// The directory nginx includes upstream files from (the `nginx-upstream` volume).
pub const UPSTREAM_DIR: &str = "/etc/nginx/mmkt";

/// The upstream file mmctl writes there.
pub const UPSTREAM_FILE: &str = "upstream.conf";

/// Where nginx sends the API traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream<'a> {
    /// One container by name (resolved by Docker's DNS), during a switch.
    Pinned {
        /// The container name.
        container: &'a str,
        /// Its server port.
        port: u16,
    },
    /// The compose service name (`server:8080`, the map's default), between deploys.
    Service,
}

/// The upstream file for `upstream`: a `$mmkt_upstream` map entry whose regex matches every
/// host, so it wins over the map's `default server:8080`; for [`Upstream::Service`] only a
/// comment, so the default applies.
pub fn render(upstream: Upstream<'_>) -> String {
    let head =
        "# Written by `mmctl deploy` / `mmctl rollback`; included by the $mmkt_upstream map.\n";
    match upstream {
        Upstream::Pinned { container, port } => format!("{head}~^ {container}:{port};\n"),
        Upstream::Service => {
            format!("{head}# No pin: the map's default (the compose service name) applies.\n")
        }
    }
}

/// The running nginx container of `project`, if any.
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn nginx_container(
    engine: &Engine,
    project: &str,
) -> Result<Option<String>, DeployError> {
    Ok(engine.running_service_container(project, NGINX).await?)
}

/// The networks (full names) nginx container `nginx` is connected to: where a server
/// container becomes resolvable for nginx by the `server` alias.
///
/// Engine API: `GET /containers/{id}/json`.
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn nginx_networks(engine: &Engine, nginx: &str) -> Result<Vec<String>, DeployError> {
    let info = engine.inspect(nginx).await?;
    Ok(info
        .network_settings
        .and_then(|n| n.networks)
        .map(|n| n.into_keys().collect())
        .unwrap_or_default())
}

/// Writes the upstream file for `upstream` into nginx container `nginx`, checks the whole
/// configuration (`nginx -t`) and reloads. A configuration nginx refuses is replaced by the
/// unpinned file again (nginx keeps running on its old configuration meanwhile).
///
/// Engine API: `PUT /containers/{id}/archive`, `POST /containers/{id}/exec`.
///
/// # Errors
/// [`DeployError::Nginx`] when the directory is missing, `nginx -t` refuses or the reload
/// fails; [`DeployError::Engine`].
pub async fn point(
    engine: &Engine,
    nginx: &str,
    upstream: Upstream<'_>,
) -> Result<(), DeployError> {
    write(engine, nginx, upstream).await?;
    let test = engine.exec(nginx, &["nginx", "-t", "-q"], None).await?;
    if test.exit_code != 0 {
        let detail = String::from_utf8_lossy(&test.stderr).trim().to_string();
        write(engine, nginx, Upstream::Service).await?;
        return Err(DeployError::Nginx(format!(
            "nginx -t refused the upstream file: {detail}"
        )));
    }
    let reload = engine.exec(nginx, &["nginx", "-s", "reload"], None).await?;
    if reload.exit_code != 0 {
        return Err(DeployError::Nginx(format!(
            "nginx -s reload failed: {}",
            String::from_utf8_lossy(&reload.stderr).trim()
        )));
    }
    Ok(())
}

async fn write(engine: &Engine, nginx: &str, upstream: Upstream<'_>) -> Result<(), DeployError> {
    let tar = single_file_tar(UPSTREAM_FILE, render(upstream).as_bytes())?;
    engine.upload_archive(nginx, UPSTREAM_DIR, tar).await.map_err(|e| {
        DeployError::Nginx(format!(
            "cannot write {UPSTREAM_DIR}/{UPSTREAM_FILE} in the nginx container ({e}); mount the nginx-upstream volume at {UPSTREAM_DIR} (deploy/docker-compose.yml)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_files_name_the_container_and_unpinned_ones_only_comment() {
        let pinned = render(Upstream::Pinned {
            container: "mmkt-server-d1",
            port: 8080,
        });
        assert!(pinned.ends_with("~^ mmkt-server-d1:8080;\n"), "{pinned}");
        let service = render(Upstream::Service);
        assert!(service.lines().all(|l| l.starts_with('#')), "{service}");
    }
}
