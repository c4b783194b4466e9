//! Pointing nginx at one server container: render the pin files into nginx's config volume
//! (`/etc/nginx/mmkt/`: the `mmkt_active` upstream block, by IP with keepalive and the
//! loopback relay as backup, and the `$mmkt_upstream` map entry selecting it; see
//! deploy/nginx/nginx.conf, "Pinned upstream"), check them with `nginx -t` and
//! `nginx -s reload` (old workers finish their in-flight requests), all through the Engine API
//! (archive upload and exec), reading them back first so an unchanged pin is not rewritten.

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
    /// One container by its IP on nginx's network (connections kept alive): the steady state,
    /// written by `mmctl up` and at a deploy's or rollback's switch.
    Pinned {
        /// The container name (for the operator reading the file).
        container: &'a str,
        /// Its IP on a network nginx shares, and its server port.
        address: SocketAddr,
    },
    /// The compose service name (`server:8080`, the map's default, one connection per
    /// request): when no server container has an address to pin, or nginx refused a pin.
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
    let head = "# Written by `mmctl up` / `mmctl deploy` / `mmctl rollback` (deploy/nginx/nginx.conf, \"Pinned upstream\").\n";
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

/// The address a pin file names: that of the `upstream mmkt_active` block's first `server`
/// line (the pinned container, not the `backup` relay), as [`render`] writes it. `None` for
/// unpinned (comments only) or foreign content.
pub fn pinned_address(block: &str) -> Option<SocketAddr> {
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.contains(" backup"))
        .find_map(|l| l.strip_prefix("server "))
        .and_then(|rest| rest.split([' ', ';']).next())
        .and_then(|address| address.parse().ok())
}

/// The server port of a container whose environment is `env` (`NAME=value` entries): that
/// of its `MMKT_BIND` (8080 without one).
pub fn server_port<'a>(env: impl IntoIterator<Item = &'a String>) -> u16 {
    env.into_iter()
        .find_map(|e| e.strip_prefix("MMKT_BIND="))
        .and_then(|b| b.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(8080)
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

/// The address nginx reaches running server container `container` on: its IP on a network
/// nginx shares and the port of its own `MMKT_BIND` ([`server_port`]); `None` when it has no
/// IP there.
///
/// Engine API: `GET /containers/{id}/json`.
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn server_address(
    engine: &Engine,
    container: &str,
    nginx_networks: &[String],
) -> Result<Option<SocketAddr>, DeployError> {
    let info = engine.inspect(container).await?;
    let port = server_port(info.config.iter().flat_map(|c| c.env.iter().flatten()));
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

/// Whether [`ensure`] rewrote the pin files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinChange {
    /// Written, checked (`nginx -t`) and reloaded.
    Written,
    /// They already held this pin: nothing written, no reload.
    Unchanged,
}

/// The pin files in nginx container `nginx`, `None` when either is missing (a fresh volume).
///
/// Engine API: `POST /containers/{id}/exec` (`cat`).
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn read_pin(engine: &Engine, nginx: &str) -> Result<Option<UpstreamFiles>, DeployError> {
    let mut texts = Vec::new();
    for name in [BLOCK_FILE, UPSTREAM_FILE] {
        let path = format!("{UPSTREAM_DIR}/{name}");
        let out = engine.exec(nginx, &["cat", &path], None).await?;
        if out.exit_code != 0 {
            return Ok(None);
        }
        texts.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let map_entry = texts.pop().unwrap_or_default();
    let block = texts.pop().unwrap_or_default();
    Ok(Some(UpstreamFiles { block, map_entry }))
}

/// [`point`], unless the pin files already hold exactly what [`render`] gives for
/// `upstream` (then nothing is written and nginx is not reloaded).
///
/// # Errors
/// As [`point`].
pub async fn ensure(
    engine: &Engine,
    nginx: &str,
    upstream: Upstream<'_>,
) -> Result<PinChange, DeployError> {
    if read_pin(engine, nginx).await?.as_ref() == Some(&render(upstream)) {
        return Ok(PinChange::Unchanged);
    }
    point(engine, nginx, upstream).await?;
    Ok(PinChange::Written)
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
        assert_eq!(pinned_address(&files.block), None);
    }

    #[test]
    fn the_pinned_address_is_read_back_from_the_block_not_the_relay() {
        let address: SocketAddr = "172.18.0.5:8081".parse().unwrap();
        let files = render(Upstream::Pinned {
            container: "mmkt-server-d1",
            address,
        });
        assert_eq!(pinned_address(&files.block), Some(address));
        // Foreign or damaged content names no address.
        for text in [
            "",
            "upstream mmkt_active {\n    server 127.0.0.1:8079 backup;\n}\n",
            "upstream mmkt_active {\n    server server:8080;\n}\n",
            "# server 10.0.0.1:8080;\n",
        ] {
            assert_eq!(pinned_address(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_server_port_is_that_of_mmkt_bind() {
        let env = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(server_port(&env(&["A=1", "MMKT_BIND=0.0.0.0:9090"])), 9090);
        assert_eq!(server_port(&env(&["MMKT_BIND=[::]:8181"])), 8181);
        assert_eq!(server_port(&env(&["A=1"])), 8080);
        assert_eq!(server_port(&env(&["MMKT_BIND=0.0.0.0:port"])), 8080);
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
