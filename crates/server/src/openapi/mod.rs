//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.

use utoipa::OpenApi;

use crate::routes::{account, auth, disputes, escrows, listings, ops, orders, runner};

/// OpenAPI 3.1 description of the API, served at `GET /api/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "mmkt marketplace API", description = "Accounts, listings and orders with 2-of-3 Monero escrow. \
        Amounts are integers in atomic units (piconero, 1 XMR = 10^12). Errors are {\"error\":{\"code\",\"message\"}}. \
        Authentication: the HttpOnly session cookie set by register/login (`__Host-session_token` over HTTPS, `session_token` in development). \
        State-changing requests from another site's page get 403 `cross_site_refused`."),
    paths(
        auth::register, auth::login, auth::logout, auth::me,
        listings::list, listings::search, listings::show, listings::create, listings::replace, listings::patch,
        listings::remove,
        orders::create, orders::list, orders::show, orders::cancel,
        ops::health, ops::ready, ops::metrics, ops::openapi, ops::retry_setup, runner::release, runner::acquire,
        escrows::show, escrows::confirm_receipt, escrows::open_dispute, account::set_payout_address,
        account::set_refund_address, account::addresses, disputes::list, disputes::resolve,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "listings", description = "Vendor listings and full-text search"),
        (name = "orders", description = "Orders and their escrows"),
        (name = "ops", description = "Health, readiness, metrics; escrow runner lease handover and setup retry (internal network only)"),
        (name = "escrows", description = "2-of-3 escrows: state, funding, confirmation, disputes, payout addresses. \
            Live events: WebSocket GET /ws (session cookie)"),
        (name = "disputes", description = "Arbiter dispute queue and decisions"),
    )
)]
pub struct ApiDoc;
