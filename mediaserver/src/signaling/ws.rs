//! One task per WebSocket: it parses frames, answers pings itself (a keepalive needs no state),
//! routes `joinRoom` and `connect` through the directory to a session's owner and then sends that
//! owner the socket's requests, writes what comes back, and notices a silent browser or a socket that
//! never joins.
//!
//! It is also the first line against a hostile client: a socket that has not joined may only join,
//! reconnect or ping, and every socket's requests are rate-limited here, before the hub sees them.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span};

use super::protocol::{self, Incoming, Request, RpcCode, RpcError};
use crate::AppState;
use crate::hub::{
    CloseReason, HubHandle, Outbound, SessionCommand, SessionHandle, SocketId, SocketLink,
};

/// Frames above this are refused with close code 1009; SDP offers are a few kilobytes.
pub const MAX_FRAME: usize = 64 * 1024;
/// How much of a socket is read at a time.
const READ_BUFFER: usize = 8 * 1024;
/// The browser pings every 5 s; three missed pings and the socket is considered dead.
const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(5);
const MISSED_PINGS: u32 = 3;
/// A client may ask for slower pings, up to this; dead sockets are still noticed within 30 s.
const MAX_PING_INTERVAL_MS: u64 = 10_000;
/// A browser that does not read what it is sent for this long is treated as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Request rates per socket: (sustained per second, burst). A browser joining a full session of 100
/// publishers negotiates 100 subscriptions and sends several hundred ICE candidates at once, so the
/// bursts are wide; the sustained rates are far above what a browser sends and far below what hurts.
const ANY_REQUEST: (u32, u32) = (100, 1000);
/// Requests that make the SFU negotiate a peer connection (build it, parse SDP): the costly ones;
/// the session's owner and its SFU worker wait for each.
const NEGOTIATION: (u32, u32) = (5, 110);
/// `sendMessage`: each one fans out to every participant of the session.
const SIGNAL_REQUEST: (u32, u32) = (30, 100);

fn limiter((per_second, burst): (u32, u32)) -> DefaultDirectRateLimiter {
    let nz = |n| NonZeroU32::new(n).expect("nonzero constant");
    RateLimiter::direct(Quota::per_second(nz(per_second)).allow_burst(nz(burst)))
}

/// The rate limits of one socket.
struct Limits {
    any: DefaultDirectRateLimiter,
    negotiation: DefaultDirectRateLimiter,
    signal: DefaultDirectRateLimiter,
}

impl Limits {
    fn new() -> Limits {
        Limits {
            any: limiter(ANY_REQUEST),
            negotiation: limiter(NEGOTIATION),
            signal: limiter(SIGNAL_REQUEST),
        }
    }

    /// Whether a frame is within the socket's rates (and counts it); `request` is what it parsed to.
    fn admit(&self, request: Option<&Request>) -> bool {
        let Some(request) = request else {
            return self.any.check().is_ok();
        };
        let specific = match request {
            // An answer completes a negotiation counted at its `prepareReceiveVideoFrom`.
            Request::ReceiveVideoFrom(p) if p.sdp_answer.is_some() => None,
            Request::PublishVideo(_)
            | Request::PrepareReceiveVideoFrom(_)
            | Request::ReceiveVideoFrom(_)
            | Request::ReconnectStream(_) => Some(&self.negotiation),
            Request::SendMessage(_) => Some(&self.signal),
            _ => None,
        };
        self.any.check().is_ok() && specific.is_none_or(|l| l.check().is_ok())
    }
}

/// What a socket that has not joined may ask for: everything else needs a participant.
fn allowed_before_join(request: &Request) -> bool {
    matches!(
        request,
        Request::Ping(_) | Request::JoinRoom(_) | Request::Connect(_)
    )
}

/// The peer's address when the server was started with connect info, else nothing.
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

pub async fn handler(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
) -> Response {
    let ip = peer
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    // tungstenite's own limit is a backstop above ours, so that we can answer with 1009. Its read
    // buffer (128 KiB by default, allocated up front) would be a participant's largest allocation:
    // requests are small, and the rare large one (an SDP) is read in a few turns.
    ws.max_message_size(MAX_FRAME * 4)
        .max_frame_size(MAX_FRAME * 4)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            let id = SocketId(NEXT_SOCKET.fetch_add(1, Ordering::Relaxed));
            run(socket, id, state.hub, ip).instrument(info_span!("socket", id = id.0))
        })
}

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

async fn run(mut socket: WebSocket, id: SocketId, hub: HubHandle, ip: String) {
    let _slot = match hub.socket_opened(&ip) {
        Ok(slot) => slot,
        Err(reason) => {
            close(&mut socket, reason.code(), reason.text()).await;
            drain(&mut socket).await;
            return;
        }
    };
    let (link, mut out_rx) = SocketLink::new();
    let limits = Limits::new();
    let join_deadline = hub.join_deadline();
    debug!(socket = id.0, "socket opened");
    let mut last_seen = Instant::now();
    let mut ping_interval = DEFAULT_PING_INTERVAL;
    // The owner of the session this socket joined last; it speaks for a participant there while
    // `link.joined()`.
    let mut session: Option<SessionHandle> = None;
    let mut join_by = Some(Instant::now() + join_deadline);
    // Two timers for the socket's life, moved at each turn rather than made anew per frame.
    let watchdog = tokio::time::sleep_until(last_seen + ping_interval * MISSED_PINGS);
    let join_timer = tokio::time::sleep_until(Instant::now() + join_deadline);
    tokio::pin!(watchdog, join_timer);
    loop {
        // Joined or not is decided by the session's owner; a socket that stops speaking for a
        // participant (it left) may join again, within the usual time.
        if link.joined() {
            join_by = None;
        } else if join_by.is_none() {
            join_by = Some(Instant::now() + join_deadline);
        }
        let watched = session.clone().filter(|_| link.joined());
        let deadline = last_seen + ping_interval * MISSED_PINGS;
        if watchdog.deadline() != deadline {
            watchdog.as_mut().reset(deadline);
        }
        if let Some(at) = join_by
            && join_timer.deadline() != at
        {
            join_timer.as_mut().reset(at);
        }
        tokio::select! {
            // An overflow first: every frame still queued is one the browser would get after a gap.
            biased;
            _ = link.overflowed() => {
                // Frames were lost: the browser must reconnect (`connect`) rather than go on wrong.
                close(&mut socket, 1013, "too far behind").await;
                break;
            }
            _ = owner_gone(watched.as_ref()) => {
                if link.joined() {
                    // The session's owner failed (it was logged there); the browser reconnects,
                    // finds no participant and tells its user.
                    close(&mut socket, 1011, "the call failed on the server").await;
                    drain(&mut socket).await;
                    break;
                }
                session = None;
            }
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        if !limits.admit(None) {
                            hub.refused("request rate");
                            close(&mut socket, 1008, "too many requests").await;
                            break;
                        }
                        let e = RpcError::new(RpcCode::ParseError, "Binary frames are not JSON-RPC");
                        if send(&mut socket, protocol::error(None, &e)).await.is_err() { break; }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => { last_seen = Instant::now(); continue; }
                    // The browser (or its network) ended the socket just now: it is alive enough to
                    // reconnect, and its grace counts from here. A silent socket, taken for dead by
                    // the watchdog below, gets its grace from when it was last heard.
                    Some(Ok(Message::Close(_))) | None => {
                        last_seen = Instant::now();
                        break;
                    }
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
                    // Logged once per cause (then once a minute with a count): anyone may open
                    // sockets and send this.
                    debug!(socket = id.0, len = text.len(), "closing a socket that sent an oversized frame");
                    hub.refused("oversized frames");
                    close(&mut socket, 1009, "message too big").await;
                    drain(&mut socket).await;
                    break;
                }
                let incoming = protocol::parse(&text);
                let request = match &incoming {
                    Incoming::Request { request, .. } => Some(request),
                    _ => None,
                };
                if !limits.admit(request) {
                    debug!(socket = id.0, method = request.map_or("-", Request::method), "closing a socket over its request rate");
                    hub.refused("request rate");
                    close(&mut socket, 1008, "too many requests").await;
                    drain(&mut socket).await;
                    break;
                }
                let answer = match incoming {
                    Incoming::Request { id: rpc_id, request } if !allowed_before_join(&request) && !link.joined() => {
                        Some(protocol::error(Some(&rpc_id), &RpcError::not_joined()))
                    }
                    Incoming::Request { id: rpc_id, request: Request::Ping(p) } => {
                        if let Some(ms) = p.interval {
                            ping_interval = Duration::from_millis(ms.clamp(1_000, MAX_PING_INTERVAL_MS));
                        }
                        Some(protocol::result(&rpc_id, serde_json::json!({ "value": "pong" })))
                    }
                    Incoming::Request { id: rpc_id, request: Request::JoinRoom(_) } if link.joined() => {
                        let e = RpcError::new(RpcCode::Generic, "This socket has already joined a session");
                        Some(protocol::error(Some(&rpc_id), &e))
                    }
                    // A socket speaks for one participant: one that joined cannot take over another.
                    Incoming::Request { id: rpc_id, request: Request::Connect(_) } if link.joined() => {
                        Some(protocol::error(Some(&rpc_id), &RpcError::reconnection_error()))
                    }
                    Incoming::Request { id: rpc_id, request: Request::JoinRoom(params) } => {
                        // One answer for an unknown session and a bad token (see the owner).
                        let invalid = protocol::error(Some(&rpc_id), &RpcError::unauthorized("Token is not valid"));
                        match hub.route_token(&params.token) {
                            Some(owner) => {
                                let command = SessionCommand::Join { socket: id, link: link.clone(), ip: ip.clone(), id: rpc_id, params };
                                if owner.send(command).await { session = Some(owner); None } else { Some(invalid) }
                            }
                            None => Some(invalid),
                        }
                    }
                    Incoming::Request { id: rpc_id, request: Request::Connect(params) } => {
                        let failed = protocol::error(Some(&rpc_id), &RpcError::reconnection_error());
                        match hub.route_rpc_session(&params.session_id) {
                            Some(owner) => {
                                let command = SessionCommand::Reconnect { socket: id, link: link.clone(), id: rpc_id, params };
                                if owner.send(command).await { session = Some(owner); None } else { Some(failed) }
                            }
                            None => Some(failed),
                        }
                    }
                    Incoming::Request { id: rpc_id, request } => {
                        let not_joined = protocol::error(Some(&rpc_id), &RpcError::not_joined());
                        match &session {
                            Some(owner) => {
                                let command = SessionCommand::Rpc { socket: id, link: link.clone(), id: rpc_id, request };
                                if owner.send(command).await { None } else { Some(not_joined) }
                            }
                            None => Some(not_joined),
                        }
                    }
                    Incoming::Invalid { id: rpc_id, error } => Some(protocol::error(rpc_id.as_ref(), &error)),
                    Incoming::Ignored => None,
                };
                if let Some(answer) = answer
                    && send(&mut socket, answer).await.is_err()
                {
                    break;
                }
            }
            out = out_rx.recv() => match out {
                Some(Outbound::Text(text)) => if send(&mut socket, text).await.is_err() { break; },
                Some(Outbound::Close(reason)) => {
                    close(&mut socket, reason.code(), reason.text()).await;
                    drain(&mut socket).await;
                    break;
                }
                None => break,
            },
            _ = &mut join_timer, if join_by.is_some() => {
                if !link.joined() {
                    let reason = CloseReason::JoinDeadline;
                    close(&mut socket, reason.code(), reason.text()).await;
                    drain(&mut socket).await;
                    break;
                }
            }
            _ = &mut watchdog => {
                info!(socket = id.0, "no ping for {:?}; closing the socket", ping_interval * MISSED_PINGS);
                break;
            }
        }
    }
    debug!(socket = id.0, "socket closed");
    if let Some(owner) = session {
        owner
            .send(SessionCommand::SocketClosed {
                socket: id,
                last_seen: last_seen.into_std(),
            })
            .await;
    }
}

/// Resolves when the watched session's owner is gone; never without one.
async fn owner_gone(owner: Option<&SessionHandle>) {
    match owner {
        Some(owner) => owner.closed().await,
        None => std::future::pending().await,
    }
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
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
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
