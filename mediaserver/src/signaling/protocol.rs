//! The JSON-RPC 2.0 messages of openvidu-browser, typed. A frame is parsed once, here, where it
//! arrives; whatever does not parse becomes an error reply, never a panic. What the server sends
//! (notifications, and the participants and streams in them) is typed here too.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The id of a request: the browser sends integers; strings are accepted too.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcId {
    Num(i64),
    Str(String),
}

impl RpcId {
    fn to_json(&self) -> Value {
        match self {
            RpcId::Num(n) => json!(n),
            RpcId::Str(s) => json!(s),
        }
    }
}

/// A request the browser sends, by method.
#[derive(Debug)]
pub enum Request {
    Ping(PingParams),
    JoinRoom(JoinRoomParams),
    PublishVideo(PublishVideoParams),
    UnpublishVideo,
    PrepareReceiveVideoFrom(PrepareReceiveParams),
    ReceiveVideoFrom(ReceiveVideoFromParams),
    UnsubscribeFromVideo(SenderParams),
    OnIceCandidate(IceCandidateParams),
    LeaveRoom,
    SendMessage(SendMessageParams),
    StreamPropertyChanged(StreamPropertyParams),
    VideoData(VideoDataParams),
    Echo,
    Connect(ConnectParams),
    ReconnectStream(ReconnectStreamParams),
    ForceDisconnect(ForceDisconnectParams),
    ForceUnpublish(ForceUnpublishParams),
}

impl Request {
    /// The JSON-RPC method name, for logs.
    pub fn method(&self) -> &'static str {
        match self {
            Request::Ping(_) => "ping",
            Request::JoinRoom(_) => "joinRoom",
            Request::PublishVideo(_) => "publishVideo",
            Request::UnpublishVideo => "unpublishVideo",
            Request::PrepareReceiveVideoFrom(_) => "prepareReceiveVideoFrom",
            Request::ReceiveVideoFrom(_) => "receiveVideoFrom",
            Request::UnsubscribeFromVideo(_) => "unsubscribeFromVideo",
            Request::OnIceCandidate(_) => "onIceCandidate",
            Request::LeaveRoom => "leaveRoom",
            Request::SendMessage(_) => "sendMessage",
            Request::StreamPropertyChanged(_) => "streamPropertyChanged",
            Request::VideoData(_) => "videoData",
            Request::Echo => "echo",
            Request::Connect(_) => "connect",
            Request::ReconnectStream(_) => "reconnectStream",
            Request::ForceDisconnect(_) => "forceDisconnect",
            Request::ForceUnpublish(_) => "forceUnpublish",
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct PingParams {
    pub interval: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct JoinRoomParams {
    pub token: String,
    pub session: String,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default, rename = "sdkVersion")]
    pub sdk_version: Option<String>,
    #[serde(default)]
    pub metadata: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishVideoParams {
    pub sdp_offer: String,
    #[serde(default)]
    pub has_audio: Option<bool>,
    #[serde(default)]
    pub has_video: Option<bool>,
    #[serde(default)]
    pub audio_active: Option<bool>,
    #[serde(default)]
    pub video_active: Option<bool>,
    #[serde(default)]
    pub type_of_video: Option<String>,
    #[serde(default)]
    pub frame_rate: Option<f64>,
    #[serde(default)]
    pub video_dimensions: Option<String>,
    #[serde(default)]
    pub filter: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct PrepareReceiveParams {
    /// The remote stream id.
    pub sender: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiveVideoFromParams {
    /// The remote stream id.
    pub sender: String,
    #[serde(default)]
    pub sdp_offer: Option<String>,
    #[serde(default)]
    pub sdp_answer: Option<String>,
}

/// `unsubscribeFromVideo` names the publisher's *connection* id.
#[derive(Debug, Deserialize)]
pub struct SenderParams {
    pub sender: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidateParams {
    pub endpoint_name: String,
    pub candidate: String,
}

#[derive(Debug, Deserialize)]
pub struct SendMessageParams {
    /// A JSON string: `{"to":[...],"data":"...","type":"signal:x"}`.
    pub message: String,
}

/// The inside of `sendMessage.message`.
#[derive(Debug, Deserialize)]
pub struct SignalMessage {
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// The largest `data` of a signal (`sendMessage`, REST `/signal`): chat lines and small app state,
/// not files.
pub const MAX_SIGNAL_DATA: usize = 8 * 1024;
/// Longest signal `type` (openvidu-browser prefixes the app's type with `signal:`).
pub const MAX_SIGNAL_TYPE: usize = 128;
/// Most recipients one signal may name.
pub const MAX_SIGNAL_TARGETS: usize = 1000;

impl SignalMessage {
    /// The size limits of a signal, as a message for the sender.
    pub fn check(&self) -> Result<(), &'static str> {
        check_signal(&self.to, self.kind.as_deref(), self.data.as_deref())
    }
}

/// The size limits of a signal, shared by JSON-RPC and REST.
pub fn check_signal(
    to: &[String],
    kind: Option<&str>,
    data: Option<&str>,
) -> Result<(), &'static str> {
    if data.is_some_and(|d| d.len() > MAX_SIGNAL_DATA) {
        return Err("Signal data is over 8 KiB");
    }
    if kind.is_some_and(|k| k.len() > MAX_SIGNAL_TYPE) {
        return Err("Signal type is over 128 bytes");
    }
    if to.len() > MAX_SIGNAL_TARGETS {
        return Err("Signal has too many recipients");
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamPropertyParams {
    pub stream_id: String,
    pub property: String,
    pub new_value: Value,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoDataParams {
    #[serde(default)]
    pub height: Option<f64>,
    #[serde(default)]
    pub width: Option<f64>,
    #[serde(default)]
    pub video_active: Option<bool>,
    #[serde(default)]
    pub audio_active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectParams {
    pub session_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconnectStreamParams {
    pub stream: String,
    #[serde(default)]
    pub sdp_string: Option<String>,
    #[serde(default)]
    pub sdp_offer: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForceDisconnectParams {
    pub connection_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForceUnpublishParams {
    pub stream_id: String,
}

/// The kind of an error reply. Codes follow the reference server (`ProtocolElements` and
/// kurento-jsonrpc) where the browser or apps may look at them: the browser maps 401 to
/// `OPENVIDU_PERMISSION_DENIED` and logs 40007 on a failed reconnection specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcCode {
    /// JSON-RPC: the frame is not a JSON object.
    ParseError,
    /// JSON-RPC: no usable `method` or `id`.
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    /// USER_UNAUTHORIZED: a bad token, or a role that may not do this.
    Unauthorized,
    /// USER_NOT_FOUND: no such participant.
    UserNotFound,
    /// USER_NOT_STREAMING: no such stream, or the caller does not publish.
    NotStreaming,
    /// USER_ALREADY_STREAMING.
    AlreadyStreaming,
    /// ROOM_NOT_FOUND.
    SessionNotFound,
    /// MEDIA_SDP_ERROR: the SDP could not be negotiated.
    SdpError,
    /// SIGNAL_FORMAT_INVALID.
    SignalFormatInvalid,
    /// SIGNAL_TO_INVALID: a recipient is not in the session.
    SignalToInvalid,
    /// TRANSPORT_ERROR: a request before `joinRoom`.
    NotJoined,
    /// GENERIC_ERROR.
    Generic,
    /// kurento-jsonrpc's answer to a `connect` it cannot honour.
    ReconnectionError,
}

impl RpcCode {
    /// The number on the wire; the only place that knows it.
    pub fn code(self) -> i64 {
        match self {
            RpcCode::ParseError => -32700,
            RpcCode::InvalidRequest => -32600,
            RpcCode::MethodNotFound => -32601,
            RpcCode::InvalidParams => -32602,
            RpcCode::Unauthorized => 401,
            RpcCode::UserNotFound => 102,
            RpcCode::NotStreaming => 105,
            RpcCode::AlreadyStreaming => 106,
            RpcCode::SessionNotFound => 202,
            RpcCode::SdpError => 302,
            RpcCode::SignalFormatInvalid => 600,
            RpcCode::SignalToInvalid => 601,
            RpcCode::NotJoined => 803,
            RpcCode::Generic => 999,
            RpcCode::ReconnectionError => 40007,
        }
    }
}

/// An error reply: its kind and a message for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: RpcCode,
    pub message: String,
}

impl RpcError {
    pub fn new(code: RpcCode, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid_params(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(RpcCode::InvalidParams, format!("Invalid params: {detail}"))
    }
    /// The browser maps 401 to `OPENVIDU_PERMISSION_DENIED`.
    pub fn unauthorized(message: impl Into<String>) -> RpcError {
        RpcError::new(RpcCode::Unauthorized, message)
    }
    pub fn not_joined() -> RpcError {
        RpcError::new(
            RpcCode::NotJoined,
            "The socket has not joined a session: call joinRoom first",
        )
    }
    /// What a `connect` that cannot be honoured gets, whatever the cause (kurento-jsonrpc's words).
    pub fn reconnection_error() -> RpcError {
        RpcError::new(RpcCode::ReconnectionError, "reconnection error")
    }
}

/// What one incoming text frame turned out to be.
#[derive(Debug)]
pub enum Incoming {
    Request {
        id: RpcId,
        request: Request,
    },
    /// Unparseable or invalid; `id` is set when the frame had a usable one, so it can be answered.
    Invalid {
        id: Option<RpcId>,
        error: RpcError,
    },
    /// A response or notification from the browser: the browser never sends them, ignore.
    Ignored,
}

fn parse_id(v: Option<&Value>) -> Option<RpcId> {
    match v? {
        Value::Number(n) => n.as_i64().map(RpcId::Num),
        Value::String(s) if s.len() <= 64 => Some(RpcId::Str(s.clone())),
        _ => None,
    }
}

fn params<T: for<'de> Deserialize<'de>>(p: Value) -> Result<T, RpcError> {
    serde_json::from_value(p).map_err(RpcError::invalid_params)
}

/// Parses one text frame.
pub fn parse(text: &str) -> Incoming {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(text) else {
        return Incoming::Invalid {
            id: None,
            error: RpcError::new(RpcCode::ParseError, "Parse error: not a JSON object"),
        };
    };
    let id = parse_id(obj.get("id"));
    let invalid = |id: Option<RpcId>, why: &str| Incoming::Invalid {
        id,
        error: RpcError::new(RpcCode::InvalidRequest, format!("Invalid Request: {why}")),
    };
    let method = match obj.get("method") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => return invalid(id, "'method' must be a string"),
        // A response (the browser sends none) needs no answer; anything else is a malformed request.
        None if obj.contains_key("result") || obj.contains_key("error") => {
            return Incoming::Ignored;
        }
        None => return invalid(id, "'method' is missing"),
    };
    let id = match (obj.get("id"), id) {
        (_, Some(id)) => id,
        // A notification from the browser; it sends none, and there is nobody to answer.
        (None | Some(Value::Null), None) => return Incoming::Ignored,
        (Some(_), None) => return invalid(None, "'id' must be an integer or a short string"),
    };
    let p = match obj.remove("params") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Incoming::Invalid {
                id: Some(id),
                error: RpcError::invalid_params("params must be an object"),
            };
        }
    };
    let request = match method.as_str() {
        "ping" => params(p).map(Request::Ping),
        "joinRoom" => params(p).map(Request::JoinRoom),
        "publishVideo" => params(p).map(Request::PublishVideo),
        "unpublishVideo" => Ok(Request::UnpublishVideo),
        "prepareReceiveVideoFrom" => params(p).map(Request::PrepareReceiveVideoFrom),
        "receiveVideoFrom" => params(p).map(Request::ReceiveVideoFrom),
        "unsubscribeFromVideo" => params(p).map(Request::UnsubscribeFromVideo),
        "onIceCandidate" => params(p).map(Request::OnIceCandidate),
        "leaveRoom" => Ok(Request::LeaveRoom),
        "sendMessage" => params(p).map(Request::SendMessage),
        "streamPropertyChanged" => params(p).map(Request::StreamPropertyChanged),
        "videoData" => params(p).map(Request::VideoData),
        "echo" => Ok(Request::Echo),
        "connect" => params(p).map(Request::Connect),
        "reconnectStream" => params(p).map(Request::ReconnectStream),
        "forceDisconnect" => params(p).map(Request::ForceDisconnect),
        "forceUnpublish" => params(p).map(Request::ForceUnpublish),
        _ => Err(RpcError::new(RpcCode::MethodNotFound, "Method not found")),
    };
    match request {
        Ok(request) => Incoming::Request { id, request },
        Err(error) => Incoming::Invalid {
            id: Some(id),
            error,
        },
    }
}

/// `{"id":…,"result":…,"jsonrpc":"2.0"}`: exactly one of result/error, as the browser insists.
pub fn result(id: &RpcId, result: Value) -> String {
    json!({ "id": id.to_json(), "result": result, "jsonrpc": "2.0" }).to_string()
}

pub fn error(id: Option<&RpcId>, error: &RpcError) -> String {
    let id = id.map(RpcId::to_json).unwrap_or(Value::Null);
    json!({ "id": id, "error": { "code": error.code.code(), "message": error.message }, "jsonrpc": "2.0" })
        .to_string()
}

/// A notification to a browser, by method, with its params as openvidu-browser reads them
/// (OPENVIDU-PROTOCOL.md B.4).
#[derive(Debug, Serialize)]
#[serde(tag = "method", content = "params", rename_all = "camelCase")]
pub enum Notification {
    ParticipantJoined(RemoteParticipant),
    /// The participant with its new stream in `streams`.
    ParticipantPublished(RemoteParticipant),
    ParticipantUnpublished(ParticipantReason),
    ParticipantLeft(ParticipantReason),
    /// To everyone, the evicted one included (it learns why before its socket closes).
    ParticipantEvicted(ParticipantReason),
    SendMessage(SignalNotice),
    StreamPropertyChanged(StreamPropertyNotice),
}

/// A participant as the others' browsers read it (`joinRoom.value[]`, `participantJoined`,
/// `participantPublished`): no role, and `streams` only while it publishes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteParticipant {
    pub id: String,
    pub created_at: u64,
    /// `clientData%/%serverData`.
    pub metadata: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<RemoteStream>>,
}

/// A published stream as subscribers' browsers read it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStream {
    pub id: String,
    pub created_at: u64,
    pub has_audio: bool,
    pub has_video: bool,
    pub audio_active: bool,
    pub video_active: bool,
    /// `null` for audio only.
    pub type_of_video: Option<String>,
    /// `-1` when the publisher did not set one.
    pub frame_rate: f64,
    /// The JSON text `{"width":…,"height":…}`, or `null`.
    pub video_dimensions: Option<String>,
    pub filter: Value,
}

/// Who left or unpublished, and why (one of the reasons the browser knows).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantReason {
    pub connection_id: String,
    pub reason: &'static str,
}

/// A signal. `from` is absent for one sent over REST, which the browser shows as coming from the
/// server; so is `type` when REST gave none.
#[derive(Debug, Clone, Serialize)]
pub struct SignalNotice {
    pub data: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A publisher's change of a stream property; `newValue` is the value's JSON text, which the
/// browser decodes (B.7).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamPropertyNotice {
    pub connection_id: String,
    pub stream_id: String,
    pub property: String,
    pub new_value: String,
    pub reason: String,
}

/// `{"method":…,"params":…,"jsonrpc":"2.0"}`, no id: the browser dispatches it by method.
pub fn notification(notification: &Notification) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        #[serde(flatten)]
        notification: &'a Notification,
        jsonrpc: &'static str,
    }
    serde_json::to_string(&Frame {
        notification,
        jsonrpc: "2.0",
    })
    .expect("a notification always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_ping_and_later_pings() {
        let first = parse(r#"{"id":0,"method":"ping","params":{"interval":5000},"jsonrpc":"2.0"}"#);
        assert!(matches!(
            first,
            Incoming::Request {
                id: RpcId::Num(0),
                request: Request::Ping(PingParams {
                    interval: Some(5000)
                })
            }
        ));
        let later = parse(r#"{"id":7,"method":"ping","jsonrpc":"2.0"}"#);
        assert!(matches!(
            later,
            Incoming::Request {
                request: Request::Ping(PingParams { interval: None }),
                ..
            }
        ));
    }

    #[test]
    fn bad_frames_become_errors_with_the_id_when_there_is_one() {
        assert!(matches!(
            parse("not json"),
            Incoming::Invalid { id: None, .. }
        ));
        assert!(matches!(parse("[1,2]"), Incoming::Invalid { id: None, .. }));
        match parse(r#"{"id":3,"method":"joinRoom","params":{"token":5}}"#) {
            Incoming::Invalid {
                id: Some(RpcId::Num(3)),
                error,
            } => assert_eq!(error.code, RpcCode::InvalidParams),
            other => panic!("unexpected {other:?}"),
        }
        match parse(r#"{"id":4,"method":"noSuchMethod","params":{}}"#) {
            Incoming::Invalid { error, .. } => assert_eq!(error.code, RpcCode::MethodNotFound),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse(r#"{"id":4,"result":{}}"#),
            Incoming::Ignored
        ));
        assert!(matches!(parse(r#"{"method":"ping"}"#), Incoming::Ignored));
        for (frame, id) in [
            (r#"{"id":1.5,"method":"ping"}"#, None),
            (r#"{"id":9}"#, Some(RpcId::Num(9))),
            (r#"{"id":10,"method":5}"#, Some(RpcId::Num(10))),
        ] {
            match parse(frame) {
                Incoming::Invalid { id: got, error } => {
                    assert!(
                        got == id && error.code == RpcCode::InvalidRequest,
                        "{frame}"
                    )
                }
                other => panic!("{frame}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn replies_carry_exactly_one_of_result_and_error() {
        let r: Value = serde_json::from_str(&result(&RpcId::Num(1), json!({}))).unwrap();
        assert!(r.get("error").is_none() && r["jsonrpc"] == "2.0");
        let e: Value =
            serde_json::from_str(&error(Some(&RpcId::Num(1)), &RpcError::not_joined())).unwrap();
        assert!(e.get("result").is_none() && e["error"]["code"] == 803);
    }

    #[test]
    fn notifications_are_tagged_by_method() {
        let n = notification(&Notification::ParticipantLeft(ParticipantReason {
            connection_id: "con_A".into(),
            reason: "disconnect",
        }));
        let v: Value = serde_json::from_str(&n).unwrap();
        assert_eq!(
            v,
            json!({ "jsonrpc": "2.0", "method": "participantLeft",
                    "params": { "connectionId": "con_A", "reason": "disconnect" } })
        );
        let rest_signal = notification(&Notification::SendMessage(SignalNotice {
            data: "hi".into(),
            kind: None,
            from: None,
        }));
        let v: Value = serde_json::from_str(&rest_signal).unwrap();
        assert_eq!(v["params"], json!({ "data": "hi" }));
        assert_eq!(v["method"], "sendMessage");
        let property = notification(&Notification::StreamPropertyChanged(StreamPropertyNotice {
            connection_id: "con_A".into(),
            stream_id: "str_CAM_X_con_A".into(),
            property: "videoActive".into(),
            new_value: "false".into(),
            reason: String::new(),
        }));
        let v: Value = serde_json::from_str(&property).unwrap();
        assert_eq!(
            v["params"],
            json!({ "connectionId": "con_A", "streamId": "str_CAM_X_con_A",
                    "property": "videoActive", "newValue": "false", "reason": "" })
        );
    }
}
