//! The served OpenAPI document states what the server does: parameters where they are sent
//! (no path parameter missing from its path, pagination and `q` in the query, optional, with the
//! bounds the server enforces), unique operationIds, the JSON-body errors on every operation with
//! a body, the 422 rules in the schemas, and the session cookie's security scheme on the
//! authenticated operations. Then the server's answers at those bounds, where they used to
//! disagree with the document.

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every operation of `doc`: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

fn param<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no parameter {name} in {op}"))
}

async fn served(server: &TestServer) -> Value {
    let (status, doc) = server.anonymous().get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    doc
}

#[tokio::test]
async fn parameters_are_where_they_are_sent_with_the_enforced_bounds() {
    let server = TestServer::start().await;
    let doc = served(&server).await;
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            if p["in"] == "path" {
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: path parameter {name} is not in the path"
                );
                assert_eq!(p["required"], true, "{method} {path} {name}");
            }
        }
    }
    for (path, op) in [
        ("/api/listings", &doc["paths"]["/api/listings"]["get"]),
        (
            "/api/listings/search",
            &doc["paths"]["/api/listings/search"]["get"],
        ),
        ("/api/orders", &doc["paths"]["/api/orders"]["get"]),
    ] {
        let page = param(op, "page");
        let per_page = param(op, "per_page");
        for p in [page, per_page] {
            assert_eq!(p["in"], "query", "{path}: {p}");
            assert_ne!(p["required"], true, "{path}: {p}");
            assert_eq!(p["schema"]["type"], "integer", "{path}: {p}");
        }
        assert_eq!(page["schema"]["minimum"], 1, "{path}");
        assert_eq!(page["schema"]["maximum"], u64::from(u32::MAX), "{path}");
        assert_ne!(page["schema"]["format"], "int32", "{path}: page is a u32");
        assert_eq!(per_page["schema"]["minimum"], 1, "{path}");
        assert_eq!(per_page["schema"]["maximum"], 100, "{path}");
    }
    let q = param(&doc["paths"]["/api/listings/search"]["get"], "q");
    assert_eq!(q["in"], "query");
    assert_eq!(q["required"], true);
    assert_eq!(q["schema"]["minLength"], 1);
    assert_eq!(q["schema"]["maxLength"], 256);
}

#[tokio::test]
async fn operation_ids_are_unique_and_bodies_document_their_errors() {
    let server = TestServer::start().await;
    let doc = served(&server).await;
    let mut seen = BTreeSet::new();
    let mut with_body = 0;
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap().to_owned();
        assert!(
            seen.insert(id.clone()),
            "operationId {id} twice ({method} {path})"
        );
        if op.get("requestBody").is_none() {
            continue;
        }
        with_body += 1;
        for status in ["400", "413", "415", "422"] {
            let schema = &op["responses"][status]["content"]["application/json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status}: {}",
                op["responses"]
            );
        }
    }
    assert_eq!(with_body, 11, "operations with a JSON body");
}

#[tokio::test]
async fn schemas_state_the_rules_that_answer_422() {
    let server = TestServer::start().await;
    let doc = served(&server).await;
    let schemas = &doc["components"]["schemas"];
    let listing = &schemas["ListingRequest"]["properties"];
    assert_eq!(listing["title"]["minLength"], 1);
    assert_eq!(
        listing["title"]["maxLength"],
        escrow_core::listing::TITLE_MAX_CHARS
    );
    assert!(listing["title"]["pattern"].is_string());
    assert_eq!(
        listing["description"]["maxLength"],
        escrow_core::listing::DESCRIPTION_MAX_CHARS
    );
    assert_eq!(listing["price_xmr"]["minimum"], 1);
    // Development's escrow cap, 10 XMR.
    assert_eq!(listing["price_xmr"]["maximum"], 10_000_000_000_000u64);
    assert_eq!(listing["stock"]["maximum"], u64::from(u32::MAX));
    let patch = &schemas["ListingPatchRequest"];
    assert_eq!(patch["minProperties"], 1, "{patch}");
    assert!(patch.get("required").is_none(), "{patch}");
    assert_eq!(
        patch["properties"]["title"]["type"], "string",
        "not nullable"
    );
    let register = &schemas["RegisterRequest"]["properties"];
    assert_eq!(register["username"]["pattern"], "^[A-Za-z0-9_.-]{3,32}$");
    assert_eq!(register["password"]["minLength"], 10);
    assert_eq!(register["password"]["maxLength"], 256);
    assert_eq!(register["role"]["enum"], json!(["buyer", "vendor"]));
    let order = &schemas["CreateOrderRequest"]["properties"];
    assert_eq!(order["quantity"]["minimum"], 1);
    assert_eq!(order["quantity"]["maximum"], u64::from(u32::MAX));
    let reason = &schemas["DisputeRequest"]["properties"]["reason"];
    assert_eq!(reason["minLength"], 1);
    assert_eq!(reason["maxLength"], 2000);
    assert_eq!(
        schemas["ResolveRequest"]["properties"]["outcome"]["enum"],
        json!(["release", "refund"])
    );
}

#[tokio::test]
async fn authenticated_operations_require_the_session_cookie_this_server_reads() {
    let server = TestServer::start().await;
    let doc = served(&server).await;
    let scheme = &doc["components"]["securitySchemes"]["session_cookie"];
    assert_eq!(scheme["type"], "apiKey", "{scheme}");
    assert_eq!(scheme["in"], "cookie", "{scheme}");
    assert_eq!(scheme["name"], PLAIN_COOKIE_NAME, "development: {scheme}");
    let anonymous = server.anonymous();
    let mut secured = 0;
    for (method, path, op) in operations(&doc) {
        let declared = op["security"] == json!([{"session_cookie": []}]);
        if path.starts_with("/ops") || path == "/api/openapi.json" {
            assert!(!declared, "{method} {path}");
            continue;
        }
        // Without a cookie, an authenticated operation answers 401 before reading anything else.
        let url = path.replace("{id}", "1");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, _) = anonymous.send(m, &url, Some(json!({}))).await;
        let needs_session = status == StatusCode::UNAUTHORIZED;
        assert_eq!(declared, needs_session, "{method} {path}: {status}");
        secured += usize::from(declared);
        if declared {
            assert!(op["responses"]["401"].is_object(), "{method} {path}");
        }
    }
    assert_eq!(secured, 21, "authenticated operations");
}

#[test]
fn staging_and_production_documents_name_the_host_prefixed_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir, &[]);
    config.env = mmkt_server::config::Environment::Staging;
    let doc = serde_json::to_value(mmkt_server::openapi::document(&config)).unwrap();
    let scheme = &doc["components"]["securitySchemes"]["session_cookie"];
    assert_eq!(scheme["name"], SECURE_COOKIE_NAME, "{scheme}");
}

#[tokio::test]
async fn the_server_accepts_what_the_document_allows_and_refuses_what_it_forbids() {
    let server = TestServer::start().await;
    let vendor = register(&server, "doc-vendor", "vendor").await;
    let buyer = register(&server, "doc-buyer", "buyer").await;
    let listing = create_listing(&vendor, "document listing", 1_000_000, 100).await;
    let path = format!("/api/listings/{listing}");

    // A q of 1-256 characters is valid; without a word it finds nothing.
    let (status, page) = buyer.get("/api/listings/search?q=%22*()").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"], json!([]), "{page}");
    let long = "é".repeat(256);
    let (status, page) = buyer.get(&format!("/api/listings/search?q={long}")).await;
    assert_eq!(status, StatusCode::OK, "256 characters of 2 bytes: {page}");
    let (status, body) = buyer.get(&format!("/api/listings/search?q={long}e")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    // JSON Schema's integers include integral floats.
    let (status, body) = vendor.patch(&path, json!({"stock": 50.0})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stock"], 50);
    let (status, body) = place_order(&buyer, listing, 0).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_quantity",
    );
    let (status, body) = buyer
        .post(
            "/api/orders",
            json!({"listing_id": listing as f64, "quantity": 2.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quantity"], 2);
    let (status, body) = vendor.patch(&path, json!({"stock": 1.5})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_quantity",
    );

    // A PATCH field is left out or given, never null; nothing changes on a refusal.
    let before = server.snapshot();
    for field in ["title", "description", "price_xmr", "stock"] {
        let mut body = serde_json::Map::new();
        body.insert("stock".into(), json!(7));
        body.insert(field.into(), Value::Null);
        let (status, answer) = vendor.patch(&path, Value::Object(body)).await;
        assert_error_in(
            field,
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
    }
    assert_eq!(server.snapshot(), before, "a refused PATCH wrote nothing");

    // Passwords are counted in characters: 256 of 4 bytes each are accepted, 257 are not.
    let (status, body) = server
        .anonymous()
        .post(
            "/api/auth/register",
            json!({"username": "doc-emoji", "password": "🔑".repeat(256), "role": "buyer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .anonymous()
        .post(
            "/api/auth/register",
            json!({"username": "doc-emoji2", "password": "🔑".repeat(257), "role": "buyer"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_of_a_listing_all_succeed() {
    let server = TestServer::start().await;
    let vendor = register(&server, "edit-vendor", "vendor").await;
    let listing = create_listing(&vendor, "edited listing", 1_000_000, 10).await;
    let path = format!("/api/listings/{listing}");
    let edits = (0..24).map(|i| {
        let (vendor, path) = (vendor.clone(), path.clone());
        tokio::spawn(async move {
            let body = json!({"title": format!("title {i}"), "description": format!("d {i}")});
            vendor.patch(&path, body).await
        })
    });
    for edit in futures_util::future::join_all(edits).await {
        let (status, body) = edit.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, body) = server.anonymous().get("/api/listings/search?q=title").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "{body}");
}
