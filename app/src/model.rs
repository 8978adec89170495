//! Types shared by the browser and the server: what the server functions take and return.

use serde::{Deserialize, Serialize};
use std::fmt;

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
        match s.to_ascii_uppercase().as_str() {
            "PUBLISHER" => Ok(Role::Publisher),
            "SUBSCRIBER" => Ok(Role::Subscriber),
            "MODERATOR" => Ok(Role::Moderator),
            _ => Err(format!(
                "unknown role {s:?} (PUBLISHER, SUBSCRIBER or MODERATOR)"
            )),
        }
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

/// Splits an OpenVidu `connection.data` (`<clientData JSON>%/%<serverData JSON>`, as openvidu-browser
/// joins them) into the nickname the participant chose and the user name the app server attached.
/// Anything unreadable comes out empty, never as markup: both are only ever shown as text.
pub fn parse_connection_data(data: &str) -> (String, String) {
    fn field(part: Option<&str>, key: &str) -> String {
        part.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| v.get(key)?.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
    // Split at the last separator: the server's part (user names have no `%`) comes last, so a nickname
    // containing `%/%` can neither break the split nor pose as server data.
    let (client, server) = match data.rsplit_once("%/%") {
        Some((c, s)) => (Some(c), Some(s)),
        None => (Some(data), None),
    };
    (field(client, "clientData"), field(server, "serverData"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_data() {
        let data = r#"{"clientData":"<img src=x onerror=alert(1)>"}%/%{"serverData":"publisher1"}"#;
        assert_eq!(
            parse_connection_data(data),
            ("<img src=x onerror=alert(1)>".into(), "publisher1".into())
        );
        assert_eq!(
            parse_connection_data(r#"{"clientData":"a%/%b"}%/%{"serverData":"u"}"#),
            ("a%/%b".into(), "u".into())
        );
        // A nickname trying to pose as server data.
        let posing =
            r#"{"clientData":"x\"}%/%{\"serverData\":\"publisher2"}%/%{"serverData":"evil"}"#;
        assert_eq!(parse_connection_data(posing).1, "evil");
        assert_eq!(
            parse_connection_data("garbage"),
            (String::new(), String::new())
        );
        assert_eq!(parse_connection_data(""), (String::new(), String::new()));
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
