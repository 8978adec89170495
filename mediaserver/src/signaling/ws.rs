//! One task per WebSocket: it parses frames, answers pings itself (a keepalive needs no state),
//! forwards requests to the hub, writes what the hub sends back, and notices a silent browser.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span};

use super::protocol::{self, Incoming, Request, RpcError};
use crate::AppState;
use crate::hub::{HubCommand, HubHandle, Outbound, SocketId};

/// Frames above this are refused with close code 1009; SDP offers are a few kilobytes.
pub const MAX_FRAME: usize = 64 * 1024;
/// The browser pings every 5 s; three missed pings and the socket is considered dead.
const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(5);
const MISSED_PINGS: u32 = 3;
/// A client may ask for slower pings, up to this; dead sockets are still noticed within 30 s.
const MAX_PING_INTERVAL_MS: u64 = 10_000;
/// A browser that does not read what it is sent for this long is treated as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The peer's address when the server was started with connect info, else nothing.
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

pub async fn handler(ws: WebSocketUpgrade, State(state): State<AppState>, PeerAddr(peer): PeerAddr) -> Response {
    let ip = peer.map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    // tungstenite's own limit is a backstop above ours, so that we can answer with 1009.
    ws.max_message_size(MAX_FRAME * 4)
        .max_frame_size(MAX_FRAME * 4)
        .on_upgrade(move |socket| {
            let id = SocketId(NEXT_SOCKET.fetch_add(1, Ordering::Relaxed));
            run(socket, id, state.hub, ip).instrument(info_span!("socket", id = id.0))
        })
}

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

async fn run(mut socket: WebSocket, id: SocketId, hub: HubHandle, ip: String) {
    let (out_tx, mut out_rx) = mpsc::channel::<Outbound>(256);
    if !hub.send(HubCommand::SocketOpened { socket: id, out: out_tx.clone(), ip }).await {
        return;
    }
    debug!(socket = id.0, "socket opened");
    let mut last_seen = Instant::now();
    let mut ping_interval = DEFAULT_PING_INTERVAL;
    loop {
        let deadline = last_seen + ping_interval * MISSED_PINGS;
        tokio::select! {
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let e = RpcError::new(-32700, "Binary frames are not JSON-RPC");
                        if send(&mut socket, protocol::error(None, &e)).await.is_err() { break; }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => { last_seen = Instant::now(); continue; }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        debug!(socket = id.0, "socket error: {e}");
                        // tungstenite's own size limit (a backstop above MAX_FRAME) or a protocol error.
                        let too_big = e.to_string().contains("Space limit exceeded");
                        close(&mut socket, if too_big { 1009 } else { 1002 }, if too_big { "message too big" } else { "protocol error" }).await;
                        break;
                    }
                };
                last_seen = Instant::now();
                if text.len() > MAX_FRAME {
                    info!(socket = id.0, len = text.len(), "closing a socket that sent an oversized frame");
                    close(&mut socket, 1009, "message too big").await;
                    drain(&mut socket).await;
                    break;
                }
                match protocol::parse(&text) {
                    Incoming::Request { id: rpc_id, request: Request::Ping(p) } => {
                        if let Some(ms) = p.interval {
                            ping_interval = Duration::from_millis(ms.clamp(1_000, MAX_PING_INTERVAL_MS));
                        }
                        let pong = protocol::result(&rpc_id, serde_json::json!({ "value": "pong" }));
                        if send(&mut socket, pong).await.is_err() { break; }
                    }
                    Incoming::Request { id: rpc_id, request } => {
                        if !hub.send(HubCommand::Rpc { socket: id, id: rpc_id, request }).await { break; }
                    }
                    Incoming::Invalid { id: rpc_id, error } => {
                        if send(&mut socket, protocol::error(rpc_id.as_ref(), &error)).await.is_err() { break; }
                    }
                    Incoming::Ignored => {}
                }
            }
            out = out_rx.recv() => match out {
                Some(Outbound::Text(text)) => if send(&mut socket, text).await.is_err() { break; },
                Some(Outbound::Close) => { close(&mut socket, 1000, "evicted").await; drain(&mut socket).await; break; }
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => {
                info!(socket = id.0, "no ping for {:?}; closing the socket", ping_interval * MISSED_PINGS);
                break;
            }
        }
    }
    debug!(socket = id.0, "socket closed");
    hub.send(HubCommand::SocketClosed { socket: id, last_seen: last_seen.into_std() }).await;
}

/// Sends a frame, giving up after [`SEND_TIMEOUT`]: a client that stops reading must not hold this
/// task (and with it the ping watchdog and its participant's eviction) forever.
async fn send(socket: &mut WebSocket, text: impl Into<Utf8Bytes>) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(()),
        Err(_) => {
            info!("the browser reads nothing; closing its socket");
            Err(())
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(frame)).await;
}

/// After our close frame, reads (and discards) until the browser's close frame, for a few seconds at
/// most. Dropping a socket with unread input makes the kernel answer with a TCP reset, and the
/// browser then throws away what it had not read yet: the eviction notice above all.
async fn drain(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
