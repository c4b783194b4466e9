//! Helpers both server test harnesses share (the in-process server of `common/` and the real
//! binary of `escrow_support/`): users driven through the HTTP API, registration, login, orders and
//! listings, operator-created arbiters, and the error-body assertion.
#![allow(dead_code)]

use std::process::Command;

pub use mmkt_server::auth::cookie::{PLAIN_COOKIE_NAME, SECURE_COOKIE_NAME};
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// Password of every test account.
pub const PASSWORD: &str = "correct-horse-battery";

/// A running server the tests talk to over HTTP.
pub trait Harness {
    /// Base URL, `http://127.0.0.1:<port>`.
    fn base(&self) -> &str;

    /// An `mmkt-server` command on this server's database (operator subcommands), with no
    /// `MMKT_*` variable inherited from the test's environment.
    fn command(&self) -> Command;

    /// The URL of `path` on this server.
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }
}

/// A client of the API: a signed-in account (its session cookie in the client's cookie store),
/// or anonymous (`id` 0, no cookie).
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    /// `<cookie name>=<token>` as set at registration or login (empty when anonymous).
    pub cookie: String,
    pub http: Client,
    pub base: String,
}

impl User {
    /// A client without a session.
    pub fn anonymous(server: &impl Harness) -> User {
        User::at(server.base())
    }

    /// A client without a session of the server at `base` (`http://127.0.0.1:<port>`).
    pub fn at(base: &str) -> User {
        User {
            id: 0,
            name: "anonymous".into(),
            cookie: String::new(),
            http: Client::builder().cookie_store(true).build().unwrap(),
            base: base.to_owned(),
        }
    }

    /// A request to `path` on this user's server, sending the user's cookies.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path))
    }

    /// Sends a request (a JSON body if given) and returns the status and the JSON answer
    /// (`Value::Null` when the body is empty or not JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_with(method, path, body, &[]).await
    }

    /// [`User::send`] with extra request headers (e.g. the `Origin` and `Sec-Fetch-Site` a
    /// browser would add).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self.request(method, path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }
}

/// The whole `Set-Cookie` header that sets the session cookie (either of the server's names,
/// [`PLAIN_COOKIE_NAME`] or [`SECURE_COOKIE_NAME`]; attributes included), or "".
pub fn session_set_cookie(headers: &HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| {
            [PLAIN_COOKIE_NAME, SECURE_COOKIE_NAME]
                .iter()
                .any(|name| v.starts_with(&format!("{name}=")))
        })
        .unwrap_or_default()
        .to_owned()
}

/// The token of a `<cookie name>=<token>; ...` cookie.
pub fn session_token(cookie: &str) -> String {
    let pair = cookie.split(';').next().unwrap_or_default();
    pair.split_once('=')
        .map_or("", |(_, token)| token)
        .to_owned()
}

/// `POST /api/auth/register` of `name` as `role` through `client`; the raw response, for tests
/// that read its headers.
pub async fn register_raw(client: &User, name: &str, role: &str) -> Response {
    client
        .request(Method::POST, "/api/auth/register")
        .json(&json!({"username": name, "password": PASSWORD, "role": role}))
        .send()
        .await
        .unwrap()
}

/// Posts `body` to an auth endpoint with a fresh client and returns the signed-in user.
async fn sign_in(server: &impl Harness, path: &str, name: &str, body: Value) -> User {
    let mut user = User::anonymous(server);
    let request = user.request(Method::POST, path).json(&body);
    let resp = request.send().await.unwrap();
    let status = resp.status();
    let set_cookie = session_set_cookie(resp.headers());
    user.cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{path} as {name}: {answer}");
    user.id = answer["id"].as_i64().expect("user id in the answer");
    user.name = name.to_owned();
    user
}

/// Registers a buyer or vendor and returns it signed in.
pub async fn register(server: &impl Harness, name: &str, role: &str) -> User {
    let body = json!({"username": name, "password": PASSWORD, "role": role});
    sign_in(server, "/api/auth/register", name, body).await
}

/// Logs in (e.g. an operator-created arbiter).
pub async fn login(server: &impl Harness, name: &str) -> User {
    let body = json!({"username": name, "password": PASSWORD});
    sign_in(server, "/api/auth/login", name, body).await
}

/// Creates an arbiter the operator's way: `mmkt-server create-arbiter` on the server's database,
/// password from `MMKT_ARBITER_PASSWORD`.
pub fn create_arbiter(server: &impl Harness, username: &str) {
    let out = server
        .command()
        .args(["create-arbiter", "--username", username])
        .env("MMKT_ARBITER_PASSWORD", PASSWORD)
        .output()
        .expect("run create-arbiter");
    assert!(
        out.status.success(),
        "create-arbiter: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates a listing as `vendor` and returns its id.
pub async fn create_listing(vendor: &User, title: &str, price: u64, stock: u32) -> i64 {
    let body = json!({"title": title, "description": format!("{title} description"), "price_xmr": price, "stock": stock});
    let (status, answer) = vendor.post("/api/listings", body).await;
    assert_eq!(status, StatusCode::OK, "create listing: {answer}");
    answer["listing_id"].as_i64().unwrap()
}

/// `POST /api/orders` as `buyer`; the status and the answer.
pub async fn place_order(buyer: &User, listing_id: i64, quantity: u64) -> (StatusCode, Value) {
    buyer
        .post(
            "/api/orders",
            json!({"listing_id": listing_id, "quantity": quantity}),
        )
        .await
}

/// Places an order that must succeed; returns `(order_id, escrow_id)`.
pub async fn order(buyer: &User, listing_id: i64, quantity: u64) -> (i64, i64) {
    let (status, body) = place_order(buyer, listing_id, quantity).await;
    assert_eq!(status, StatusCode::OK, "order: {body}");
    assert_eq!(body["escrow"]["state"], "awaiting_setup", "{body}");
    (
        body["order_id"].as_i64().unwrap(),
        body["escrow"]["escrow_id"].as_i64().unwrap(),
    )
}

/// Asserts an error answer: status, code, and a non-empty message.
pub fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_error_in("answer", status, body, want, code);
}

/// [`assert_error`] naming the `case` in its failure messages.
pub fn assert_error_in(case: &str, status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{case}: {body}");
    assert_eq!(body["error"]["code"], code, "{case}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{case}: {body}"
    );
}
