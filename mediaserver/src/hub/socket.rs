//! The hub's end of one socket task: a bounded queue of frames to write, and two facts the socket task
//! reads without asking the hub (whether the socket has joined, and whether its queue overflowed).
//!
//! A full queue means the browser reads slower than it is written to. Dropping the frame would leave
//! its page wrong without anyone knowing (a missed `participantLeft` shows a ghost tile forever), so
//! the socket is closed instead: the browser reconnects and carries on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};
use tracing::info;

/// What a socket task is sent. The text is reference-counted: a notification to everyone in a
/// session is one allocation, however many receive it.
#[derive(Debug)]
pub enum Outbound {
    Text(Utf8Bytes),
    /// Close the socket with this close code and reason.
    Close(CloseReason),
}

/// Why the server closes a socket, with the WebSocket close code the browser gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The participant was evicted (or left); nothing more will come.
    Evicted,
    /// Over the quota of sockets from one address.
    TooManySockets,
    /// It stayed too long without joining a session.
    JoinDeadline,
}

impl CloseReason {
    pub fn code(self) -> u16 {
        match self {
            CloseReason::Evicted => 1000,
            // 1013 "try again later": the refusal is about load, not about the client's frames.
            CloseReason::TooManySockets => 1013,
            CloseReason::JoinDeadline => 1008,
        }
    }
    pub fn text(self) -> &'static str {
        match self {
            CloseReason::Evicted => "evicted",
            CloseReason::TooManySockets => "too many connections from this address",
            CloseReason::JoinDeadline => "no session joined in time",
        }
    }
}

/// Frames waiting for one browser: enough for everyone of a full session joining and publishing at once.
pub const QUEUE: usize = 1024;

#[derive(Debug, Default)]
struct Shared {
    joined: AtomicBool,
    overflowed: AtomicBool,
    overflow: Notify,
}

/// A cheap, cloneable handle on a socket task.
#[derive(Debug, Clone)]
pub struct SocketLink {
    out: mpsc::Sender<Outbound>,
    shared: Arc<Shared>,
}

impl SocketLink {
    pub fn new() -> (SocketLink, mpsc::Receiver<Outbound>) {
        let (out, rx) = mpsc::channel(QUEUE);
        (
            SocketLink {
                out,
                shared: Arc::default(),
            },
            rx,
        )
    }

    /// Queues a frame. When the queue is full, the socket is closed (see the module comment), and
    /// nothing more is queued: the browser gets a gapless prefix, then the close.
    pub fn send(&self, text: Utf8Bytes) {
        if self.shared.overflowed.load(Ordering::Acquire) {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(Outbound::Text(text)) {
            self.overflow();
        }
    }

    /// Asks the socket task to close the socket; a full queue closes it all the same.
    pub fn close(&self, reason: CloseReason) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(Outbound::Close(reason))
        {
            self.overflow();
        }
    }

    fn overflow(&self) {
        if !self.shared.overflowed.swap(true, Ordering::AcqRel) {
            info!("a browser reads too slowly: closing its socket so that it reconnects");
            self.shared.overflow.notify_one();
        }
    }

    /// Set by the hub when the socket joins (or reconnects to) a participant, cleared when it leaves.
    pub fn set_joined(&self, joined: bool) {
        self.shared.joined.store(joined, Ordering::Release);
    }

    /// Whether the socket speaks for a participant now. The hub sets it before it answers `joinRoom`,
    /// so a request the browser sends after that answer always sees it.
    pub fn joined(&self) -> bool {
        self.shared.joined.load(Ordering::Acquire)
    }

    /// Resolves once the queue has overflowed.
    pub async fn overflowed(&self) {
        if self.shared.overflowed.load(Ordering::Acquire) {
            return;
        }
        self.shared.overflow.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_signals_overflow_instead_of_dropping_silently() {
        let (link, mut rx) = SocketLink::new();
        for _ in 0..QUEUE {
            link.send("x".into());
        }
        assert!(!link.shared.overflowed.load(Ordering::Acquire));
        link.send("one too many".into());
        tokio::time::timeout(std::time::Duration::from_secs(5), link.overflowed())
            .await
            .expect("overflow is signalled");
        assert!(matches!(rx.recv().await, Some(Outbound::Text(_))));
    }
}
