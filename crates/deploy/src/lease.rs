//! Moving the escrow runner lease between two server containers: `POST /ops/runner/release`
//! on the old one (it finishes the jobs in flight), then `POST /ops/runner/acquire` on the
//! new one until it holds the lease. Both run from inside the containers (the routes refuse
//! proxied requests and are on the internal network only).
//!
//! An in-container request ends after [`REQUEST_TIMEOUT_SECS`] s, while the old server's
//! release waits up to 60 s for its jobs in flight (a signing round, a submit) before it
//! answers. No answer to the release therefore does not mean the old server is gone: it may
//! still be finishing its jobs. That is safe because the server records the release before it
//! waits, and the new server's acquire succeeds only once the lease row is free (released by
//! the old one, or expired): until then the acquire loop keeps asking.

use std::time::{Duration, Instant};

use mmkt_stack::Engine;
use mmkt_stack::exec_http::{HttpProbe, Method, REQUEST_TIMEOUT_SECS};

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
    // Set when the release got no answer: said in the acquire's timeout error.
    let mut release = String::new();
    loop {
        match engine
            .http_in_container(from, Method::Post, "/ops/runner/release")
            .await?
        {
            HttpProbe::Reply(r) if r.status == 200 => break,
            // Still finishing jobs in flight (202): ask again.
            HttpProbe::Reply(r) => last = format!("release: HTTP {} {}", r.status, r.body),
            // Either still finishing its jobs in flight (the release, recorded there, goes on
            // after this request timed out) or gone (its lease expires by itself). Both end
            // with the lease row free, which is what the acquire below waits for.
            HttpProbe::NoAnswer(why) => {
                release = format!(
                    "; the release got no answer within {REQUEST_TIMEOUT_SECS} s ({why}): the old server is still finishing its jobs in flight or is gone"
                );
                break;
            }
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
            // 409 while the old server still holds the lease (finishing its jobs, or gone
            // and its lease not yet expired): ask again.
            HttpProbe::Reply(r) => last = format!("acquire: HTTP {} {}", r.status, r.body),
            HttpProbe::NoAnswer(why) => last = format!("acquire: {why}"),
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Stack(format!(
                "the new server did not get the runner lease within {} s ({last}){release}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
