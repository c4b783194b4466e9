//! HTTP routes, one module per resource.

pub mod auth;
pub mod disputes;
pub mod escrows;
pub mod listings;
pub mod ops;
pub mod orders;
pub mod ws;
