//! The password-hashing gate: at most N argon2id computations at once (19 MiB each), a bounded
//! number of requests waiting for a slot, and a refusal instead of a longer queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::config::auth::AuthSettings;
use crate::error::ApiError;

/// Seconds a client refused by a full queue is told to wait (`Retry-After`): the queue drains in
/// well under that at tens of milliseconds per hash.
pub const QUEUE_FULL_RETRY_AFTER_SECS: u64 = 1;

/// Bounds password hashing: `slots` computations run on the blocking pool at once, `queue`
/// more requests may wait for a slot, and any request beyond that is refused at once.
#[derive(Debug)]
pub struct HashGate {
    slots: Arc<Semaphore>,
    /// Requests inside the gate: hashing plus waiting.
    inside: AtomicUsize,
    capacity: usize,
}

/// Why [`HashGate::run`] gave no result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// Every slot is busy and the queue is full; retry after
    /// [`QUEUE_FULL_RETRY_AFTER_SECS`].
    #[error("password checks are queued to capacity; retry in {QUEUE_FULL_RETRY_AFTER_SECS} s")]
    QueueFull,
    /// The blocking task panicked or was cancelled.
    #[error("password hashing task failed: {0}")]
    Task(String),
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::QueueFull => ApiError::LoginQueueFull {
                retry_after_secs: QUEUE_FULL_RETRY_AFTER_SECS,
            },
            GateError::Task(detail) => ApiError::Internal(detail),
        }
    }
}

/// Leaves the gate when dropped (also when the request is cancelled while waiting).
struct Inside<'a>(&'a AtomicUsize);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashGate {
    /// A gate of `settings.hash_concurrency` slots and `settings.hash_queue` waiting places.
    pub fn new(settings: &AuthSettings) -> Self {
        let slots = settings.hash_concurrency.get();
        HashGate {
            slots: Arc::new(Semaphore::new(slots)),
            inside: AtomicUsize::new(0),
            capacity: slots.saturating_add(settings.hash_queue),
        }
    }

    /// Runs `work` (an argon2id hash or verify) on the blocking pool once a slot is free.
    ///
    /// # Errors
    /// [`GateError::QueueFull`] at once when all slots and waiting places are taken;
    /// [`GateError::Task`] if the blocking task panicked.
    pub async fn run<T, F>(&self, work: F) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let before = self.inside.fetch_add(1, Ordering::AcqRel);
        let _inside = Inside(&self.inside);
        if before >= self.capacity {
            return Err(GateError::QueueFull);
        }
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|e| GateError::Task(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|e| GateError::Task(e.to_string()))
    }

    /// Requests inside the gate now (hashing plus waiting).
    pub fn occupancy(&self) -> usize {
        self.inside.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    fn gate(slots: usize, queue: usize) -> Arc<HashGate> {
        Arc::new(HashGate::new(&AuthSettings {
            hash_concurrency: NonZeroUsize::new(slots).unwrap(),
            hash_queue: queue,
            failed_login_limit: 10,
            failed_login_window: Duration::from_secs(60),
        }))
    }

    /// Starts a gated job that blocks until the returned sender fires; waits until the gate
    /// counts it.
    async fn hold(gate: &Arc<HashGate>) -> (oneshot::Sender<()>, tokio::task::JoinHandle<bool>) {
        let (release, wait) = oneshot::channel::<()>();
        let before = gate.occupancy();
        let g = Arc::clone(gate);
        let job =
            tokio::spawn(async move { g.run(move || wait.blocking_recv().is_ok()).await.is_ok() });
        while gate.occupancy() == before {
            tokio::task::yield_now().await;
        }
        (release, job)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_refused_at_once_and_frees_up() {
        let gate = gate(1, 1);
        let (first, running) = hold(&gate).await;
        let (second, queued) = hold(&gate).await;
        assert_eq!(gate.occupancy(), 2);
        let refused = gate.run(|| ()).await;
        assert!(matches!(refused, Err(GateError::QueueFull)), "{refused:?}");
        assert_eq!(gate.occupancy(), 2, "a refusal leaves no trace");
        let api: ApiError = GateError::QueueFull.into();
        assert_eq!(api.code(), "login_queue_full");
        assert_eq!(api.status_code().as_u16(), 429);

        first.send(()).unwrap();
        assert!(running.await.unwrap());
        second.send(()).unwrap();
        assert!(queued.await.unwrap());
        assert_eq!(gate.occupancy(), 0);
        assert_eq!(gate.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_slots_run_at_once() {
        let gate = gate(2, 64);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..32)
            .map(|_| {
                let (g, running, peak) = (Arc::clone(&gate), running.clone(), peak.clone());
                tokio::spawn(async move {
                    g.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2, "{peak:?}");
    }
}
