//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations, completed
//! with what no single annotation states: the JSON-body errors every such operation can answer
//! ([`JsonBodyErrors`]), the session cookie's security scheme and the escrow cap of this
//! environment ([`document`]). [`rules`] holds the request rules as schemas.

pub mod rules;

use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::auth::cookie::{PLAIN_COOKIE_NAME, SECURE_COOKIE_NAME, cookie_name};
use crate::config::Config;
use crate::routes::{account, auth, disputes, escrows, listings, ops, orders, rounds, runner};

/// Name of the session cookie's security scheme, which the authenticated operations require.
pub const SESSION_SCHEME: &str = "session_cookie";

/// OpenAPI 3.1 description of the API; served, completed by [`document`], at
/// `GET /api/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "mmkt marketplace API", description = "Accounts, listings and orders with 2-of-3 Monero escrow. \
        Amounts are integers in atomic units (piconero, 1 XMR = 10^12). Errors are {\"error\":{\"code\",\"message\"}}. \
        Authentication: the HttpOnly session cookie set by register/login (`__Host-session_token` over HTTPS, `session_token` in development; \
        the `session_cookie` security scheme names the one this server reads). \
        State-changing requests from another site's page get 403 `cross_site_refused`."),
    paths(
        auth::register, auth::login, auth::logout, auth::me,
        listings::list, listings::search, listings::show, listings::create, listings::replace, listings::patch,
        listings::remove,
        orders::create, orders::list, orders::show, orders::cancel,
        ops::health, ops::ready, ops::metrics, ops::openapi, ops::retry_setup, runner::release, runner::acquire,
        escrows::show, escrows::confirm_receipt, escrows::refund, escrows::open_dispute, account::set_payout_address,
        account::set_refund_address, account::addresses, disputes::list, disputes::resolve,
        rounds::show, rounds::submit,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&JsonBodyErrors, &PatchNeedsAField),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "listings", description = "Vendor listings and full-text search"),
        (name = "orders", description = "Orders and their escrows"),
        (name = "ops", description = "Health, readiness, metrics; escrow runner lease handover and setup retry (internal network only)"),
        (name = "escrows", description = "2-of-3 escrows: state, funding, confirmation, the vendor's refund, disputes, payout addresses. \
            Live events: WebSocket GET /ws (session cookie)"),
        (name = "disputes", description = "Arbiter dispute queue and decisions"),
    )
)]
pub struct ApiDoc;

/// The document this server serves: [`ApiDoc`] with the session cookie this environment reads
/// (`session_token` in development, `__Host-session_token` over HTTPS) as the `session_cookie`
/// API-key scheme, and the escrow cap as the largest `price_xmr`.
pub fn document(config: &Config) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let name = cookie_name(config.env.cookie_security());
    let scheme = ApiKeyValue::with_description(
        name.to_owned(),
        format!(
            "The HttpOnly session cookie set by register and login: `{SECURE_COOKIE_NAME}` over HTTPS (staging, production), `{PLAIN_COOKIE_NAME}` in development; this server reads `{name}`."
        ),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Cookie(scheme)),
    );
    let cap = config.limits.max_escrow_atomic;
    for body in ["ListingRequest", "ListingPatchRequest"] {
        if let Some(price) = property(components, body, "price_xmr") {
            price.maximum = Some(utoipa::Number::UInt(
                usize::try_from(cap).unwrap_or(usize::MAX),
            ));
        }
    }
    doc
}

/// The object schema of property `field` of component schema `schema`, if both exist.
fn property<'a>(
    components: &'a mut utoipa::openapi::Components,
    schema: &str,
    field: &str,
) -> Option<&'a mut Object> {
    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
        return None;
    };
    match object.properties.get_mut(field) {
        Some(RefOr::T(Schema::Object(property))) => Some(property),
        _ => None,
    }
}

/// Adds the answers of the JSON body extractor ([`crate::extract::ApiJson`]) to every operation
/// with a request body: 400 `malformed_json`, 413 `payload_too_large`, 415
/// `unsupported_media_type`, 422 `invalid_body` (where the operation documents no 422 of its own).
pub struct JsonBodyErrors;

/// The statuses [`JsonBodyErrors`] adds, with their descriptions.
const BODY_ERRORS: [(&str, &str); 4] = [
    (
        "400",
        "`malformed_json`: the body is not valid JSON (or `invalid_query`)",
    ),
    ("413", "`payload_too_large`: the body is over 64 KiB"),
    (
        "415",
        "`unsupported_media_type`: the body was sent without `Content-Type: application/json`",
    ),
    (
        "422",
        "`invalid_body`: valid JSON of the wrong shape (missing or unknown field, wrong type), or a field breaking its rule",
    ),
];

impl Modify for JsonBodyErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let operations = openapi.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
        });
        for operation in operations.flatten() {
            if operation.request_body.is_none() {
                continue;
            }
            for (status, description) in BODY_ERRORS {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            }
        }
    }
}

/// A response with the error body `ErrorBody`.
fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
        .into()
}

/// `PATCH /api/listings/{id}` needs at least one field: `minProperties: 1` on its body (the
/// derive's own `min_properties` attribute sets `maxProperties` instead).
pub struct PatchNeedsAField;

impl Modify for PatchNeedsAField {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        if let Some(RefOr::T(Schema::Object(body))) =
            components.schemas.get_mut("ListingPatchRequest")
        {
            body.min_properties = Some(1);
        }
    }
}
