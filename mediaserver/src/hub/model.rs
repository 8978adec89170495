//! Sessions, connections and streams as signaling sees them, and their REST JSON shapes
//! (OPENVIDU-PROTOCOL.md C.4), written field by field because openvidu-node-client reads them so.

use std::time::Instant;

use serde_json::{Value, json};

use super::socket::SocketLink;
use crate::sfu::PeerId;

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
    fn to_rest(&self) -> Value {
        let mut o = json!({ "hasAudio": self.has_audio, "hasVideo": self.has_video, "filter": self.filter });
        if self.has_audio {
            o["audioActive"] = json!(self.audio_active);
        }
        if self.has_video {
            o["videoActive"] = json!(self.video_active);
            o["typeOfVideo"] = json!(self.type_of_video);
            o["frameRate"] = json!(self.frame_rate.unwrap_or(-1.0));
            o["videoDimensions"] = json!(self.video_dimensions);
        }
        o
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
    pub fn to_rpc(&self) -> Value {
        let m = &self.media;
        json!({
            "id": self.stream_id, "createdAt": self.created_at,
            "hasAudio": m.has_audio, "hasVideo": m.has_video,
            "audioActive": m.audio_active, "videoActive": m.video_active,
            "typeOfVideo": m.type_of_video, "frameRate": m.frame_rate.unwrap_or(-1.0),
            "videoDimensions": m.video_dimensions, "filter": m.filter,
        })
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
    pub fn to_rpc(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "createdAt": self.participant.as_ref().map(|p| p.active_at).unwrap_or(self.created_at),
            "metadata": self.full_metadata(),
        });
        if let Some(p) = self.participant.as_ref().and_then(|p| p.publisher.as_ref()) {
            v["streams"] = json!([p.to_rpc()]);
        }
        v
    }

    pub fn to_rest(&self, session_id: &str) -> Value {
        let mut v = json!({
            "id": self.id, "object": "connection", "type": "WEBRTC",
            "status": if self.participant.is_some() { "active" } else { "pending" },
            "connectionId": self.id, "sessionId": session_id,
            "createdAt": self.created_at, "activeAt": null, "location": null, "ip": null, "platform": null,
            "token": self.token, "serverData": self.server_data, "clientData": null,
            "record": self.record, "role": self.role.as_str(), "kurentoOptions": self.kurento_options,
            "customIceServers": self.custom_ice_servers, "rtspUri": null, "adaptativeBitrate": null,
            "onlyPlayWithSubscribers": null, "networkCache": null,
            "publishers": null, "subscribers": null,
        });
        if let Some(p) = &self.participant {
            v["activeAt"] = json!(p.active_at);
            v["location"] = json!("unknown");
            v["ip"] = json!(p.ip);
            v["platform"] = json!(p.platform);
            v["clientData"] = json!(p.client_data);
            v["publishers"] = json!(p.publisher.iter().map(|pb| json!({
                "createdAt": pb.created_at, "streamId": pb.stream_id, "mediaOptions": pb.media.to_rest(),
            })).collect::<Vec<_>>());
            v["subscribers"] = json!(
                p.subscriptions
                    .iter()
                    .map(|s| json!({
                        "createdAt": s.created_at, "streamId": s.stream_id,
                    }))
                    .collect::<Vec<_>>()
            );
        }
        v
    }
}

/// The session properties given at creation, echoed back in the Session JSON.
#[derive(Debug, Clone)]
pub struct SessionProperties {
    pub media_mode: String,
    pub recording_mode: String,
    pub custom_session_id: String,
    pub forced_video_codec: String,
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

    pub fn connections_json(&self, include_pending: bool) -> Value {
        let content: Vec<Value> = self
            .connections
            .iter()
            .filter(|c| include_pending || c.participant.is_some())
            .map(|c| c.to_rest(&self.id))
            .collect();
        json!({ "numberOfElements": content.len(), "content": content })
    }

    pub fn to_rest(&self, include_pending: bool) -> Value {
        let p = &self.properties;
        json!({
            "id": self.id, "object": "session", "sessionId": self.id, "createdAt": self.created_at,
            "recording": false, "broadcasting": false,
            "mediaMode": p.media_mode, "recordingMode": p.recording_mode,
            "customSessionId": p.custom_session_id,
            "defaultRecordingProperties": p.default_recording_properties,
            "forcedVideoCodec": p.forced_video_codec,
            "forcedVideoCodecResolved": match p.forced_video_codec.as_str() { "MEDIA_SERVER_PREFERRED" => "VP8", other => other },
            "allowTranscoding": p.allow_transcoding,
            "connections": self.connections_json(include_pending),
        })
    }
}
