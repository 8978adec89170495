//! The REST objects (Session, Connection, Token) as openvidu-node-client reads them, field by field
//! (OPENVIDU-PROTOCOL.md C.4): which fields are `null`, and which are left out, follow the reference
//! server. The hub's state builds them (`model.rs`); nothing here holds state.

use serde::Serialize;
use serde_json::Value;

use super::model::{ForcedVideoCodec, MediaMode, RecordingMode, Role};

/// A list, as every REST list is written.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub number_of_elements: usize,
    pub content: Vec<T>,
}

impl<T> Page<T> {
    pub fn new(content: Vec<T>) -> Page<T> {
        Page {
            number_of_elements: content.len(),
            content,
        }
    }
}

/// C.4.1. Both `id` and the deprecated `sessionId`: the node client reads one or the other.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionJson {
    pub id: String,
    /// `"session"`.
    pub object: &'static str,
    pub session_id: String,
    pub created_at: u64,
    pub recording: bool,
    /// 2.32's field; always false without broadcasting.
    pub broadcasting: bool,
    pub media_mode: MediaMode,
    pub recording_mode: RecordingMode,
    pub custom_session_id: String,
    pub default_recording_properties: Value,
    pub forced_video_codec: ForcedVideoCodec,
    /// 2.22's field, which openvidu-node-client 2.22 reads.
    pub forced_video_codec_resolved: ForcedVideoCodec,
    pub allow_transcoding: bool,
    pub connections: Page<ConnectionJson>,
}

/// `pending` until its token is used in `joinRoom`.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionStatus {
    Pending,
    Active,
}

/// C.4.2. A pending connection has `null` for what only joining tells (`activeAt`, `ip`, ...,
/// `publishers`, `subscribers`); the IPCAM fields are always `null` (WEBRTC only).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionJson {
    pub id: String,
    /// `"connection"`.
    pub object: &'static str,
    /// `"WEBRTC"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: ConnectionStatus,
    pub connection_id: String,
    pub session_id: String,
    pub created_at: u64,
    pub active_at: Option<u64>,
    /// `"unknown"` once active (geolocation is Pro).
    pub location: Option<&'static str>,
    pub ip: Option<String>,
    pub platform: Option<String>,
    pub token: String,
    pub server_data: String,
    pub client_data: Option<String>,
    pub record: bool,
    pub role: Role,
    pub kurento_options: Value,
    pub custom_ice_servers: Vec<Value>,
    pub rtsp_uri: Option<String>,
    pub adaptative_bitrate: Option<bool>,
    pub only_play_with_subscribers: Option<bool>,
    pub network_cache: Option<u64>,
    pub publishers: Option<Vec<PublisherJson>>,
    pub subscribers: Option<Vec<SubscriberJson>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublisherJson {
    pub created_at: u64,
    pub stream_id: String,
    /// The node client requires it.
    pub media_options: MediaOptionsJson,
}

/// `mediaOptions`: the reference server leaves out `audioActive` without audio and the video
/// fields without video (S32 `MediaOptions#toJson`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaOptionsJson {
    pub has_audio: bool,
    pub has_video: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_active: Option<bool>,
    #[serde(flatten)]
    pub video: Option<VideoOptionsJson>,
    pub filter: Value,
}

/// The video half of `mediaOptions`, present only with video.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoOptionsJson {
    pub video_active: bool,
    pub type_of_video: Option<String>,
    /// `-1` when the publisher did not set one.
    pub frame_rate: f64,
    pub video_dimensions: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberJson {
    pub created_at: u64,
    pub stream_id: String,
}

/// C.4.4, the deprecated `POST /openvidu/api/tokens`; the node client reads only `token`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenJson {
    /// The token again, as the reference server writes it.
    pub id: String,
    /// `"token"`.
    pub object: &'static str,
    pub token: String,
    pub connection_id: String,
    pub created_at: u64,
    pub session: String,
    pub role: Role,
    /// The connection's server data.
    pub data: String,
    /// Only when set.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub kurento_options: Value,
}
