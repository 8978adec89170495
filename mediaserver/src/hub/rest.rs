//! The REST operations, as the hub carries them out. Bodies were parsed and checked at the HTTP edge
//! (`crate::rest`); what is left here are the checks that need state (404, 409, ...).

use std::time::Instant;

use serde_json::{Value, json};
use tracing::info;

use super::Hub;
use super::model::{Connection, Reason, Role, Session, SessionProperties};
use crate::ids;

/// An HTTP status and a message for the body. Messages never contain secrets or tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct RestError {
    pub status: u16,
    pub message: String,
}

impl RestError {
    pub fn new(status: u16, message: impl Into<String>) -> RestError {
        RestError {
            status,
            message: message.into(),
        }
    }
    pub fn not_found(what: &str) -> RestError {
        RestError::new(404, format!("{what} not found"))
    }
    pub fn unavailable() -> RestError {
        RestError::new(503, "The media server is shutting down")
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

impl Hub {
    pub(super) fn on_rest(&mut self, request: RestRequest) -> Result<Value, RestError> {
        match request {
            RestRequest::CreateSession(props) => self.create_session(props),
            RestRequest::GetSession { id, pending } => self
                .sessions
                .get(&id)
                .map(|s| s.to_rest(pending))
                .ok_or_else(|| RestError::not_found("Session")),
            RestRequest::ListSessions { pending } => {
                let mut sessions: Vec<&Session> = self.sessions.values().collect();
                sessions.sort_by_key(|s| s.created_at);
                let content: Vec<Value> = sessions.iter().map(|s| s.to_rest(pending)).collect();
                Ok(json!({ "numberOfElements": content.len(), "content": content }))
            }
            RestRequest::CloseSession { id } => {
                if !self.sessions.contains_key(&id) {
                    return Err(RestError::not_found("Session"));
                }
                info!(session = %id, "session closed over REST");
                self.close_session(&id, Reason::SessionClosedByServer);
                Ok(Value::Null)
            }
            RestRequest::CreateConnection { session, props } => {
                let (sid, cid) = self.create_connection(&session, props)?;
                Ok(self.sessions[&sid]
                    .connection(&cid)
                    .expect("just created")
                    .to_rest(&sid))
            }
            RestRequest::CreateToken { session, props } => {
                let (sid, cid) = self.create_connection(&session, props)?;
                let c = self.sessions[&sid].connection(&cid).expect("just created");
                let mut token = json!({
                    "id": c.token, "object": "token", "token": c.token, "connectionId": c.id,
                    "createdAt": c.created_at, "session": sid, "role": c.role.as_str(), "data": c.server_data,
                });
                if !c.kurento_options.is_null() {
                    token["kurentoOptions"] = c.kurento_options.clone();
                }
                Ok(token)
            }
            RestRequest::GetConnection {
                session,
                connection,
            } => {
                let s = self
                    .sessions
                    .get(&session)
                    .ok_or_else(|| RestError::new(400, "Session not found"))?;
                s.connection(&connection)
                    .map(|c| c.to_rest(&s.id))
                    .ok_or_else(|| RestError::not_found("Connection"))
            }
            RestRequest::ListConnections { session, pending } => {
                let s = self
                    .sessions
                    .get(&session)
                    .ok_or_else(|| RestError::not_found("Session"))?;
                Ok(s.connections_json(pending))
            }
            RestRequest::DeleteConnection {
                session,
                connection,
            } => {
                let s = self
                    .sessions
                    .get(&session)
                    .ok_or_else(|| RestError::new(400, "Session not found"))?;
                if s.connection(&connection).is_none() {
                    return Err(RestError::not_found("Connection"));
                }
                self.remove_participant(&session, &connection, Reason::ForceDisconnectByServer);
                Ok(Value::Null)
            }
            RestRequest::ForceUnpublish { session, stream } => {
                let s = self
                    .sessions
                    .get(&session)
                    .ok_or_else(|| RestError::new(400, "Session not found"))?;
                let owner = s
                    .publisher_of(&stream)
                    .map(|c| c.id.clone())
                    .ok_or_else(|| RestError::not_found("Stream"))?;
                self.unpublish(&session, &owner, Reason::ForceUnpublishByServer);
                Ok(Value::Null)
            }
            RestRequest::Signal {
                session,
                to,
                kind,
                data,
            } => {
                let s = self
                    .sessions
                    .get(&session)
                    .ok_or_else(|| RestError::not_found("Session"))?;
                if s.active().next().is_none() {
                    return Err(RestError::new(406, "The session has no participants"));
                }
                if let Some(unknown) = to.iter().find(|id| {
                    s.connection(id)
                        .and_then(|c| c.participant.as_ref())
                        .is_none()
                }) {
                    return Err(RestError::new(
                        406,
                        format!("Connection {unknown} is not in the session"),
                    ));
                }
                // No `from`: the browser treats the signal as coming from the server.
                let mut params = json!({ "data": data.unwrap_or_default() });
                if let Some(kind) = kind {
                    params["type"] = json!(kind);
                }
                self.notify(
                    s,
                    |c| to.is_empty() || to.contains(&c.id),
                    "sendMessage",
                    params,
                );
                Ok(Value::Null)
            }
        }
    }

    fn create_session(&mut self, props: SessionProps) -> Result<Value, RestError> {
        let now = Instant::now();
        let custom = props.properties.custom_session_id.clone();
        // An existing session answers 409 whatever the quota: callers join it next.
        if self.sessions.len() >= self.config.limits.max_sessions
            && !self.sessions.contains_key(&custom)
        {
            self.refusals.refused("sessions", now);
            return Err(RestError::new(
                429,
                "The media server holds as many sessions as it may",
            ));
        }
        let id = if custom.is_empty() {
            loop {
                let id = ids::session_id();
                if !self.sessions.contains_key(&id) {
                    break id;
                }
            }
        } else if self.sessions.contains_key(&custom) {
            return Err(RestError::new(
                409,
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
        let json = session.to_rest(false);
        info!(session = %id, "session created");
        self.deadlines
            .unused
            .push_back((now + self.config.unused_session_timeout, id.clone()));
        self.sessions.insert(id, session);
        Ok(json)
    }

    fn create_connection(
        &mut self,
        session: &str,
        props: ConnectionProps,
    ) -> Result<(String, String), RestError> {
        let ws_base = self.config.ws_base.clone();
        let now = Instant::now();
        let s = self
            .sessions
            .get_mut(session)
            .ok_or_else(|| RestError::not_found("Session"))?;
        if s.connections.len() >= self.config.limits.max_participants_per_session {
            self.refusals.refused("participants per session", now);
            return Err(RestError::new(429, "The session is full"));
        }
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
        self.tokens.insert(token, (s.id.clone(), id.clone()));
        self.deadlines.pending.push_back((
            now + self.config.pending_connection_ttl,
            s.id.clone(),
            id.clone(),
        ));
        Ok((s.id.clone(), id))
    }
}
