//! The owner of one OpenVidu session: a task that holds the session's connections, participants and
//! streams, handles its JSON-RPC requests and REST calls in order, and keeps its deadlines. It talks
//! to the SFU worker its session was placed on, and ends when the session does.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span};

use super::model::{self, Connection, Presence, Reason, Session, SocketId};
use super::socket::{CloseReason, SocketLink};
use super::{Directory, SessionCommand};
use crate::sfu::PeerId;
use crate::sfu::edge::{Command as SfuCommand, Placement, SfuHandle};
use crate::signaling::protocol::{self, Notification, ParticipantReason, RpcError, RpcId};

/// What the owner must look at later, each in the order it falls due, so that waking up costs what is
/// due rather than a walk over everything. An entry may be stale (the thing was used or removed
/// since): each is checked against the current state when it falls due.
#[derive(Default)]
struct Deadlines {
    /// Pending connections that expire then (created in order, one TTL for all: sorted).
    pending: VecDeque<(Instant, String)>,
    /// When to close the session if nobody joined it.
    unused: Option<Instant>,
    /// Participants whose socket was lost, to evict then unless they came back.
    evict: BinaryHeap<Reverse<(Instant, String)>>,
}

impl Deadlines {
    fn next(&self) -> Option<Instant> {
        [
            self.pending.front().map(|(t, _)| *t),
            self.unused,
            self.evict.peek().map(|Reverse((t, _))| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

pub(super) struct SessionOwner {
    pub(super) session: Session,
    /// This session's number, unique in the process; also the high half of its peers' ids.
    serial: u32,
    next_peer: u32,
    pub(super) sfu: SfuHandle,
    _placement: Placement,
    pub(super) dir: Arc<Directory>,
    /// Sockets that speak for a participant now → its connection id.
    pub(super) by_socket: HashMap<SocketId, String>,
    deadlines: Deadlines,
    /// Sockets to close once the current command has been answered (a moderator that evicts itself
    /// still gets its reply first).
    closing: Vec<SocketLink>,
    /// The session is over: the owner stops after the current command.
    ended: bool,
}

impl SessionOwner {
    pub(super) fn new(
        session: Session,
        serial: u32,
        placement: Placement,
        dir: Arc<Directory>,
    ) -> SessionOwner {
        let unused = session.created + dir.config.unused_session_timeout;
        SessionOwner {
            session,
            serial,
            next_peer: 1,
            sfu: placement.sfu.clone(),
            _placement: placement,
            dir,
            by_socket: HashMap::new(),
            deadlines: Deadlines {
                unused: Some(unused),
                ..Deadlines::default()
            },
            closing: Vec::new(),
            ended: false,
        }
    }

    pub(super) fn config(&self) -> &super::HubConfig {
        &self.dir.config
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<SessionCommand>) {
        let span = info_span!("session", id = %self.session.id);
        async {
            loop {
                let due = self.deadlines.next();
                let wake = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
                tokio::select! {
                    command = rx.recv() => match command {
                        Some(SessionCommand::Shutdown { done }) => {
                            self.close_session(Reason::OpenviduServerStopped);
                            self.flush_closing();
                            let _ = done.send(());
                            break;
                        }
                        Some(command) => self.handle(command).await,
                        None => break,
                    },
                    _ = tokio::time::sleep_until(wake.into()), if due.is_some() => {
                        self.on_deadline(Instant::now())
                    }
                }
                self.flush_closing();
                if self.ended {
                    break;
                }
            }
            // What was already queued when the session ended gets an answer, not silence.
            rx.close();
            while let Ok(command) = rx.try_recv() {
                refuse_late(command);
            }
            debug!("session owner stopped");
        }
        .instrument(span)
        .await
    }

    fn flush_closing(&mut self) {
        for link in self.closing.drain(..) {
            link.close(CloseReason::Evicted);
        }
    }

    async fn handle(&mut self, command: SessionCommand) {
        match command {
            SessionCommand::Join {
                socket,
                link,
                ip,
                id,
                params,
            } => {
                let result = self.join_room(socket, &link, ip, params);
                reply(&link, &id, result);
            }
            SessionCommand::Reconnect {
                socket,
                link,
                id,
                params,
            } => {
                let result = self.reconnect_socket(socket, &link, params);
                reply(&link, &id, result);
            }
            SessionCommand::Rpc {
                socket,
                link,
                id,
                request,
            } => {
                let cid = self.by_socket.get(&socket).cloned();
                let span = info_span!(
                    "rpc",
                    method = request.method(),
                    connection = cid.as_deref().unwrap_or("")
                );
                let result = match cid {
                    Some(cid) => self.on_rpc(&cid, request).instrument(span.clone()).await,
                    None => Err(RpcError::not_joined()),
                };
                span.in_scope(|| reply(&link, &id, result));
            }
            SessionCommand::SocketClosed { socket, last_seen } => {
                self.on_socket_closed(socket, last_seen)
            }
            SessionCommand::Rest { request, reply } => {
                let span = info_span!("rest", op = request.name());
                let _ = reply.send(span.in_scope(|| self.on_rest(request)));
            }
            SessionCommand::Participants { reply } => {
                let _ = reply.send(self.session.active().count());
            }
            SessionCommand::Crash => panic!("a session owner was asked to fail"),
            SessionCommand::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    pub(super) fn next_peer(&mut self) -> PeerId {
        let id = PeerId::new(self.serial, self.next_peer);
        self.next_peer = self.next_peer.wrapping_add(1);
        id
    }

    fn on_socket_closed(&mut self, socket: SocketId, last_seen: Instant) {
        let Some(cid) = self.by_socket.remove(&socket) else {
            return;
        };
        // The grace was checked at start-up to be small, so this cannot overflow.
        let evict_at = last_seen + self.config().reconnect_grace;
        if let Some(p) = self
            .session
            .connection_mut(&cid)
            .and_then(|c| c.participant.as_mut())
            && p.socket() == Some(socket)
        {
            info!(connection = %cid, "socket lost; waiting for a reconnection");
            p.presence = Presence::Lost { evict_at };
            self.deadlines.evict.push(Reverse((evict_at, cid)));
        }
    }

    fn on_deadline(&mut self, now: Instant) {
        let ttl = self.config().pending_connection_ttl;
        while let Some((due, _)) = self.deadlines.pending.front() {
            if *due > now {
                break;
            }
            let (_, cid) = self.deadlines.pending.pop_front().expect("front exists");
            let expired = self
                .session
                .connection(&cid)
                .is_some_and(|c| c.participant.is_none() && c.created + ttl <= now);
            if expired {
                info!(connection = %cid, "a connection nobody joined expired");
                self.remove_participant(&cid, Reason::Disconnect);
            }
        }
        while let Some(Reverse((due, _))) = self.deadlines.evict.peek() {
            if *due > now {
                break;
            }
            let Reverse((due, cid)) = self.deadlines.evict.pop().expect("peeked");
            let lost = self
                .session
                .connection(&cid)
                .and_then(|c| c.participant.as_ref())
                .is_some_and(|p| p.evict_at() == Some(due));
            if lost {
                info!(connection = %cid, "participant lost its connection");
                self.remove_participant(&cid, Reason::NetworkDisconnect);
            }
        }
        if self.deadlines.unused.is_some_and(|due| due <= now) {
            self.deadlines.unused = None;
            if !self.session.ever_joined {
                info!("closing a session nobody joined");
                self.close_session(Reason::SessionClosedByServer);
            }
        }
    }

    pub(super) fn expire_later(&mut self, cid: &str, at: Instant) {
        self.deadlines.pending.push_back((at, cid.to_owned()));
    }

    /// Sends a notification to every active participant for whom `to` says yes.
    pub(super) fn notify(&self, to: impl Fn(&Connection) -> bool, notification: Notification) {
        let text: Utf8Bytes = protocol::notification(&notification).into();
        for c in self.session.active().filter(|c| to(c)) {
            if let Some(link) = c.participant.as_ref().and_then(|p| p.link()) {
                link.send(text.clone());
            }
        }
    }

    /// Takes a participant (or a pending connection) out of the session: closes its peers and the
    /// peers of those who received its stream, tells the others, and ends the session if it was the
    /// last one.
    pub(super) fn remove_participant(&mut self, cid: &str, reason: Reason) {
        let Some(index) = self.session.connections.iter().position(|c| c.id == cid) else {
            return;
        };
        let snapshot: Vec<SocketLink> = self
            .session
            .active()
            .filter_map(|c| c.participant.as_ref().and_then(|p| p.link().cloned()))
            .collect();
        let conn = self.session.connections.remove(index);
        let Some(participant) = conn.participant else {
            self.dir.remove_token(&conn.token);
            return;
        };
        if let Some(publisher) = &participant.publisher {
            end_publication(&self.sfu, &mut self.session, publisher);
        }
        for s in &participant.subscriptions {
            self.sfu.send(SfuCommand::Close { peer: s.peer });
        }
        self.dir.remove_rpc_session(&participant.rpc_session);
        if let Presence::Online { socket, link } = &participant.presence {
            self.by_socket.remove(socket);
            // It may join again (a new token), within the usual time.
            link.set_joined(false);
        }
        info!(connection = %cid, reason = reason.as_str(), "participant left");
        let left = ParticipantReason {
            connection_id: cid.to_owned(),
            reason: reason.as_str(),
        };
        self.notify(|_| true, Notification::ParticipantLeft(left.clone()));
        if reason.is_eviction() {
            let text: Utf8Bytes =
                protocol::notification(&Notification::ParticipantEvicted(left)).into();
            for link in &snapshot {
                link.send(text.clone());
            }
            self.closing.extend(participant.link().cloned());
        }
        if self.session.active().next().is_none()
            && reason != Reason::SessionClosedByServer
            && reason != Reason::OpenviduServerStopped
        {
            info!("last participant left; closing the session");
            self.end_session();
        }
    }

    /// Evicts everyone and ends the session.
    pub(super) fn close_session(&mut self, reason: Reason) {
        let active: Vec<String> = self.session.active().map(|c| c.id.clone()).collect();
        for cid in active {
            self.remove_participant(&cid, reason);
        }
        self.end_session();
    }

    /// Closes what is left of the session's peers, takes it out of the directory and stops the owner.
    fn end_session(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        let mut tokens = Vec::new();
        let mut rpc = Vec::new();
        for c in self.session.connections.drain(..) {
            tokens.push(c.token);
            if let Some(p) = c.participant {
                rpc.push(p.rpc_session);
                if let Some(pb) = p.publisher {
                    self.sfu.send(SfuCommand::Close { peer: pb.peer });
                }
                for s in p.subscriptions {
                    self.sfu.send(SfuCommand::Close { peer: s.peer });
                }
            }
        }
        self.dir
            .forget(&self.session.id, self.serial, &tokens, &rpc);
    }

    /// Ends a participant's publication: its peer, every subscription to it, and tells the others.
    pub(super) fn unpublish(&mut self, cid: &str, reason: Reason) -> bool {
        let Some(publisher) = self
            .session
            .connection_mut(cid)
            .and_then(|c| c.participant.as_mut())
            .and_then(|p| p.publisher.take())
        else {
            return false;
        };
        end_publication(&self.sfu, &mut self.session, &publisher);
        let params = ParticipantReason {
            connection_id: cid.to_owned(),
            reason: reason.as_str(),
        };
        // The owner hears of it only when it did not ask for it itself.
        let include_owner = reason != Reason::Unpublish;
        self.notify(
            |c| include_owner || c.id != cid,
            Notification::ParticipantUnpublished(params),
        );
        true
    }
}

fn reply(link: &SocketLink, id: &RpcId, result: Result<Value, RpcError>) {
    let text = match result {
        Ok(v) => protocol::result(id, v),
        Err(e) => {
            // Only the code: messages can quote what the client sent.
            debug!(code = e.code.code(), "rpc error");
            protocol::error(Some(id), &e)
        }
    };
    link.send(text.into());
}

/// Answers a command that reached the owner after its session ended.
fn refuse_late(command: SessionCommand) {
    match command {
        SessionCommand::Join { link, id, .. } => reply(
            &link,
            &id,
            Err(RpcError::unauthorized("Token is not valid")),
        ),
        SessionCommand::Reconnect { link, id, .. } => {
            reply(&link, &id, Err(RpcError::reconnection_error()))
        }
        SessionCommand::Rpc { link, id, .. } => reply(&link, &id, Err(RpcError::not_joined())),
        SessionCommand::Rest { request, reply } => {
            let _ = reply.send(Err(request.missing_session()));
        }
        SessionCommand::Participants { reply } => {
            let _ = reply.send(0);
        }
        SessionCommand::Shutdown { done } => {
            let _ = done.send(());
        }
        SessionCommand::SocketClosed { .. } | SessionCommand::Crash => {}
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
