//! The pin between deploys: `mmctl up` pins nginx to the running server container by IP
//! ([`pin_running_server`], so its connections are kept alive in the steady state too), and
//! `mmctl health` checks that the pin names a running server container ([`check`]): one
//! recreated outside mmctl has a new IP, and nginx then reaches it only through the relay.

use std::net::SocketAddr;

use mmkt_stack::Engine;
use mmkt_stack::health::{Check, ServiceHealth};

use crate::error::DeployError;
use crate::nginx::{
    NGINX, PinChange, Upstream, ensure, nginx_container, nginx_networks, pinned_address, read_pin,
    server_address,
};
use crate::target::running_servers;

/// What [`pin_running_server`] did. Not an error when there is nothing to pin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpPin {
    /// nginx is pinned to the one running server container.
    Pinned {
        /// Its container name.
        container: String,
        /// Its IP on nginx's network, and its server port.
        address: SocketAddr,
        /// Whether the files were rewritten (and nginx reloaded) or already held this pin.
        change: PinChange,
    },
    /// No running nginx container: nothing to pin.
    NoNginx,
    /// No running server container with an address on nginx's networks: the pin files were
    /// left as they are.
    NoServer,
    /// Several server containers run (a deploy or rollback in progress, which pins itself):
    /// the pin files were left as they are.
    SeveralServers(usize),
}

impl UpPin {
    /// One line for the operator.
    pub fn describe(&self) -> String {
        match self {
            UpPin::Pinned {
                container,
                address,
                change: PinChange::Written,
            } => format!("pinned to {container} at {address} (nginx -t ok, reloaded)"),
            UpPin::Pinned {
                container, address, ..
            } => format!("pinned to {container} at {address} (unchanged)"),
            UpPin::NoNginx => "no running nginx container: no pin".into(),
            UpPin::NoServer => {
                "no running server container on nginx's networks: pin left as it is".into()
            }
            UpPin::SeveralServers(n) => {
                format!("{n} server containers run (a deploy in progress?): pin left as it is")
            }
        }
    }
}

/// Pins nginx of `project` to its running server container by IP (see
/// [`crate::nginx::render`]): writes the pin files, checks them with `nginx -t` and reloads,
/// only when they do not already name that container's address.
///
/// Engine API: `GET /containers/json`, `GET /containers/{id}/json`, `POST
/// /containers/{id}/exec`, `PUT /containers/{id}/archive`.
///
/// # Errors
/// [`DeployError::Nginx`] when `nginx -t` refuses the pin (the unpinned files are written
/// back) or the reload fails; [`DeployError::Engine`].
pub async fn pin_running_server(engine: &Engine, project: &str) -> Result<UpPin, DeployError> {
    let Some(nginx) = nginx_container(engine, project).await? else {
        return Ok(UpPin::NoNginx);
    };
    let servers = running_servers(engine, project).await?;
    let [server] = servers.as_slice() else {
        return Ok(match servers.len() {
            0 => UpPin::NoServer,
            n => UpPin::SeveralServers(n),
        });
    };
    let shared = nginx_networks(engine, &nginx).await?;
    let Some(address) = server_address(engine, &server.id, &shared).await? else {
        return Ok(UpPin::NoServer);
    };
    let container = server.release.container.clone();
    let upstream = Upstream::Pinned {
        container: &container,
        address,
    };
    let change = ensure(engine, &nginx, upstream).await?;
    Ok(UpPin::Pinned {
        container,
        address,
        change,
    })
}

/// What nginx's pin names, as [`check`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinState {
    /// The pin names a running server container's address.
    Current {
        /// That container's name.
        container: String,
        /// The pinned address.
        address: SocketAddr,
    },
    /// No pin (missing or comment-only files): nginx reaches the service name per request,
    /// one connection per request.
    Unpinned,
    /// The pin names an address no running server container has (one recreated outside
    /// mmctl): every nginx worker tries it once per fail timeout before the relay.
    Stale {
        /// The pinned address.
        address: SocketAddr,
    },
    /// No running nginx container.
    NoNginx,
    /// The pin or the containers could not be read (e.g. nginx restarting): what failed.
    Unreadable(String),
}

impl PinState {
    /// The `pin` check `mmctl health` shows under nginx: failed only for [`PinState::Stale`].
    pub fn to_check(&self) -> Check {
        let (ok, detail) = match self {
            PinState::Current { container, address } => {
                (true, format!("pinned to {container} at {address}"))
            }
            PinState::Unpinned => (
                true,
                "no pin: one connection per request to the service name; `mmctl up` pins the server container".into(),
            ),
            PinState::Stale { address } => (
                false,
                format!(
                    "pinned to {address}, which no running server container has (recreated outside mmctl?); requests go through the relay: run `mmctl up` to pin the running one"
                ),
            ),
            PinState::NoNginx => (true, "no running nginx container".into()),
            PinState::Unreadable(reason) => (false, format!("cannot read nginx's pin: {reason}")),
        };
        Check {
            name: "pin".into(),
            ok,
            detail,
        }
    }

    /// Adds [`PinState::to_check`] to nginx's entry of `results` (a failed check marks it
    /// unhealthy); nothing when `results` has no nginx entry.
    pub fn record(&self, results: &mut [ServiceHealth]) {
        let Some(nginx) = results.iter_mut().find(|r| r.service == NGINX) else {
            return;
        };
        let check = self.to_check();
        nginx.healthy &= check.ok;
        nginx.checks.push(check);
    }
}

/// [`check`], its error as [`PinState::Unreadable`]: what `mmctl health` shows, which reports
/// failures instead of stopping at them.
pub async fn probe(engine: &Engine, project: &str) -> PinState {
    check(engine, project)
        .await
        .unwrap_or_else(|e| PinState::Unreadable(e.to_string()))
}

/// Reads nginx's pin and compares it with the running server containers' addresses on
/// nginx's networks.
///
/// Engine API: `GET /containers/json`, `GET /containers/{id}/json`, `POST
/// /containers/{id}/exec` (`cat`).
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn check(engine: &Engine, project: &str) -> Result<PinState, DeployError> {
    let Some(nginx) = nginx_container(engine, project).await? else {
        return Ok(PinState::NoNginx);
    };
    let Some(address) = read_pin(engine, &nginx)
        .await?
        .and_then(|files| pinned_address(&files.block))
    else {
        return Ok(PinState::Unpinned);
    };
    let shared = nginx_networks(engine, &nginx).await?;
    for server in running_servers(engine, project).await? {
        if server_address(engine, &server.id, &shared).await? == Some(address) {
            return Ok(PinState::Current {
                container: server.release.container,
                address,
            });
        }
    }
    Ok(PinState::Stale { address })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nginx_entry() -> ServiceHealth {
        ServiceHealth {
            service: NGINX.into(),
            healthy: true,
            checks: Vec::new(),
        }
    }

    #[test]
    fn only_a_stale_pin_makes_nginx_unhealthy_and_it_says_to_run_up() {
        let address: SocketAddr = "172.18.0.9:8080".parse().unwrap();
        let mut results = vec![nginx_entry()];
        PinState::Stale { address }.record(&mut results);
        let check = &results[0].checks[0];
        assert!(!results[0].healthy);
        assert_eq!((check.name.as_str(), check.ok), ("pin", false));
        assert!(check.detail.contains("172.18.0.9:8080"), "{}", check.detail);
        assert!(check.detail.contains("`mmctl up`"), "{}", check.detail);

        for state in [
            PinState::Current {
                container: "mmkt-server-1".into(),
                address,
            },
            PinState::Unpinned,
            PinState::NoNginx,
        ] {
            let mut results = vec![nginx_entry()];
            state.record(&mut results);
            assert!(results[0].healthy, "{state:?}");
            assert!(results[0].checks[0].ok, "{state:?}");
        }
        let mut results = vec![nginx_entry()];
        PinState::Unreadable("exec failed".into()).record(&mut results);
        assert!(!results[0].healthy && results[0].checks[0].detail.contains("exec failed"));
        // No nginx entry (not probed): nothing added.
        let mut none: Vec<ServiceHealth> = Vec::new();
        PinState::Stale { address }.record(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn up_describes_what_it_did_with_the_pin() {
        let pinned = |change| UpPin::Pinned {
            container: "p-server-1".into(),
            address: "172.18.0.5:8080".parse().unwrap(),
            change,
        };
        assert_eq!(
            pinned(PinChange::Written).describe(),
            "pinned to p-server-1 at 172.18.0.5:8080 (nginx -t ok, reloaded)"
        );
        assert!(
            pinned(PinChange::Unchanged)
                .describe()
                .ends_with("(unchanged)")
        );
        assert!(UpPin::SeveralServers(2).describe().starts_with("2 server"));
    }
}
