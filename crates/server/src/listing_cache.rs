//! In-memory cache of the first pages of `GET /api/listings` (the marketplace front page, by far the
//! most requested read). Every write that changes what a listing page shows (listing create, update,
//! delete, and order placement, which changes stock) calls [`ListingPageCache::invalidate`] after its
//! transaction commits; entries also expire after [`MAX_AGE`] so writes by another process (a second
//! server during a blue/green switch, `seed-bench`) show within a second. Orders never read this cache:
//! stock is checked inside the order transaction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// Longest time an entry is served.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// Only pages up to this number are cached.
pub const MAX_PAGE: u32 = 3;
/// Only pages of at most this many items are cached.
pub const MAX_PER_PAGE: u32 = 50;
/// Bodies above this size are not cached (bounds memory to about 150 × 256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The cache; see the module docs.
#[derive(Debug, Default)]
pub struct ListingPageCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<(u32, u32), Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    generation: u64,
    stored_at: Instant,
    body: Bytes,
}

/// A read ticket: the generation seen before querying the database.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl ListingPageCache {
    /// Whether `(page, per_page)` is cacheable.
    pub fn cacheable(page: u32, per_page: u32) -> bool {
        page <= MAX_PAGE && per_page <= MAX_PER_PAGE
    }

    /// The cached body if fresh, else a ticket to pass to [`ListingPageCache::store`] after reading the DB.
    pub fn get(&self, page: u32, per_page: u32) -> Result<Bytes, Ticket> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(&(page, per_page)) {
            Some(e) if e.generation == generation && e.stored_at.elapsed() < MAX_AGE => {
                Ok(e.body.clone())
            }
            _ => Err(Ticket(generation)),
        }
    }

    /// Stores a body read after `ticket` was taken; ignored if a write invalidated the cache since.
    pub fn store(&self, ticket: Ticket, page: u32, per_page: u32, body: Bytes) {
        if body.len() > MAX_BODY_BYTES || self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(
            (page, per_page),
            Entry {
                generation: ticket.0,
                stored_at: Instant::now(),
                body,
            },
        );
    }

    /// Drops every entry. Call after a committed write that changes listings or stock.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidation_wins_over_a_slow_reader() {
        let cache = ListingPageCache::default();
        let ticket = cache.get(1, 20).unwrap_err();
        cache.invalidate(); // a write commits while the reader is still in the DB
        cache.store(ticket, 1, 20, Bytes::from_static(b"old"));
        assert!(
            cache.get(1, 20).is_err(),
            "a page read before the write must not be served"
        );
        let ticket = cache.get(1, 20).unwrap_err();
        cache.store(ticket, 1, 20, Bytes::from_static(b"new"));
        assert_eq!(cache.get(1, 20).unwrap(), Bytes::from_static(b"new"));
        cache.invalidate();
        assert!(cache.get(1, 20).is_err());
        assert!(!ListingPageCache::cacheable(4, 20) && !ListingPageCache::cacheable(1, 51));
    }
}
