//! The keep-alive connections of one endpoint: at most [`MAX_CONNECTIONS`] open at once,
//! each lent to one call at a time together with its digest state, idle ones kept for the
//! next call.

use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};
use url::Url;

use super::connection::{Connection, Connector};
use crate::error::HttpError;

/// Connections per endpoint (and so calls in flight) at most; further calls wait for one.
/// Well below monero-wallet-rpc's default `--rpc-max-connections-per-private-ip` of 25,
/// beyond which it closes new connections unanswered.
pub(crate) const MAX_CONNECTIONS: usize = 8;

/// The connections of one endpoint, shared by a client and its clones.
pub(crate) struct Pool {
    connector: Connector,
    endpoint: Url,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Pool {
    /// An empty pool for `endpoint`.
    pub(crate) fn new(connector: Connector, endpoint: Url) -> Pool {
        Pool {
            connector,
            endpoint,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(MAX_CONNECTIONS),
        }
    }

    /// The right to use one connection, waiting while [`MAX_CONNECTIONS`] are lent.
    pub(crate) async fn lease(&self) -> Lease<'_> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        Lease {
            pool: self,
            connection: None,
            _permit: permit,
        }
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(Connection::is_reusable);
        idle.pop()
    }
}

/// One call's connection. Dropped without [`Lease::release`] (an error, a timeout), the
/// connection is closed rather than reused in an unknown state.
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    connection: Option<Connection>,
    _permit: SemaphorePermit<'a>,
}

/// Where [`Lease::connection`] got its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An idle connection of the pool (the server may have closed it meanwhile).
    Reused,
    /// Opened for this call.
    Opened,
}

impl Lease<'_> {
    /// The connection lent: the one already held, else an idle one, else a new one.
    pub(crate) async fn connection(&mut self) -> Result<(&mut Connection, Origin), HttpError> {
        let origin = if self.connection.is_some() {
            Origin::Reused
        } else if let Some(idle) = self.pool.take_idle() {
            self.connection = Some(idle);
            Origin::Reused
        } else {
            let opened = Connection::open(&self.pool.connector, &self.pool.endpoint).await?;
            self.connection = Some(opened);
            Origin::Opened
        };
        Ok((self.connection.as_mut().expect("set above"), origin))
    }

    /// The connection already held (after [`Lease::connection`]).
    pub(crate) fn held(&mut self) -> Option<&mut Connection> {
        self.connection.as_mut()
    }

    /// Closes the held connection; the next [`Lease::connection`] takes another.
    pub(crate) fn discard(&mut self) {
        self.connection = None;
    }

    /// Gives the connection back to the pool for the next call, if still usable.
    pub(crate) fn release(mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if !connection.is_reusable() {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push(connection);
    }
}
