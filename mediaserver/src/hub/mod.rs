//! Signaling state: one owner task per OpenVidu session, and a small directory in front of them.
//!
//! Each session's owner ([`session`]) holds everything about its session (connections, participants,
//! streams, deadlines) and handles its JSON-RPC requests and REST calls one at a time, so nothing in a
//! session is shared or locked, and sessions never wait for each other: a slow negotiation delays only
//! its own session, and a panic in one ends only that one (its participants are disconnected and the
//! panic is logged). The directory maps what arrives from outside to an owner: a session id (REST), a
//! token (`joinRoom`), an RPC session id (`connect` after a lost socket); it also counts sockets per
//! client address and sessions against their quotas. Its lock is held for a map lookup or insertion
//! only, never across an await.
//!
//! Media never passes through here: each owner tells its SFU worker which peer connections to open,
//! close and link.

pub mod model;
mod objects;
mod rest;
mod rpc;
mod session;
pub mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

use crate::config::Limits;
use crate::ids;
use crate::sfu::edge::{Command as SfuCommand, SfuPool};
use crate::signaling::protocol::{ConnectParams, JoinRoomParams, Request, RpcId};
pub use model::SocketId;
pub use socket::{CloseReason, Outbound, SocketLink};

use model::Session;
use objects::Page;
pub use rest::{ConnectionProps, RestError, RestRequest, RestStatus, SessionProps};
use session::SessionOwner;

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
    /// Trickled ICE candidates the SFU was given, since start.
    pub candidates: u64,
    /// Tokio tasks alive in the runtime (the whole process's, when embedded in the app server): a
    /// task left behind by a participant shows here.
    pub tasks: usize,
}

pub struct HubConfig {
    /// `ws://host:port` or `wss://host:port`, what tokens start with.
    pub ws_base: String,
    pub unused_session_timeout: Duration,
    pub reconnect_grace: Duration,
    pub pending_connection_ttl: Duration,
    pub join_deadline: Duration,
    pub limits: Limits,
}

/// How often the directory logs what the server holds (only when that changed).
const STATS_INTERVAL: Duration = Duration::from_secs(30);

/// What a session's owner is asked to do.
pub(crate) enum SessionCommand {
    Join {
        socket: SocketId,
        link: SocketLink,
        ip: String,
        id: RpcId,
        params: JoinRoomParams,
    },
    Reconnect {
        socket: SocketId,
        link: SocketLink,
        id: RpcId,
        params: ConnectParams,
    },
    Rpc {
        socket: SocketId,
        link: SocketLink,
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
    /// Active participants; answered after everything sent before it.
    Participants {
        reply: oneshot::Sender<usize>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
    /// Makes the owner panic: how the tests check that a failing session takes no other one down.
    Crash,
}

/// A cloneable handle on one session's owner.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    tx: mpsc::Sender<SessionCommand>,
}

impl SessionHandle {
    /// False when the owner is gone (its session ended or failed).
    pub async fn send(&self, command: SessionCommand) -> bool {
        self.tx.send(command).await.is_ok()
    }

    /// Resolves when the owner is gone.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

struct SessionEntry {
    handle: SessionHandle,
    serial: u32,
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

#[derive(Default)]
struct DirectoryState {
    sessions: HashMap<String, SessionEntry>,
    /// Full token string → session id, for pending connections only.
    tokens: HashMap<String, String>,
    /// RPC session id → session id, for reconnecting sockets.
    rpc_sessions: HashMap<String, String>,
    /// Open sockets per client address, for the per-address quota.
    sockets_per_ip: HashMap<String, usize>,
    sockets: usize,
    refusals: RefusalLog,
    next_serial: u32,
    stopped: bool,
}

pub(crate) struct Directory {
    config: HubConfig,
    sfu: SfuPool,
    state: Mutex<DirectoryState>,
}

impl Directory {
    fn lock(&self) -> MutexGuard<'_, DirectoryState> {
        // Nothing panics while holding it; if something did, the maps are still consistent enough
        // to go on with (each change is a single insert or remove).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn refused(&self, cause: &'static str) {
        self.lock().refusals.refused(cause, Instant::now());
    }

    pub(crate) fn add_token(&self, token: &str, session: &str) {
        self.lock()
            .tokens
            .insert(token.to_owned(), session.to_owned());
    }

    pub(crate) fn remove_token(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    pub(crate) fn add_rpc_session(&self, rpc_session: &str, session: &str) {
        self.lock()
            .rpc_sessions
            .insert(rpc_session.to_owned(), session.to_owned());
    }

    pub(crate) fn remove_rpc_session(&self, rpc_session: &str) {
        self.lock().rpc_sessions.remove(rpc_session);
    }

    /// Takes an ended session out, with its tokens and RPC session ids (as its owner lists them).
    /// Only the entry of the same serial: a new session may already use the same id.
    pub(crate) fn forget(&self, session: &str, serial: u32, tokens: &[String], rpc: &[String]) {
        let mut state = self.lock();
        if state
            .sessions
            .get(session)
            .is_some_and(|e| e.serial == serial)
        {
            state.sessions.remove(session);
        }
        for t in tokens {
            state.tokens.remove(t);
        }
        for r in rpc {
            state.rpc_sessions.remove(r);
        }
    }

    /// Takes a failed session out; its owner is gone, so its tokens are found by scanning.
    fn forget_failed(&self, session: &str, serial: u32) {
        let mut state = self.lock();
        if state
            .sessions
            .get(session)
            .is_some_and(|e| e.serial == serial)
        {
            state.sessions.remove(session);
            state.tokens.retain(|_, s| s != session);
            state.rpc_sessions.retain(|_, s| s != session);
        }
    }
}

/// The handle everything outside the hub uses: socket tasks, REST handlers, the server's owner.
#[derive(Clone)]
pub struct HubHandle {
    dir: Arc<Directory>,
}

/// One open socket, counted against its address's quota until dropped.
pub struct SocketSlot {
    dir: Arc<Directory>,
    ip: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut state = self.dir.lock();
        state.sockets -= 1;
        if let Some(count) = state.sockets_per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                state.sockets_per_ip.remove(&self.ip);
            }
        }
    }
}

pub fn spawn(config: HubConfig, sfu: SfuPool) -> HubHandle {
    let dir = Arc::new(Directory {
        config,
        sfu,
        state: Mutex::default(),
    });
    tokio::spawn(log_stats(Arc::downgrade(&dir)));
    HubHandle { dir }
}

/// What the server holds, in the log when it changed: an operator (or the soak benchmark) sees
/// growth without a debugger.
async fn log_stats(dir: std::sync::Weak<Directory>) {
    let mut tick = tokio::time::interval(STATS_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        tick.tick().await;
        let Some(dir) = dir.upgrade() else { break };
        let now = HubHandle { dir }.stats().await;
        if last != Some(now) {
            info!(
                sessions = now.sessions,
                participants = now.participants,
                peers = now.peers,
                sockets = now.sockets,
                addresses = now.addresses,
                dropped_datagrams = now.dropped_datagrams,
                tasks = now.tasks,
                candidates = now.candidates,
                "stats"
            );
            last = Some(now);
        }
    }
}

impl HubHandle {
    /// Counts a refusal of `cause` in the log (once per cause, then once a minute with a count).
    pub(crate) fn refused(&self, cause: &'static str) {
        self.dir.refused(cause);
    }

    /// How long a socket may stay open without speaking for a participant.
    pub fn join_deadline(&self) -> Duration {
        self.dir.config.join_deadline
    }

    /// Counts a new socket from `ip`, or refuses it over the per-address quota.
    pub fn socket_opened(&self, ip: &str) -> Result<SocketSlot, CloseReason> {
        let mut state = self.dir.lock();
        let count = state.sockets_per_ip.entry(ip.to_owned()).or_default();
        if *count >= self.dir.config.limits.max_sockets_per_address {
            if *count == 0 {
                state.sockets_per_ip.remove(ip);
            }
            state
                .refusals
                .refused("sockets per address", Instant::now());
            return Err(CloseReason::TooManySockets);
        }
        *count += 1;
        state.sockets += 1;
        Ok(SocketSlot {
            dir: self.dir.clone(),
            ip: ip.to_owned(),
        })
    }

    /// The owner of the session a pending connection's token belongs to.
    pub(crate) fn route_token(&self, token: &str) -> Option<SessionHandle> {
        let state = self.dir.lock();
        let session = state.tokens.get(token)?;
        state.sessions.get(session).map(|e| e.handle.clone())
    }

    /// The owner of the session an RPC session id (a participant's, for reconnecting) belongs to.
    pub(crate) fn route_rpc_session(&self, rpc_session: &str) -> Option<SessionHandle> {
        let state = self.dir.lock();
        let session = state.rpc_sessions.get(rpc_session)?;
        state.sessions.get(session).map(|e| e.handle.clone())
    }

    fn session(&self, id: &str) -> Option<SessionHandle> {
        self.dir.lock().sessions.get(id).map(|e| e.handle.clone())
    }

    fn all_sessions(&self) -> Vec<SessionHandle> {
        self.dir
            .lock()
            .sessions
            .values()
            .map(|e| e.handle.clone())
            .collect()
    }

    pub async fn rest(&self, request: RestRequest) -> Result<Value, RestError> {
        match request {
            RestRequest::CreateSession(props) => self.create_session(props),
            RestRequest::ListSessions { pending } => {
                let mut content = Vec::new();
                for handle in self.all_sessions() {
                    let (reply, rx) = oneshot::channel();
                    let request = RestRequest::GetSession {
                        id: String::new(),
                        pending,
                    };
                    if handle.send(SessionCommand::Rest { request, reply }).await
                        && let Ok(Ok(json)) = rx.await
                    {
                        content.push(json);
                    }
                }
                content.sort_by_key(|s| s["createdAt"].as_u64());
                Ok(json!(Page::new(content)))
            }
            request => {
                let missing = request.missing_session();
                let id = request.session_id().unwrap_or_default().to_owned();
                let Some(handle) = self.session(&id) else {
                    return Err(missing);
                };
                let (reply, rx) = oneshot::channel();
                if !handle.send(SessionCommand::Rest { request, reply }).await {
                    return Err(missing);
                }
                // No answer: the session ended before it got to the request.
                rx.await.unwrap_or(Err(missing))
            }
        }
    }

    fn create_session(&self, props: SessionProps) -> Result<Value, RestError> {
        let now = Instant::now();
        let config = &self.dir.config;
        let mut state = self.dir.lock();
        if state.stopped {
            return Err(RestError::unavailable());
        }
        let custom = props.properties.custom_session_id.clone();
        // An existing session answers 409 whatever the quota: callers join it next.
        if state.sessions.len() >= config.limits.max_sessions
            && !state.sessions.contains_key(&custom)
        {
            state.refusals.refused("sessions", now);
            return Err(RestError::new(
                RestStatus::TooManyRequests,
                "The media server holds as many sessions as it may",
            ));
        }
        let id = if custom.is_empty() {
            loop {
                let id = ids::session_id();
                if !state.sessions.contains_key(&id) {
                    break id;
                }
            }
        } else if state.sessions.contains_key(&custom) {
            return Err(RestError::new(
                RestStatus::Conflict,
                format!("Session {custom} already exists"),
            ));
        } else {
            custom
        };
        let session = Session {
            id: id.clone(),
            created_at: ids::now_millis(),
            created: now,
            properties: props.properties,
            connections: Vec::new(),
            ever_joined: false,
        };
        let json = json!(session.to_rest(false));
        state.next_serial = state.next_serial.wrapping_add(1);
        let serial = state.next_serial;
        let placement = self.dir.sfu.place();
        let sfu = placement.sfu.clone();
        let (tx, rx) = mpsc::channel(1024);
        let handle = SessionHandle { tx };
        state.sessions.insert(
            id.clone(),
            SessionEntry {
                handle: handle.clone(),
                serial,
            },
        );
        drop(state);
        info!(session = %id, "session created");
        let owner = SessionOwner::new(session, serial, placement, self.dir.clone());
        let task = tokio::spawn(owner.run(rx));
        let dir = self.dir.clone();
        tokio::spawn(async move {
            if let Err(e) = task.await
                && e.is_panic()
            {
                error!(session = %id, "the session's signaling failed; its participants were disconnected");
                dir.forget_failed(&id, serial);
                sfu.send(SfuCommand::CloseSession { session: serial });
            }
        });
        Ok(json)
    }

    pub async fn stats(&self) -> Stats {
        let (sessions, sockets) = {
            let state = self.dir.lock();
            (state.sessions.len(), state.sockets)
        };
        let mut participants = 0;
        for handle in self.all_sessions() {
            let (reply, rx) = oneshot::channel();
            if handle.send(SessionCommand::Participants { reply }).await {
                participants += rx.await.unwrap_or(0);
            }
        }
        let sfu = self.dir.sfu.stats().await;
        Stats {
            sessions,
            participants,
            peers: sfu.peers,
            sockets,
            addresses: sfu.addresses,
            dropped_datagrams: sfu.dropped_datagrams,
            candidates: sfu.candidates,
            tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
        }
    }

    /// Evicts everyone (`openviduServerStopped`) and refuses new sessions from now on.
    pub async fn shutdown(&self) {
        let handles = {
            let mut state = self.dir.lock();
            state.stopped = true;
            state
                .sessions
                .values()
                .map(|e| e.handle.clone())
                .collect::<Vec<_>>()
        };
        for handle in handles {
            let (done, rx) = oneshot::channel();
            if handle.send(SessionCommand::Shutdown { done }).await {
                let _ = rx.await;
            }
        }
    }

    /// Makes one session's owner panic, for the tests of panic containment.
    pub async fn crash_session(&self, id: &str) -> bool {
        match self.session(id) {
            Some(handle) => handle.send(SessionCommand::Crash).await,
            None => false,
        }
    }

    /// The UDP addresses of the SFU workers.
    pub fn udp_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.dir.sfu.local_addrs()
    }
}
