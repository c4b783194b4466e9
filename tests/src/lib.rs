//! mmkt-repo-tests: helpers for the repository-level checks in `tests/tests/*.rs`.
//!
//! The checks validate files that are not Rust (monitoring/, deploy/nginx/) with the real tools
//! operators run them with: promtool, amtool, prometheus, alertmanager, nginx and curl from
//! Debian (installed by scripts/bootstrap.sh). A missing tool fails the test when
//! `MMKT_REQUIRE_SERVICES=1` (CI) and skips it with a message otherwise. [`tidy`] holds the
//! project's conventions and layout boundaries as pure rules over file text.

pub mod grafana;
pub mod http;
pub mod process;
pub mod promql;
pub mod smtp;
pub mod tidy;
pub mod tools;
