//! Sessions, connections and streams as signaling sees them, and how each is written out: the REST
//! objects (`super::objects`) and what the browser reads (`crate::signaling::protocol`).

use std::time::Instant;

use serde_json::Value;

use super::objects::{
    ConnectionJson, ConnectionStatus, MediaOptionsJson, Page, PublisherJson, SessionJson,
    SubscriberJson, VideoOptionsJson,
};
use super::socket::SocketLink;
use crate::sfu::{PeerId, VideoCodec};
use crate::signaling::protocol::{RemoteParticipant, RemoteStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Subscriber,
    Publisher,
    Moderator,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "SUBSCRIBER" => Some(Role::Subscriber),
            "PUBLISHER" => Some(Role::Publisher),
            "MODERATOR" => Some(Role::Moderator),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Subscriber => "SUBSCRIBER",
            Role::Publisher => "PUBLISHER",
            Role::Moderator => "MODERATOR",
        }
    }
    pub fn can_publish(self) -> bool {
        self != Role::Subscriber
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a participant left or a stream ended: the closed list of reasons the browser knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Disconnect,
    NetworkDisconnect,
    ForceDisconnectByUser,
    ForceDisconnectByServer,
    SessionClosedByServer,
    OpenviduServerStopped,
    Unpublish,
    ForceUnpublishByUser,
    ForceUnpublishByServer,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Disconnect => "disconnect",
            Reason::NetworkDisconnect => "networkDisconnect",
            Reason::ForceDisconnectByUser => "forceDisconnectByUser",
            Reason::ForceDisconnectByServer => "forceDisconnectByServer",
            Reason::SessionClosedByServer => "sessionClosedByServer",
            Reason::OpenviduServerStopped => "openviduServerStopped",
            Reason::Unpublish => "unpublish",
            Reason::ForceUnpublishByUser => "forceUnpublishByUser",
            Reason::ForceUnpublishByServer => "forceUnpublishByServer",
        }
    }
    /// Whether the participant is told it was thrown out (`participantEvicted`).
    pub fn is_eviction(self) -> bool {
        matches!(
            self,
            Reason::ForceDisconnectByUser
                | Reason::ForceDisconnectByServer
                | Reason::SessionClosedByServer
                | Reason::OpenviduServerStopped
        )
    }
}

#[derive(Debug, Clone)]
pub struct MediaOptions {
    pub has_audio: bool,
    pub has_video: bool,
    pub audio_active: bool,
    pub video_active: bool,
    pub type_of_video: Option<String>,
    pub frame_rate: Option<f64>,
    pub video_dimensions: Option<String>,
    pub filter: Value,
}

impl MediaOptions {
    /// REST `mediaOptions`: the reference server leaves out what does not apply.
    fn to_rest(&self) -> MediaOptionsJson {
        MediaOptionsJson {
            has_audio: self.has_audio,
            has_video: self.has_video,
            audio_active: self.has_audio.then_some(self.audio_active),
            video: self.has_video.then(|| VideoOptionsJson {
                video_active: self.video_active,
                type_of_video: self.type_of_video.clone(),
                frame_rate: self.frame_rate.unwrap_or(-1.0),
                video_dimensions: self.video_dimensions.clone(),
            }),
            filter: self.filter.clone(),
        }
    }
}

#[derive(Debug)]
pub struct Publisher {
    pub stream_id: String,
    pub peer: PeerId,
    /// ICE candidates the browser trickled for this peer.
    pub candidates: usize,
    pub created_at: u64,
    pub media: MediaOptions,
}

impl Publisher {
    /// The stream as the browser reads it in `joinRoom.value[].streams` and `participantPublished`.
    pub fn to_rpc(&self) -> RemoteStream {
        let m = &self.media;
        RemoteStream {
            id: self.stream_id.clone(),
            created_at: self.created_at,
            has_audio: m.has_audio,
            has_video: m.has_video,
            audio_active: m.audio_active,
            video_active: m.video_active,
            type_of_video: m.type_of_video.clone(),
            frame_rate: m.frame_rate.unwrap_or(-1.0),
            video_dimensions: m.video_dimensions.clone(),
            filter: m.filter.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionState {
    /// The server sent its offer (`prepareReceiveVideoFrom`); the browser's answer is due.
    Offered,
    Active,
}

#[derive(Debug)]
pub struct Subscription {
    pub stream_id: String,
    pub publisher: String,
    pub peer: PeerId,
    /// ICE candidates the browser trickled for this peer.
    pub candidates: usize,
    pub created_at: u64,
    pub state: SubscriptionState,
}

/// Where a joined participant's browser is. With [`Connection::participant`] this is the whole
/// lifecycle: a connection is pending (no participant) until `joinRoom`, then `Online`; a lost socket
/// makes it `Lost` until it reconnects (`Online` again) or the grace runs out; leaving or being
/// evicted removes the connection.
#[derive(Debug)]
pub enum Presence {
    Online {
        socket: SocketId,
        link: SocketLink,
    },
    /// The socket went away without `leaveRoom`: evicted at this instant unless it reconnects.
    Lost {
        evict_at: Instant,
    },
}

/// A connection that has joined.
#[derive(Debug)]
pub struct Participant {
    pub presence: Presence,
    pub rpc_session: String,
    pub active_at: u64,
    pub ip: String,
    pub platform: String,
    pub client_data: String,
    pub publisher: Option<Publisher>,
    pub subscriptions: Vec<Subscription>,
}

impl Participant {
    /// The socket task to write to, while online.
    pub fn link(&self) -> Option<&SocketLink> {
        match &self.presence {
            Presence::Online { link, .. } => Some(link),
            Presence::Lost { .. } => None,
        }
    }

    pub fn socket(&self) -> Option<SocketId> {
        match &self.presence {
            Presence::Online { socket, .. } => Some(*socket),
            Presence::Lost { .. } => None,
        }
    }

    pub fn evict_at(&self) -> Option<Instant> {
        match &self.presence {
            Presence::Online { .. } => None,
            Presence::Lost { evict_at } => Some(*evict_at),
        }
    }

    /// Removes the subscriptions `which` selects; returns their peers, for the SFU to close.
    pub fn remove_subscriptions(&mut self, which: impl Fn(&Subscription) -> bool) -> Vec<PeerId> {
        let mut removed = Vec::new();
        self.subscriptions.retain(|s| {
            if which(s) {
                removed.push(s.peer);
                false
            } else {
                true
            }
        });
        removed
    }
}

#[derive(Debug)]
pub struct Connection {
    pub id: String,
    pub token: String,
    pub role: Role,
    pub server_data: String,
    pub record: bool,
    pub kurento_options: Value,
    pub custom_ice_servers: Vec<Value>,
    pub created_at: u64,
    /// When it was created, for the pending-connection TTL.
    pub created: Instant,
    /// `None` while pending (token not used yet).
    pub participant: Option<Participant>,
}

impl Connection {
    /// `clientData` and `serverData` joined by `%/%`, the reference server's full metadata.
    pub fn full_metadata(&self) -> String {
        let client = self
            .participant
            .as_ref()
            .map(|p| p.client_data.as_str())
            .unwrap_or("");
        match (client.is_empty(), self.server_data.is_empty()) {
            (false, false) => format!("{client}%/%{}", self.server_data),
            (false, true) => client.to_owned(),
            _ => self.server_data.clone(),
        }
    }

    /// A remote participant as the browser reads it (`value[]`, `participantJoined`): no `role`.
    pub fn to_rpc(&self) -> RemoteParticipant {
        RemoteParticipant {
            id: self.id.clone(),
            created_at: self
                .participant
                .as_ref()
                .map(|p| p.active_at)
                .unwrap_or(self.created_at),
            metadata: self.full_metadata(),
            streams: self
                .participant
                .as_ref()
                .and_then(|p| p.publisher.as_ref())
                .map(|p| vec![p.to_rpc()]),
        }
    }

    pub fn to_rest(&self, session_id: &str) -> ConnectionJson {
        let p = self.participant.as_ref();
        ConnectionJson {
            id: self.id.clone(),
            object: "connection",
            kind: "WEBRTC",
            status: match p {
                Some(_) => ConnectionStatus::Active,
                None => ConnectionStatus::Pending,
            },
            connection_id: self.id.clone(),
            session_id: session_id.to_owned(),
            created_at: self.created_at,
            active_at: p.map(|p| p.active_at),
            location: p.map(|_| "unknown"),
            ip: p.map(|p| p.ip.clone()),
            platform: p.map(|p| p.platform.clone()),
            token: self.token.clone(),
            server_data: self.server_data.clone(),
            client_data: p.map(|p| p.client_data.clone()),
            record: self.record,
            role: self.role,
            kurento_options: self.kurento_options.clone(),
            custom_ice_servers: self.custom_ice_servers.clone(),
            rtsp_uri: None,
            adaptative_bitrate: None,
            only_play_with_subscribers: None,
            network_cache: None,
            publishers: p.map(|p| {
                p.publisher
                    .iter()
                    .map(|pb| PublisherJson {
                        created_at: pb.created_at,
                        stream_id: pb.stream_id.clone(),
                        media_options: pb.media.to_rest(),
                    })
                    .collect()
            }),
            subscribers: p.map(|p| {
                p.subscriptions
                    .iter()
                    .map(|s| SubscriberJson {
                        created_at: s.created_at,
                        stream_id: s.stream_id.clone(),
                    })
                    .collect()
            }),
        }
    }
}

/// An enum whose variants are the upper-case words of the OpenVidu API: one list of names, used to
/// parse a REST body and to write the JSON back.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// `mediaMode`. Every session is routed through the SFU; `RELAYED` is accepted and echoed, as the
    /// reference server does (it routes those too).
    MediaMode { Routed = "ROUTED", Relayed = "RELAYED" }
}

wire_enum! {
    /// `recordingMode`; recording is disabled here, so it is only echoed.
    RecordingMode { Manual = "MANUAL", Always = "ALWAYS" }
}

wire_enum! {
    /// `forcedVideoCodec`.
    ForcedVideoCodec {
        MediaServerPreferred = "MEDIA_SERVER_PREFERRED",
        None = "NONE",
        Vp8 = "VP8",
        Vp9 = "VP9",
        H264 = "H264",
    }
}

impl ForcedVideoCodec {
    /// `forcedVideoCodecResolved` (read by openvidu-node-client 2.22): what the media server's
    /// preference comes to.
    pub fn resolved(self) -> ForcedVideoCodec {
        match self {
            ForcedVideoCodec::MediaServerPreferred => ForcedVideoCodec::Vp8,
            other => other,
        }
    }

    /// The codec publishers must use; `MEDIA_SERVER_PREFERRED` and `NONE` leave the choice open.
    pub fn codec(self) -> Option<VideoCodec> {
        match self {
            ForcedVideoCodec::Vp8 => Some(VideoCodec::Vp8),
            ForcedVideoCodec::Vp9 => Some(VideoCodec::Vp9),
            ForcedVideoCodec::H264 => Some(VideoCodec::H264),
            ForcedVideoCodec::MediaServerPreferred | ForcedVideoCodec::None => None,
        }
    }
}

/// The session properties given at creation, echoed back in the Session JSON.
#[derive(Debug, Clone)]
pub struct SessionProperties {
    pub media_mode: MediaMode,
    pub recording_mode: RecordingMode,
    pub custom_session_id: String,
    pub forced_video_codec: ForcedVideoCodec,
    pub allow_transcoding: bool,
    pub default_recording_properties: Value,
}

#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub created_at: u64,
    pub created: Instant,
    pub properties: SessionProperties,
    /// In creation order.
    pub connections: Vec<Connection>,
    pub ever_joined: bool,
}

impl Session {
    pub fn connection(&self, id: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.id == id)
    }
    pub fn connection_mut(&mut self, id: &str) -> Option<&mut Connection> {
        self.connections.iter_mut().find(|c| c.id == id)
    }
    pub fn active(&self) -> impl Iterator<Item = &Connection> {
        self.connections.iter().filter(|c| c.participant.is_some())
    }
    /// The connection publishing `stream_id`.
    pub fn publisher_of(&self, stream_id: &str) -> Option<&Connection> {
        self.active().find(|c| {
            c.participant
                .as_ref()
                .and_then(|p| p.publisher.as_ref())
                .is_some_and(|p| p.stream_id == stream_id)
        })
    }

    pub fn connections_json(&self, include_pending: bool) -> Page<ConnectionJson> {
        Page::new(
            self.connections
                .iter()
                .filter(|c| include_pending || c.participant.is_some())
                .map(|c| c.to_rest(&self.id))
                .collect(),
        )
    }

    pub fn to_rest(&self, include_pending: bool) -> SessionJson {
        let p = &self.properties;
        SessionJson {
            id: self.id.clone(),
            object: "session",
            session_id: self.id.clone(),
            created_at: self.created_at,
            recording: false,
            broadcasting: false,
            media_mode: p.media_mode,
            recording_mode: p.recording_mode,
            custom_session_id: p.custom_session_id.clone(),
            default_recording_properties: p.default_recording_properties.clone(),
            forced_video_codec: p.forced_video_codec,
            forced_video_codec_resolved: p.forced_video_codec.resolved(),
            allow_transcoding: p.allow_transcoding,
            connections: self.connections_json(include_pending),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The JSON shapes, field by field and type by type, as openvidu-node-client and
    //! openvidu-browser read them (OPENVIDU-PROTOCOL.md C.4).

    use super::*;
    use serde_json::json;

    fn media(has_audio: bool, has_video: bool) -> MediaOptions {
        MediaOptions {
            has_audio,
            has_video,
            audio_active: false,
            video_active: true,
            type_of_video: has_video.then(|| "CAMERA".to_owned()),
            frame_rate: Some(30.0),
            video_dimensions: Some(r#"{"width":640,"height":480}"#.to_owned()),
            filter: json!({}),
        }
    }

    fn session() -> Session {
        let (link, _rx) = SocketLink::new();
        let pending = Connection {
            id: "con_P".into(),
            token: "wss://h?sessionId=ses_A&token=tok_P".into(),
            role: Role::Subscriber,
            server_data: String::new(),
            record: true,
            kurento_options: Value::Null,
            custom_ice_servers: Vec::new(),
            created_at: 100,
            created: Instant::now(),
            participant: None,
        };
        let active = Connection {
            id: "con_A".into(),
            token: "wss://h?sessionId=ses_A&token=tok_A".into(),
            role: Role::Publisher,
            server_data: "srv".into(),
            record: false,
            kurento_options: json!({ "allowedFilters": ["GStreamerFilter"] }),
            custom_ice_servers: vec![json!({ "url": "stun:x" })],
            created_at: 200,
            created: Instant::now(),
            participant: Some(Participant {
                presence: Presence::Online {
                    socket: SocketId(1),
                    link,
                },
                rpc_session: "RPC".into(),
                active_at: 300,
                ip: "1.2.3.4".into(),
                platform: "Chrome".into(),
                client_data: "cli".into(),
                publisher: Some(Publisher {
                    stream_id: "str_CAM_X_con_A".into(),
                    peer: PeerId::new(1, 1),
                    candidates: 0,
                    created_at: 400,
                    media: media(true, true),
                }),
                subscriptions: vec![Subscription {
                    stream_id: "str_MIC_Y_con_B".into(),
                    publisher: "con_B".into(),
                    peer: PeerId::new(1, 2),
                    candidates: 0,
                    created_at: 500,
                    state: SubscriptionState::Active,
                }],
            }),
        };
        Session {
            id: "ses_A".into(),
            created_at: 50,
            created: Instant::now(),
            properties: SessionProperties {
                media_mode: MediaMode::Routed,
                recording_mode: RecordingMode::Manual,
                custom_session_id: String::new(),
                forced_video_codec: ForcedVideoCodec::MediaServerPreferred,
                allow_transcoding: false,
                default_recording_properties: json!({ "name": "", "frameRate": 25 }),
            },
            connections: vec![pending, active],
            ever_joined: true,
        }
    }

    fn pending_json() -> Value {
        json!({
            "id": "con_P", "object": "connection", "type": "WEBRTC", "status": "pending",
            "connectionId": "con_P", "sessionId": "ses_A", "createdAt": 100, "activeAt": null,
            "location": null, "ip": null, "platform": null,
            "token": "wss://h?sessionId=ses_A&token=tok_P", "serverData": "", "clientData": null,
            "record": true, "role": "SUBSCRIBER", "kurentoOptions": null, "customIceServers": [],
            "rtspUri": null, "adaptativeBitrate": null, "onlyPlayWithSubscribers": null,
            "networkCache": null, "publishers": null, "subscribers": null,
        })
    }

    fn active_json() -> Value {
        json!({
            "id": "con_A", "object": "connection", "type": "WEBRTC", "status": "active",
            "connectionId": "con_A", "sessionId": "ses_A", "createdAt": 200, "activeAt": 300,
            "location": "unknown", "ip": "1.2.3.4", "platform": "Chrome",
            "token": "wss://h?sessionId=ses_A&token=tok_A", "serverData": "srv", "clientData": "cli",
            "record": false, "role": "PUBLISHER",
            "kurentoOptions": { "allowedFilters": ["GStreamerFilter"] },
            "customIceServers": [{ "url": "stun:x" }],
            "rtspUri": null, "adaptativeBitrate": null, "onlyPlayWithSubscribers": null,
            "networkCache": null,
            "publishers": [{
                "createdAt": 400, "streamId": "str_CAM_X_con_A",
                "mediaOptions": {
                    "hasAudio": true, "hasVideo": true, "audioActive": false, "videoActive": true,
                    "typeOfVideo": "CAMERA", "frameRate": 30.0,
                    "videoDimensions": "{\"width\":640,\"height\":480}", "filter": {},
                },
            }],
            "subscribers": [{ "createdAt": 500, "streamId": "str_MIC_Y_con_B" }],
        })
    }

    #[test]
    fn the_session_json_has_the_reference_fields() {
        let s = session();
        let expected = json!({
            "id": "ses_A", "object": "session", "sessionId": "ses_A", "createdAt": 50,
            "recording": false, "broadcasting": false, "mediaMode": "ROUTED",
            "recordingMode": "MANUAL", "customSessionId": "",
            "defaultRecordingProperties": { "name": "", "frameRate": 25 },
            "forcedVideoCodec": "MEDIA_SERVER_PREFERRED", "forcedVideoCodecResolved": "VP8",
            "allowTranscoding": false,
            "connections": { "numberOfElements": 2, "content": [pending_json(), active_json()] },
        });
        assert_eq!(json!(s.to_rest(true)), expected);
        let active_only = json!({ "numberOfElements": 1, "content": [active_json()] });
        assert_eq!(json!(s.to_rest(false))["connections"], active_only);
        assert_eq!(json!(s.connections_json(false)), active_only);
    }

    #[test]
    fn media_options_leave_out_what_does_not_apply() {
        let mut s = session();
        let p = s.connections[1].participant.as_mut().unwrap();
        let pb = p.publisher.as_mut().unwrap();
        pb.media = media(true, false);
        assert_eq!(
            json!(s.connections[1].to_rest("ses_A"))["publishers"][0]["mediaOptions"],
            json!({ "hasAudio": true, "hasVideo": false, "audioActive": false, "filter": {} })
        );
        let p = s.connections[1].participant.as_mut().unwrap();
        let pb = p.publisher.as_mut().unwrap();
        pb.media = media(false, true);
        pb.media.frame_rate = None;
        pb.media.video_dimensions = None;
        assert_eq!(
            json!(s.connections[1].to_rest("ses_A"))["publishers"][0]["mediaOptions"],
            json!({ "hasAudio": false, "hasVideo": true, "videoActive": true,
                    "typeOfVideo": "CAMERA", "frameRate": -1.0, "videoDimensions": null,
                    "filter": {} })
        );
    }

    #[test]
    fn remote_connections_are_written_as_the_browser_reads_them() {
        let mut s = session();
        assert_eq!(
            json!(s.connections[0].to_rpc()),
            json!({ "id": "con_P", "createdAt": 100, "metadata": "" })
        );
        assert_eq!(
            json!(s.connections[1].to_rpc()),
            json!({
                "id": "con_A", "createdAt": 300, "metadata": "cli%/%srv",
                "streams": [{
                    "id": "str_CAM_X_con_A", "createdAt": 400, "hasAudio": true, "hasVideo": true,
                    "audioActive": false, "videoActive": true, "typeOfVideo": "CAMERA",
                    "frameRate": 30.0, "videoDimensions": "{\"width\":640,\"height\":480}",
                    "filter": {},
                }],
            })
        );
        let p = s.connections[1].participant.as_mut().unwrap();
        p.publisher.as_mut().unwrap().media = media(true, false);
        let stream = &json!(s.connections[1].to_rpc())["streams"][0];
        assert_eq!(stream["typeOfVideo"], Value::Null);
        assert_eq!(stream["frameRate"], json!(30.0));
    }

    #[test]
    fn forced_codecs_resolve_and_serialize_by_name() {
        for (codec, name, resolved) in [
            (
                ForcedVideoCodec::MediaServerPreferred,
                "MEDIA_SERVER_PREFERRED",
                "VP8",
            ),
            (ForcedVideoCodec::None, "NONE", "NONE"),
            (ForcedVideoCodec::H264, "H264", "H264"),
        ] {
            assert_eq!(json!(codec), json!(name));
            assert_eq!(json!(codec.resolved()), json!(resolved));
        }
        assert_eq!(json!(MediaMode::Relayed), json!("RELAYED"));
        assert_eq!(json!(RecordingMode::Always), json!("ALWAYS"));
    }
}
