//! monero-rpc: see ARCHITECTURE.md.
