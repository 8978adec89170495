//! The hub owns all signaling state: sessions, their connections and participants, tokens and sockets.
//!
//! It is one task fed by one channel, so no state is shared and nothing is locked; REST handlers and
//! socket tasks send it commands and get answers on one-shot channels (REST) or on the socket's
//! outbound channel (JSON-RPC). Signaling is low-rate (a few messages per participant per second);
//! media never passes through here. The hub does not own media either: it tells the SFU task which
//! peer connections to open, close and link.

pub mod model;
mod rest;
mod rpc;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span};

use crate::sfu::PeerId;
use crate::sfu::edge::{Command as SfuCommand, SfuHandle};
use crate::signaling::protocol::{self, Request, RpcError, RpcId};
pub use model::{Outbound, Reason, SocketId};

use model::{Connection, Session};
pub use rest::{RestError, RestRequest, SessionProps, ConnectionProps};

pub enum HubCommand {
    SocketOpened { socket: SocketId, out: mpsc::Sender<Outbound>, ip: String },
    Rpc { socket: SocketId, id: RpcId, request: Request },
    /// The socket is gone; `last_seen` is when the browser was last heard from on it.
    SocketClosed { socket: SocketId, last_seen: Instant },
    Rest { request: RestRequest, reply: oneshot::Sender<Result<Value, RestError>> },
    Stats { reply: oneshot::Sender<Stats> },
    Shutdown { done: oneshot::Sender<()> },
}

/// What the server holds right now; after everyone has left, all of it is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub sessions: usize,
    pub participants: usize,
    /// Peer connections (publishers and subscriptions) in the SFU.
    pub peers: usize,
    /// Open signaling sockets.
    pub sockets: usize,
}

#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::Sender<HubCommand>,
}

impl HubHandle {
    pub async fn send(&self, command: HubCommand) -> bool {
        self.tx.send(command).await.is_ok()
    }

    pub async fn rest(&self, request: RestRequest) -> Result<Value, RestError> {
        let (reply, rx) = oneshot::channel();
        if !self.send(HubCommand::Rest { request, reply }).await {
            return Err(RestError::unavailable());
        }
        rx.await.unwrap_or_else(|_| Err(RestError::unavailable()))
    }

    pub async fn stats(&self) -> Stats {
        let (reply, rx) = oneshot::channel();
        if !self.send(HubCommand::Stats { reply }).await {
            return Stats::default();
        }
        rx.await.unwrap_or_default()
    }

    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self.send(HubCommand::Shutdown { done }).await {
            let _ = rx.await;
        }
    }
}

/// How long a socket may stay open without having joined a session.
const JOIN_DEADLINE: Duration = Duration::from_secs(30);

pub struct HubConfig {
    /// `ws://host:port` or `wss://host:port`, what tokens start with.
    pub ws_base: String,
    pub unused_session_timeout: Duration,
    pub reconnect_grace: Duration,
}

struct SocketState {
    out: mpsc::Sender<Outbound>,
    ip: String,
    opened: Instant,
    /// (session id, connection id) once `joinRoom` succeeded.
    joined: Option<(String, String)>,
}

pub struct Hub {
    config: HubConfig,
    sfu: SfuHandle,
    sessions: HashMap<String, Session>,
    /// Full token string → (session id, connection id), for pending connections only.
    tokens: HashMap<String, (String, String)>,
    sockets: HashMap<SocketId, SocketState>,
    /// RPC session id → (session id, connection id), for reconnecting sockets.
    rpc_sessions: HashMap<String, (String, String)>,
    next_peer: u64,
    /// Sockets to close once the current command has been answered (a moderator that evicts itself
    /// still gets its reply first).
    closing: Vec<mpsc::Sender<Outbound>>,
}

pub fn spawn(config: HubConfig, sfu: SfuHandle) -> HubHandle {
    let (tx, rx) = mpsc::channel(1024);
    let hub = Hub {
        config,
        sfu,
        sessions: HashMap::new(),
        tokens: HashMap::new(),
        sockets: HashMap::new(),
        rpc_sessions: HashMap::new(),
        next_peer: 1,
        closing: Vec::new(),
    };
    let task = tokio::spawn(hub.run(rx));
    tokio::spawn(async move {
        if let Err(e) = task.await {
            tracing::error!("the signaling hub stopped: {e}");
        }
    });
    HubHandle { tx }
}

impl Hub {
    async fn run(mut self, mut rx: mpsc::Receiver<HubCommand>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = rx.recv() => match command {
                    Some(HubCommand::Shutdown { done }) => {
                        self.shutdown();
                        for out in self.closing.drain(..) {
                            let _ = out.try_send(Outbound::Close);
                        }
                        let _ = done.send(());
                        break;
                    }
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                _ = tick.tick() => self.on_tick(Instant::now()),
            }
            for out in self.closing.drain(..) {
                let _ = out.try_send(Outbound::Close);
            }
        }
        debug!("hub stopped");
    }

    async fn handle(&mut self, command: HubCommand) {
        match command {
            HubCommand::SocketOpened { socket, out, ip } => {
                self.sockets.insert(socket, SocketState { out, ip, opened: Instant::now(), joined: None });
            }
            HubCommand::Rpc { socket, id, request } => {
                let (sid, cid) = self.sockets.get(&socket).and_then(|s| s.joined.clone()).unwrap_or_default();
                let span = info_span!("rpc", method = request.method(), session = %sid, connection = %cid);
                let result = self.on_rpc(socket, request).instrument(span.clone()).await;
                span.in_scope(|| self.reply(socket, &id, result));
            }
            HubCommand::SocketClosed { socket, last_seen } => self.on_socket_closed(socket, last_seen),
            HubCommand::Rest { request, reply } => {
                let span = info_span!("rest", op = request.name());
                let _ = reply.send(span.in_scope(|| self.on_rest(request)));
            }
            HubCommand::Stats { reply } => {
                let peers = self.sfu.peer_count().await.unwrap_or(0);
                let _ = reply.send(Stats {
                    sessions: self.sessions.len(),
                    participants: self.sessions.values().map(|s| s.active().count()).sum(),
                    peers,
                    sockets: self.sockets.len(),
                });
            }
            HubCommand::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    fn next_peer(&mut self) -> PeerId {
        let id = PeerId(self.next_peer);
        self.next_peer += 1;
        id
    }

    fn reply(&self, socket: SocketId, id: &RpcId, result: Result<Value, RpcError>) {
        let Some(s) = self.sockets.get(&socket) else { return };
        let text = match result {
            Ok(v) => protocol::result(id, v),
            Err(e) => {
                // Only the code: messages can quote what the client sent.
                debug!(code = e.code, "rpc error");
                protocol::error(Some(id), &e)
            }
        };
        let _ = s.out.try_send(Outbound::Text(text.into()));
    }

    fn on_socket_closed(&mut self, socket: SocketId, last_seen: Instant) {
        let Some(state) = self.sockets.remove(&socket) else { return };
        let Some((sid, cid)) = state.joined else { return };
        let grace = self.config.reconnect_grace;
        if let Some(p) = self.sessions.get_mut(&sid).and_then(|s| s.connection_mut(&cid)).and_then(|c| c.participant.as_mut())
            && p.socket == Some(socket) {
                info!(session = %sid, connection = %cid, "socket lost; waiting for a reconnection");
                p.socket = None;
                p.out = None;
                p.evict_at = Some(last_seen + grace);
            }
    }

    fn on_tick(&mut self, now: Instant) {
        // A socket has this long to join (or rejoin) a session; an idle one only holds resources.
        for s in self.sockets.values_mut().filter(|s| s.joined.is_none()) {
            if now.saturating_duration_since(s.opened) >= JOIN_DEADLINE {
                s.opened = now; // once: the socket task closes it and reports back
                self.closing.push(s.out.clone());
            }
        }
        let mut lost = Vec::new();
        let mut unused = Vec::new();
        for s in self.sessions.values() {
            for c in s.active() {
                if c.participant.as_ref().and_then(|p| p.evict_at).is_some_and(|t| t <= now) {
                    lost.push((s.id.clone(), c.id.clone()));
                }
            }
            if !s.ever_joined && now.saturating_duration_since(s.created) >= self.config.unused_session_timeout {
                unused.push(s.id.clone());
            }
        }
        for (sid, cid) in lost {
            info!(session = %sid, connection = %cid, "participant lost its connection");
            self.remove_participant(&sid, &cid, Reason::NetworkDisconnect);
        }
        for sid in unused {
            info!(session = %sid, "closing a session nobody joined");
            self.close_session(&sid, Reason::SessionClosedByServer);
        }
    }

    fn shutdown(&mut self) {
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        for sid in ids {
            self.close_session(&sid, Reason::OpenviduServerStopped);
        }
    }

    /// Sends a notification to every active participant of `session` for whom `to` says yes.
    fn notify(&self, session: &Session, to: impl Fn(&Connection) -> bool, method: &str, params: Value) {
        let text: Utf8Bytes = protocol::notification(method, params).into();
        for c in session.active().filter(|c| to(c)) {
            send(c, Outbound::Text(text.clone()));
        }
    }

    /// Takes a participant out of its session: closes its peers and the peers of those who
    /// received its stream, tells the others, and closes the session if it was the last one.
    fn remove_participant(&mut self, sid: &str, cid: &str, reason: Reason) {
        let Some(session) = self.sessions.get_mut(sid) else { return };
        let Some(index) = session.connections.iter().position(|c| c.id == cid) else { return };
        let snapshot: Vec<mpsc::Sender<Outbound>> =
            session.active().filter_map(|c| c.participant.as_ref().and_then(|p| p.out.clone())).collect();
        let conn = session.connections.remove(index);
        let Some(participant) = conn.participant else {
            self.tokens.remove(&conn.token);
            return;
        };
        if let Some(publisher) = &participant.publisher {
            end_publication(&self.sfu, session, publisher);
        }
        for s in &participant.subscriptions {
            self.sfu.send(SfuCommand::Close { peer: s.peer });
        }
        self.rpc_sessions.remove(&participant.rpc_session);
        if let Some(socket) = participant.socket
            && let Some(state) = self.sockets.get_mut(&socket) {
                state.joined = None;
            }
        info!(session = %sid, connection = %cid, reason = reason.as_str(), "participant left");
        let session = &self.sessions[sid];
        self.notify(session, |_| true, "participantLeft", json!({ "connectionId": cid, "reason": reason.as_str() }));
        if reason.is_eviction() {
            let text: Utf8Bytes =
                protocol::notification("participantEvicted", json!({ "connectionId": cid, "reason": reason.as_str() })).into();
            for out in &snapshot {
                let _ = out.try_send(Outbound::Text(text.clone()));
            }
            self.closing.extend(participant.out.clone());
        }
        if session.active().next().is_none() && reason != Reason::SessionClosedByServer && reason != Reason::OpenviduServerStopped {
            info!(session = %sid, "last participant left; closing the session");
            self.drop_session(sid);
        }
    }

    /// Evicts everyone and forgets the session.
    fn close_session(&mut self, sid: &str, reason: Reason) {
        let Some(session) = self.sessions.get(sid) else { return };
        let active: Vec<String> = session.active().map(|c| c.id.clone()).collect();
        for cid in active {
            self.remove_participant(sid, &cid, reason);
        }
        self.drop_session(sid);
    }

    fn drop_session(&mut self, sid: &str) {
        if let Some(session) = self.sessions.remove(sid) {
            for c in session.connections {
                self.tokens.remove(&c.token);
                if let Some(p) = c.participant {
                    self.rpc_sessions.remove(&p.rpc_session);
                    if let Some(pb) = p.publisher {
                        self.sfu.send(SfuCommand::Close { peer: pb.peer });
                    }
                    for s in p.subscriptions {
                        self.sfu.send(SfuCommand::Close { peer: s.peer });
                    }
                }
            }
        }
    }

    /// Ends a participant's publication: its peer, every subscription to it, and tells the others.
    fn unpublish(&mut self, sid: &str, cid: &str, reason: Reason) -> bool {
        let Some(session) = self.sessions.get_mut(sid) else { return false };
        let Some(publisher) = session.connection_mut(cid).and_then(|c| c.participant.as_mut()).and_then(|p| p.publisher.take()) else {
            return false;
        };
        end_publication(&self.sfu, session, &publisher);
        let params = json!({ "connectionId": cid, "reason": reason.as_str() });
        let session = &self.sessions[sid];
        // The owner hears of it only when it did not ask for it itself.
        let include_owner = reason != Reason::Unpublish;
        self.notify(session, |c| include_owner || c.id != cid, "participantUnpublished", params);
        true
    }
}

/// Closes a publisher's peer and every subscription to its stream.
fn end_publication(sfu: &SfuHandle, session: &mut Session, publisher: &model::Publisher) {
    sfu.send(SfuCommand::Close { peer: publisher.peer });
    for other in session.connections.iter_mut().filter_map(|c| c.participant.as_mut()) {
        for peer in other.remove_subscriptions(|s| s.stream_id == publisher.stream_id) {
            sfu.send(SfuCommand::Close { peer });
        }
    }
}

/// Queues a message for a participant. A full queue means its socket task is stuck writing to a
/// browser that reads nothing; that task gives up on its own (and the participant is then treated
/// as disconnected), so the message is dropped, quietly: one line per message would flood the log.
fn send(c: &Connection, message: Outbound) {
    if let Some(out) = c.participant.as_ref().and_then(|p| p.out.as_ref())
        && out.try_send(message).is_err() {
            debug!(connection = %c.id, "participant's outbound queue is full or closed; message dropped");
        }
}
