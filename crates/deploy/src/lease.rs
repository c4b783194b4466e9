//! Moving the escrow runner lease between two server containers: `POST /ops/runner/release`
//! on the old one (it finishes the jobs in flight), then `POST /ops/runner/acquire` on the
//! new one until it holds the lease. Both run from inside the containers (the routes refuse
//! proxied requests and are on the internal network only).

use std::time::{Duration, Instant};

use mmkt_stack::Engine;
use mmkt_stack::exec_http::{HttpProbe, Method};

use crate::error::DeployError;

/// How the handover ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// The new container holds the lease.
    Moved,
    /// The servers run no escrow jobs (no wallet-rpc configured): there is no lease to move.
    Disabled,
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// Releases the lease on `from` and acquires it on `to`, within `timeout`.
///
/// # Errors
/// [`DeployError::Stack`] when the release or acquire does not complete in time (the text
/// says what was seen); [`DeployError::Engine`].
pub async fn hand_over(
    engine: &Engine,
    from: &str,
    to: &str,
    timeout: Duration,
) -> Result<Handover, DeployError> {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match engine
            .http_in_container(from, Method::Post, "/ops/runner/release")
            .await?
        {
            HttpProbe::Reply(r) if r.status == 200 => break,
            // Still finishing jobs in flight (202): ask again.
            HttpProbe::Reply(r) => last = format!("release: HTTP {} {}", r.status, r.body),
            // The old server is gone: its lease expires by itself.
            HttpProbe::NoAnswer(_) => break,
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Stack(format!(
                "the runner lease was not released in time ({last})"
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    loop {
        match engine
            .http_in_container(to, Method::Post, "/ops/runner/acquire")
            .await?
        {
            HttpProbe::Reply(r) if r.status == 200 => return Ok(Handover::Moved),
            HttpProbe::Reply(r)
                if r.status == 409 && json(&r.body)["error"]["code"] == "runner_disabled" =>
            {
                return Ok(Handover::Disabled);
            }
            HttpProbe::Reply(r) => last = format!("acquire: HTTP {} {}", r.status, r.body),
            HttpProbe::NoAnswer(why) => last = format!("acquire: {why}"),
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Stack(format!(
                "the new server did not get the runner lease within {} s ({last})",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
