//! The marketplace's load scenarios as a Rust load tool, `mmkt-load`: http-endpoints
//! (browse, search, sign up; the seed's ramp to 100 virtual users) and escrow-flow (a vendor
//! lists, a buyer orders; 10 virtual users), with the same stages, thresholds and request mix
//! as the k6 scripts in `load-tests/`, and a short profile for CI; and escrow-release (10
//! escrows taken concurrently from order to payout on a regtest development stack, paid by its
//! faucet through `mmctl dev pay`, [`faucet`]; the order-to-release times in [`flows`]).
//!
//! ```text
//! mmkt-load --scenario http-endpoints --profile full --base-url http://127.0.0.1:8080 --out load-report
//! ```
//!
//! A run reports per request type the requests per second, p50/p95/p99 and the error rate, as
//! JSON (`<scenario>.json`, [`report::RunReport`]), as a text summary, and as a self-contained
//! HTML page with p50/p95/p99 over time per request type in inline SVG ([`html`]); goose
//! also writes its own HTML report (request rate, response times and users over time; its
//! charts load a script from a CDN, so they draw only online). 429 answers (nginx's
//! per-address limits) are counted apart from errors. Each iteration takes the next of up to
//! 253 loopback source addresses (127.0.0.2 to 127.0.0.254, [`sources`]), so a proxy that
//! sees the client's address applies its per-address limits as deployed.
//!
//! Exit codes of `mmkt-load`: 0 every threshold held; 1 the run finished and a threshold
//! failed; 2 bad command line (an unknown scenario or profile, a bad URL); 3 the run could not
//! run (the marketplace did not answer `GET /health`, a report could not be written, goose
//! failed).
//!
//! Why goose 0.19: it builds with this workspace's toolchain and its reqwest 0.13 and tokio,
//! runs k6-like stages (`--test-plan`), keeps every response time in buckets per request
//! type, and writes the HTML report with the over-time plots. Each iteration gets one of our
//! clients (a reqwest client bound to its source address), so goose's own client and cookie
//! store are not used; goose counts any non-2xx as a failure, so the thresholds and the 429
//! split are computed here ([`report`]) from its per-status counts, not with goose's
//! `--threshold`.

pub mod sources;

#[cfg(feature = "runner")]
pub mod error;
#[cfg(feature = "runner")]
pub mod faucet;
#[cfg(feature = "runner")]
pub mod flows;
#[cfg(feature = "runner")]
pub mod html;
#[cfg(feature = "runner")]
pub mod plan;
#[cfg(feature = "runner")]
pub mod report;
#[cfg(feature = "runner")]
pub mod run;
#[cfg(feature = "runner")]
mod scenarios;
#[cfg(feature = "runner")]
pub mod timeline;

#[cfg(feature = "runner")]
pub use scenarios::REQUEST_TIMEOUT;
