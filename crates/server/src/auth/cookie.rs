//! The session cookie: its one name per [`CookieSecurity`], the cookies that set and clear it,
//! and reading the token from a request's `Cookie` headers.
//!
//! Over HTTPS (staging, production) the cookie is `__Host-session_token`: browsers accept a
//! `__Host-` cookie only with `Secure`, `Path=/` and no `Domain`, so no sibling subdomain and no
//! plain-HTTP page can set or overwrite it. Development serves plain HTTP on loopback, where a
//! `__Host-` cookie would be refused, and uses `session_token`. Each environment reads only its
//! own name.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::token::SessionToken;
use crate::config::CookieSecurity;

/// Name of the session cookie where it may travel over plain HTTP (development).
pub const PLAIN_COOKIE_NAME: &str = "session_token";

/// Name of the session cookie where it is `Secure` (staging, production).
pub const SECURE_COOKIE_NAME: &str = "__Host-session_token";

/// The session cookie's name under `security`.
pub fn cookie_name(security: CookieSecurity) -> &'static str {
    match security {
        CookieSecurity::PlainHttpAllowed => PLAIN_COOKIE_NAME,
        CookieSecurity::SecureOnly => SECURE_COOKIE_NAME,
    }
}

/// The session token in the request's cookie named [`cookie_name`]`(security)`, if it has the
/// token shape (64 hex chars). A cookie of the other name is ignored.
pub fn token_from_headers(headers: &HeaderMap, security: CookieSecurity) -> Option<SessionToken> {
    CookieJar::from_headers(headers)
        .get(cookie_name(security))
        .and_then(|c| SessionToken::parse(c.value()))
}

/// The session cookie: HttpOnly, SameSite=Strict, Path=/, no Domain, Max-Age = session TTL in
/// seconds; `Secure` with the `__Host-` name under [`CookieSecurity::SecureOnly`].
pub fn session_cookie(
    token: &SessionToken,
    max_age_secs: u64,
    security: CookieSecurity,
) -> Cookie<'static> {
    build(
        token.expose().to_owned(),
        time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX)),
        security,
    )
}

/// A cookie that makes the browser delete the session cookie (same name and attributes,
/// Max-Age=0).
pub fn cleared_cookie(security: CookieSecurity) -> Cookie<'static> {
    build(String::new(), time::Duration::ZERO, security)
}

fn build(value: String, max_age: time::Duration, security: CookieSecurity) -> Cookie<'static> {
    Cookie::build((cookie_name(security), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(security == CookieSecurity::SecureOnly)
        .path("/")
        .max_age(max_age)
        .build()
}

#[cfg(test)]
mod tests {
    use axum::http::header::COOKIE;

    use super::*;

    #[test]
    fn secure_cookies_use_the_host_prefix_and_its_rules() {
        let token = SessionToken::generate();
        let text = session_cookie(&token, 7200, CookieSecurity::SecureOnly).to_string();
        assert!(text.starts_with("__Host-session_token="), "{text}");
        for attribute in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=7200",
        ] {
            assert!(text.contains(attribute), "{attribute} missing: {text}");
        }
        assert!(!text.contains("Domain"), "{text}");
        let cleared = cleared_cookie(CookieSecurity::SecureOnly).to_string();
        assert!(
            cleared.starts_with("__Host-session_token=;") && cleared.contains("Max-Age=0"),
            "{cleared}"
        );
        let plain = session_cookie(&token, 60, CookieSecurity::PlainHttpAllowed).to_string();
        assert!(
            plain.starts_with("session_token=") && !plain.contains("Secure"),
            "{plain}"
        );
    }

    #[test]
    fn each_security_reads_only_its_own_name() {
        let token = SessionToken::generate();
        let mut headers = HeaderMap::new();
        let header = format!("session_token={}", token.expose());
        headers.insert(COOKIE, header.parse().unwrap());
        assert_eq!(
            token_from_headers(&headers, CookieSecurity::PlainHttpAllowed),
            Some(token.clone())
        );
        assert_eq!(
            token_from_headers(&headers, CookieSecurity::SecureOnly),
            None
        );
        let header = format!("__Host-session_token={}", token.expose());
        headers.insert(COOKIE, header.parse().unwrap());
        assert_eq!(
            token_from_headers(&headers, CookieSecurity::SecureOnly),
            Some(token)
        );
    }
}
