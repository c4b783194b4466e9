//! Demo data for the development stack: a vendor (payout address: the faucet's), a buyer
//! (refund address: the faucet's) and an arbiter, each with a fresh printed password, and a
//! few listings, made through the server's HTTP API (`POST /api/auth/register`,
//! `PUT /api/auth/me/{payout,refund}-address`, `POST /api/listings`; session cookie
//! `session_token`) and, for the arbiter, the server's own `create-arbiter`
//! ([`crate::arbiter::create`]).

use std::time::Duration;

use monero_rpc::Amount;
use serde_json::{Value, json};

use super::DevError;
use super::chain::DevChain;
use crate::arbiter::{self, AccountPassword};
use crate::engine::Engine;
use crate::stack::Project;

/// The session cookie's name in development (docs/API.md, "Authentication").
pub const SESSION_COOKIE: &str = "session_token";

/// The nginx service and the container port of its plain-HTTP listener.
const NGINX_SERVICE: &str = "nginx";
const NGINX_HTTP_PORT: &str = "8080/tcp";

/// The demo listings: title, description, price in piconero, stock.
const LISTINGS: [(&str, &str, u64, u64); 3] = [
    (
        "Hardware wallet",
        "A sealed hardware wallet, shipped in plain packaging.",
        1_500_000_000_000,
        10,
    ),
    (
        "Paper notebook",
        "A5, 120 pages, dot grid.",
        250_000_000_000,
        50,
    ),
    ("Sticker pack", "Ten vinyl stickers.", 50_000_000_000, 100),
];

/// One demo account.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoAccount {
    /// `vendor`, `buyer` or `arbiter`.
    pub role: &'static str,
    /// Its username: `<prefix>_<role>`.
    pub username: String,
    /// Its password, generated for this run (printed once to the operator).
    #[serde(serialize_with = "expose")]
    pub password: AccountPassword,
}

fn expose<S: serde::Serializer>(p: &AccountPassword, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.expose())
}

/// What `seed` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    /// The API's base URL used.
    pub url: String,
    /// Vendor, buyer and arbiter.
    pub accounts: Vec<DemoAccount>,
    /// The listings' ids, in [`LISTINGS`] order.
    pub listing_ids: Vec<u64>,
}

/// The server's API as this host reaches it: nginx's published plain-HTTP listener.
///
/// # Errors
/// [`DevError::NotRunning`] when nginx publishes no such port; [`DevError::Engine`].
pub async fn server_url(project: &Project, engine: &Engine) -> Result<String, DevError> {
    let urls = project
        .published_urls(engine, &[NGINX_SERVICE.to_string()])
        .await?;
    urls.into_iter()
        .find(|u| u.container_port == NGINX_HTTP_PORT)
        .map(|u| u.url)
        .ok_or_else(|| DevError::NotRunning {
            project: project.name.clone(),
            service: NGINX_SERVICE.into(),
        })
}

/// Makes the demo accounts `<prefix>_vendor`, `<prefix>_buyer`, `<prefix>_arbiter` and the
/// listings on the development stack whose API is at `url`.
///
/// # Errors
/// [`DevError::NotDevelopment`] first; [`DevError::Api`] (e.g. 409 `username_taken` when the
/// demo data exists: pass another prefix), [`DevError::Unreachable`], [`DevError::Arbiter`],
/// [`DevError::Rpc`] (the faucet's address).
pub async fn seed(
    project: &Project,
    engine: &Engine,
    url: &str,
    prefix: &str,
) -> Result<SeedReport, DevError> {
    let chain = DevChain::connect(project, engine).await?;
    let faucet = chain.faucet_address().await?;
    let api = Api::new(url)?;
    let mut accounts = Vec::new();

    let vendor = demo(prefix, "vendor");
    let cookie = api.register(&vendor).await?;
    let body = json!({"address": faucet.as_str(), "password": vendor.password.expose()});
    api.send(
        reqwest::Method::PUT,
        "/api/auth/me/payout-address",
        Some(&cookie),
        &body,
    )
    .await?;
    let mut listing_ids = Vec::new();
    for (title, description, price, stock) in LISTINGS {
        let price = Amount::from_atomic(price);
        let body =
            json!({"title": title, "description": description, "price_xmr": price, "stock": stock});
        let listing = api
            .send(reqwest::Method::POST, "/api/listings", Some(&cookie), &body)
            .await?;
        listing_ids.push(listing.0["listing_id"].as_u64().unwrap_or_default());
    }
    accounts.push(vendor);

    let buyer = demo(prefix, "buyer");
    let cookie = api.register(&buyer).await?;
    let body = json!({"address": faucet.as_str(), "password": buyer.password.expose()});
    api.send(
        reqwest::Method::PUT,
        "/api/auth/me/refund-address",
        Some(&cookie),
        &body,
    )
    .await?;
    accounts.push(buyer);

    let arbiter = demo(prefix, "arbiter");
    arbiter::create(project, engine, &arbiter.username, &arbiter.password).await?;
    accounts.push(arbiter);
    Ok(SeedReport {
        url: url.to_string(),
        accounts,
        listing_ids,
    })
}

fn demo(prefix: &str, role: &'static str) -> DemoAccount {
    DemoAccount {
        role,
        username: format!("{prefix}_{role}"),
        password: AccountPassword::generate(),
    }
}

/// A JSON answer and the session cookie it set, if any.
struct Answer(Value, Option<String>);

/// The marketplace API at one base URL.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(url: &str) -> Result<Api, DevError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .map_err(|source| DevError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        Ok(Api {
            base: url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// Registers `account` and returns its session cookie (`name=value`).
    async fn register(&self, account: &DemoAccount) -> Result<String, DevError> {
        let body = json!({
            "username": account.username,
            "password": account.password.expose(),
            "role": account.role,
        });
        let answer = self
            .send(reqwest::Method::POST, "/api/auth/register", None, &body)
            .await;
        let answer = answer.map_err(|e| match e {
            DevError::Api {
                status: 409,
                method,
                path,
                body,
            } => DevError::Api {
                method,
                path,
                status: 409,
                body: format!("{body}; the demo data exists: seed again with another --prefix"),
            },
            other => other,
        })?;
        answer.1.ok_or_else(|| DevError::Api {
            method: "POST",
            path: "/api/auth/register".into(),
            status: 200,
            body: format!("no {SESSION_COOKIE} cookie in the answer"),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        body: &Value,
    ) -> Result<Answer, DevError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url).json(body);
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request
            .send()
            .await
            .map_err(|source| DevError::Unreachable {
                url: url.clone(),
                source,
            })?;
        let status = response.status();
        let cookie = session_cookie(response.headers());
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(DevError::Api {
                method: if method == reqwest::Method::PUT {
                    "PUT"
                } else {
                    "POST"
                },
                path: path.to_string(),
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(Answer(
            serde_json::from_str(&text).unwrap_or(Value::Null),
            cookie,
        ))
    }
}

/// `session_token=VALUE` from the answer's `Set-Cookie` headers.
fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{SESSION_COOKIE}=")))
        .map(str::to_string)
}
