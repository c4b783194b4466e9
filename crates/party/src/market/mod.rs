//! [`MarketClient`]: the market's HTTP API as a buyer or vendor uses it for non-custodial
//! escrows (reqwest, JSON, the session cookie), and [`ws`]: the `GET /ws` notices.
//!
//! Errors: a `{"error":{"code","message"}}` answer is [`PartyError::MarketRefused`] (401 on a
//! request with a session: [`PartyError::SessionExpired`]); no answer or a body that is not the
//! API's is [`PartyError::MarketUnreachable`]. No error text carries the session or a payload.

pub mod types;
pub mod ws;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::PartyError;
use crate::state::Session;
use types::{Account, OrderPage, OrderSummary, RoundsView, SubmitAnswer};

/// Per-request timeout: 60 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for one market (`--market URL`, e.g. `http://127.0.0.1:8080`).
#[derive(Debug, Clone)]
pub struct MarketClient {
    base: Url,
    http: reqwest::Client,
    session: Option<Session>,
}

#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct Payload<'a> {
    payload: &'a str,
}

#[derive(Serialize)]
struct Reason<'a> {
    reason: &'a str,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

/// The market's cookie names for a session: over HTTPS, and in development over HTTP.
const SESSION_COOKIES: [&str; 2] = ["__Host-session_token", "session_token"];

impl MarketClient {
    /// A client for the market at `base` (http or https), without a session.
    ///
    /// # Errors
    /// [`PartyError::Input`] when `base` is not an http(s) URL.
    pub fn new(base: &str) -> Result<MarketClient, PartyError> {
        let bad = || PartyError::Input(format!("--market {base:?} is not an http(s) URL"));
        let url = Url::parse(base).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad());
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| PartyError::MarketUnreachable {
                action: "building the HTTP client".into(),
                detail: e.to_string(),
            })?;
        Ok(MarketClient {
            base: url,
            http,
            session: None,
        })
    }

    /// This client with `session`.
    #[must_use]
    pub fn with_session(mut self, session: Session) -> MarketClient {
        self.session = Some(session);
        self
    }

    /// The market's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The session, if any.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Logs in (`POST /api/auth/login`) and returns the session cookie the market set and the
    /// account.
    ///
    /// # Errors
    /// [`PartyError::MarketRefused`] (401 `invalid_credentials`, 429), or
    /// [`PartyError::MarketUnreachable`], also when the answer sets no session cookie.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(Session, Account), PartyError> {
        let action = "POST /api/auth/login".to_owned();
        let body = Credentials { username, password };
        let answer = self
            .send(Method::POST, "/api/auth/login", Some(&body))
            .await?;
        let answer = check(&action, answer).await?;
        let session = answer
            .cookies()
            .find(|c| SESSION_COOKIES.contains(&c.name()) && !c.value().is_empty())
            .map(|c| Session::new(c.name(), c.value()))
            .ok_or_else(|| PartyError::MarketUnreachable {
                action: action.clone(),
                detail: "the answer set no session cookie".into(),
            })?;
        let account = decode(&action, answer).await?;
        Ok((session, account))
    }

    /// The caller's orders, newest first (`GET /api/orders`, first page of 100).
    ///
    /// # Errors
    /// As [`MarketClient::get`].
    pub async fn orders(&self) -> Result<Vec<OrderSummary>, PartyError> {
        let page: OrderPage = self.get("/api/orders?per_page=100").await?;
        Ok(page.items)
    }

    /// One order (`GET /api/orders/{id}`).
    ///
    /// # Errors
    /// As [`MarketClient::get`] (404 when it is not the caller's).
    pub async fn order(&self, order_id: i64) -> Result<OrderSummary, PartyError> {
        self.get(&format!("/api/orders/{order_id}")).await
    }

    /// The escrow's rounds as this party sees them (`GET /api/escrows/{id}/rounds`).
    ///
    /// # Errors
    /// As [`MarketClient::get`] (409 `not_non_custodial` for a hosted escrow).
    pub async fn rounds(&self, escrow_id: i64) -> Result<RoundsView, PartyError> {
        self.get(&format!("/api/escrows/{escrow_id}/rounds")).await
    }

    /// Submits this party's payload for `round` (`POST /api/escrows/{id}/rounds/{round}`).
    ///
    /// # Errors
    /// As [`MarketClient::post`] (409 `not_your_turn`, `wrong_round`, `already_submitted`,
    /// `rounds_closed`; 422 `malformed_payload`, `txset_refused`).
    pub async fn submit(
        &self,
        escrow_id: i64,
        round: &str,
        payload: &str,
    ) -> Result<SubmitAnswer, PartyError> {
        let path = format!("/api/escrows/{escrow_id}/rounds/{round}");
        self.post(&path, &Payload { payload }).await
    }

    /// An order action without a body (`confirm-receipt`, `refund`), or `dispute` with
    /// `reason`; returns the market's answer as JSON.
    ///
    /// # Errors
    /// As [`MarketClient::post`].
    pub async fn order_action(
        &self,
        order_id: i64,
        action: &str,
        reason: Option<&str>,
    ) -> Result<serde_json::Value, PartyError> {
        let path = format!("/api/orders/{order_id}/{action}");
        match reason {
            Some(reason) => self.post(&path, &Reason { reason }).await,
            None => self.post(&path, &serde_json::json!({})).await,
        }
    }

    /// `GET path` with the session, decoded.
    ///
    /// # Errors
    /// [`PartyError::MarketRefused`], [`PartyError::SessionExpired`] on 401,
    /// [`PartyError::MarketUnreachable`].
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PartyError> {
        let action = format!("GET {path}");
        let answer = self.send::<()>(Method::GET, path, None).await?;
        decode(&action, check(&action, answer).await?).await
    }

    /// `POST path` with a JSON body and the session, decoded.
    ///
    /// # Errors
    /// As [`MarketClient::get`].
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, PartyError> {
        let action = format!("POST {path}");
        let answer = self.send(Method::POST, path, Some(body)).await?;
        decode(&action, check(&action, answer).await?).await
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, PartyError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| PartyError::Input(e.to_string()))?;
        let mut request = self.http.request(method.clone(), url);
        if let Some(session) = &self.session {
            request = request.header(reqwest::header::COOKIE, session.cookie_header());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .await
            .map_err(|e| PartyError::MarketUnreachable {
                action: format!("{method} {path}"),
                detail: e.without_url().to_string(),
            })
    }
}

/// The answer if it is a success; the market's error otherwise.
async fn check(action: &str, answer: reqwest::Response) -> Result<reqwest::Response, PartyError> {
    let status = answer.status();
    if status.is_success() {
        return Ok(answer);
    }
    let body: Option<ErrorBody> = answer.json().await.ok();
    let Some(ErrorBody { error }) = body else {
        return Err(PartyError::MarketUnreachable {
            action: action.to_owned(),
            detail: format!("HTTP {status} without the API's error body"),
        });
    };
    if status == StatusCode::UNAUTHORIZED && error.code != "invalid_credentials" {
        return Err(PartyError::SessionExpired);
    }
    Err(PartyError::MarketRefused {
        action: action.to_owned(),
        status: status.as_u16(),
        code: error.code,
        message: error.message,
    })
}

async fn decode<T: DeserializeOwned>(
    action: &str,
    answer: reqwest::Response,
) -> Result<T, PartyError> {
    answer
        .json()
        .await
        .map_err(|e| PartyError::MarketUnreachable {
            action: action.to_owned(),
            detail: format!("the answer is not the expected JSON: {}", e.without_url()),
        })
}
