//! Types shared by the browser and the server: what the server functions take and return, their
//! errors ([`AppError`]) and the connection data the app attaches to OpenVidu connections
//! ([`ConnectionData`]). It depends on nothing else of the crate: `api` and `backend` depend on it.

use crate::wire::{AppJson, Json};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every failure a server function reports. The messages are for people; internal detail stays in the
/// server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Wrong user name or password.")]
    BadCredentials,
    #[error("Too many failed attempts. Try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: u64 },
    /// A quota that is not about failures (e.g. tokens per minute).
    #[error("Too many requests. Try again in {retry_after_secs} seconds.")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("You are not logged in.")]
    NotLoggedIn,
    #[error("That connection is not yours.")]
    Forbidden,
    #[error("Request refused: it did not come from this site.")]
    CrossSite,
    #[error("A call name is 1 to 64 letters, digits, '-' or '_'.")]
    InvalidCallName,
    /// The request body is not what the server function takes (wrong fields, not JSON).
    #[error("The request is malformed.")]
    BadRequest,
    #[error("The media server cannot be reached. Try again in a moment.")]
    MediaServerUnavailable,
    /// The media server refused for one of its quotas (calls at once, people in one call).
    #[error("This call is full, or the server has as many calls as it takes. Try again later.")]
    MediaServerFull,
    #[error("Something went wrong on the server. Try again.")]
    Internal,
    /// The request never got an answer (network down, server stopped) or the answer was unreadable.
    /// The browser's own words ("TypeError: Failed to fetch") are kept for the console, not shown.
    #[error(
        "The server cannot be reached. Check your network connection; the server may be restarting."
    )]
    Transport(String),
}

impl AppError {
    /// The HTTP status a server function answers with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadCredentials | AppError::NotLoggedIn => 401,
            AppError::Throttled { .. } | AppError::TooManyRequests { .. } => 429,
            AppError::Forbidden | AppError::CrossSite => 403,
            AppError::InvalidCallName | AppError::BadRequest => 400,
            AppError::MediaServerUnavailable => 502,
            AppError::MediaServerFull => 503,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }

    /// The `Retry-After` seconds of a 429.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::Throttled { retry_after_secs }
            | AppError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = AppJson;

    /// On the server these are failures to read the request: a client error, answered with a short
    /// message of ours (never the framework's text). In the browser they are failures to reach the
    /// server or to read its answer.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        if cfg!(feature = "ssr") {
            return match value {
                ServerFnErrorErr::Args(_)
                | ServerFnErrorErr::MissingArg(_)
                | ServerFnErrorErr::Deserialization(_)
                | ServerFnErrorErr::Request(_)
                | ServerFnErrorErr::UnsupportedRequestMethod(_) => AppError::BadRequest,
                _ => AppError::Internal,
            };
        }
        match value {
            ServerFnErrorErr::Request(msg) => AppError::Transport(msg),
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => AppError::Internal,
            other => AppError::Transport(other.to_string()),
        }
    }
}

/// What a user may do in a call. Taken from the database at each token request, never from the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Publisher,
    Subscriber,
    Moderator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Publisher => "PUBLISHER",
            Role::Subscriber => "SUBSCRIBER",
            Role::Moderator => "MODERATOR",
        }
    }

    /// The role named as OpenVidu names it (`PUBLISHER`, …), exactly.
    pub fn from_wire(s: &str) -> Option<Role> {
        [Role::Publisher, Role::Subscriber, Role::Moderator]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// The role as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Publisher => "Publisher",
            Role::Subscriber => "Subscriber",
            Role::Moderator => "Moderator",
        }
    }

    /// Whether a user of this role sends camera and microphone.
    pub fn can_publish(self) -> bool {
        !matches!(self, Role::Subscriber)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::from_wire(&s.to_ascii_uppercase())
            .ok_or_else(|| format!("unknown role {s:?} (PUBLISHER, SUBSCRIBER or MODERATOR)"))
    }
}

/// The logged-in user, as `/api/me` and `/api/login` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: String,
    pub role: Role,
}

/// What `/api/get-token` hands out: everything the browser needs to join one call.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTicket {
    /// The call name (the OpenVidu session id).
    pub call: String,
    /// The OpenVidu token (a `ws(s)://…?sessionId=…&token=…` URL). Never logged.
    pub token: String,
    pub connection_id: String,
    pub role: Role,
}

impl fmt::Debug for CallTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallTicket")
            .field("call", &self.call)
            .field("token", &"<redacted>")
            .field("connection_id", &self.connection_id)
            .field("role", &self.role)
            .finish()
    }
}

/// The longest call name accepted.
pub const MAX_CALL_NAME: usize = 64;
/// The longest nickname accepted (it is only ever shown as text).
pub const MAX_NICKNAME: usize = 40;

/// A call name is the OpenVidu `customSessionId`: `[A-Za-z0-9_-]`, 1 to [`MAX_CALL_NAME`] characters.
pub fn valid_call_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CALL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The data this app attaches to every OpenVidu connection it creates, `{"serverData":"<user>"}` (as the
/// openvidu-js-node sample): whose connection it is. The one home of that format, for the server (which
/// writes it and reads it back from the media server's connection listing) and for the browser (which
/// reads it from `connection.data`, see [`parse_connection_data`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionData {
    /// The (normalized) user name.
    pub user: String,
    /// The role the connection was created with; `None` for a connection of an older server, whose
    /// data carried only the user name.
    pub role: Option<Role>,
}

impl ConnectionData {
    /// The JSON key the user name is kept under.
    pub const KEY: &'static str = "serverData";
    /// The JSON key of the role, beside [`ConnectionData::KEY`].
    pub const ROLE_KEY: &'static str = "role";
    /// What openvidu-browser puts between the client's part and the server's part of `connection.data`.
    pub const SEPARATOR: &'static str = "%/%";

    pub fn new(user: impl Into<String>, role: Role) -> ConnectionData {
        ConnectionData {
            user: user.into(),
            role: Some(role),
        }
    }

    /// The `data` of a new connection (the media server returns it as `serverData`).
    pub fn to_json(&self) -> String {
        let mut value = serde_json::json!({ Self::KEY: self.user });
        if let Some(role) = self.role {
            value[Self::ROLE_KEY] = role.as_str().into();
        }
        value.to_string()
    }

    /// Reads a connection's server data back; `None` when it is not one of ours. An unknown role
    /// reads as none.
    pub fn parse(server_data: &str) -> Option<ConnectionData> {
        let value = Json::parse(server_data)?;
        Some(ConnectionData {
            user: value.get(Self::KEY)?.as_str()?.to_owned(),
            role: value
                .get(Self::ROLE_KEY)
                .and_then(|r| Role::from_wire(r.as_str()?)),
        })
    }
}

/// Splits an OpenVidu `connection.data` (`<clientData JSON>%/%<serverData JSON>`, as openvidu-browser
/// joins them) into the nickname the participant chose and what the app server attached (user name and
/// role). Anything unreadable comes out empty, never as markup: all of it is only ever shown as text.
pub fn parse_connection_data(data: &str) -> (String, ConnectionData) {
    // Split at the last separator: the server's part (user names have no `%`) comes last, so a nickname
    // containing `%/%` can neither break the split nor pose as server data.
    let (client, server) = match data.rsplit_once(ConnectionData::SEPARATOR) {
        Some((c, s)) => (c, Some(s)),
        None => (data, None),
    };
    let nickname = Json::parse(client)
        .and_then(|v| v.get("clientData")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    (
        nickname,
        server.and_then(ConnectionData::parse).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a connection of `user` without a role reads as.
    fn old(user: &str) -> ConnectionData {
        ConnectionData {
            user: user.into(),
            role: None,
        }
    }

    #[test]
    fn connection_data() {
        let data = r#"{"clientData":"<img src=x onerror=alert(1)>"}%/%{"serverData":"publisher1","role":"MODERATOR"}"#;
        assert_eq!(
            parse_connection_data(data),
            (
                "<img src=x onerror=alert(1)>".into(),
                ConnectionData::new("publisher1", Role::Moderator)
            )
        );
        // The sample's format, without a role.
        assert_eq!(
            parse_connection_data(r#"{"clientData":"a%/%b"}%/%{"serverData":"u"}"#),
            ("a%/%b".into(), old("u"))
        );
        // A nickname trying to pose as server data, role included.
        let posing = r#"{"clientData":"x\"}%/%{\"serverData\":\"publisher2\",\"role\":\"MODERATOR"}%/%{"serverData":"evil"}"#;
        assert_eq!(parse_connection_data(posing).1, old("evil"));
        // A role that is not one: none.
        assert_eq!(
            parse_connection_data(r#"{"clientData":"n"}%/%{"serverData":"u","role":"ADMIN"}"#).1,
            old("u")
        );
        assert_eq!(
            parse_connection_data("garbage"),
            (String::new(), ConnectionData::default())
        );
        assert_eq!(
            parse_connection_data(""),
            (String::new(), ConnectionData::default())
        );
    }

    #[test]
    fn connection_data_round_trips() {
        let data = ConnectionData::new("publisher1", Role::Publisher);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&data.to_json()).unwrap(),
            serde_json::json!({ "serverData": "publisher1", "role": "PUBLISHER" })
        );
        assert_eq!(ConnectionData::parse(&data.to_json()), Some(data));
        let odd = ConnectionData::new("a\"b", Role::Subscriber);
        assert_eq!(ConnectionData::parse(&odd.to_json()), Some(odd.clone()));
        assert_eq!(ConnectionData::parse("plain"), None);
        assert_eq!(ConnectionData::parse(r#"{"serverData":3}"#), None);
        // What the browser sees: the client's part, the separator, the server's part.
        let full = format!(
            r#"{{"clientData":"Nick"}}{}{}"#,
            ConnectionData::SEPARATOR,
            odd.to_json()
        );
        assert_eq!(parse_connection_data(&full), ("Nick".into(), odd));
    }

    #[test]
    fn call_names() {
        assert!(valid_call_name("SessionA"));
        assert!(valid_call_name("a-b_C9"));
        assert!(!valid_call_name(""));
        assert!(!valid_call_name("with space"));
        assert!(!valid_call_name("../x"));
        assert!(!valid_call_name("é"));
        assert!(!valid_call_name(&"a".repeat(MAX_CALL_NAME + 1)));
        assert!(valid_call_name(&"a".repeat(MAX_CALL_NAME)));
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Publisher, Role::Subscriber, Role::Moderator] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert!(!Role::Subscriber.can_publish());
        assert!(Role::Moderator.can_publish());
    }
}
