//! The JSON the browser reads: the server functions' answers and the connection data of OpenVidu
//! connections.
//!
//! The server writes these with serde (their types derive `Serialize`); the browser reads them without
//! serde. A serde deserializer in the WASM costs about 30 KB gzipped of its 300 KB budget (serde_json's
//! parser, its `Value`, and the float formatting every serde deserializer reaches through its error
//! messages), while the browser already has a JSON parser. So in the browser `JSON.parse` reads the text
//! into a [`Json`], and each type says how it reads itself from one ([`FromJson`]); on the server the same
//! [`Json`] comes from serde_json, which is how the tests below check that each type reads back exactly
//! what its `Serialize` wrote.
//!
//! [`AppJson`] is the server functions' output encoding: JSON on the wire, as `Json` is, serde_json to
//! write, [`FromJson`] to read in the browser.

use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    /// The members in the order of the text.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses JSON text; `None` when it is not JSON.
    pub fn parse(text: &str) -> Option<Json> {
        parse(text)
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// A whole number from 0 to 2^53 (what a JSON number holds exactly).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Json::Number(n) if n >= 0.0 && n <= 9_007_199_254_740_992.0 && n.fract() == 0.0 => {
                Some(n as u64)
            }
            _ => None,
        }
    }

    /// The only member of an object, as serde writes an enum variant that carries data.
    fn only_member(&self) -> Option<(&str, &Json)> {
        match self {
            Json::Object(members) if members.len() == 1 => Some((&members[0].0, &members[0].1)),
            _ => None,
        }
    }

    /// The string member `key`, owned.
    fn string(&self, key: &str) -> Option<String> {
        self.get(key)?.as_str().map(str::to_owned)
    }
}

/// How deeply arrays and objects may nest, as serde_json allows on the server. Connection data comes
/// from other participants: a modified client could nest thousands deep, and reading that recursively
/// would overflow the WASM's stack in everyone else's page. (serde_json's own limit is the same.)
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MAX_DEPTH: usize = 128;

/// In the browser: the browser's own parser.
#[cfg(feature = "hydrate")]
fn parse(text: &str) -> Option<Json> {
    from_js(&js_sys::JSON::parse(text).ok()?, MAX_DEPTH)
}

/// The value, or `None` when it nests deeper than `depth` more levels.
#[cfg(feature = "hydrate")]
fn from_js(value: &wasm_bindgen::JsValue, depth: usize) -> Option<Json> {
    use wasm_bindgen::JsCast;
    Some(if let Some(s) = value.as_string() {
        Json::String(s)
    } else if let Some(n) = value.as_f64() {
        Json::Number(n)
    } else if let Some(b) = value.as_bool() {
        Json::Bool(b)
    } else if let Some(array) = value.dyn_ref::<js_sys::Array>() {
        let depth = depth.checked_sub(1)?;
        Json::Array(
            array
                .iter()
                .map(|v| from_js(&v, depth))
                .collect::<Option<_>>()?,
        )
    } else if value.is_object() {
        let depth = depth.checked_sub(1)?;
        let mut members = Vec::new();
        for entry in js_sys::Object::entries(value.unchecked_ref()).iter() {
            let entry: js_sys::Array = entry.unchecked_into();
            if let Some(key) = entry.get(0).as_string() {
                members.push((key, from_js(&entry.get(1), depth)?));
            }
        }
        Json::Object(members)
    } else {
        Json::Null
    })
}

/// On the server (and in the host's tests): serde_json, which the server has anyway.
#[cfg(not(feature = "hydrate"))]
fn parse(text: &str) -> Option<Json> {
    fn from_serde(value: serde_json::Value) -> Json {
        use serde_json::Value;
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Json::String(s),
            Value::Array(items) => Json::Array(items.into_iter().map(from_serde).collect()),
            Value::Object(members) => Json::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, from_serde(v)))
                    .collect(),
            ),
        }
    }
    serde_json::from_str(text).ok().map(from_serde)
}

/// A type the browser reads from JSON: the inverse of its `Serialize`.
pub trait FromJson: Sized {
    fn from_json(json: &Json) -> Option<Self>;
}

/// Why an answer could not be read (shown to nobody: it becomes [`crate::model::AppError::Transport`]).
#[derive(Debug)]
pub struct Unreadable;

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the answer is not what was expected")
    }
}

/// The server functions' output encoding (see the module's documentation).
pub struct AppJson;

impl ContentType for AppJson {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for AppJson {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for AppJson {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: FromJson> Decodes<T> for AppJson {
    type Error = Unreadable;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(|_| Unreadable)?;
        Json::parse(text)
            .as_ref()
            .and_then(T::from_json)
            .ok_or(Unreadable)
    }
}

use crate::model::{AppError, CallTicket, Me, Role};

/// `null`, as serde writes `()`.
impl FromJson for () {
    fn from_json(json: &Json) -> Option<()> {
        (*json == Json::Null).then_some(())
    }
}

impl FromJson for Role {
    fn from_json(json: &Json) -> Option<Role> {
        Role::from_wire(json.as_str()?)
    }
}

impl FromJson for Me {
    fn from_json(json: &Json) -> Option<Me> {
        Some(Me {
            user: json.string("user")?,
            role: Role::from_json(json.get("role")?)?,
        })
    }
}

impl FromJson for CallTicket {
    fn from_json(json: &Json) -> Option<CallTicket> {
        Some(CallTicket {
            call: json.string("call")?,
            token: json.string("token")?,
            connection_id: json.string("connection_id")?,
            role: Role::from_json(json.get("role")?)?,
        })
    }
}

/// serde's default enum form: a variant without data is its name, one with data an object with the
/// name as its only member.
impl FromJson for AppError {
    fn from_json(json: &Json) -> Option<AppError> {
        if let Some(name) = json.as_str() {
            return Some(match name {
                "BadCredentials" => AppError::BadCredentials,
                "NotLoggedIn" => AppError::NotLoggedIn,
                "Forbidden" => AppError::Forbidden,
                "CrossSite" => AppError::CrossSite,
                "InvalidCallName" => AppError::InvalidCallName,
                "BadRequest" => AppError::BadRequest,
                "MediaServerUnavailable" => AppError::MediaServerUnavailable,
                "MediaServerFull" => AppError::MediaServerFull,
                "Internal" => AppError::Internal,
                _ => return None,
            });
        }
        let (name, data) = json.only_member()?;
        let retry_after_secs = || data.get("retry_after_secs")?.as_u64();
        Some(match name {
            "Throttled" => AppError::Throttled {
                retry_after_secs: retry_after_secs()?,
            },
            "TooManyRequests" => AppError::TooManyRequests {
                retry_after_secs: retry_after_secs()?,
            },
            "Transport" => AppError::Transport(data.as_str()?.to_owned()),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `T` reads back from the JSON its `Serialize` writes.
    fn round_trip<T: Serialize + FromJson>(value: &T) -> Option<T> {
        let bytes = <AppJson as Encodes<T>>::encode(value).unwrap();
        <AppJson as Decodes<T>>::decode(bytes).ok()
    }

    #[test]
    fn every_answer_reads_back_what_the_server_wrote() {
        for role in [Role::Publisher, Role::Subscriber, Role::Moderator] {
            let me = Me {
                user: "publisher1".into(),
                role,
            };
            assert_eq!(round_trip(&me), Some(me));
        }
        let ticket = CallTicket {
            call: "daily-standup".into(),
            token: "ws://127.0.0.1:4443?sessionId=daily-standup&token=tok_x".into(),
            connection_id: "con_x".into(),
            role: Role::Moderator,
        };
        assert!(round_trip(&ticket) == Some(ticket));
        assert_eq!(round_trip(&()), Some(()));
        let errors = [
            AppError::BadCredentials,
            AppError::Throttled {
                retry_after_secs: 30,
            },
            AppError::TooManyRequests {
                retry_after_secs: 61,
            },
            AppError::NotLoggedIn,
            AppError::Forbidden,
            AppError::CrossSite,
            AppError::InvalidCallName,
            AppError::BadRequest,
            AppError::MediaServerUnavailable,
            AppError::MediaServerFull,
            AppError::Internal,
            AppError::Transport("TypeError: Failed to fetch".into()),
        ];
        for error in errors {
            assert_eq!(round_trip(&error), Some(error));
        }
    }

    #[test]
    fn json_nested_past_the_limit_is_refused_not_recursed_into() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(Json::parse(&nested(MAX_DEPTH - 1)).is_some());
        assert_eq!(Json::parse(&nested(20_000)), None);
        // As connection data from a modified client: no nickname, and nothing else breaks.
        let data = format!("{}%/%{{\"serverData\":\"u\"}}", nested(20_000));
        let (nickname, server) = crate::model::parse_connection_data(&data);
        assert_eq!((nickname.as_str(), server.user.as_str()), ("", "u"));
    }

    #[test]
    fn answers_of_another_shape_are_unreadable() {
        let read = |text: &str| {
            <AppJson as Decodes<Me>>::decode(Bytes::from(text.to_owned().into_bytes())).ok()
        };
        assert_eq!(read(r#"{"user":"u"}"#), None);
        assert_eq!(read(r#"{"user":"u","role":"ADMIN"}"#), None);
        assert_eq!(read(r#"{"user":1,"role":"PUBLISHER"}"#), None);
        assert_eq!(read("<html>"), None);
        assert_eq!(read(""), None);
        let error = |text: &str| {
            <AppJson as Decodes<AppError>>::decode(Bytes::from(text.to_owned().into_bytes())).ok()
        };
        assert_eq!(error(r#""Unheard""#), None);
        assert_eq!(error(r#"{"Throttled":{"retry_after_secs":-1}}"#), None);
        assert_eq!(error(r#"{"Throttled":{"retry_after_secs":1.5}}"#), None);
        assert_eq!(error(r#"{"Transport":"x","Internal":null}"#), None);
        assert_eq!(
            <AppJson as Decodes<()>>::decode(Bytes::from_static(b"1")).ok(),
            None
        );
    }
}
