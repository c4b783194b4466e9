//! What several routers share: pagination (`?page=&per_page=`), the parsing of JSON numbers
//! into atomic amounts and counts (refusing what a plain `u64`/`u32` field would silently accept
//! or misreport), and the internal-network check of the `/ops` routes.

use escrow_core::Amount;
use serde::Deserialize;
use serde_json::Number;
use utoipa::IntoParams;

use crate::error::ApiError;

/// Default page size.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// Largest page size.
pub const MAX_PER_PAGE: u32 = 100;

/// `?page=&per_page=` (1-based page, default 1; per_page 1-100, default 20). Both are optional
/// query parameters; the OpenAPI document states the bounds [`page_bounds`] enforces.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64, default = 1)]
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u32>,
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBounds {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// Checks `page` (default 1, at least 1) and `per_page` (default 20, 1-100).
///
/// # Errors
/// [`ApiError::InvalidQuery`].
pub fn page_bounds(page: Option<u32>, per_page: Option<u32>) -> Result<PageBounds, ApiError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(ApiError::InvalidQuery("page starts at 1".into()));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::InvalidQuery(format!(
            "per_page must be between 1 and {MAX_PER_PAGE}"
        )));
    }
    Ok(PageBounds {
        page,
        per_page,
        offset: u64::from(page - 1) * u64::from(per_page),
    })
}

/// Largest integer every larger one of which a JSON float may round to (2^53): integral floats
/// up to it are exact integers.
const EXACT_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// The integer a JSON number denotes, as JSON Schema's `integer` type counts them: an integer
/// literal (`12`), or a float literal without a fraction (`12.0`, `1.2e1`) up to 2^53, where
/// floats are exact. `None` for fractions and for integral floats beyond 2^53.
pub fn integer(n: &Number) -> Option<i128> {
    if let Some(v) = n.as_u64() {
        return Some(i128::from(v));
    }
    if let Some(v) = n.as_i64() {
        return Some(i128::from(v));
    }
    n.as_f64()
        .filter(|v| v.fract() == 0.0 && v.abs() <= EXACT_FLOAT_INTEGER)
        .map(|v| v as i128)
}

/// Parses a positive atomic amount (rejects 0, negatives, fractions and values above u64::MAX).
///
/// # Errors
/// [`ApiError::InvalidAmount`].
pub fn positive_amount(n: &Number, field: &'static str) -> Result<Amount, ApiError> {
    integer(n)
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .map(Amount::from_atomic)
        .ok_or(ApiError::InvalidAmount { field })
}

/// Parses a u32 count of at least `min`.
///
/// # Errors
/// [`ApiError::InvalidQuantity`].
pub fn count(n: &Number, field: &'static str, min: u32) -> Result<u32, ApiError> {
    integer(n)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v >= min)
        .ok_or(ApiError::InvalidQuantity { field, min })
}

/// Parses a 64-bit id (any integer per [`integer`] that fits in an `i64`).
///
/// # Errors
/// [`ApiError::InvalidBody`] naming `field`.
pub fn id(n: &Number, field: &'static str) -> Result<i64, ApiError> {
    integer(n)
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| ApiError::InvalidBody(format!("{field}: must be a 64-bit integer")))
}

/// Headers a reverse proxy adds (nginx sets `X-Real-IP` and `X-Forwarded-For` on every proxied
/// request); a request with any of them did not come from the internal network directly.
pub const PROXY_HEADERS: [&str; 3] = ["x-real-ip", "x-forwarded-for", "forwarded"];

/// 403 `forbidden` for a request to an `/ops` route that came through a reverse proxy (nginx also
/// answers 404 for `/ops/*`, so only the internal network reaches them).
///
/// # Errors
/// [`ApiError::Forbidden`] when any of [`PROXY_HEADERS`] is set.
pub fn internal_only(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if PROXY_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return Err(ApiError::Forbidden(
            "the /ops routes are served on the internal network only; this request came through a proxy (X-Real-IP, X-Forwarded-For or Forwarded is set)".into(),
        ));
    }
    Ok(())
}
