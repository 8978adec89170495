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
pub mod socket;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span};

use crate::config::Limits;
use crate::sfu::PeerId;
use crate::sfu::edge::{Command as SfuCommand, SfuHandle};
use crate::signaling::protocol::{self, Request, RpcError, RpcId};
pub use model::{Reason, SocketId};
pub use socket::{CloseReason, Outbound, SocketLink};

use model::{Connection, Session};
pub use rest::{ConnectionProps, RestError, RestRequest, SessionProps};

pub enum HubCommand {
    SocketOpened {
        socket: SocketId,
        link: SocketLink,
        ip: String,
    },
    Rpc {
        socket: SocketId,
        id: RpcId,
        request: Request,
    },
    /// The socket is gone; `last_seen` is when the browser was last heard from on it.
    SocketClosed {
        socket: SocketId,
        last_seen: Instant,
    },
    Rest {
        request: RestRequest,
        reply: oneshot::Sender<Result<Value, RestError>>,
    },
    Stats {
        reply: oneshot::Sender<Stats>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
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
    /// Remote UDP addresses the SFU maps to peers.
    pub addresses: usize,
    /// Datagrams the SFU dropped because no peer could make sense of them.
    pub dropped_datagrams: u64,
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

/// How often the hub logs what it holds (only when that changed).
const STATS_INTERVAL: Duration = Duration::from_secs(30);

/// How long a socket may stay open without having joined a session.
const JOIN_DEADLINE: Duration = Duration::from_secs(30);

pub struct HubConfig {
    /// `ws://host:port` or `wss://host:port`, what tokens start with.
    pub ws_base: String,
    pub unused_session_timeout: Duration,
    pub reconnect_grace: Duration,
    pub pending_connection_ttl: Duration,
    pub limits: Limits,
}

struct SocketState {
    link: SocketLink,
    ip: String,
    /// (session id, connection id) once `joinRoom` succeeded.
    joined: Option<(String, String)>,
}

/// What the hub must look at later, each in the order it falls due, so that a tick costs what is due
/// rather than a walk over everything. An entry may be stale (the thing was used or removed since):
/// each is checked against the current state when it falls due.
#[derive(Default)]
struct Deadlines {
    /// Sockets that must have joined by then; opened in order, so the queue is sorted.
    join: VecDeque<(Instant, SocketId)>,
    /// Pending connections that expire then (created in order, one TTL for all: sorted).
    pending: VecDeque<(Instant, String, String)>,
    /// Sessions to close then if nobody joined (created in order: sorted).
    unused: VecDeque<(Instant, String)>,
    /// Participants whose socket was lost, to evict then unless they came back.
    evict: BinaryHeap<Reverse<(Instant, String, String)>>,
}

/// Logs a refusal once per cause and then at most once a minute with a count: a client hammering a
/// quota must not flood the log.
#[derive(Default)]
struct RefusalLog {
    last: HashMap<&'static str, (Instant, u64)>,
}

impl RefusalLog {
    fn refused(&mut self, cause: &'static str, now: Instant) {
        let entry = self
            .last
            .entry(cause)
            .or_insert((now - Duration::from_secs(3600), 0));
        entry.1 += 1;
        if now.saturating_duration_since(entry.0) >= Duration::from_secs(60) {
            tracing::warn!(cause, refused = entry.1, "refusing requests over a quota");
            *entry = (now, 0);
        }
    }
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
    /// Open sockets per client address, for the per-address quota.
    sockets_per_ip: HashMap<String, usize>,
    deadlines: Deadlines,
    refusals: RefusalLog,
    next_peer: u64,
    /// Sockets to close once the current command has been answered (a moderator that evicts itself
    /// still gets its reply first).
    closing: Vec<SocketLink>,
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
        sockets_per_ip: HashMap::new(),
        deadlines: Deadlines::default(),
        refusals: RefusalLog::default(),
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
        let mut stats_tick = tokio::time::interval(STATS_INTERVAL);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_stats = None;
        loop {
            tokio::select! {
                command = rx.recv() => match command {
                    Some(HubCommand::Shutdown { done }) => {
                        self.shutdown();
                        for link in self.closing.drain(..) {
                            link.close(CloseReason::Evicted);
                        }
                        let _ = done.send(());
                        break;
                    }
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                _ = tick.tick() => self.on_tick(Instant::now()),
                _ = stats_tick.tick() => self.log_stats(&mut last_stats).await,
            }
            for link in self.closing.drain(..) {
                link.close(CloseReason::Evicted);
            }
        }
        debug!("hub stopped");
    }

    async fn handle(&mut self, command: HubCommand) {
        match command {
            HubCommand::SocketOpened { socket, link, ip } => {
                self.on_socket_opened(socket, link, ip)
            }
            HubCommand::Rpc {
                socket,
                id,
                request,
            } => {
                let (sid, cid) = self
                    .sockets
                    .get(&socket)
                    .and_then(|s| s.joined.clone())
                    .unwrap_or_default();
                let span =
                    info_span!("rpc", method = request.method(), session = %sid, connection = %cid);
                let result = self.on_rpc(socket, request).instrument(span.clone()).await;
                span.in_scope(|| self.reply(socket, &id, result));
            }
            HubCommand::SocketClosed { socket, last_seen } => {
                self.on_socket_closed(socket, last_seen)
            }
            HubCommand::Rest { request, reply } => {
                let span = info_span!("rest", op = request.name());
                let _ = reply.send(span.in_scope(|| self.on_rest(request)));
            }
            HubCommand::Stats { reply } => {
                let _ = reply.send(self.stats().await);
            }
            HubCommand::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    async fn stats(&self) -> Stats {
        let sfu = self.sfu.stats().await.unwrap_or_default();
        Stats {
            sessions: self.sessions.len(),
            participants: self.sessions.values().map(|s| s.active().count()).sum(),
            peers: sfu.peers,
            sockets: self.sockets.len(),
            addresses: sfu.addresses,
            dropped_datagrams: sfu.dropped_datagrams,
        }
    }

    /// What the server holds, in the log when it changed: an operator (or the soak benchmark) sees
    /// growth without a debugger.
    async fn log_stats(&mut self, last: &mut Option<Stats>) {
        let now = self.stats().await;
        if *last != Some(now) {
            info!(
                sessions = now.sessions,
                participants = now.participants,
                peers = now.peers,
                sockets = now.sockets,
                addresses = now.addresses,
                dropped_datagrams = now.dropped_datagrams,
                "stats"
            );
            *last = Some(now);
        }
    }

    fn next_peer(&mut self) -> PeerId {
        let id = PeerId(self.next_peer);
        self.next_peer += 1;
        id
    }

    fn on_socket_opened(&mut self, socket: SocketId, link: SocketLink, ip: String) {
        let now = Instant::now();
        let count = self.sockets_per_ip.entry(ip.clone()).or_default();
        if *count >= self.config.limits.max_sockets_per_address {
            self.refusals.refused("sockets per address", now);
            link.close(CloseReason::TooManySockets);
            return;
        }
        *count += 1;
        self.sockets.insert(
            socket,
            SocketState {
                link,
                ip,
                joined: None,
            },
        );
        self.deadlines.join.push_back((now + JOIN_DEADLINE, socket));
    }

    fn reply(&self, socket: SocketId, id: &RpcId, result: Result<Value, RpcError>) {
        let Some(s) = self.sockets.get(&socket) else {
            return;
        };
        let text = match result {
            Ok(v) => protocol::result(id, v),
            Err(e) => {
                // Only the code: messages can quote what the client sent.
                debug!(code = e.code, "rpc error");
                protocol::error(Some(id), &e)
            }
        };
        s.link.send(text.into());
    }

    fn on_socket_closed(&mut self, socket: SocketId, last_seen: Instant) {
        let Some(state) = self.sockets.remove(&socket) else {
            return;
        };
        if let Some(count) = self.sockets_per_ip.get_mut(&state.ip) {
            *count -= 1;
            if *count == 0 {
                self.sockets_per_ip.remove(&state.ip);
            }
        }
        let Some((sid, cid)) = state.joined else {
            return;
        };
        // The grace was checked at start-up to be small, so this cannot overflow.
        let evict_at = last_seen + self.config.reconnect_grace;
        if let Some(p) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.connection_mut(&cid))
            .and_then(|c| c.participant.as_mut())
            && p.socket == Some(socket)
        {
            info!(session = %sid, connection = %cid, "socket lost; waiting for a reconnection");
            p.socket = None;
            p.link = None;
            p.evict_at = Some(evict_at);
            self.deadlines.evict.push(Reverse((evict_at, sid, cid)));
        }
    }

    fn on_tick(&mut self, now: Instant) {
        // A socket has this long to join (or rejoin) a session; an idle one only holds resources.
        while let Some(&(due, socket)) = self.deadlines.join.front() {
            if due > now {
                break;
            }
            self.deadlines.join.pop_front();
            if let Some(s) = self.sockets.get(&socket).filter(|s| s.joined.is_none()) {
                s.link.close(CloseReason::JoinDeadline);
            }
        }
        while let Some((due, _, _)) = self.deadlines.pending.front() {
            if *due > now {
                break;
            }
            let (_, sid, cid) = self.deadlines.pending.pop_front().expect("front exists");
            let expired = self
                .sessions
                .get(&sid)
                .and_then(|s| s.connection(&cid))
                .is_some_and(|c| {
                    c.participant.is_none() && c.created + self.config.pending_connection_ttl <= now
                });
            if expired {
                info!(session = %sid, connection = %cid, "a connection nobody joined expired");
                self.remove_participant(&sid, &cid, Reason::Disconnect);
            }
        }
        while let Some(Reverse((due, _, _))) = self.deadlines.evict.peek() {
            if *due > now {
                break;
            }
            let Reverse((due, sid, cid)) = self.deadlines.evict.pop().expect("peeked");
            let lost = self
                .sessions
                .get(&sid)
                .and_then(|s| s.connection(&cid))
                .and_then(|c| c.participant.as_ref())
                .is_some_and(|p| p.evict_at == Some(due));
            if lost {
                info!(session = %sid, connection = %cid, "participant lost its connection");
                self.remove_participant(&sid, &cid, Reason::NetworkDisconnect);
            }
        }
        while let Some((due, _)) = self.deadlines.unused.front() {
            if *due > now {
                break;
            }
            let (due, sid) = self.deadlines.unused.pop_front().expect("front exists");
            let unused = self.sessions.get(&sid).is_some_and(|s| {
                !s.ever_joined && s.created + self.config.unused_session_timeout == due
            });
            if unused {
                info!(session = %sid, "closing a session nobody joined");
                self.close_session(&sid, Reason::SessionClosedByServer);
            }
        }
    }

    fn shutdown(&mut self) {
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        for sid in ids {
            self.close_session(&sid, Reason::OpenviduServerStopped);
        }
    }

    /// Sends a notification to every active participant of `session` for whom `to` says yes.
    fn notify(
        &self,
        session: &Session,
        to: impl Fn(&Connection) -> bool,
        method: &str,
        params: Value,
    ) {
        let text: Utf8Bytes = protocol::notification(method, params).into();
        for c in session.active().filter(|c| to(c)) {
            if let Some(link) = c.participant.as_ref().and_then(|p| p.link.as_ref()) {
                link.send(text.clone());
            }
        }
    }

    /// Takes a participant out of its session: closes its peers and the peers of those who
    /// received its stream, tells the others, and closes the session if it was the last one.
    fn remove_participant(&mut self, sid: &str, cid: &str, reason: Reason) {
        let Some(session) = self.sessions.get_mut(sid) else {
            return;
        };
        let Some(index) = session.connections.iter().position(|c| c.id == cid) else {
            return;
        };
        let snapshot: Vec<SocketLink> = session
            .active()
            .filter_map(|c| c.participant.as_ref().and_then(|p| p.link.clone()))
            .collect();
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
            && let Some(state) = self.sockets.get_mut(&socket)
        {
            state.joined = None;
            state.link.set_joined(false);
            // It may join again (a new token), within the usual time.
            self.deadlines
                .join
                .push_back((Instant::now() + JOIN_DEADLINE, socket));
        }
        info!(session = %sid, connection = %cid, reason = reason.as_str(), "participant left");
        let session = &self.sessions[sid];
        self.notify(
            session,
            |_| true,
            "participantLeft",
            json!({ "connectionId": cid, "reason": reason.as_str() }),
        );
        if reason.is_eviction() {
            let text: Utf8Bytes = protocol::notification(
                "participantEvicted",
                json!({ "connectionId": cid, "reason": reason.as_str() }),
            )
            .into();
            for link in &snapshot {
                link.send(text.clone());
            }
            self.closing.extend(participant.link.clone());
        }
        if session.active().next().is_none()
            && reason != Reason::SessionClosedByServer
            && reason != Reason::OpenviduServerStopped
        {
            info!(session = %sid, "last participant left; closing the session");
            self.drop_session(sid);
        }
    }

    /// Evicts everyone and forgets the session.
    fn close_session(&mut self, sid: &str, reason: Reason) {
        let Some(session) = self.sessions.get(sid) else {
            return;
        };
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
        let Some(session) = self.sessions.get_mut(sid) else {
            return false;
        };
        let Some(publisher) = session
            .connection_mut(cid)
            .and_then(|c| c.participant.as_mut())
            .and_then(|p| p.publisher.take())
        else {
            return false;
        };
        end_publication(&self.sfu, session, &publisher);
        let params = json!({ "connectionId": cid, "reason": reason.as_str() });
        let session = &self.sessions[sid];
        // The owner hears of it only when it did not ask for it itself.
        let include_owner = reason != Reason::Unpublish;
        self.notify(
            session,
            |c| include_owner || c.id != cid,
            "participantUnpublished",
            params,
        );
        true
    }
}

/// Closes a publisher's peer and every subscription to its stream.
fn end_publication(sfu: &SfuHandle, session: &mut Session, publisher: &model::Publisher) {
    sfu.send(SfuCommand::Close {
        peer: publisher.peer,
    });
    for other in session
        .connections
        .iter_mut()
        .filter_map(|c| c.participant.as_mut())
    {
        for peer in other.remove_subscriptions(|s| s.stream_id == publisher.stream_id) {
            sfu.send(SfuCommand::Close { peer });
        }
    }
}
