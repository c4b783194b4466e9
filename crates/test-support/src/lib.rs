//! test-support: see ARCHITECTURE.md.
