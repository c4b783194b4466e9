//! The request rules the handlers enforce, as JSON Schema for the OpenAPI document: text lengths
//! (in characters, as JSON Schema's `minLength`/`maxLength` count them) and character classes,
//! and the enums of the request bodies. Fields point at these through `schema_with`, so the
//! document states the same limits as escrow-core and the auth module.
//!
//! The character classes are spelled as explicit `\uXXXX` ranges, which mean the same in
//! ECMA-262, Python and Rust regular expressions: control characters are Unicode's `Cc`
//! (`char::is_control`), white space is Unicode's `White_Space` (`str::trim`).

use escrow_core::escrow::DISPUTE_REASON_MAX_CHARS;
use escrow_core::listing::{DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::auth::password::{MAX_CHARS as PASSWORD_MAX_CHARS, MIN_CHARS as PASSWORD_MIN_CHARS};

/// Every control character (`Cc`): refused in one-line texts.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// Control characters except tab, line feed and carriage return: refused in multi-line texts.
const TEXT_CONTROL: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";
/// Control characters and white space: a text must hold one character outside these.
const BLANK_OR_CONTROL: &str =
    r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// Username: 3-32 characters of `[A-Za-z0-9_.-]` (`routes::auth::check_username`).
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9_.-]{3,32}$";

/// A string schema of at most `max` characters matching `pattern`, with `min` characters or more.
fn text(description: &str, min: usize, max: usize, pattern: String) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

/// A pattern for a text without the characters of the class `refused` that holds at least one
/// character that is neither white space nor a control character.
fn not_blank(refused: &str) -> String {
    format!("^[^{refused}]*[^{BLANK_OR_CONTROL}][^{refused}]*$")
}

/// A listing's title: 1-200 characters, no control characters, not only white space.
pub fn listing_title() -> RefOr<Schema> {
    text(
        "1-200 characters, no control characters, not only white space.",
        1,
        TITLE_MAX_CHARS,
        not_blank(CONTROL),
    )
}

/// A listing's description: up to 20 000 characters, no control characters but tab, line feed
/// and carriage return.
pub fn listing_description() -> RefOr<Schema> {
    text(
        "Up to 20 000 characters; no control characters except tab, line feed and carriage return.",
        0,
        DESCRIPTION_MAX_CHARS,
        format!("^[^{TEXT_CONTROL}]*$"),
    )
}

/// A dispute reason: 1-2000 characters, not only white space, no control characters but tab,
/// line feed and carriage return (escrow-core's `DisputeReason::new`).
pub fn dispute_reason() -> RefOr<Schema> {
    text(
        "Why (1-2000 characters, not only white space, no control characters except tab, line feed and carriage return; shown to the arbiter).",
        1,
        DISPUTE_REASON_MAX_CHARS,
        not_blank(TEXT_CONTROL),
    )
}

/// A new account's username.
pub fn username() -> RefOr<Schema> {
    text(
        "3-32 characters of `[A-Za-z0-9_.-]`, unique (case-insensitive).",
        3,
        32,
        USERNAME_PATTERN.to_owned(),
    )
}

/// A new account's password: 10-256 characters (`Password::check_new`).
pub fn new_password() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Password,
        )))
        .description(Some("10-256 characters."))
        .min_length(Some(PASSWORD_MIN_CHARS))
        .max_length(Some(PASSWORD_MAX_CHARS))
        .into()
}

/// A string schema with exactly these values.
fn one_of(description: &str, values: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values.iter().copied()))
        .into()
}

/// The roles one may register as (arbiters are created by the operator; `arbiter` gets 403).
pub fn registrable_role() -> RefOr<Schema> {
    one_of(
        "`buyer` or `vendor` (arbiters are created by the operator).",
        &["buyer", "vendor"],
    )
}

/// An arbiter's decision (escrow-core's `DisputeOutcome` labels).
pub fn dispute_outcome() -> RefOr<Schema> {
    one_of(
        "`release` (pay the vendor's payout address) or `refund` (pay the buyer's refund address).",
        &["release", "refund"],
    )
}
