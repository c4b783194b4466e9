//! [`SessionEnds`]: tells the open WebSocket connections that a session ended (logout), so the
//! connection of that session closes at once instead of at its next session check.

use tokio::sync::broadcast;

/// Ended sessions buffered per connection; a connection that falls further behind re-checks its
/// session in the database instead.
pub const SESSION_END_BUFFER: usize = 256;

/// The broadcast of ended sessions, by the sha256 of their token (the form the database stores;
/// the token itself never travels here). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionEnds {
    sender: broadcast::Sender<[u8; 32]>,
}

impl Default for SessionEnds {
    fn default() -> Self {
        SessionEnds::new()
    }
}

impl SessionEnds {
    /// A hub buffering [`SESSION_END_BUFFER`] ended sessions per receiver.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(SESSION_END_BUFFER);
        SessionEnds { sender }
    }

    /// Announces that the session with this token hash ended (no connection open: dropped).
    pub fn publish(&self, token_hash: [u8; 32]) {
        let _ = self.sender.send(token_hash);
    }

    /// A receiver of every session end from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<[u8; 32]> {
        self.sender.subscribe()
    }
}
