//! `/api/auth/*`: register, login, logout, me. Register and login are rate-limited per client IP,
//! failed logins also per username; every password hash runs through the bounded hashing gate.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::password::{self, Password};
use crate::auth::token::SessionToken;
use crate::auth::{ClientIp, CurrentUser, cleared_cookie, session_cookie};
use crate::db::users::{self, InsertOutcome, Role, User};
use crate::db::{now_unix, sessions};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::openapi::rules;
use crate::state::AppState;

/// Routes of this module.
pub fn router(state: &AppState) -> Router<AppState> {
    let limited = Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route_layer(from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .merge(limited)
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
}

async fn rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    state.auth_limiter().check(&parts)?;
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// `POST /api/auth/register` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3-32 chars of `[A-Za-z0-9_.-]`, unique (case-insensitive).
    #[schema(schema_with = rules::username)]
    pub username: String,
    /// 10-256 characters.
    #[schema(schema_with = rules::new_password)]
    pub password: Password,
    /// `buyer` or `vendor` (arbiters are created by the operator).
    #[schema(schema_with = rules::registrable_role)]
    pub role: Role,
}

/// `POST /api/auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username (case-insensitive).
    pub username: String,
    /// Password.
    #[schema(value_type = String, format = Password)]
    pub password: Password,
}

/// Checks the username rules: 3-32 chars of `[A-Za-z0-9_.-]`.
///
/// # Errors
/// [`ApiError::InvalidField`] for `username`.
pub fn check_username(username: &str) -> Result<(), ApiError> {
    let ok_len = (3..=32).contains(&username.len());
    let ok_chars = username
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok_len && ok_chars {
        return Ok(());
    }
    Err(ApiError::InvalidField {
        field: "username",
        message: "must be 3-32 characters of A-Z, a-z, 0-9, _ . -".into(),
    })
}

/// Hashes `password` on the blocking pool, outside the request gate (operator commands such as
/// `create-arbiter`; requests use [`crate::auth::gate::HashGate`]).
///
/// # Errors
/// [`ApiError::Internal`] if hashing fails.
pub async fn hash_password(password: Password) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)
}

async fn start_session(
    state: &AppState,
    jar: CookieJar,
    user_id: i64,
) -> Result<CookieJar, ApiError> {
    let token = SessionToken::generate();
    let hash = token.hash();
    let ttl = state.config().limits.session_ttl.as_secs();
    let now = now_unix();
    let expires = now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
    state
        .db()
        .run("insert", "sessions", move |conn| {
            sessions::create(conn, &hash, user_id, now, expires)
        })
        .await?;
    Ok(jar.add(session_cookie(
        &token,
        ttl,
        state.config().env.cookie_security(),
    )))
}

/// Creates a buyer or vendor account and logs it in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 200, description = "Account created; session cookie set", body = User),
        (status = 403, description = "role `arbiter` requested", body = ErrorBody),
        (status = 409, description = "username taken", body = ErrorBody),
        (status = 422, description = "invalid username, password or role", body = ErrorBody),
        (status = 429, description = "`rate_limited` (this client) or `login_queue_full` (password hashing queued to capacity); `Retry-After` says when to retry", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    jar: CookieJar,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(CookieJar, ApiJson<User>), ApiError> {
    if !request.role.is_self_registrable() {
        return Err(ApiError::Forbidden(
            "arbiter accounts are created by the operator, not by registration".into(),
        ));
    }
    check_username(&request.username)?;
    request
        .password
        .check_new()
        .map_err(|message| ApiError::InvalidField {
            field: "password",
            message,
        })?;
    let password = request.password;
    let hash = state
        .hash_gate()
        .run(move || password::hash(&password))
        .await?
        .map_err(ApiError::Internal)?;
    let (username, role) = (request.username, request.role);
    let outcome = state
        .db()
        .run("insert", "users", move |conn| {
            users::insert(conn, &username, &hash, role)
        })
        .await?;
    let user = match outcome {
        InsertOutcome::Created(user) => user,
        InsertOutcome::UsernameTaken => return Err(ApiError::UsernameTaken),
    };
    tracing::info!(
        user_id = user.id,
        role = user.role.as_str(),
        "account registered"
    );
    let jar = start_session(&state, jar, user.id).await?;
    Ok((jar, ApiJson(user)))
}

/// Logs in with username and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; session cookie set", body = User),
        (status = 401, description = "invalid credentials", body = ErrorBody),
        (status = 429, description = "`rate_limited` (this client), `account_throttled` (failed logins of this username) or `login_queue_full` (password checks queued to capacity); `Retry-After` says when to retry", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<(CookieJar, ApiJson<User>), ApiError> {
    let username = request.username;
    state
        .failed_logins()
        .check(&username, ip)
        .map_err(|retry_after_secs| ApiError::AccountThrottled { retry_after_secs })?;
    let lookup = username.clone();
    let found = state
        .db()
        .run("select", "users", move |conn| {
            users::find_with_hash(conn, &lookup)
        })
        .await?;
    let password = request.password;
    let checked = state
        .hash_gate()
        .run(move || match found {
            Some((user, stored)) if password::verify(&password, &stored) => Some(user),
            Some(_) => None,
            None => {
                password::verify_dummy(&password);
                None
            }
        })
        .await?;
    let Some(user) = checked else {
        state.failed_logins().failed(&username, ip);
        return Err(ApiError::InvalidCredentials);
    };
    state.failed_logins().succeeded(&username, ip);
    let jar = start_session(&state, jar, user.id).await?;
    Ok((jar, ApiJson(user)))
}

/// Ends the current session, clears the cookie and closes the session's WebSocket connections.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("session_cookie" = [])),
    responses((status = 204, description = "Logged out"), (status = 401, description = "not logged in", body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    current: CurrentUser,
) -> Result<(axum::http::StatusCode, CookieJar), ApiError> {
    let hash = current.token.hash();
    state
        .db()
        .run("delete", "sessions", move |conn| {
            sessions::delete(conn, &hash)
        })
        .await?;
    // The session's WebSocket connections close now, not at their next heartbeat.
    state.session_ends().publish(hash);
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        jar.add(cleared_cookie(state.config().env.cookie_security())),
    ))
}

/// The logged-in account.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("session_cookie" = [])),
    responses((status = 200, body = User), (status = 401, description = "not logged in", body = ErrorBody)))]
pub async fn me(current: CurrentUser) -> ApiJson<User> {
    ApiJson(current.user)
}
