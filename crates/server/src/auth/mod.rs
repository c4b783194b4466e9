//! Authentication: passwords, session tokens and cookies, the [`CurrentUser`] extractor, rate limiting.

pub mod password;
pub mod rate_limit;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use self::token::{COOKIE_NAME, SessionToken};
use crate::config::CookieSecurity;
use crate::db::users::{Role, User};
use crate::db::{now_unix, sessions};
use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller, resolved from the `session_token` cookie. Rejects with 401
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
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(COOKIE_NAME)
            .and_then(|c| SessionToken::parse(c.value()))
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

/// The `session_token` cookie: HttpOnly, SameSite=Strict, Path=/, Max-Age = session TTL, Secure
/// outside development.
pub fn session_cookie(
    token: &SessionToken,
    max_age_secs: u64,
    security: CookieSecurity,
) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, token.expose().to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(security == CookieSecurity::SecureOnly)
        .path("/")
        .max_age(time::Duration::seconds(
            i64::try_from(max_age_secs).unwrap_or(i64::MAX),
        ))
        .build()
}

/// A cookie that makes the browser delete `session_token`.
pub fn cleared_cookie(security: CookieSecurity) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(security == CookieSecurity::SecureOnly)
        .path("/")
        .max_age(time::Duration::ZERO)
        .build()
}
