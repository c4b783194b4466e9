//! `/api/listings*`: public browse and search; create, replace, patch and delete by the owning vendor.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use escrow_core::error::ListingError;
use escrow_core::{Amount, ListingDraft};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::Page;
use crate::db::listings::{self, Listing, ListingFields, ListingPatch, OwnedChange};
use crate::db::users::Role;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::listing_cache::ListingPageCache;
use crate::openapi::rules;
use crate::routes::common::{PageBounds, PageQuery, count, page_bounds, positive_amount};
use crate::state::AppState;

/// Longest search query, in characters (Unicode scalar values, as JSON Schema's `maxLength`
/// counts them).
pub const MAX_QUERY_CHARS: usize = 256;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/listings", get(list).post(create))
        .route("/api/listings/search", get(search))
        .route(
            "/api/listings/{id}",
            get(show).put(replace).patch(patch).delete(remove),
        )
}

/// `?q=&page=&per_page=`; documented as the `q` parameter of [`search`] plus [`PageQuery`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find in title or description, 1-256 characters.
    pub q: String,
    /// 1-based page number.
    pub page: Option<u32>,
    /// Items per page.
    pub per_page: Option<u32>,
}

/// One page of listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingPage {
    /// Listings of this page.
    pub items: Vec<Listing>,
    /// This page number (1-based).
    pub page: u32,
    /// Page size used.
    pub per_page: u32,
    /// Whether a next page exists.
    pub has_more: bool,
}

/// `POST /api/listings` and `PUT /api/listings/{id}` body. Each field states its rule; the
/// largest `price_xmr` is this environment's escrow cap.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingRequest {
    /// 1-200 characters, no control characters, not only white space.
    #[schema(schema_with = rules::listing_title)]
    pub title: String,
    /// Up to 20 000 characters; no control characters except tab, line feed and carriage return.
    #[schema(schema_with = rules::listing_description)]
    pub description: String,
    /// Unit price in atomic units (piconero): a positive integer, at most the escrow cap.
    #[schema(value_type = u64, minimum = 1, example = 1_000_000_000_000u64)]
    pub price_xmr: Number,
    /// Units available, 0 to 4294967295.
    #[schema(value_type = u64, minimum = 0, maximum = 4_294_967_295_u64, example = 10)]
    pub stock: Number,
}

/// `PATCH /api/listings/{id}` body: any subset of the fields of `ListingRequest`, at least one,
/// none `null`, each with the same rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingPatchRequest {
    /// New title.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::listing_title)]
    pub title: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::listing_description)]
    pub description: Option<String>,
    /// New unit price, atomic units.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = u64, required = false, minimum = 1)]
    pub price_xmr: Option<Number>,
    /// New stock.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = u64, required = false, minimum = 0, maximum = 4_294_967_295_u64)]
    pub stock: Option<Number>,
}

/// A field that may be left out but, when given, is a value: `null` is refused (422
/// `invalid_body`) as the schema says, instead of meaning "unchanged".
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

fn listing_error(e: ListingError) -> ApiError {
    match e {
        ListingError::EmptyTitle => ApiError::InvalidField {
            field: "title",
            message: "must not be empty".into(),
        },
        ListingError::TitleTooLong { max, found } => ApiError::InvalidField {
            field: "title",
            message: format!("{found} characters, at most {max} allowed"),
        },
        ListingError::DescriptionTooLong { max, found } => ApiError::InvalidField {
            field: "description",
            message: format!("{found} characters, at most {max} allowed"),
        },
        ListingError::ControlCharacter { field } => ApiError::InvalidField {
            field,
            message: "must not contain control characters".into(),
        },
        ListingError::ZeroPrice => ApiError::InvalidAmount { field: "price_xmr" },
        ListingError::PriceExceedsCap(cap) => ApiError::AmountExceedsCap {
            what: "price_xmr",
            amount: cap.total.as_atomic(),
            cap: cap.cap.as_atomic(),
        },
        other => ApiError::InvalidField {
            field: "listing",
            message: other.to_string(),
        },
    }
}

fn validate(state: &AppState, draft: ListingDraft) -> Result<ListingFields, ApiError> {
    draft
        .validate(&state.config().limits.escrow_cap())
        .map_err(listing_error)?;
    Ok(ListingFields {
        title: draft.title,
        description: draft.description,
        price_atomic: draft.price.as_atomic(),
        stock: draft.stock,
    })
}

/// Turns free text into a safe FTS5 expression: each word (letters and digits) becomes a quoted prefix
/// term, all required. Returns `None` when no word is left.
pub fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn to_page(rows: Page<Listing>, bounds: PageBounds) -> ListingPage {
    ListingPage {
        items: rows.items,
        page: bounds.page,
        per_page: bounds.per_page,
        has_more: rows.has_more,
    }
}

/// Live listings, newest first.
#[utoipa::path(get, path = "/api/listings", tag = "listings", operation_id = "list_listings", params(PageQuery),
    responses((status = 200, body = ListingPage), (status = 400, description = "bad page/per_page", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let bounds = page_bounds(q.page, q.per_page)?;
    let PageBounds {
        page,
        per_page,
        offset,
    } = bounds;
    let cacheable = ListingPageCache::cacheable(page, per_page);
    let ticket = match cacheable.then(|| state.listing_cache().get(page, per_page)) {
        Some(Ok(body)) => return Ok(json_response(body)),
        Some(Err(ticket)) => Some(ticket),
        None => None,
    };
    let rows = state
        .db()
        .run("select", "listings", move |conn| {
            listings::list(conn, per_page, offset)
        })
        .await?;
    let body = Bytes::from(
        serde_json::to_vec(&to_page(rows, bounds))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    if let Some(ticket) = ticket {
        state
            .listing_cache()
            .store(ticket, page, per_page, body.clone());
    }
    Ok(json_response(body))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Full-text search (SQLite FTS5 over title and description), best match first. Each run of
/// letters and digits in `q` is a prefix term, all required; a `q` without any (only spaces or
/// symbols) matches nothing: an empty page.
#[utoipa::path(get, path = "/api/listings/search", tag = "listings", operation_id = "search_listings",
    params(("q" = String, Query, description = "Words to find in title or description, 1-256 characters", min_length = 1, max_length = 256), PageQuery),
    responses((status = 200, body = ListingPage), (status = 400, description = "missing, empty or too long q, or bad page/per_page", body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<ApiJson<ListingPage>, ApiError> {
    let bounds = page_bounds(q.page, q.per_page)?;
    if q.q.is_empty() || q.q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::InvalidQuery(format!(
            "q must be 1-{MAX_QUERY_CHARS} characters"
        )));
    }
    let Some(fts) = fts_query(&q.q) else {
        let nothing = Page {
            items: Vec::new(),
            has_more: false,
        };
        return Ok(ApiJson(to_page(nothing, bounds)));
    };
    let rows = state
        .db()
        .run("search", "listings", move |conn| {
            listings::search(conn, &fts, bounds.per_page, bounds.offset)
        })
        .await?;
    Ok(ApiJson(to_page(rows, bounds)))
}

/// One live listing.
#[utoipa::path(get, path = "/api/listings/{id}", tag = "listings", operation_id = "show_listing", params(("id" = i64, Path, description = "listing id")),
    responses((status = 200, body = Listing), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Listing>, ApiError> {
    state
        .db()
        .run("select", "listings", move |conn| listings::get(conn, id))
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound("listing"))
}

/// Creates a listing (vendors only). The response has `listing_id`.
#[utoipa::path(post, path = "/api/listings", tag = "listings", operation_id = "create_listing", request_body = ListingRequest,
    security(("session_cookie" = [])),
    responses((status = 200, body = Listing), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "invalid field or amount, or price above the escrow cap", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(request): ApiJson<ListingRequest>,
) -> Result<ApiJson<Listing>, ApiError> {
    current.require(Role::Vendor)?;
    let fields = validate(&state, draft(request)?)?;
    let vendor = current.user.id;
    let listing = state
        .db()
        .run("insert", "listings", move |conn| {
            listings::insert(conn, vendor, &fields)
        })
        .await?;
    state.listing_cache().invalidate();
    tracing::info!(
        listing_id = listing.listing_id,
        vendor_id = vendor,
        "listing created"
    );
    Ok(ApiJson(listing))
}

fn draft(request: ListingRequest) -> Result<ListingDraft, ApiError> {
    Ok(ListingDraft {
        price: positive_amount(&request.price_xmr, "price_xmr")?,
        stock: count(&request.stock, "stock", 0)?,
        title: request.title,
        description: request.description,
    })
}

/// Replaces every field of the caller's listing (owning vendor only).
#[utoipa::path(put, path = "/api/listings/{id}", tag = "listings", operation_id = "replace_listing", params(("id" = i64, Path, description = "listing id")),
    security(("session_cookie" = [])),
    request_body = ListingRequest,
    responses((status = 200, body = Listing), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn replace(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ListingRequest>,
) -> Result<ApiJson<Listing>, ApiError> {
    current.require(Role::Vendor)?;
    let f = validate(&state, draft(request)?)?;
    let patch = ListingPatch {
        title: Some(f.title),
        description: Some(f.description),
        price_atomic: Some(f.price_atomic),
        stock: Some(f.stock),
    };
    apply_patch(&state, current.user.id, id, patch).await
}

/// Changes some fields of the caller's listing (owning vendor only).
#[utoipa::path(patch, path = "/api/listings/{id}", tag = "listings", operation_id = "patch_listing", params(("id" = i64, Path, description = "listing id")),
    security(("session_cookie" = [])),
    request_body = ListingPatchRequest,
    responses((status = 200, body = Listing), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ListingPatchRequest>,
) -> Result<ApiJson<Listing>, ApiError> {
    current.require(Role::Vendor)?;
    let price = request
        .price_xmr
        .as_ref()
        .map(|n| positive_amount(n, "price_xmr"))
        .transpose()?;
    let stock = request
        .stock
        .as_ref()
        .map(|n| count(n, "stock", 0))
        .transpose()?;
    if request.title.is_none()
        && request.description.is_none()
        && price.is_none()
        && stock.is_none()
    {
        return Err(ApiError::InvalidField {
            field: "body",
            message: "give at least one field to change".into(),
        });
    }
    // Validate the changed fields with the same rules as a new listing (placeholders for the others).
    let check = ListingDraft {
        title: request.title.clone().unwrap_or_else(|| "unchanged".into()),
        description: request.description.clone().unwrap_or_default(),
        price: price.unwrap_or(Amount::ONE_PICONERO),
        stock: stock.unwrap_or(0),
    };
    check
        .validate(&state.config().limits.escrow_cap())
        .map_err(listing_error)?;
    let patch = ListingPatch {
        title: request.title,
        description: request.description,
        price_atomic: price.map(Amount::as_atomic),
        stock,
    };
    apply_patch(&state, current.user.id, id, patch).await
}

async fn apply_patch(
    state: &AppState,
    vendor: i64,
    id: i64,
    patch: ListingPatch,
) -> Result<ApiJson<Listing>, ApiError> {
    let outcome = state
        .db()
        .run("update", "listings", move |conn| {
            listings::update(conn, id, vendor, &patch)
        })
        .await?;
    state.listing_cache().invalidate();
    owned(outcome).map(ApiJson)
}

/// The result of a change by the owning vendor, or why it was refused (404, 403).
fn owned<T>(outcome: OwnedChange<T>) -> Result<T, ApiError> {
    match outcome {
        OwnedChange::Done(value) => Ok(value),
        OwnedChange::NotFound => Err(ApiError::NotFound("listing")),
        OwnedChange::NotOwner => Err(ApiError::Forbidden(
            "this listing belongs to another vendor".into(),
        )),
    }
}

/// Deletes the caller's listing (owning vendor only). Existing orders keep their copy of the price.
#[utoipa::path(delete, path = "/api/listings/{id}", tag = "listings", operation_id = "delete_listing", params(("id" = i64, Path, description = "listing id")),
    security(("session_cookie" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    current.require(Role::Vendor)?;
    let vendor = current.user.id;
    let outcome = state
        .db()
        .run("delete", "listings", move |conn| {
            listings::soft_delete(conn, id, vendor)
        })
        .await?;
    state.listing_cache().invalidate();
    owned(outcome).map(|()| StatusCode::NO_CONTENT)
}
