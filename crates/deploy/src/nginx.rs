//! Pointing nginx at one server container: render the pin files into nginx's config volume
//! (`/etc/nginx/mmkt/`: the `mmkt_active` upstream block, by IP with keepalive and the
//! loopback relay as backup, and the `$mmkt_upstream` map entry selecting it; see
//! deploy/nginx/nginx.conf, "Pinned upstream"), check them with `nginx -t` and
//! `nginx -s reload` (old workers finish their in-flight requests), all through the Engine API
//! (archive upload and exec).

use std::net::{IpAddr, SocketAddr};

use mmkt_stack::Engine;
use mmkt_stack::volume::{VolumeFile, files_tar};

use crate::error::DeployError;

/// The compose service of the reverse proxy.
pub const NGINX: &str = "nginx";

/// The directory nginx includes upstream files from (the `nginx-upstream` volume).
pub const UPSTREAM_DIR: &str = "/etc/nginx/mmkt";

/// The map entry file (included by the `$mmkt_upstream` map as `*.conf`).
pub const UPSTREAM_FILE: &str = "upstream.conf";

/// The upstream block file (included at http level as `*.upstream`).
pub const BLOCK_FILE: &str = "active.upstream";

/// The name of the pinned upstream block, the map entry's value.
pub const BLOCK_NAME: &str = "mmkt_active";

/// The loopback relay in the nginx container (deploy/nginx/nginx.conf, its last `server`):
/// the pinned upstream's backup, proxying to the service name per request.
pub const RELAY: &str = "127.0.0.1:8079";

/// Idle connections to the pinned container each nginx worker keeps for reuse.
pub const KEEPALIVE: u16 = 16;

/// Seconds the pinned container is skipped (for the relay) after one failed connection.
pub const FAIL_TIMEOUT_SECS: u16 = 30;

/// Where nginx sends the API traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream<'a> {
    /// One container by its IP on nginx's network, during a switch (connections kept alive).
    Pinned {
        /// The container name (for the operator reading the file).
        container: &'a str,
        /// Its IP on a network nginx shares, and its server port.
        address: SocketAddr,
    },
    /// The compose service name (`server:8080`, the map's default), between deploys.
    Service,
}

/// The two pin files' contents for one [`Upstream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFiles {
    /// [`BLOCK_FILE`]: the `upstream mmkt_active { .. }` block, or only comments.
    pub block: String,
    /// [`UPSTREAM_FILE`]: the map entry `~^ mmkt_active;` (its regex matches every host, so it
    /// wins over the map's default), or only comments.
    pub map_entry: String,
}

/// The pin files for `upstream`. [`Upstream::Service`] gives files of comments only, so the
/// map's default (the service name, resolved per request) applies, as with an empty directory.
pub fn render(upstream: Upstream<'_>) -> UpstreamFiles {
    let head = "# Written by `mmctl deploy` / `mmctl rollback` (deploy/nginx/nginx.conf, \"Pinned upstream\").\n";
    match upstream {
        Upstream::Pinned { container, address } => UpstreamFiles {
            block: format!(
                "{head}# Pinned to container {container}.\nupstream {BLOCK_NAME} {{\n    server {address} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECS}s;\n    server {RELAY} backup;\n    keepalive {KEEPALIVE};\n}}\n"
            ),
            map_entry: format!("{head}# Pinned to container {container}.\n~^ {BLOCK_NAME};\n"),
        },
        Upstream::Service => {
            let none =
                format!("{head}# No pin: the map's default (the compose service name) applies.\n");
            UpstreamFiles {
                block: none.clone(),
                map_entry: none,
            }
        }
    }
}

/// The IP nginx reaches a container on: its address on the first (by name) of `nginx_networks`
/// it is attached to; `attached` gives each of the container's networks with its IP (empty
/// while the container is stopped). `None` when it has none there.
pub fn address_on<'a>(
    attached: impl IntoIterator<Item = (&'a str, &'a str)>,
    nginx_networks: &[String],
) -> Option<IpAddr> {
    let mut found: Vec<(&str, IpAddr)> = attached
        .into_iter()
        .filter(|(net, _)| nginx_networks.iter().any(|n| n == net))
        .filter_map(|(net, ip)| ip.parse().ok().map(|ip| (net, ip)))
        .collect();
    found.sort();
    found.first().map(|(_, ip)| *ip)
}

/// The address (IP on a network nginx is on, and `port`) nginx reaches container `container`
/// on, `None` when it has no IP there (stopped, or not on nginx's networks).
///
/// Engine API: `GET /containers/{id}/json` (`NetworkSettings.Networks[*].IPAddress`).
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn nginx_address(
    engine: &Engine,
    container: &str,
    nginx_networks: &[String],
    port: u16,
) -> Result<Option<SocketAddr>, DeployError> {
    let info = engine.inspect(container).await?;
    let networks = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    let attached = networks
        .iter()
        .map(|(net, ep)| (net.as_str(), ep.ip_address.as_deref().unwrap_or("")));
    Ok(address_on(attached, nginx_networks).map(|ip| SocketAddr::new(ip, port)))
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

/// Writes the pin files for `upstream` into nginx container `nginx`, checks the whole
/// configuration (`nginx -t`) and reloads. A configuration nginx refuses is replaced by the
/// unpinned files again (nginx keeps running on its old configuration meanwhile).
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
            "nginx -t refused the pin files: {detail}"
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
    let files = render(upstream);
    // The block first: a map entry naming a block nginx does not have would fail `nginx -t`.
    let tar = files_tar(&[
        pin_file(BLOCK_FILE, &files.block),
        pin_file(UPSTREAM_FILE, &files.map_entry),
    ])?;
    engine.upload_archive(nginx, UPSTREAM_DIR, tar).await.map_err(|e| {
        DeployError::Nginx(format!(
            "cannot write {UPSTREAM_DIR}/{BLOCK_FILE} and {UPSTREAM_FILE} in the nginx container ({e}); mount the nginx-upstream volume at {UPSTREAM_DIR} (deploy/docker-compose.yml)"
        ))
    })
}

/// A pin file as nginx (user www-data) reads it: root-owned, mode 0644.
fn pin_file<'a>(name: &'a str, content: &'a str) -> VolumeFile<'a> {
    VolumeFile {
        name,
        content: content.as_bytes(),
        mode: 0o644,
        owner: (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_files_select_a_keepalive_block_by_ip_with_the_relay_as_backup() {
        let files = render(Upstream::Pinned {
            container: "mmkt-server-d1",
            address: "172.18.0.5:8080".parse().unwrap(),
        });
        assert!(
            files.block.ends_with(
                "upstream mmkt_active {\n    server 172.18.0.5:8080 max_fails=1 fail_timeout=30s;\n    server 127.0.0.1:8079 backup;\n    keepalive 16;\n}\n"
            ),
            "{}",
            files.block
        );
        assert!(files.block.contains("mmkt-server-d1"), "{}", files.block);
        assert!(
            files.map_entry.ends_with("\n~^ mmkt_active;\n"),
            "{}",
            files.map_entry
        );
    }

    #[test]
    fn unpinned_files_hold_only_comments() {
        let files = render(Upstream::Service);
        for text in [&files.block, &files.map_entry] {
            assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
        }
    }

    #[test]
    fn the_address_is_the_ip_on_a_network_nginx_shares() {
        let nginx = vec!["p_frontend".to_owned(), "p_edge".to_owned()];
        let attached = [("p_backend", "10.0.0.2"), ("p_frontend", "172.18.0.5")];
        assert_eq!(
            address_on(attached, &nginx),
            Some("172.18.0.5".parse().unwrap())
        );
        // Two shared networks: the first by name, whatever the engine's order.
        let both = [("p_frontend", "172.18.0.5"), ("p_edge", "172.19.0.3")];
        assert_eq!(
            address_on(both, &nginx),
            Some("172.19.0.3".parse().unwrap())
        );
        // Stopped (no IP) or on none of nginx's networks: no address.
        assert_eq!(address_on([("p_frontend", "")], &nginx), None);
        assert_eq!(address_on([("p_backend", "10.0.0.2")], &nginx), None);
    }
}
