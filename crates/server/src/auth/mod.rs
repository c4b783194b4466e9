//! Authentication: passwords (hashed through the bounded [`gate`]), session tokens and cookies, the
//! [`CurrentUser`] extractor, rate limiting per client IP and failed logins per username.

pub mod cookie;
pub mod failed_logins;
pub mod gate;
pub mod password;
pub mod rate_limit;
pub mod token;

use std::convert::Infallible;
use std::net::IpAddr;

pub use self::cookie::{cleared_cookie, session_cookie};
use self::password::Password;
use self::token::SessionToken;
use crate::db::users::{self, Role, User};
use crate::db::{now_unix, sessions};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The authenticated caller, resolved from the session cookie ([`cookie::cookie_name`]). Rejects with 401
/// `unauthenticated` when the cookie is missing, malformed, unknown or expired.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account.
    pub user: User,
    /// The session's token (for logout).
    pub token: SessionToken,
}

impl CurrentUser {
    /// Requires `role`.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`] naming the required role.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.user.role == role {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "only {} accounts may do this",
            role.as_str()
        )))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token =
            cookie::token_from_headers(&parts.headers, state.config().env.cookie_security())
                .ok_or(ApiError::Unauthenticated)?;
        let hash = token.hash();
        let user = state
            .db()
            .run("select", "sessions", move |conn| {
                sessions::lookup(conn, &hash, now_unix())
            })
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Self { user, token })
    }
}

/// The client's IP address as the rate limits see it ([`rate_limit::client_ip`]: `X-Real-IP`
/// when configured, else the TCP peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(rate_limit::client_ip(
            parts,
            state.config().client_ip_source,
        )))
    }
}

/// Checks `password` against `user`'s stored hash through the hashing gate, counting the attempt
/// in the per-username failed-login throttle like a login; for changes that need the password
/// again (payout and refund addresses).
///
/// # Errors
/// [`ApiError::AccountThrottled`] before any hashing when the username is held,
/// [`ApiError::WrongPassword`] when it does not match (counted as a failure),
/// [`ApiError::LoginQueueFull`] when the gate is full, storage errors.
pub async fn confirm_password(
    state: &AppState,
    user: &User,
    ip: IpAddr,
    password: Password,
) -> Result<(), ApiError> {
    state
        .failed_logins()
        .check(&user.username, ip)
        .map_err(|retry_after_secs| ApiError::AccountThrottled { retry_after_secs })?;
    let id = user.id;
    let stored = state
        .db()
        .run("select", "users", move |conn| {
            users::password_hash(conn, id)
        })
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let matches = state
        .hash_gate()
        .run(move || password::verify(&password, &stored))
        .await?;
    if !matches {
        state.failed_logins().failed(&user.username, ip);
        return Err(ApiError::WrongPassword);
    }
    Ok(())
}
