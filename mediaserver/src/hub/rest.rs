//! The REST operations, as the hub carries them out. Bodies were parsed and checked at the HTTP edge
//! (`crate::rest`); what is left here are the checks that need state (404, 409, ...).

use std::time::Instant;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tracing::info;

use super::model::{Connection, Reason, Role, SessionProperties};
use super::objects::TokenJson;
use super::session::SessionOwner;
use crate::ids;
use crate::signaling::protocol::{Notification, SignalNotice};

/// The kinds of REST failure, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestStatus {
    /// A malformed body or parameter, or (as the reference server answers for some operations) a
    /// session that does not exist.
    BadRequest,
    Unauthorized,
    NotFound,
    /// A signal to a session without participants, or to a connection not in it.
    NotAcceptable,
    /// A `customSessionId` that exists already.
    Conflict,
    /// Over a quota (sessions, connections per session).
    TooManyRequests,
    Internal,
    /// Recording and broadcasting.
    NotImplemented,
    /// The server is shutting down.
    Unavailable,
}

impl RestStatus {
    /// The HTTP status; the only place that knows it.
    pub fn http(self) -> StatusCode {
        match self {
            RestStatus::BadRequest => StatusCode::BAD_REQUEST,
            RestStatus::Unauthorized => StatusCode::UNAUTHORIZED,
            RestStatus::NotFound => StatusCode::NOT_FOUND,
            RestStatus::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            RestStatus::Conflict => StatusCode::CONFLICT,
            RestStatus::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            RestStatus::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            RestStatus::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            RestStatus::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A REST failure: its kind and a message for the body. Messages never contain secrets or tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct RestError {
    pub status: RestStatus,
    pub message: String,
}

impl RestError {
    pub fn new(status: RestStatus, message: impl Into<String>) -> RestError {
        RestError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> RestError {
        RestError::new(RestStatus::BadRequest, message)
    }
    pub fn not_found(what: &str) -> RestError {
        RestError::new(RestStatus::NotFound, format!("{what} not found"))
    }
    pub fn unavailable() -> RestError {
        RestError::new(RestStatus::Unavailable, "The media server is shutting down")
    }
}

#[derive(Debug)]
pub struct SessionProps {
    pub properties: SessionProperties,
}

#[derive(Debug)]
pub struct ConnectionProps {
    pub role: Role,
    pub data: String,
    pub record: bool,
    pub kurento_options: Value,
    pub custom_ice_servers: Vec<Value>,
}

#[derive(Debug)]
pub enum RestRequest {
    CreateSession(SessionProps),
    GetSession {
        id: String,
        pending: bool,
    },
    ListSessions {
        pending: bool,
    },
    CloseSession {
        id: String,
    },
    CreateConnection {
        session: String,
        props: ConnectionProps,
    },
    GetConnection {
        session: String,
        connection: String,
    },
    ListConnections {
        session: String,
        pending: bool,
    },
    DeleteConnection {
        session: String,
        connection: String,
    },
    /// The deprecated token API (`Session.generateToken`).
    CreateToken {
        session: String,
        props: ConnectionProps,
    },
    ForceUnpublish {
        session: String,
        stream: String,
    },
    Signal {
        session: String,
        to: Vec<String>,
        kind: Option<String>,
        data: Option<String>,
    },
}

impl RestRequest {
    /// The operation's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            RestRequest::CreateSession(_) => "createSession",
            RestRequest::GetSession { .. } => "getSession",
            RestRequest::ListSessions { .. } => "listSessions",
            RestRequest::CloseSession { .. } => "closeSession",
            RestRequest::CreateConnection { .. } => "createConnection",
            RestRequest::GetConnection { .. } => "getConnection",
            RestRequest::ListConnections { .. } => "listConnections",
            RestRequest::DeleteConnection { .. } => "deleteConnection",
            RestRequest::CreateToken { .. } => "createToken",
            RestRequest::ForceUnpublish { .. } => "forceUnpublish",
            RestRequest::Signal { .. } => "signal",
        }
    }
}

impl RestRequest {
    /// The session the request is about (all but creating and listing sessions name one).
    pub fn session_id(&self) -> Option<&str> {
        match self {
            RestRequest::CreateSession(_) | RestRequest::ListSessions { .. } => None,
            RestRequest::GetSession { id, .. } | RestRequest::CloseSession { id } => Some(id),
            RestRequest::CreateConnection { session, .. }
            | RestRequest::GetConnection { session, .. }
            | RestRequest::ListConnections { session, .. }
            | RestRequest::DeleteConnection { session, .. }
            | RestRequest::CreateToken { session, .. }
            | RestRequest::ForceUnpublish { session, .. }
            | RestRequest::Signal { session, .. } => Some(session),
        }
    }

    /// The answer when the session it names does not exist: what the reference server says, which
    /// for some operations is 400 rather than 404.
    pub fn missing_session(&self) -> RestError {
        match self {
            RestRequest::GetConnection { .. }
            | RestRequest::DeleteConnection { .. }
            | RestRequest::ForceUnpublish { .. } => RestError::bad_request("Session not found"),
            _ => RestError::not_found("Session"),
        }
    }
}

impl SessionOwner {
    /// A REST call about this session (the directory routed it here by the session id it names).
    pub(super) fn on_rest(&mut self, request: RestRequest) -> Result<Value, RestError> {
        let sid = self.session.id.clone();
        match request {
            RestRequest::CreateSession(_) | RestRequest::ListSessions { .. } => Err(
                RestError::new(RestStatus::Internal, "Not a request about one session"),
            ),
            RestRequest::GetSession { pending, .. } => Ok(json!(self.session.to_rest(pending))),
            RestRequest::CloseSession { .. } => {
                info!("session closed over REST");
                self.close_session(Reason::SessionClosedByServer);
                Ok(Value::Null)
            }
            RestRequest::CreateConnection { props, .. } => {
                let cid = self.create_connection(props)?;
                let c = self.session.connection(&cid).expect("just created");
                Ok(json!(c.to_rest(&sid)))
            }
            RestRequest::CreateToken { props, .. } => {
                let cid = self.create_connection(props)?;
                let c = self.session.connection(&cid).expect("just created");
                Ok(json!(TokenJson {
                    id: c.token.clone(),
                    object: "token",
                    token: c.token.clone(),
                    connection_id: c.id.clone(),
                    created_at: c.created_at,
                    session: sid,
                    role: c.role,
                    data: c.server_data.clone(),
                    kurento_options: c.kurento_options.clone(),
                }))
            }
            RestRequest::GetConnection { connection, .. } => self
                .session
                .connection(&connection)
                .map(|c| json!(c.to_rest(&sid)))
                .ok_or_else(|| RestError::not_found("Connection")),
            RestRequest::ListConnections { pending, .. } => {
                Ok(json!(self.session.connections_json(pending)))
            }
            RestRequest::DeleteConnection { connection, .. } => {
                if self.session.connection(&connection).is_none() {
                    return Err(RestError::not_found("Connection"));
                }
                self.remove_participant(&connection, Reason::ForceDisconnectByServer);
                Ok(Value::Null)
            }
            RestRequest::ForceUnpublish { stream, .. } => {
                let owner = self
                    .session
                    .publisher_of(&stream)
                    .map(|c| c.id.clone())
                    .ok_or_else(|| RestError::not_found("Stream"))?;
                self.unpublish(&owner, Reason::ForceUnpublishByServer);
                Ok(Value::Null)
            }
            RestRequest::Signal { to, kind, data, .. } => {
                let s = &self.session;
                if s.active().next().is_none() {
                    return Err(RestError::new(
                        RestStatus::NotAcceptable,
                        "The session has no participants",
                    ));
                }
                if let Some(unknown) = to.iter().find(|id| {
                    s.connection(id)
                        .and_then(|c| c.participant.as_ref())
                        .is_none()
                }) {
                    return Err(RestError::new(
                        RestStatus::NotAcceptable,
                        format!("Connection {unknown} is not in the session"),
                    ));
                }
                // No `from`: the browser treats the signal as coming from the server.
                let params = SignalNotice {
                    data: data.unwrap_or_default(),
                    kind,
                    from: None,
                };
                self.notify(
                    |c| to.is_empty() || to.contains(&c.id),
                    Notification::SendMessage(params),
                );
                Ok(Value::Null)
            }
        }
    }

    fn create_connection(&mut self, props: ConnectionProps) -> Result<String, RestError> {
        let now = Instant::now();
        let config = self.config();
        let ws_base = config.ws_base.clone();
        let ttl = config.pending_connection_ttl;
        if self.session.connections.len() >= config.limits.max_participants_per_session {
            self.dir.refused("participants per session");
            return Err(RestError::new(
                RestStatus::TooManyRequests,
                "The session is full",
            ));
        }
        let s = &mut self.session;
        let id = loop {
            let id = ids::connection_id();
            if s.connection(&id).is_none() {
                break id;
            }
        };
        let token = format!("{ws_base}?sessionId={}&token={}", s.id, ids::token_key());
        s.connections.push(Connection {
            id: id.clone(),
            token: token.clone(),
            role: props.role,
            server_data: props.data,
            record: props.record,
            kurento_options: props.kurento_options,
            custom_ice_servers: props.custom_ice_servers,
            created_at: ids::now_millis(),
            created: now,
            participant: None,
        });
        self.dir.add_token(&token, &self.session.id);
        self.expire_later(&id, now + ttl);
        Ok(id)
    }
}
