//! The web-facing surface shared by every route: the cross-site [`guard`], the
//! [`no_store`] cache header, and [`public_text`] for texts that leave the server.

pub mod guard;
pub mod public_text;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware: every answer carries `Cache-Control: no-store` unless its handler chose another
/// value, so no browser or proxy cache keeps an account's orders, escrows or addresses.
pub async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
