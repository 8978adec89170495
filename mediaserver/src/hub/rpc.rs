//! The JSON-RPC methods of openvidu-browser, one handler each. Permission rules are enforced here,
//! whatever the client believes its role is.

use serde_json::{Value, json};
use tracing::info;

use super::SfuCommand;
use super::model::{
    MediaOptions, Participant, Presence, Publisher, Reason, Role, SocketId, Subscription,
    SubscriptionState,
};
use super::session::SessionOwner;
use super::socket::SocketLink;
use crate::ids;
use crate::sfu::SfuError;
use crate::signaling::protocol::*;

/// A browser's candidate line is about 100 to 200 bytes.
const MAX_CANDIDATE_LEN: usize = 1024;
/// A browser trickles a handful of candidates per peer connection.
const MAX_CANDIDATES_PER_PEER: usize = 32;

fn sdp_error(e: SfuError) -> RpcError {
    RpcError::new(RpcCode::SdpError, format!("Error negotiating media: {e}"))
}

impl SessionOwner {
    /// A request of the participant `cid`, whose socket joined this session.
    pub(super) async fn on_rpc(&mut self, cid: &str, request: Request) -> Result<Value, RpcError> {
        match request {
            Request::PublishVideo(p) => self.publish_video(cid, p).await,
            Request::UnpublishVideo => {
                if self.unpublish(cid, Reason::Unpublish) {
                    Ok(json!({}))
                } else {
                    Err(RpcError::new(RpcCode::NotStreaming, "Not publishing"))
                }
            }
            Request::PrepareReceiveVideoFrom(p) => self.prepare_receive(cid, p).await,
            Request::ReceiveVideoFrom(p) => self.receive_video_from(cid, p).await,
            Request::UnsubscribeFromVideo(p) => self.unsubscribe(cid, &p.sender),
            Request::OnIceCandidate(p) => self.on_ice_candidate(cid, p),
            Request::LeaveRoom => {
                self.remove_participant(cid, Reason::Disconnect);
                Ok(json!({}))
            }
            Request::SendMessage(p) => self.send_message(cid, p),
            Request::StreamPropertyChanged(p) => self.stream_property_changed(cid, p),
            Request::VideoData(p) => {
                if let Some(pb) = self.publisher_mut(cid) {
                    if let (Some(w), Some(h)) = (p.width, p.height) {
                        pb.media.video_dimensions =
                            Some(json!({ "width": w as i64, "height": h as i64 }).to_string());
                    }
                    if let Some(v) = p.video_active {
                        pb.media.video_active = v;
                    }
                    if let Some(a) = p.audio_active {
                        pb.media.audio_active = a;
                    }
                }
                Ok(json!({}))
            }
            Request::Echo => Ok(json!({})),
            Request::ReconnectStream(p) => self.reconnect_stream(cid, p).await,
            Request::ForceDisconnect(p) => {
                self.require_moderator(cid)?;
                if Some(&self.session)
                    .and_then(|s| s.connection(&p.connection_id))
                    .and_then(|c| c.participant.as_ref())
                    .is_none()
                {
                    return Err(RpcError::new(
                        RpcCode::UserNotFound,
                        "No such participant in this session",
                    ));
                }
                self.remove_participant(&p.connection_id, Reason::ForceDisconnectByUser);
                Ok(json!({}))
            }
            Request::ForceUnpublish(p) => {
                self.require_moderator(cid)?;
                let owner = Some(&self.session)
                    .and_then(|s| s.publisher_of(&p.stream_id))
                    .map(|c| c.id.clone());
                let Some(owner) = owner else {
                    return Err(RpcError::new(
                        RpcCode::NotStreaming,
                        "No such stream in this session",
                    ));
                };
                self.unpublish(&owner, Reason::ForceUnpublishByUser);
                Ok(json!({}))
            }
            // The socket task answers pings; joining goes through the directory.
            Request::Ping(_) => Ok(json!({ "value": "pong" })),
            Request::JoinRoom(_) | Request::Connect(_) => Err(RpcError::new(
                RpcCode::Generic,
                "This socket has already joined a session",
            )),
        }
    }

    fn require_moderator(&self, cid: &str) -> Result<(), RpcError> {
        let role = Some(&self.session)
            .and_then(|s| s.connection(cid))
            .map(|c| c.role);
        if role == Some(Role::Moderator) {
            Ok(())
        } else {
            Err(RpcError::unauthorized("Only a MODERATOR may do this"))
        }
    }

    /// The codec the session forces on publishers, if any.
    fn forced_codec(&self) -> Option<crate::sfu::VideoCodec> {
        self.session.properties.forced_video_codec.codec()
    }

    fn participant_mut(&mut self, cid: &str) -> Option<&mut Participant> {
        self.session.connection_mut(cid)?.participant.as_mut()
    }

    fn publisher_mut(&mut self, cid: &str) -> Option<&mut Publisher> {
        self.participant_mut(cid)?.publisher.as_mut()
    }

    /// `joinRoom` with a token the directory routed here. The socket task has checked that the
    /// socket speaks for nobody yet.
    pub(super) fn join_room(
        &mut self,
        socket: SocketId,
        link: &SocketLink,
        ip: String,
        p: JoinRoomParams,
    ) -> Result<Value, RpcError> {
        // One answer for an unknown session, a bad token and a token of another session: anything
        // more would tell a stranger which calls exist.
        let invalid = || RpcError::unauthorized("Token is not valid");
        if p.session != self.session.id {
            return Err(invalid());
        }
        let Some(conn) = self
            .session
            .connections
            .iter_mut()
            .find(|c| c.token == p.token && c.participant.is_none())
        else {
            return Err(invalid());
        };
        let cid = conn.id.clone();
        let rpc_session = ids::rpc_session_id();
        let version = p
            .sdk_version
            .as_deref()
            .filter(|v| {
                v.starts_with("2.")
                    && v.split('.').count() == 3
                    && v.split('.').all(|n| n.parse::<u32>().is_ok())
            })
            // The browser compares minors with its own and logs an error when they differ by more
            // than one, so a 2.x browser is told its own version.
            .unwrap_or(crate::OPENVIDU_VERSION)
            .to_owned();
        link.set_joined(true);
        conn.participant = Some(Participant {
            presence: Presence::Online {
                socket,
                link: link.clone(),
            },
            rpc_session: rpc_session.clone(),
            active_at: ids::now_millis(),
            ip,
            platform: p.platform.unwrap_or_default(),
            client_data: p.metadata.unwrap_or_default(),
            publisher: None,
            subscriptions: Vec::new(),
        });
        let role = conn.role;
        let record = conn.record;
        let ice_servers = conn.custom_ice_servers.clone();
        let me = conn.to_rpc();
        self.session.ever_joined = true;
        self.dir.remove_token(&p.token);
        self.dir.add_rpc_session(&rpc_session, &self.session.id);
        self.by_socket.insert(socket, cid.clone());
        let others: Vec<RemoteParticipant> = self
            .session
            .active()
            .filter(|c| c.id != cid)
            .map(|c| c.to_rpc())
            .collect();
        let (created_at, metadata) = (me.created_at, me.metadata.clone());
        self.notify(|c| c.id != cid, Notification::ParticipantJoined(me));
        info!(connection = %cid, role = role.as_str(), "participant joined");
        Ok(json!({
            "id": cid, "createdAt": created_at, "metadata": metadata, "value": others,
            "session": self.session.id, "sessionId": rpc_session, "role": role.as_str(), "record": record,
            "version": version,
            // Server-offered subscriptions (`prepareReceiveVideoFrom`); simulcast stays the publisher's choice.
            "mediaServer": "mediasoup", "videoSimulcast": false,
            "customIceServers": ice_servers,
        }))
    }

    /// `connect` on a new socket after the browser lost the old one. The socket task has checked
    /// that the new socket speaks for nobody yet: one cannot take over another participant.
    pub(super) fn reconnect_socket(
        &mut self,
        socket: SocketId,
        link: &SocketLink,
        p: ConnectParams,
    ) -> Result<Value, RpcError> {
        let reconnection_error = RpcError::reconnection_error;
        let Some(conn) = self.session.connections.iter_mut().find(|c| {
            c.participant
                .as_ref()
                .is_some_and(|pt| pt.rpc_session == p.session_id)
        }) else {
            return Err(reconnection_error());
        };
        let cid = conn.id.clone();
        let participant = conn.participant.as_mut().expect("found by it");
        link.set_joined(true);
        let was = std::mem::replace(
            &mut participant.presence,
            Presence::Online {
                socket,
                link: link.clone(),
            },
        );
        if let Presence::Online {
            socket: old,
            link: old_link,
        } = was
        {
            self.by_socket.remove(&old);
            old_link.set_joined(false);
            old_link.close(super::CloseReason::Evicted);
        }
        self.by_socket.insert(socket, cid.clone());
        info!(connection = %cid, "participant reconnected");
        Ok(json!({ "value": "reconnection successful", "sessionId": p.session_id }))
    }

    async fn publish_video(&mut self, cid: &str, p: PublishVideoParams) -> Result<Value, RpcError> {
        let role = Some(&self.session)
            .and_then(|s| s.connection(cid))
            .map(|c| c.role);
        if !role.is_some_and(Role::can_publish) {
            return Err(RpcError::unauthorized("A SUBSCRIBER may not publish"));
        }
        if self.publisher_mut(cid).is_some() {
            return Err(RpcError::new(
                RpcCode::AlreadyStreaming,
                "Already publishing",
            ));
        }
        // It becomes part of the stream id, which goes into logs and subscribers' SDP.
        if !matches!(
            p.type_of_video.as_deref(),
            None | Some("CAMERA" | "SCREEN" | "CUSTOM")
        ) {
            return Err(RpcError::invalid_params(
                "typeOfVideo must be CAMERA, SCREEN or CUSTOM",
            ));
        }
        let peer = self.next_peer();
        let codec = self.forced_codec();
        let answer = self
            .sfu
            .publish(peer, p.sdp_offer, codec)
            .await
            .map_err(sdp_error)?;
        let has_audio = p.has_audio.unwrap_or(true);
        let has_video = p.has_video.unwrap_or(true);
        let publisher = Publisher {
            candidates: 0,
            stream_id: ids::stream_id(
                if has_video {
                    p.type_of_video.as_deref().or(Some("CAMERA"))
                } else {
                    None
                },
                cid,
            ),
            peer,
            created_at: ids::now_millis(),
            media: MediaOptions {
                has_audio,
                has_video,
                audio_active: p.audio_active.unwrap_or(has_audio),
                video_active: p.video_active.unwrap_or(has_video),
                type_of_video: if has_video {
                    Some(p.type_of_video.unwrap_or_else(|| "CAMERA".into()))
                } else {
                    None
                },
                frame_rate: p.frame_rate.filter(|f| *f > 0.0),
                video_dimensions: p.video_dimensions,
                filter: p.filter.unwrap_or_else(|| json!({})),
            },
        };
        let (stream_id, created_at) = (publisher.stream_id.clone(), publisher.created_at);
        // The owner awaits the SFU without handling anything else, so the participant is still there;
        // checked all the same, since leaving a peer behind would leak it.
        let Some(participant) = self.participant_mut(cid) else {
            self.sfu.send(SfuCommand::Close { peer });
            return Err(RpcError::new(RpcCode::UserNotFound, "Participant left"));
        };
        participant.publisher = Some(publisher);
        if let Some(me) = self.session.connection(cid).map(|c| c.to_rpc()) {
            self.notify(|c| c.id != cid, Notification::ParticipantPublished(me));
        }
        info!(connection = %cid, stream = %stream_id, "published");
        Ok(json!({ "sdpAnswer": answer, "id": stream_id, "createdAt": created_at }))
    }

    /// The stream's publisher connection id and its peer.
    fn find_stream(&self, stream_id: &str) -> Result<(String, crate::sfu::PeerId), RpcError> {
        let session = Some(&self.session)
            .ok_or_else(|| RpcError::new(RpcCode::SessionNotFound, "Session not found"))?;
        let conn = session.publisher_of(stream_id).ok_or_else(|| {
            RpcError::new(RpcCode::NotStreaming, "No such stream in this session")
        })?;
        let peer = conn
            .participant
            .as_ref()
            .and_then(|p| p.publisher.as_ref())
            .map(|p| p.peer)
            .expect("publisher_of");
        Ok((conn.id.clone(), peer))
    }

    /// Replaces any earlier subscription of `cid` to the same stream. False, and nothing stored, when
    /// the subscriber or the stream is gone (the SFU's peer must then be closed by the caller).
    fn store_subscription(&mut self, cid: &str, sub: Subscription) -> bool {
        if Some(&self.session)
            .and_then(|s| s.publisher_of(&sub.stream_id))
            .is_none()
        {
            return false;
        }
        let Some(participant) = self.participant_mut(cid) else {
            return false;
        };
        let replaced = participant.remove_subscriptions(|s| s.stream_id == sub.stream_id);
        participant.subscriptions.push(sub);
        for peer in replaced {
            self.sfu.send(SfuCommand::Close { peer });
        }
        true
    }

    /// A browser-offered subscription (`receiveVideoFrom` with `sdpOffer`, or a subscriber's
    /// `reconnectStream`): the SFU answers the browser's recv-only offer.
    async fn subscribe_with_offer(
        &mut self,
        cid: &str,
        stream_id: String,
        offer: String,
    ) -> Result<Value, RpcError> {
        let (publisher, source) = self.find_stream(&stream_id)?;
        if publisher == cid {
            return Err(RpcError::new(
                RpcCode::Generic,
                "Cannot subscribe to one's own stream",
            ));
        }
        let peer = self.next_peer();
        let answer = self
            .sfu
            .accept_subscription_offer(peer, source, offer)
            .await
            .map_err(sdp_error)?;
        let sub = Subscription {
            stream_id,
            publisher,
            peer,
            candidates: 0,
            created_at: ids::now_millis(),
            state: SubscriptionState::Active,
        };
        if !self.store_subscription(cid, sub) {
            self.sfu.send(SfuCommand::Close { peer });
            return Err(RpcError::new(RpcCode::NotStreaming, "The stream ended"));
        }
        Ok(json!({ "sdpAnswer": answer }))
    }

    async fn prepare_receive(
        &mut self,
        cid: &str,
        p: PrepareReceiveParams,
    ) -> Result<Value, RpcError> {
        let (publisher, source) = self.find_stream(&p.sender)?;
        if publisher == cid {
            return Err(RpcError::new(
                RpcCode::Generic,
                "Cannot subscribe to one's own stream",
            ));
        }
        let peer = self.next_peer();
        let offer = self
            .sfu
            .offer_subscription(peer, source, p.sender.clone())
            .await
            .map_err(sdp_error)?;
        let sub = Subscription {
            stream_id: p.sender,
            publisher,
            peer,
            candidates: 0,
            created_at: ids::now_millis(),
            state: SubscriptionState::Offered,
        };
        if !self.store_subscription(cid, sub) {
            self.sfu.send(SfuCommand::Close { peer });
            return Err(RpcError::new(RpcCode::NotStreaming, "The stream ended"));
        }
        Ok(json!({ "sdpOffer": offer }))
    }

    async fn receive_video_from(
        &mut self,
        cid: &str,
        p: ReceiveVideoFromParams,
    ) -> Result<Value, RpcError> {
        match (p.sdp_answer, p.sdp_offer) {
            (Some(answer), _) => self
                .complete_subscription(cid, &p.sender, answer)
                .await
                .map(|_| json!({})),
            (None, Some(offer)) => self.subscribe_with_offer(cid, p.sender, offer).await,
            (None, None) => Err(RpcError::invalid_params(
                "receiveVideoFrom needs sdpOffer or sdpAnswer",
            )),
        }
    }

    /// The browser's answer to a server offer (`receiveVideoFrom` or a subscriber's `reconnectStream`).
    async fn complete_subscription(
        &mut self,
        cid: &str,
        stream_id: &str,
        answer: String,
    ) -> Result<(), RpcError> {
        let peer = self
            .participant_mut(cid)
            .and_then(|p| {
                p.subscriptions
                    .iter()
                    .find(|s| s.stream_id == stream_id && s.state == SubscriptionState::Offered)
            })
            .map(|s| s.peer)
            .ok_or_else(|| {
                RpcError::new(
                    RpcCode::Generic,
                    "No offer is pending for this stream: call prepareReceiveVideoFrom",
                )
            })?;
        self.sfu
            .accept_answer(peer, answer)
            .await
            .map_err(sdp_error)?;
        if let Some(s) = self
            .participant_mut(cid)
            .and_then(|p| p.subscriptions.iter_mut().find(|s| s.peer == peer))
        {
            s.state = SubscriptionState::Active;
        }
        Ok(())
    }

    fn unsubscribe(&mut self, cid: &str, publisher: &str) -> Result<Value, RpcError> {
        let Some(participant) = self.participant_mut(cid) else {
            return Err(RpcError::not_joined());
        };
        let closed = participant.remove_subscriptions(|s| s.publisher == publisher);
        if closed.is_empty() {
            return Err(RpcError::new(
                RpcCode::Generic,
                "Not subscribed to that participant",
            ));
        }
        for peer in closed {
            self.sfu.send(SfuCommand::Close { peer });
        }
        Ok(json!({}))
    }

    fn on_ice_candidate(&mut self, cid: &str, p: IceCandidateParams) -> Result<Value, RpcError> {
        if p.candidate.len() > MAX_CANDIDATE_LEN {
            return Err(RpcError::invalid_params("the ICE candidate is too long"));
        }
        let Some(participant) = self.participant_mut(cid) else {
            return Err(RpcError::not_joined());
        };
        // endpointName is the own connection id for the publisher peer, else the publisher's id.
        let target = if p.endpoint_name == cid {
            participant
                .publisher
                .as_mut()
                .map(|pb| (pb.peer, &mut pb.candidates))
        } else {
            participant
                .subscriptions
                .iter_mut()
                .find(|s| s.publisher == p.endpoint_name)
                .map(|s| (s.peer, &mut s.candidates))
        };
        // Candidates may arrive before the peer exists; ICE-lite learns the address from the
        // browser's connectivity checks, so dropping those loses nothing. Past the count a browser
        // ever sends they are dropped here, before they cost the SFU anything.
        if let Some((peer, count)) = target
            && *count < MAX_CANDIDATES_PER_PEER
        {
            *count += 1;
            self.sfu.send(SfuCommand::AddCandidate {
                peer,
                candidate: p.candidate,
            });
        }
        Ok(json!({}))
    }

    fn send_message(&mut self, cid: &str, p: SendMessageParams) -> Result<Value, RpcError> {
        let message: SignalMessage = serde_json::from_str(&p.message).map_err(|_| {
            RpcError::new(
                RpcCode::SignalFormatInvalid,
                "Signal message is not valid JSON of {to, data, type}",
            )
        })?;
        message
            .check()
            .map_err(|e| RpcError::new(RpcCode::SignalFormatInvalid, e))?;
        let session = &self.session;
        // The message names no value the client sent: whatever it put there stays out of logs.
        if message.to.iter().any(|to| {
            session
                .connection(to)
                .and_then(|c| c.participant.as_ref())
                .is_none()
        }) {
            return Err(RpcError::new(
                RpcCode::SignalToInvalid,
                "A signal target is not a participant of this session",
            ));
        }
        let params = SignalNotice {
            data: message.data.unwrap_or_default(),
            kind: Some(message.kind.unwrap_or_else(|| "signal".into())),
            from: Some(cid.to_owned()),
        };
        let to = message.to;
        self.notify(
            |c| to.is_empty() || to.contains(&c.id),
            Notification::SendMessage(params),
        );
        Ok(json!({}))
    }

    fn stream_property_changed(
        &mut self,
        cid: &str,
        p: StreamPropertyParams,
    ) -> Result<Value, RpcError> {
        let Some(publisher) = self.publisher_mut(cid) else {
            return Err(RpcError::new(RpcCode::NotStreaming, "Not publishing"));
        };
        if publisher.stream_id != p.stream_id {
            return Err(RpcError::new(
                RpcCode::NotStreaming,
                "Not the caller's stream",
            ));
        }
        match (p.property.as_str(), &p.new_value) {
            ("audioActive", Value::Bool(b)) => publisher.media.audio_active = *b,
            ("videoActive", Value::Bool(b)) => publisher.media.video_active = *b,
            ("videoDimensions", Value::String(s)) => {
                publisher.media.video_dimensions = Some(s.clone())
            }
            ("videoTrack" | "audioTrack", Value::Object(_)) => {}
            _ => {
                return Err(RpcError::invalid_params(
                    "unsupported stream property or value",
                ));
            }
        }
        // The reference server relays the value's JSON text; the browser decodes it (B.7).
        let params = StreamPropertyNotice {
            connection_id: cid.to_owned(),
            stream_id: p.stream_id,
            property: p.property,
            new_value: p.new_value.to_string(),
            reason: p.reason.unwrap_or_default(),
        };
        self.notify(|c| c.id != cid, Notification::StreamPropertyChanged(params));
        Ok(json!({}))
    }

    async fn reconnect_stream(
        &mut self,
        cid: &str,
        p: ReconnectStreamParams,
    ) -> Result<Value, RpcError> {
        let own = self
            .publisher_mut(cid)
            .map(|pb| (pb.stream_id.clone(), pb.peer, pb.created_at));
        match own {
            Some((stream_id, old, created_at)) if stream_id == p.stream => {
                let offer = p
                    .sdp_string
                    .or(p.sdp_offer)
                    .ok_or_else(|| RpcError::invalid_params("sdpString is missing"))?;
                let peer = self.next_peer();
                let codec = self.forced_codec();
                let answer = self
                    .sfu
                    .publish(peer, offer, codec)
                    .await
                    .map_err(sdp_error)?;
                self.sfu.send(SfuCommand::MoveSubscribers {
                    from: old,
                    to: peer,
                });
                self.sfu.send(SfuCommand::Close { peer: old });
                match self.publisher_mut(cid) {
                    Some(pb) => {
                        pb.peer = peer;
                        pb.candidates = 0;
                    }
                    None => self.sfu.send(SfuCommand::Close { peer }),
                }
                Ok(json!({ "sdpAnswer": answer, "id": stream_id, "createdAt": created_at }))
            }
            _ => {
                if let Some(offer) = p.sdp_offer {
                    self.subscribe_with_offer(cid, p.stream, offer).await
                } else if let Some(answer) = p.sdp_string {
                    self.complete_subscription(cid, &p.stream, answer)
                        .await
                        .map(|_| json!({}))
                } else {
                    Err(RpcError::invalid_params(
                        "reconnectStream needs sdpOffer or sdpString",
                    ))
                }
            }
        }
    }
}
