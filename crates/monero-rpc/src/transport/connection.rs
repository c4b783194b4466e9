//! One keep-alive HTTP/1.1 connection to an RPC endpoint (plain TCP, or TLS for `https`),
//! opened and driven by this crate so that every request of a call, the answer to a digest
//! challenge included, travels on the connection it was meant for.

use std::future::poll_fn;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;
use url::Url;

use super::digest::ConnectionAuth;
use crate::error::HttpError;

/// How long an idle keep-alive connection is kept for the next call; dropped well before
/// epee closes idle connections itself.
pub(crate) const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens TCP connections, with TLS for `https` endpoints (rustls, aws-lc-rs, the platform's
/// certificate verifier). Never goes through a proxy.
pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// The connector every transport uses.
pub(crate) fn connector() -> Result<Connector, HttpError> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|source| HttpError::TlsSetup { source })?;
    Ok(builder.https_or_http().enable_http1().build())
}

/// An answer read to its end.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why [`Connection::send`] failed.
pub(crate) enum SendFailure {
    /// The connection was closed before the request was written: nothing reached the server.
    Unsent(hyper::Error),
    /// The request may have reached the server; its answer was not read.
    Failed(hyper::Error),
}

/// One open HTTP/1.1 connection with the digest state its server keeps for it.
pub(crate) struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// The digest challenge of this connection; see [`ConnectionAuth`].
    pub(crate) auth: ConnectionAuth,
    idle_since: Instant,
}

impl Connection {
    /// Opens a connection to `endpoint`'s host and port and spawns the task that drives it
    /// (it ends when the connection is dropped or the server closes it).
    pub(crate) async fn open(
        connector: &Connector,
        endpoint: &Url,
    ) -> Result<Connection, HttpError> {
        let connect_error = |source| HttpError::Connect {
            url: endpoint.to_string(),
            source,
        };
        let uri: Uri = endpoint
            .as_str()
            .parse()
            .map_err(|e: http::uri::InvalidUri| connect_error(e.into()))?;
        let mut connector = connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(connect_error)?;
        let io = connector.call(uri).await.map_err(connect_error)?;
        let (sender, driver) =
            hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|source| HttpError::Exchange {
                    url: endpoint.to_string(),
                    source,
                })?;
        tokio::spawn(async move {
            if let Err(error) = driver.await {
                tracing::debug!(%error, "rpc connection ended with an error");
            }
        });
        Ok(Connection {
            sender,
            auth: ConnectionAuth::default(),
            idle_since: Instant::now(),
        })
    }

    /// `true` while the server has not closed the connection and it has been idle for less
    /// than [`POOL_IDLE_TIMEOUT`].
    pub(crate) fn is_reusable(&self) -> bool {
        !self.sender.is_closed() && self.idle_since.elapsed() < POOL_IDLE_TIMEOUT
    }

    /// Sends `request` and reads the whole answer.
    pub(crate) async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Answer, SendFailure> {
        self.sender.ready().await.map_err(SendFailure::Unsent)?;
        let response = match self.sender.try_send_request(request).await {
            Ok(response) => response,
            Err(mut error) => {
                let unsent = error.take_message().is_some();
                let error = error.into_error();
                if unsent {
                    return Err(SendFailure::Unsent(error));
                }
                return Err(SendFailure::Failed(error));
            }
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(SendFailure::Failed)?
            .to_bytes();
        self.idle_since = Instant::now();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}
