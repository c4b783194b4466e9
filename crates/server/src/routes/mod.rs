//! HTTP routes, one router module per resource; [`common`] holds what several of them share
//! (pagination, JSON number parsing). Router modules never import each other.

pub mod account;
pub mod auth;
pub mod common;
pub mod disputes;
pub mod escrows;
pub mod listings;
pub mod ops;
pub mod orders;
pub mod rounds;
pub mod runner;
pub mod ws;
