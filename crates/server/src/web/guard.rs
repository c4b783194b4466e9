//! The cross-site guard: a state-changing request (every method but GET, HEAD and OPTIONS) or a
//! WebSocket handshake that a browser sent from another site's page is refused with 403
//! `cross_site_refused` before any handler runs, so nothing is written.
//!
//! The decision ([`check`]) reads the headers browsers set and pages cannot forge:
//! `Sec-Fetch-Site` (Fetch Metadata) and `Origin`.
//! 1. `Sec-Fetch-Site: cross-site` is refused.
//! 2. With an `Origin`: allowed when it is in `MMKT_WEB_ORIGINS`
//!    ([`crate::config::web::WebSettings`]) or is the origin of the `Host` the request was sent
//!    to; refused otherwise, `null` (sandboxed frames, files, redirects) included.
//! 3. Without an `Origin`: refused when `Sec-Fetch-Site` says `same-site`; allowed otherwise.
//!    Requests with neither header (curl, API clients, mmctl) are not from a browser page, so no
//!    cookie of a victim rides on them, and stay allowed.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::web::{AllowedOrigins, serialize_origin};
use crate::error::ApiError;
use crate::state::AppState;

/// Why a request was refused as cross-site. The text is shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrossSiteRefusal {
    /// `Sec-Fetch-Site: cross-site`: the browser sent it from another site's page.
    #[error("the browser sent it from another site's page (Sec-Fetch-Site: cross-site)")]
    CrossSiteFetch,
    /// `Sec-Fetch-Site: same-site` without an `Origin` to check.
    #[error("the browser sent it from a sibling site's page (Sec-Fetch-Site: same-site)")]
    SameSiteFetch,
    /// An `Origin` that is neither allowed nor the request's own.
    #[error("its Origin is not this marketplace's (nor listed in MMKT_WEB_ORIGINS)")]
    ForeignOrigin,
    /// `Origin: null` or a value that is not an origin.
    #[error("its Origin is opaque (null) or not an origin")]
    OpaqueOrigin,
}

/// Whether the guard looks at a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// GET, HEAD or OPTIONS without a WebSocket upgrade: changes nothing, not checked.
    Safe,
    /// Any other method.
    StateChanging,
    /// A GET asking to upgrade to a WebSocket (browsers send `Origin` on every handshake).
    WebSocketHandshake,
}

impl RequestKind {
    /// The kind of a request with `method` and `headers`.
    pub fn of(method: &Method, headers: &HeaderMap) -> Self {
        let upgrade = headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if upgrade {
            return RequestKind::WebSocketHandshake;
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return RequestKind::Safe;
        }
        RequestKind::StateChanging
    }
}

/// The guard's decision for a request (see the module documentation for the rules).
///
/// # Errors
/// The [`CrossSiteRefusal`] of a request a browser sent from another site.
pub fn check(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    allowed: &AllowedOrigins,
) -> Result<(), CrossSiteRefusal> {
    if RequestKind::of(method, headers) == RequestKind::Safe {
        return Ok(());
    }
    let text = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let fetch_site = text(header::HeaderName::from_static("sec-fetch-site"))
        .map(|v| v.trim().to_ascii_lowercase());
    if fetch_site.as_deref() == Some("cross-site") {
        return Err(CrossSiteRefusal::CrossSiteFetch);
    }
    let Some(origin) = text(header::ORIGIN).map(str::trim) else {
        return match fetch_site.as_deref() {
            Some("same-site") => Err(CrossSiteRefusal::SameSiteFetch),
            _ => Ok(()),
        };
    };
    let Some(origin) = serialize_origin(origin) else {
        return Err(CrossSiteRefusal::OpaqueOrigin);
    };
    if allowed.contains(&origin) || is_own_origin(&origin, uri, headers) {
        return Ok(());
    }
    Err(CrossSiteRefusal::ForeignOrigin)
}

/// Whether `origin` (serialized) is the origin of the host the request was addressed to
/// (`Host`, or the URI's authority in HTTP/2), with `origin`'s scheme.
fn is_own_origin(origin: &str, uri: &Uri, headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let (Some(host), Some((scheme, _))) = (host, origin.split_once("://")) else {
        return false;
    };
    serialize_origin(&format!("{scheme}://{host}")).as_deref() == Some(origin)
}

/// Middleware: refuses cross-site requests ([`check`]) with [`ApiError::CrossSite`].
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = &state.config().web.allowed_origins;
    if let Err(refusal) = check(request.method(), request.uri(), request.headers(), allowed) {
        tracing::warn!(method = %request.method(), reason = %refusal, "cross-site request refused");
        return ApiError::CrossSite(refusal).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(method: Method, pairs: &[(&str, &str)]) -> Result<(), CrossSiteRefusal> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let allowed = AllowedOrigins::parse("http://127.0.0.1:8080").unwrap();
        check(&method, &Uri::from_static("/api/x"), &headers, &allowed)
    }

    #[test]
    fn browsers_on_other_sites_are_refused() {
        use CrossSiteRefusal::*;
        let host = ("host", "market.example");
        for (headers, want) in [
            (vec![("sec-fetch-site", "cross-site")], CrossSiteFetch),
            (
                vec![
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://127.0.0.1:8080"),
                ],
                CrossSiteFetch,
            ),
            (vec![("sec-fetch-site", "same-site")], SameSiteFetch),
            (
                vec![host, ("origin", "https://evil.example")],
                ForeignOrigin,
            ),
            (
                vec![host, ("origin", "https://market.example.evil")],
                ForeignOrigin,
            ),
            (vec![host, ("origin", "null")], OpaqueOrigin),
        ] {
            assert_eq!(decide(Method::POST, &headers), Err(want), "{headers:?}");
            assert_eq!(decide(Method::DELETE, &headers), Err(want), "{headers:?}");
        }
        let handshake = [("upgrade", "websocket"), ("origin", "https://evil.example")];
        assert_eq!(decide(Method::GET, &handshake), Err(ForeignOrigin));
    }

    #[test]
    fn own_pages_and_non_browsers_pass() {
        for headers in [
            vec![],
            vec![("sec-fetch-site", "same-origin")],
            vec![("sec-fetch-site", "none")],
            vec![
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin"),
            ],
            vec![
                ("host", "market.example"),
                ("origin", "https://market.example"),
            ],
            vec![
                ("host", "market.example:443"),
                ("origin", "https://market.example"),
            ],
            vec![
                ("host", "127.0.0.1:39001"),
                ("origin", "http://127.0.0.1:39001"),
            ],
        ] {
            assert_eq!(decide(Method::PATCH, &headers), Ok(()), "{headers:?}");
        }
        let foreign_read = [
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ];
        assert_eq!(
            decide(Method::GET, &foreign_read),
            Ok(()),
            "reads are not checked"
        );
    }
}
