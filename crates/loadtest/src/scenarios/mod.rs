//! The scenarios as goose scenarios, and what their iterations share ([`ClientPool`]: one
//! HTTP client per loopback source address, handed out in turn at the start of each
//! iteration, fresh usernames, the run's [`Timeline`]) and the few requests they make (a GET,
//! a JSON request with or without a session cookie, a sign-up).
//!
//! Each iteration signs up new accounts, so it is a new client: it takes the next source
//! address of the pool (127.0.0.2 to 127.0.0.254, round-robin over every virtual user), as
//! separate people would come from separate addresses. A virtual user never keeps an address
//! across iterations, so the proxy's per-address limits apply as deployed and the load per
//! address stays at (iterations per second) / (addresses).

mod escrow_flow;
mod escrow_release;
mod http_endpoints;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use goose::metrics::GooseRequestMetric;
use goose::prelude::*;
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::error::LoadError;
use crate::faucet::Faucet;
use crate::flows::Flows;
use crate::plan::Scenario;
use crate::timeline::Timeline;

pub use escrow_release::FLOW as RELEASE_FLOW;

/// How long one request may take before it counts as an error (a timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The password of every account the scenarios sign up (the server requires 10 or more
/// characters). Test accounts only.
const PASSWORD: &str = "load-test-password";

/// What a run's iterations share: one keep-alive HTTP client per source address, handed out
/// in turn; the account counter; every request's time and outcome.
pub struct ClientPool {
    clients: Vec<reqwest::Client>,
    next: AtomicUsize,
    accounts: AtomicU64,
    run_tag: String,
    /// Every request of the run (for the latency-over-time plots).
    pub timeline: Timeline,
    /// Whole flows timed end to end (escrow-release: order to payout).
    pub flows: Flows,
}

impl ClientPool {
    /// A client bound to each of `sources` (no redirects followed, no proxy, no cookie store:
    /// the scenarios send their session cookie themselves, [`REQUEST_TIMEOUT`]).
    ///
    /// # Errors
    /// [`LoadError::Setup`] when `sources` is empty or a client cannot be built.
    pub fn new(sources: &[IpAddr]) -> Result<ClientPool, LoadError> {
        if sources.is_empty() {
            return Err(LoadError::Setup(
                "no source addresses: give --sources 1 or more".into(),
            ));
        }
        let clients = sources
            .iter()
            .map(|source| {
                reqwest::Client::builder()
                    .local_address(*source)
                    .timeout(REQUEST_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .build()
                    .map_err(|e| LoadError::Setup(format!("HTTP client for {source}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        Ok(ClientPool {
            clients,
            next: AtomicUsize::new(0),
            accounts: AtomicU64::new(0),
            run_tag: format!("{started:x}"),
            timeline: Timeline::default(),
            flows: Flows::default(),
        })
    }

    /// The next client in turn.
    fn next_client(&self) -> reqwest::Client {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.clients[n % self.clients.len()].clone()
    }

    /// Records a finished request (`METHOD name`) in the timeline.
    fn record(&self, method: &str, name: &str, request: &GooseRequestMetric) {
        self.timeline.record(
            Arc::from(format!("{method} {name}")),
            request.elapsed,
            request.response_time_micros(),
            request.status_code,
        );
    }

    /// A username no earlier run or iteration used: `lt<run>_<n>` (at most 32 characters).
    fn username(&self) -> String {
        let n = self.accounts.fetch_add(1, Ordering::Relaxed);
        format!("lt{}_{n}", self.run_tag)
    }
}

/// `scenario` as a goose scenario whose iterations draw their clients from `pool`;
/// escrow-release pays through `faucet`.
///
/// # Errors
/// [`LoadError::Setup`] when escrow-release is given no faucet.
pub fn goose_scenario(
    scenario: Scenario,
    pool: Arc<ClientPool>,
    faucet: Option<Arc<Faucet>>,
) -> Result<goose::goose::Scenario, LoadError> {
    let iteration: TransactionFunction = match scenario {
        Scenario::HttpEndpoints => Arc::new(move |user| {
            let pool = Arc::clone(&pool);
            Box::pin(async move { http_endpoints::iteration(user, &pool).await })
        }),
        Scenario::EscrowFlow => Arc::new(move |user| {
            let pool = Arc::clone(&pool);
            Box::pin(async move { escrow_flow::iteration(user, &pool).await })
        }),
        Scenario::EscrowRelease => {
            let faucet = faucet.ok_or_else(|| {
                LoadError::Setup("escrow-release needs the faucet (mmctl dev)".into())
            })?;
            Arc::new(move |user| {
                let (pool, faucet) = (Arc::clone(&pool), Arc::clone(&faucet));
                Box::pin(async move { escrow_release::iteration(user, &pool, &faucet).await })
            })
        }
    };
    Ok(goose::goose::Scenario::new(scenario.name())
        .register_transaction(Transaction::new(iteration).set_name("iteration")))
}

/// Starts an iteration: the next client of the pool (a new source address).
fn begin(user: &mut GooseUser, pool: &ClientPool) {
    user.client = pool.next_client();
}

/// `GET path`, reported as `GET name`; the answer must be 200.
async fn get(user: &mut GooseUser, pool: &ClientPool, path: &str, name: &str) -> TransactionResult {
    let request = GooseRequest::builder()
        .method(GooseMethod::Get)
        .path(path)
        .name(name)
        .build();
    let goose = user.request(request).await?;
    pool.record("GET", name, &goose.request);
    let response = goose.response?;
    let status = response.status();
    // The whole body must arrive.
    response.bytes().await?;
    ok_or(status, name)
}

/// What a JSON request answered: its status, JSON body (`null` when it is not JSON) and the
/// session cookie it set (`name=value`).
type JsonAnswer = (reqwest::StatusCode, serde_json::Value, Option<String>);

/// One request of a scenario: `METHOD path`, reported as `METHOD name`, with an optional JSON
/// body and session cookie.
struct Call<'a> {
    method: GooseMethod,
    path: &'a str,
    name: &'a str,
    body: Option<&'a serde_json::Value>,
    cookie: Option<&'a str>,
}

/// `POST path` with a JSON `body` and, when given, the session `cookie`, reported as
/// `POST name`.
async fn post_json(
    user: &mut GooseUser,
    pool: &ClientPool,
    path: &str,
    name: &str,
    body: &serde_json::Value,
    cookie: Option<&str>,
) -> Result<JsonAnswer, Box<TransactionError>> {
    let call = Call {
        method: GooseMethod::Post,
        path,
        name,
        body: Some(body),
        cookie,
    };
    send(user, pool, call).await
}

/// Sends `call` and reads its answer.
async fn send(
    user: &mut GooseUser,
    pool: &ClientPool,
    call: Call<'_>,
) -> Result<JsonAnswer, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&call.method, call.path)?;
    if let Some(body) = call.body {
        builder = builder.json(body);
    }
    if let Some(cookie) = call.cookie {
        builder = builder.header(COOKIE, cookie);
    }
    let request = GooseRequest::builder()
        .method(call.method)
        .path(call.path)
        .name(call.name)
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    pool.record(&call.method.to_string(), call.name, &goose.request);
    let response = goose.response?;
    let status = response.status();
    let session = session_cookie(response.headers());
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    Ok((status, json, session))
}

/// The session cookie (`session_token=...` or `__Host-session_token=...`) a response sets.
fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| {
            pair.starts_with("session_token=") || pair.starts_with("__Host-session_token=")
        })
        .map(str::to_string)
}

/// The account role a sign-up asks for.
#[derive(Debug, Clone, Copy)]
enum Role {
    Buyer,
    Vendor,
}

/// `POST /api/auth/register` for a new account of `role`, reported as `POST name`: its
/// session cookie.
async fn register(
    user: &mut GooseUser,
    pool: &ClientPool,
    role: Role,
    name: &str,
) -> Result<String, Box<TransactionError>> {
    let role = match role {
        Role::Buyer => "buyer",
        Role::Vendor => "vendor",
    };
    let body = serde_json::json!({
        "username": pool.username(),
        "password": PASSWORD,
        "role": role,
    });
    let (status, _, cookie) =
        post_json(user, pool, "/api/auth/register", name, &body, None).await?;
    ok_or(status, name)?;
    cookie.ok_or_else(|| format!("{name}: 200 without a session cookie").into())
}

/// What a vendor lists (description `Performance test`).
struct Item {
    title: &'static str,
    /// Piconero.
    price: u64,
    stock: u32,
}

/// `POST /api/listings` of `item` as `vendor` (its session cookie): the new `listing_id`.
async fn list(
    user: &mut GooseUser,
    pool: &ClientPool,
    vendor: &str,
    item: &Item,
) -> Result<serde_json::Value, Box<TransactionError>> {
    let listing = serde_json::json!({
        "title": item.title,
        "description": "Performance test",
        "price_xmr": item.price,
        "stock": item.stock,
    });
    let name = "/api/listings";
    let (status, body, _) = post_json(user, pool, name, name, &listing, Some(vendor)).await?;
    ok_or(status, name)?;
    body.get("listing_id")
        .cloned()
        .ok_or_else(|| "/api/listings: 200 without a listing_id".into())
}

/// `POST /api/orders` of one of `listing_id` as `buyer`: the order's JSON (`order_id`,
/// `total_xmr`, `escrow`).
async fn order(
    user: &mut GooseUser,
    pool: &ClientPool,
    buyer: &str,
    listing_id: serde_json::Value,
) -> Result<serde_json::Value, Box<TransactionError>> {
    let order = serde_json::json!({ "listing_id": listing_id, "quantity": 1 });
    let name = "/api/orders";
    let (status, body, _) = post_json(user, pool, name, name, &order, Some(buyer)).await?;
    ok_or(status, name)?;
    Ok(body)
}

/// Ok for 200, else the transaction fails (the iteration stops: later steps need this one).
fn ok_or(status: reqwest::StatusCode, name: &str) -> TransactionResult {
    if status == reqwest::StatusCode::OK {
        return Ok(());
    }
    Err(format!("{name}: HTTP {status}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn the_session_cookie_is_found_under_either_name() {
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("other=1; Path=/"));
        assert_eq!(session_cookie(&headers), None);
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("session_token=abc; HttpOnly; Path=/"),
        );
        assert_eq!(
            session_cookie(&headers).as_deref(),
            Some("session_token=abc")
        );
        let mut tls = HeaderMap::new();
        tls.append(
            SET_COOKIE,
            HeaderValue::from_static("__Host-session_token=def; Secure; Path=/"),
        );
        assert_eq!(
            session_cookie(&tls).as_deref(),
            Some("__Host-session_token=def")
        );
    }

    #[test]
    fn usernames_are_unique_and_valid() {
        let pool = ClientPool::new(&crate::sources::loopback_sources(2)).unwrap();
        let a = pool.username();
        let b = pool.username();
        assert_ne!(a, b);
        for name in [a, b] {
            assert!((3..=32).contains(&name.len()), "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{name}"
            );
        }
        assert!(matches!(ClientPool::new(&[]), Err(LoadError::Setup(_))));
    }
}
