//! escrow-core: see ARCHITECTURE.md.
