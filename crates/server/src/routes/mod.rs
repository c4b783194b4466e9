//! HTTP routes, one module per resource.

pub mod auth;
pub mod listings;
pub mod ops;
pub mod orders;
