//! test-support: see ARCHITECTURE.md.
pub mod s3;
