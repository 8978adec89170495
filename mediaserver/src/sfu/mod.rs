//! The SFU core, sans-IO: it owns every str0m peer connection and forwards media between them.
//!
//! Time comes in as an argument and datagrams go out through [`Sfu::poll_transmit`]; the UDP socket and
//! the command channel live in [`edge`]. The core knows nothing of OpenVidu sessions or participants:
//! signaling names peers by [`PeerId`] and says which publisher a subscriber receives from.
//!
//! Forwarding is keyed by (publisher peer, incoming mid), in str0m's RTP mode: packets go out as they
//! came in, renumbered ([`rewrite`]), never depacketised into frames and packetised again. Each
//! subscriber's outgoing tracks remember the incoming mid they carry, so one packet costs one lookup
//! per subscriber and a reference count increment on its payload, no copy. What a batch of
//! datagrams wrote to a subscriber goes out together, at the next [`Sfu::poll_transmit`].

pub mod edge;
mod rewrite;
mod sdp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::crypto::dtls::DtlsCert;
use str0m::format::PayloadParams;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::rtp::{Extension, ExtensionMap, ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tracing::{debug, info, warn};

use rewrite::{Sequencer, SubscriberSeq, starts_keyframe};

/// A peer connection, named by signaling: the session's serial number in the high 32 bits, a count
/// within the session in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

impl PeerId {
    pub fn new(session: u32, n: u32) -> PeerId {
        PeerId((u64::from(session) << 32) | u64::from(n))
    }
    /// The serial number of the session the peer belongs to.
    pub fn session(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "peer{}", self.0)
    }
}

/// A video codec a session can be restricted to (`forcedVideoCodec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    Vp9,
    H264,
}

/// Why a negotiation failed. The message is safe to show to the client (no internal detail).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SfuError {
    #[error("the SDP could not be parsed")]
    BadSdp,
    #[error("the SDP was refused: {0}")]
    BadShape(&'static str),
    #[error("the SDP was refused")]
    Refused,
    #[error("no such peer connection")]
    NoSuchPeer,
    #[error("the publisher sends no media")]
    NoMedia,
    #[error("no offer is pending for this peer connection")]
    NoPendingOffer,
    #[error("the media server is shutting down")]
    Stopped,
}

/// A simulcast layer not heard from for this long is taken as stopped (browsers drop the top layers
/// when bandwidth or CPU is short).
const LAYER_TIMEOUT: Duration = Duration::from_millis(1000);

/// How long a keyframe request is given before another one is sent.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);

/// How long a forwarded video packet is kept for the subscriber's retransmission requests (NACK).
/// str0m keeps 3 s by default. A NACK comes within a round trip of the loss and a browser repeats it
/// about once per round trip, so the buffer follows the subscriber's measured round-trip time
/// ([`resend_age`]): room for the first request and two repeats, plus the time a browser takes to
/// notice a gap, at least [`RESEND_AGE_MIN`] and at most [`RESEND_AGE_MAX`] (past a second a keyframe
/// request is the better repair anyway). Memory is what this buys: the buffer is the largest part of a
/// subscription, and a buffer that once held a second keeps its memory after shrinking, so a
/// subscription starts at the minimum and grows once its first round trip is measured (about a
/// second in): until then a loss on a link slower than about 150 ms round trip is repaired with a
/// keyframe instead.
const RESEND_AGE_MIN: Duration = Duration::from_millis(200);
const RESEND_AGE_MAX: Duration = Duration::from_millis(1000);
const RESEND_PACKETS: usize = 1000;
/// How often str0m reports a subscription's statistics, the round-trip time among them.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// The retransmission buffer's age for a subscriber whose round trip takes `rtt`.
fn resend_age(rtt: Duration) -> Duration {
    (rtt * 3 + Duration::from_millis(100)).clamp(RESEND_AGE_MIN, RESEND_AGE_MAX)
}

/// Whether a buffer kept for `current` should be remade for `wanted`: only on a clear change, as
/// remaking it drops what it holds.
fn resend_age_changed(current: Duration, wanted: Duration) -> bool {
    wanted * 4 < current * 3 || wanted * 3 > current * 4
}

/// An incoming track of a publisher.
#[derive(Debug, Clone)]
struct TrackIn {
    mid: Mid,
    kind: MediaKind,
    /// Simulcast layers in the browser's order, lowest first in openvidu-browser's (`rdiv4, rdiv2,
    /// rdiv1`), with when each was last heard. Empty without simulcast.
    layers: Vec<(Rid, Option<Instant>)>,
    /// The layer forwarded now: the best one that is flowing, switched to on one of its keyframes.
    active_rid: Option<Rid>,
    /// When the first frame of any layer arrived: until a layer timeout later, layers not heard from
    /// yet count as flowing, so that a subscriber starts on the best layer rather than the first.
    first_frame: Option<Instant>,
    /// When a keyframe was last asked for, until one arrives: while one is on its way, asking again
    /// would only make the browser send several.
    last_keyframe_request: Option<Instant>,
    /// A request that came while another was on its way, sent when that one is overdue (unless a
    /// keyframe comes first): a subscriber that joins just after another must not wait for the
    /// publisher's next periodic keyframe.
    deferred_keyframe: Option<(Option<Rid>, KeyframeRequestKind)>,
    /// The codec of the payload type last seen, looked up once per change of payload type.
    params: Option<PayloadParams>,
    /// The numbering of the stream forwarded to subscribers, across layer switches.
    sequencer: Sequencer,
}

impl TrackIn {
    fn new(mid: Mid, kind: MediaKind, rids: &[Rid]) -> TrackIn {
        TrackIn {
            mid,
            kind,
            layers: rids.iter().map(|r| (*r, None)).collect(),
            active_rid: None,
            first_frame: None,
            last_keyframe_request: None,
            deferred_keyframe: None,
            params: None,
            sequencer: Sequencer::default(),
        }
    }

    /// Whether a keyframe request may go out now. While an earlier one is on its way (asked for less
    /// than [`KEYFRAME_REQUEST_INTERVAL`] ago, and no keyframe since), it is deferred instead.
    fn admit_keyframe_request(
        &mut self,
        now: Instant,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    ) -> bool {
        let waiting = self
            .last_keyframe_request
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_INTERVAL);
        if waiting {
            self.deferred_keyframe = Some((rid, kind));
        }
        !waiting
    }

    /// When the deferred keyframe request, if any, is to be sent.
    fn deferred_keyframe_due(&self) -> Option<Instant> {
        self.deferred_keyframe?;
        Some(self.last_keyframe_request? + KEYFRAME_REQUEST_INTERVAL)
    }

    /// A keyframe of the forwarded layer went out: every request so far is answered.
    fn keyframe_forwarded(&mut self) {
        self.last_keyframe_request = None;
        self.deferred_keyframe = None;
    }

    /// The best layer heard from lately.
    fn wanted_layer(&self, now: Instant) -> Option<Rid> {
        let recent = |t: Instant| now.saturating_duration_since(t) < LAYER_TIMEOUT;
        let starting = self.first_frame.is_some_and(recent);
        self.layers
            .iter()
            .rev()
            .find(|(_, seen)| match seen {
                Some(t) => recent(*t),
                None => starting,
            })
            .map(|(rid, _)| *rid)
    }

    /// The layer keyframe requests go to: the forwarded one, else the one wanted next.
    fn keyframe_rid(&self, now: Instant) -> Option<Rid> {
        self.active_rid
            .or_else(|| self.wanted_layer(now))
            .or_else(|| self.layers.last().map(|(r, _)| *r))
    }
}

/// An outgoing track of a subscriber.
#[derive(Debug, Clone)]
struct TrackOut {
    mid: Mid,
    kind: MediaKind,
    /// The publisher's mid this track carries, once known.
    source_mid: Option<Mid>,
    /// How long its retransmission buffer keeps a packet ([`resend_age`]).
    resend_age: Duration,
    /// The publisher's payload type last forwarded and this subscriber's for the same codec.
    pt: Option<(Pt, Pt)>,
    seq: SubscriberSeq,
}

impl TrackOut {
    fn new(mid: Mid, kind: MediaKind, source_mid: Option<Mid>) -> TrackOut {
        TrackOut {
            mid,
            kind,
            source_mid,
            resend_age: RESEND_AGE_MIN,
            pt: None,
            seq: SubscriberSeq::default(),
        }
    }

    /// The track now carries another publisher track (or the same one renegotiated).
    fn change_source(&mut self, source_mid: Option<Mid>) {
        self.source_mid = source_mid;
        self.pt = None;
        self.seq.rebase();
    }
}

#[derive(Debug)]
enum Role {
    Publisher {
        tracks: Vec<TrackIn>,
        subscribers: Vec<PeerId>,
    },
    Subscriber {
        source: PeerId,
        tracks: Vec<TrackOut>,
        pending: Option<SdpPendingOffer>,
    },
}

struct Peer {
    rtc: Rtc,
    role: Role,
    /// Remote candidates added so far; more than a browser ever sends are ignored.
    candidates: usize,
    /// The video codec this peer is restricted to; subscriptions inherit their publisher's.
    codec: Option<VideoCodec>,
    next_timeout: Instant,
    /// The time of this peer's entry in [`Sfu::timers`], if it has one.
    scheduled: Option<Instant>,
    /// ICE and DTLS are up: media can be written.
    connected: bool,
    /// DTLS completed once; ICE coming back makes the peer usable again.
    dtls_done: bool,
    /// The remote addresses this peer was reached from, oldest first (at most [`MAX_ADDRS`]), each
    /// also a key of [`Sfu::by_addr`].
    addrs: Vec<SocketAddr>,
    /// Packets were written to it that wait for its next timeout: it is in [`Sfu::unflushed`].
    unflushed: bool,
}

impl Peer {
    fn new(rtc: Rtc, role: Role, codec: Option<VideoCodec>, now: Instant) -> Peer {
        Peer {
            rtc,
            role,
            candidates: 0,
            codec,
            next_timeout: now,
            scheduled: None,
            connected: false,
            dtls_done: false,
            addrs: Vec::new(),
            unflushed: false,
        }
    }
}

/// The largest RTP payload forwarded, in bytes: what fits a 1,500-byte network packet, well within
/// str0m's 2,000-byte datagrams whatever the subscriber's header.
const MAX_FORWARDED_PAYLOAD: usize = 1_400;

/// A browser trickles a handful of candidates per peer; past this many, they are dropped, since each
/// one costs str0m a scan of the others.
const MAX_REMOTE_CANDIDATES: usize = 32;

/// Addresses remembered per peer: a browser changes address on a network change (Wi-Fi to mobile),
/// and each one that passed a STUN check is kept; past this many the oldest is forgotten, so that a
/// client cycling source ports cannot grow the address map.
const MAX_ADDRS: usize = 4;

/// What the core holds and has refused, for [`crate::Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SfuStats {
    pub peers: usize,
    /// Remote addresses mapped to peers.
    pub addresses: usize,
    /// Datagrams dropped because no peer could make sense of them, or their payload was too large to
    /// forward.
    pub dropped_datagrams: u64,
    /// Trickled ICE candidates that signaling passed on, since start (signaling drops a peer's
    /// candidates past what any browser sends before they get here).
    pub candidates: u64,
}

/// Everything a packet needs on its way from a publisher to its subscribers. `Media` is large, but
/// boxing it would cost an allocation per frame; the queue's slots are reused.
#[allow(clippy::large_enum_variant)]
enum Forward {
    Rtp(RtpPacket),
    KeyframeRequest {
        source: PeerId,
        source_mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    },
    SubscriberConnected {
        source: PeerId,
    },
}

pub struct Sfu {
    /// The host candidate given to browsers: the public address of the UDP socket.
    candidate_addr: SocketAddr,
    /// One DTLS certificate for every peer: generating a key per peer would cost the media task
    /// (and every participant) a key generation at each subscription.
    dtls_cert: Option<DtlsCert>,
    /// Boxed: a peer (its `Rtc`) is kilobytes inline, and a map of them would grow by copying them all
    /// into twice the space.
    peers: HashMap<PeerId, Box<Peer>>,
    /// Remote address → peer, learnt from the first datagram a peer accepted.
    by_addr: HashMap<SocketAddr, PeerId>,
    transmits: VecDeque<Transmit>,
    forwards: VecDeque<(PeerId, Forward)>,
    /// When each peer wants [`Sfu::handle_timeout`]: at most one live entry per peer (its
    /// `scheduled` time); an entry whose time is not its peer's `scheduled` any more is stale and
    /// skipped. A timer tick costs what is due, not a walk over every peer.
    timers: BinaryHeap<Reverse<(Instant, PeerId)>>,
    /// Reused by `handle_timeout`, so that a timer tick allocates nothing.
    scratch: Vec<PeerId>,
    dropped_datagrams: u64,
    /// Trickled candidates received, for [`SfuStats::candidates`].
    candidates: u64,
    /// Subscribers written to since the last flush: str0m sends what was written at a peer's
    /// timeout, so one timeout per subscriber serves a whole batch of datagrams.
    unflushed: Vec<PeerId>,
    /// The latest time given to the core, for the flush in [`Sfu::poll_transmit`].
    now: Option<Instant>,
}

impl Sfu {
    /// `local_addr` is where the socket is bound; `candidate_addr` what browsers are told to reach.
    pub fn new(local_addr: SocketAddr, candidate_addr: SocketAddr) -> Sfu {
        debug!(%local_addr, %candidate_addr, "SFU core created");
        Sfu {
            candidate_addr,
            dtls_cert: str0m::crypto::from_feature_flags()
                .dtls_provider
                .generate_certificate(),
            peers: HashMap::new(),
            by_addr: HashMap::new(),
            transmits: VecDeque::new(),
            forwards: VecDeque::new(),
            timers: BinaryHeap::new(),
            scratch: Vec::new(),
            dropped_datagrams: 0,
            candidates: 0,
            unflushed: Vec::new(),
            now: None,
        }
    }

    fn insert_peer(&mut self, id: PeerId, mut peer: Peer) {
        peer.scheduled = Some(peer.next_timeout);
        self.timers.push(Reverse((peer.next_timeout, id)));
        self.peers.insert(id, Box::new(peer));
    }

    /// Every peer connection the core holds.
    pub fn peer_ids(&self) -> Vec<PeerId> {
        self.peers.keys().copied().collect()
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn stats(&self) -> SfuStats {
        SfuStats {
            peers: self.peers.len(),
            addresses: self.by_addr.len(),
            dropped_datagrams: self.dropped_datagrams,
            candidates: self.candidates,
        }
    }

    /// A peer with Opus and VP8 + H.264 (VP8 preferred), or only the forced video codec. A
    /// subscription (`sends_only`) goes without transport-wide sequence numbers: they feed a send-side
    /// bandwidth estimate this server does not make, and str0m keeps a record of the last thousand
    /// packets sent for it, the largest part of a subscription's memory.
    fn new_rtc(
        &self,
        now: Instant,
        codec: Option<VideoCodec>,
        sends_only: bool,
    ) -> Result<Rtc, SfuError> {
        let mut extensions = ExtensionMap::empty();
        for (id, ext) in ExtensionMap::standard().iter() {
            if !(sends_only && *ext == Extension::TransportSequenceNumber) {
                extensions.set(id, ext.clone());
            }
        }
        let mut builder = Rtc::builder()
            // Packets are forwarded as they come, not depacketised into frames.
            .set_rtp_mode(true)
            // A subscription's round trip sizes its retransmission buffer (`follow_round_trip`).
            .set_stats_interval(sends_only.then_some(STATS_INTERVAL))
            .set_extension_map(extensions)
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false);
        if let Some(cert) = &self.dtls_cert {
            builder = builder.set_dtls_cert(cert.clone());
        }
        let builder = match codec {
            None => builder.enable_vp8(true).enable_h264(true),
            Some(VideoCodec::Vp8) => builder.enable_vp8(true),
            Some(VideoCodec::Vp9) => builder.enable_vp9(true),
            Some(VideoCodec::H264) => builder.enable_h264(true),
        };
        let mut rtc = builder.build(now);
        let candidate = Candidate::host(self.candidate_addr, Protocol::Udp)
            .map_err(|e| refused("host candidate", e))?;
        rtc.add_local_candidate(candidate);
        Ok(rtc)
    }

    /// A publisher's offer (browser-offered): accepts it and returns the answer.
    pub fn publish(&mut self, now: Instant, peer: PeerId, offer: &str) -> Result<String, SfuError> {
        self.publish_with_codec(now, peer, offer, None)
    }

    /// [`Sfu::publish`], restricted to one video codec (the session's `forcedVideoCodec`).
    pub fn publish_with_codec(
        &mut self,
        now: Instant,
        peer: PeerId,
        offer: &str,
        codec: Option<VideoCodec>,
    ) -> Result<String, SfuError> {
        sdp::check_shape(offer).map_err(SfuError::BadShape)?;
        let tracks: Vec<TrackIn> = sdp::sections(offer)
            .into_iter()
            .filter(|s| s.browser_sends)
            .map(|s| TrackIn::new(s.mid, s.kind, &s.send_rids))
            .collect();
        let offer = SdpOffer::from_sdp_string(offer).map_err(|_| SfuError::BadSdp)?;
        let mut rtc = self.new_rtc(now, codec, false)?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| refused("negotiation", e))?;
        self.close(peer);
        self.insert_peer(
            peer,
            Peer::new(
                rtc,
                Role::Publisher {
                    tracks,
                    subscribers: Vec::new(),
                },
                codec,
                now,
            ),
        );
        self.drive(now, peer);
        Ok(answer.to_sdp_string())
    }

    /// A server-offered subscription (`prepareReceiveVideoFrom`): one send-only m-line per track of
    /// the publisher. Returns the offer; the browser's answer comes through [`Sfu::accept_answer`].
    pub fn offer_subscription(
        &mut self,
        now: Instant,
        peer: PeerId,
        source: PeerId,
        stream_id: &str,
    ) -> Result<String, SfuError> {
        let (source_tracks, codec): (Vec<(Mid, MediaKind)>, _) =
            match self.peers.get(&source).map(Box::as_ref) {
                Some(Peer {
                    role: Role::Publisher { tracks, .. },
                    codec,
                    ..
                }) => (tracks.iter().map(|t| (t.mid, t.kind)).collect(), *codec),
                _ => return Err(SfuError::NoSuchPeer),
            };
        if source_tracks.is_empty() {
            return Err(SfuError::NoMedia);
        }
        let mut rtc = self.new_rtc(now, codec, true)?;
        let mut change = rtc.sdp_api();
        let mut tracks = Vec::with_capacity(source_tracks.len());
        for (source_mid, kind) in source_tracks {
            let mid = change.add_media(
                kind,
                Direction::SendOnly,
                Some(stream_id.to_owned()),
                None,
                None,
            );
            tracks.push(TrackOut::new(mid, kind, Some(source_mid)));
        }
        let (offer, pending) = change.apply().ok_or(SfuError::NoMedia)?;
        limit_resend_buffers(&mut rtc, &tracks);
        self.close(peer);
        self.insert_peer(
            peer,
            Peer::new(
                rtc,
                Role::Subscriber {
                    source,
                    tracks,
                    pending: Some(pending),
                },
                codec,
                now,
            ),
        );
        self.link(source, peer);
        self.drive(now, peer);
        Ok(offer.to_sdp_string())
    }

    /// The browser's answer to [`Sfu::offer_subscription`].
    pub fn accept_answer(
        &mut self,
        now: Instant,
        peer: PeerId,
        answer: &str,
    ) -> Result<(), SfuError> {
        sdp::check_shape(answer).map_err(SfuError::BadShape)?;
        let answer = SdpAnswer::from_sdp_string(answer).map_err(|_| SfuError::BadSdp)?;
        let p = self.peers.get_mut(&peer).ok_or(SfuError::NoSuchPeer)?;
        let Role::Subscriber { pending, .. } = &mut p.role else {
            return Err(SfuError::NoPendingOffer);
        };
        let pending = pending.take().ok_or(SfuError::NoPendingOffer)?;
        p.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| refused("negotiation", e))?;
        if let Role::Subscriber { tracks, .. } = &p.role {
            limit_resend_buffers(&mut p.rtc, tracks);
        }
        self.drive(now, peer);
        Ok(())
    }

    /// A browser-offered subscription (`receiveVideoFrom` with `sdpOffer`, recv-only m-lines).
    pub fn accept_subscription_offer(
        &mut self,
        now: Instant,
        peer: PeerId,
        source: PeerId,
        offer: &str,
    ) -> Result<String, SfuError> {
        sdp::check_shape(offer).map_err(SfuError::BadShape)?;
        let codec = match self.peers.get(&source).map(Box::as_ref) {
            Some(Peer {
                role: Role::Publisher { .. },
                codec,
                ..
            }) => *codec,
            _ => return Err(SfuError::NoSuchPeer),
        };
        let tracks: Vec<TrackOut> = sdp::sections(offer)
            .into_iter()
            .filter(|s| s.browser_receives)
            .map(|s| TrackOut::new(s.mid, s.kind, None))
            .collect();
        let offer = SdpOffer::from_sdp_string(offer).map_err(|_| SfuError::BadSdp)?;
        let mut rtc = self.new_rtc(now, codec, true)?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| refused("negotiation", e))?;
        limit_resend_buffers(&mut rtc, &tracks);
        self.close(peer);
        self.insert_peer(
            peer,
            Peer::new(
                rtc,
                Role::Subscriber {
                    source,
                    tracks,
                    pending: None,
                },
                codec,
                now,
            ),
        );
        self.drive(now, peer);
        // The browser's m-lines became tracks while driving; only now can they be matched.
        self.link(source, peer);
        Ok(answer.to_sdp_string())
    }

    /// Moves every subscriber of `from` to `to` (a publisher that renegotiated with a new peer).
    pub fn move_subscribers(&mut self, now: Instant, from: PeerId, to: PeerId) {
        // Found by their source rather than through `from`'s list: `from` may have died already.
        let moved: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| matches!(p.role, Role::Subscriber { source, .. } if source == from))
            .map(|(id, _)| *id)
            .collect();
        if let Some(Peer {
            role: Role::Publisher { subscribers, .. },
            ..
        }) = self.peers.get_mut(&from).map(Box::as_mut)
        {
            subscribers.clear();
        }
        for sub in moved {
            if let Some(Peer {
                role: Role::Subscriber { source, tracks, .. },
                ..
            }) = self.peers.get_mut(&sub).map(Box::as_mut)
            {
                *source = to;
                for t in tracks.iter_mut() {
                    t.change_source(None);
                }
                self.link(to, sub);
            }
        }
        self.resolve_source_mids(to);
        self.request_keyframes(now, to);
    }

    /// A trickled candidate from the browser. ICE-lite learns the browser's address from its checks
    /// anyway, so this only helps; mDNS (`.local`) candidates cannot be resolved here and are ignored.
    pub fn add_remote_candidate(&mut self, peer: PeerId, candidate: &str) {
        self.candidates += 1;
        let line = candidate.trim().trim_start_matches("a=");
        if line.is_empty() || line.contains(".local") {
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.candidates >= MAX_REMOTE_CANDIDATES {
            return;
        }
        p.candidates += 1;
        match Candidate::from_sdp_string(line) {
            Ok(c) => p.rtc.add_remote_candidate(c),
            Err(e) => debug!(%peer, "ignoring unparseable ICE candidate: {e}"),
        }
    }

    /// Closes a peer connection; a publisher's subscribers stay, silent, until signaling closes them.
    pub fn close(&mut self, peer: PeerId) {
        let Some(mut p) = self.peers.remove(&peer) else {
            return;
        };
        p.rtc.disconnect();
        for addr in &p.addrs {
            self.by_addr.remove(addr);
        }
        match p.role {
            Role::Subscriber { source, .. } => {
                if let Some(Peer {
                    role: Role::Publisher { subscribers, .. },
                    ..
                }) = self.peers.get_mut(&source).map(Box::as_mut)
                {
                    subscribers.retain(|s| *s != peer);
                }
            }
            Role::Publisher { .. } => {}
        }
    }

    /// One datagram from the UDP socket.
    pub fn handle_receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            self.dropped_datagrams += 1;
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.candidate_addr,
                contents,
            },
        );
        let known = self
            .by_addr
            .get(&source)
            .copied()
            .filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)));
        let peer = match known {
            Some(id) => id,
            // ICE-lite: a browser's first datagram from a new address is a STUN check (RFC 7983:
            // first byte 0..=3). Anything else from an unknown address is dropped without a scan.
            None if data.first().is_none_or(|b| *b > 3) => {
                self.dropped_datagrams += 1;
                return;
            }
            None => {
                let Some(id) = self
                    .peers
                    .iter()
                    .find(|(_, p)| p.rtc.accepts(&input))
                    .map(|(id, _)| *id)
                else {
                    debug!(%source, "no peer accepts datagram");
                    self.dropped_datagrams += 1;
                    return;
                };
                self.remember_addr(id, source);
                id
            }
        };
        // A datagram the peer cannot make sense of (mangled, replayed, forged with the browser's
        // address) is dropped: only the peer's own timers end it, never one bad packet.
        if let Some(p) = self.peers.get_mut(&peer)
            && let Err(e) = p.rtc.handle_input(input)
        {
            debug!(%peer, "dropping a datagram the peer refused: {e}");
            self.dropped_datagrams += 1;
        }
        self.advance(now);
        self.drive(now, peer);
        self.run_forwards(now);
    }

    fn advance(&mut self, now: Instant) {
        self.now = Some(self.now.map_or(now, |t| t.max(now)));
    }

    /// Sends what was written to subscribers: one timeout each, which packetises nothing (the
    /// packets are whole) but hands them to str0m's send queue, then their datagrams.
    fn flush(&mut self, now: Instant) {
        while !self.unflushed.is_empty() {
            let batch = std::mem::take(&mut self.unflushed);
            for &peer in &batch {
                let Some(p) = self.peers.get_mut(&peer) else {
                    continue;
                };
                p.unflushed = false;
                if let Err(e) = p.rtc.handle_input(Input::Timeout(now)) {
                    warn!(%peer, "peer failed on timeout: {e}");
                    p.rtc.disconnect();
                }
                self.drive(now, peer);
            }
            // Keep the allocation; what the drives asked for (keyframe requests) may refill it.
            if self.unflushed.is_empty() {
                self.unflushed = batch;
                self.unflushed.clear();
            }
            self.run_forwards(now);
        }
    }

    /// Maps `addr` to `peer`, forgetting the peer's oldest address past [`MAX_ADDRS`].
    fn remember_addr(&mut self, peer: PeerId, addr: SocketAddr) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        // An address belongs to one peer: a port reused by another browser moves to it.
        if let Some(previous) = self.by_addr.insert(addr, peer)
            && let Some(old) = self.peers.get_mut(&previous)
        {
            old.addrs.retain(|a| *a != addr);
        }
        let p = self.peers.get_mut(&peer).expect("checked above");
        if !p.addrs.contains(&addr) {
            p.addrs.push(addr);
        }
        if p.addrs.len() > MAX_ADDRS {
            let oldest = p.addrs.remove(0);
            self.by_addr.remove(&oldest);
        }
    }

    /// Advances time for every peer that asked to be woken by now.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        let mut due = std::mem::take(&mut self.scratch);
        due.clear();
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            if p.scheduled != Some(at) {
                continue;
            }
            if p.next_timeout <= now {
                p.scheduled = None;
                due.push(id);
            } else {
                // It wants a later time than it had asked for: wait for that one.
                p.scheduled = Some(p.next_timeout);
                self.timers.push(Reverse((p.next_timeout, id)));
            }
        }
        for &peer in &due {
            if let Some(p) = self.peers.get_mut(&peer) {
                send_deferred_keyframes(p, now);
                if let Err(e) = p.rtc.handle_input(Input::Timeout(now)) {
                    warn!(%peer, "peer failed on timeout: {e}");
                    p.rtc.disconnect();
                }
            }
            self.drive(now, peer);
        }
        self.run_forwards(now);
        self.flush(now);
        for &peer in &due {
            if self.peers.get(&peer).is_some_and(|p| !p.rtc.is_alive()) {
                info!(%peer, "peer connection ended");
                self.close(peer);
            }
        }
        self.scratch = due;
    }

    /// The earliest time a peer wants [`Sfu::handle_timeout`] (or a little earlier).
    pub fn next_timeout(&self, now: Instant) -> Instant {
        self.timers
            .peek()
            .map(|Reverse((at, _))| *at)
            .unwrap_or(now + Duration::from_secs(1))
    }

    /// The next datagram to send. Packets forwarded since the last call are sent first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if !self.unflushed.is_empty()
            && let Some(now) = self.now
        {
            self.flush(now);
        }
        self.transmits.pop_front()
    }

    fn link(&mut self, source: PeerId, subscriber: PeerId) {
        if let Some(Peer {
            role: Role::Publisher { subscribers, .. },
            ..
        }) = self.peers.get_mut(&source).map(Box::as_mut)
            && !subscribers.contains(&subscriber)
        {
            subscribers.push(subscriber);
        }
        self.resolve_source_mids(source);
    }

    /// Matches subscriber tracks without a source to the publisher's tracks of the same kind, in order.
    /// Doing it twice changes nothing.
    fn resolve_source_mids(&mut self, source: PeerId) {
        let (source_tracks, subs) = match self.peers.get(&source).map(Box::as_ref) {
            Some(Peer {
                role:
                    Role::Publisher {
                        tracks,
                        subscribers,
                    },
                ..
            }) => (
                tracks.iter().map(|t| (t.mid, t.kind)).collect::<Vec<_>>(),
                subscribers.clone(),
            ),
            _ => return,
        };
        for sub in subs {
            let Some(Peer {
                role: Role::Subscriber { tracks, .. },
                ..
            }) = self.peers.get_mut(&sub).map(Box::as_mut)
            else {
                continue;
            };
            for kind in [MediaKind::Audio, MediaKind::Video] {
                let taken: Vec<Mid> = tracks.iter().filter_map(|t| t.source_mid).collect();
                let mut free_sources = source_tracks
                    .iter()
                    .filter(|(mid, k)| *k == kind && !taken.contains(mid))
                    .map(|(mid, _)| *mid);
                for t in tracks
                    .iter_mut()
                    .filter(|t| t.kind == kind && t.source_mid.is_none())
                {
                    t.change_source(free_sources.next());
                }
            }
        }
    }

    fn request_keyframes(&mut self, now: Instant, source: PeerId) {
        let Some(Peer {
            rtc,
            role: Role::Publisher { tracks, .. },
            ..
        }) = self.peers.get_mut(&source).map(Box::as_mut)
        else {
            return;
        };
        for t in tracks.iter_mut().filter(|t| t.kind == MediaKind::Video) {
            let rid = t.keyframe_rid(now);
            request_keyframe(rtc, t, now, rid, KeyframeRequestKind::Pli);
        }
    }

    /// Polls one peer until it has nothing more to say, queuing datagrams and forwards.
    fn drive(&mut self, now: Instant, peer: PeerId) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        loop {
            if !p.rtc.is_alive() {
                p.next_timeout = now;
                schedule(&mut self.timers, peer, p);
                return;
            }
            match p.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    p.next_timeout = deferred_keyframes_due(p).map_or(t, |k| k.min(t));
                    schedule(&mut self.timers, peer, p);
                    return;
                }
                Ok(Output::Transmit(t)) => self.transmits.push_back(t),
                Ok(Output::Event(e)) => on_event(peer, p, e, &mut self.forwards),
                Err(e) => {
                    warn!(%peer, "peer failed: {e}");
                    p.rtc.disconnect();
                }
            }
        }
    }

    fn run_forwards(&mut self, now: Instant) {
        while let Some((from, fwd)) = self.forwards.pop_front() {
            match fwd {
                Forward::Rtp(packet) => self.forward_rtp(now, from, packet),
                Forward::KeyframeRequest {
                    source,
                    source_mid,
                    rid,
                    kind,
                } => {
                    if let Some(Peer {
                        rtc,
                        role: Role::Publisher { tracks, .. },
                        ..
                    }) = self.peers.get_mut(&source).map(Box::as_mut)
                        && let Some(t) = tracks.iter_mut().find(|t| t.mid == source_mid)
                    {
                        let rid = rid.or_else(|| t.keyframe_rid(now));
                        request_keyframe(rtc, t, now, rid, kind);
                    }
                    self.drive(now, source);
                }
                Forward::SubscriberConnected { source } => {
                    self.request_keyframes(now, source);
                    self.drive(now, source);
                }
            }
        }
    }

    fn forward_rtp(&mut self, now: Instant, from: PeerId, packet: RtpPacket) {
        let Some(Peer {
            rtc,
            role:
                Role::Publisher {
                    tracks,
                    subscribers,
                },
            unflushed,
            ..
        }) = self.peers.get_mut(&from).map(Box::as_mut)
        else {
            return;
        };
        // A packet goes out under the subscriber's own RTP header, which may be larger than the
        // publisher's (and a retransmission adds two bytes): a payload that filled the publisher's
        // datagram would not fit in str0m's, which panics. Browsers stay far below this.
        if packet.payload.len() > MAX_FORWARDED_PAYLOAD {
            self.dropped_datagrams += 1;
            return;
        }
        let ssrc = packet.header.ssrc;
        let Some((mid, rid)) = rtc
            .direct_api()
            .stream_rx(&ssrc)
            .map(|s| (s.mid(), s.rid()))
        else {
            return;
        };
        let Some(track) = tracks.iter_mut().find(|t| t.mid == mid) else {
            return;
        };
        let pt = packet.header.payload_type;
        let params = match track.params {
            Some(params) if params.pt() == pt => params,
            _ => match rtc.codec_config().find(|p| p.pt() == pt) {
                Some(params) => *track.params.insert(*params),
                None => return,
            },
        };
        let spec = params.spec();
        let video = track.kind == MediaKind::Video;
        let keyframe = video && starts_keyframe(spec.codec, &packet.payload);
        let asked = track.last_keyframe_request;
        let forward = select_layer(rtc, track, now, rid, keyframe);
        if track.last_keyframe_request != asked && !*unflushed {
            // A keyframe request goes out with the publisher's next timeout.
            *unflushed = true;
            self.unflushed.push(from);
        }
        if !forward {
            return;
        }
        if keyframe {
            track.keyframe_forwarded();
        }
        let vp8 = (spec.codec == str0m::format::Codec::Vp8).then_some(&packet.payload[..]);
        let Some(out) = track.sequencer.forward(
            ssrc,
            *packet.seq_no,
            packet.header.timestamp,
            now,
            spec.clock_rate.get(),
            vp8,
        ) else {
            return;
        };
        // Taken out while the subscribers are written to, put back after: no copy per packet.
        let subscribers = std::mem::take(subscribers);
        let extensions = forwarded_extensions(&packet.header.ext_vals);
        for sub in &subscribers {
            let Some(Peer {
                rtc,
                role: Role::Subscriber { tracks, .. },
                connected: true,
                unflushed,
                ..
            }) = self.peers.get_mut(sub).map(Box::as_mut)
            else {
                continue;
            };
            let Some(track) = tracks.iter_mut().find(|t| t.source_mid == Some(mid)) else {
                continue;
            };
            let out_pt = match track.pt {
                Some((from_pt, to_pt)) if from_pt == pt => to_pt,
                _ => match rtc.codec_config().match_params(params) {
                    Some(p) => track.pt.insert((pt, p.pt())).1,
                    None => continue,
                },
            };
            let Some(seq) = track.seq.number(out.seq) else {
                continue;
            };
            let mut direct = rtc.direct_api();
            let Some(tx) = direct.stream_tx_by_mid(track.mid, None) else {
                continue;
            };
            // The wallclock must not go backwards: str0m queues by it, and a packet repaired by
            // retransmission arrives later than the one after it.
            let mut write = RtpWrite::new(
                out_pt,
                seq.into(),
                out.timestamp,
                now,
                packet.payload.clone(),
            )
            .marker(packet.header.marker)
            .ext_vals(extensions.clone())
            .nackable(video);
            if let Some(patch) = out.vp8_patch {
                write = write.vp8_patch(patch);
            }
            tx.write_rtp(write);
            if !*unflushed {
                *unflushed = true;
                self.unflushed.push(*sub);
            }
        }
        if let Some(Peer {
            role: Role::Publisher {
                subscribers: slot, ..
            },
            ..
        }) = self.peers.get_mut(&from).map(Box::as_mut)
        {
            *slot = subscribers;
        }
    }
}

/// The header extensions a forwarded packet keeps: what describes the media. Those of the
/// transport (mid, rid, sequence numbers, send times) are the subscriber connection's own.
fn forwarded_extensions(incoming: &ExtensionValues) -> ExtensionValues {
    ExtensionValues {
        audio_level: incoming.audio_level,
        voice_activity: incoming.voice_activity,
        video_orientation: incoming.video_orientation,
        video_content_type: incoming.video_content_type,
        ..ExtensionValues::default()
    }
}

/// Whether a packet of a simulcast layer (`rid`) is forwarded. The best layer heard from lately is
/// wanted; the switch to it happens on one of its keyframes (asked for), so that subscribers can
/// decode on. `keyframe`: the packet starts one.
fn select_layer(
    rtc: &mut Rtc,
    track: &mut TrackIn,
    now: Instant,
    rid: Option<Rid>,
    keyframe: bool,
) -> bool {
    let Some(rid) = rid else { return true };
    let Some(slot) = track.layers.iter_mut().find(|(r, _)| *r == rid) else {
        return track.layers.is_empty();
    };
    slot.1 = Some(now);
    track.first_frame.get_or_insert(now);
    let wanted = track.wanted_layer(now);
    if track.active_rid == Some(rid) {
        if wanted.is_some_and(|w| w != rid) {
            request_keyframe(rtc, track, now, wanted, KeyframeRequestKind::Pli);
        }
        return true;
    }
    if wanted == Some(rid) {
        if keyframe {
            debug!(mid = %track.mid, %rid, "switching simulcast layer");
            track.active_rid = Some(rid);
            return true;
        }
        request_keyframe(rtc, track, now, Some(rid), KeyframeRequestKind::Pli);
    }
    false
}

/// Sizes the retransmission buffers of a subscriber's outgoing video (each track's
/// [`TrackOut::resend_age`]); str0m sets them anew at each negotiation, so this follows every one.
fn limit_resend_buffers(rtc: &mut Rtc, tracks: &[TrackOut]) {
    for track in tracks.iter().filter(|t| t.kind == MediaKind::Video) {
        size_resend_buffer(rtc, track);
    }
}

fn size_resend_buffer(rtc: &mut Rtc, track: &TrackOut) {
    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(track.mid, None) {
        tx.set_rtx_cache(RESEND_PACKETS, track.resend_age, Some(0.15));
    }
}

/// A subscription's round trip was measured: its video's retransmission buffer follows it.
fn follow_round_trip(p: &mut Peer, mid: Mid, rtt: Duration) {
    let Role::Subscriber { tracks, .. } = &mut p.role else {
        return;
    };
    let Some(track) = tracks
        .iter_mut()
        .find(|t| t.mid == mid && t.kind == MediaKind::Video)
    else {
        return;
    };
    let wanted = resend_age(rtt);
    if resend_age_changed(track.resend_age, wanted) {
        track.resend_age = wanted;
        size_resend_buffer(&mut p.rtc, track);
    }
}

/// Logs str0m's reason, which stays out of what the client is told.
fn refused(what: &str, e: impl std::fmt::Display) -> SfuError {
    debug!("{what} refused: {e}");
    SfuError::Refused
}

fn request_keyframe(
    rtc: &mut Rtc,
    track: &mut TrackIn,
    now: Instant,
    rid: Option<Rid>,
    kind: KeyframeRequestKind,
) {
    if !track.admit_keyframe_request(now, rid, kind) {
        return;
    }
    if let Some(stream) = rtc.direct_api().stream_rx_by_mid(track.mid, rid) {
        stream.request_keyframe(kind);
        track.last_keyframe_request = Some(now);
        track.deferred_keyframe = None;
    }
}

/// Makes sure the peer has a timer entry no later than its `next_timeout`. A later entry stays: it
/// fires early and is put back at the right time then, so that a peer has one live entry.
fn schedule(timers: &mut BinaryHeap<Reverse<(Instant, PeerId)>>, id: PeerId, p: &mut Peer) {
    if p.scheduled.is_none_or(|at| p.next_timeout < at) {
        p.scheduled = Some(p.next_timeout);
        timers.push(Reverse((p.next_timeout, id)));
    }
}

/// Sends the publisher's deferred keyframe requests that are due.
fn send_deferred_keyframes(p: &mut Peer, now: Instant) {
    let Role::Publisher { tracks, .. } = &mut p.role else {
        return;
    };
    for track in tracks.iter_mut() {
        if track.deferred_keyframe_due().is_some_and(|due| due <= now)
            && let Some((rid, kind)) = track.deferred_keyframe.take()
        {
            track.last_keyframe_request = None;
            request_keyframe(&mut p.rtc, track, now, rid, kind);
        }
    }
}

/// The earliest deferred keyframe request of a publisher.
fn deferred_keyframes_due(p: &Peer) -> Option<Instant> {
    match &p.role {
        Role::Publisher { tracks, .. } => tracks
            .iter()
            .filter_map(TrackIn::deferred_keyframe_due)
            .min(),
        Role::Subscriber { .. } => None,
    }
}

fn on_event(peer: PeerId, p: &mut Peer, event: Event, forwards: &mut VecDeque<(PeerId, Forward)>) {
    match event {
        Event::IceConnectionStateChange(state) => {
            debug!(%peer, ?state, "ICE state");
            match state {
                IceConnectionState::Disconnected => p.connected = false,
                // Back after a blip: str0m reports `Connected` (DTLS) only once.
                IceConnectionState::Connected | IceConnectionState::Completed if p.dtls_done => {
                    p.connected = true
                }
                _ => {}
            }
        }
        Event::Connected => {
            info!(%peer, "peer connected");
            p.connected = true;
            p.dtls_done = true;
            if let Role::Subscriber { source, .. } = p.role {
                forwards.push_back((peer, Forward::SubscriberConnected { source }));
            }
        }
        Event::MediaAdded(added) => match &mut p.role {
            Role::Publisher { tracks, .. } => {
                if added.direction.is_receiving() && !tracks.iter().any(|t| t.mid == added.mid) {
                    let rids: Vec<Rid> = added
                        .simulcast
                        .iter()
                        .flat_map(|s| s.recv.iter().map(|l| l.rid))
                        .collect();
                    tracks.push(TrackIn::new(added.mid, added.kind, &rids));
                }
            }
            Role::Subscriber { tracks, .. } => {
                if added.direction.is_sending() && !tracks.iter().any(|t| t.mid == added.mid) {
                    tracks.push(TrackOut::new(added.mid, added.kind, None));
                }
            }
        },
        // Video back after a pause (a network cut, a publisher that froze): what was lost cannot be
        // retransmitted any more, and only a keyframe brings the subscribers' picture back.
        Event::StreamPaused(paused) if !paused.paused => {
            if let Role::Publisher { tracks, .. } = &p.role
                && tracks.iter().any(|t| {
                    t.mid == paused.mid
                        && t.kind == MediaKind::Video
                        && (t.layers.is_empty() || t.active_rid == paused.rid)
                })
            {
                forwards.push_back((
                    peer,
                    Forward::KeyframeRequest {
                        source: peer,
                        source_mid: paused.mid,
                        rid: paused.rid,
                        kind: KeyframeRequestKind::Fir,
                    },
                ));
            }
        }
        Event::RtpPacket(packet) => {
            if matches!(p.role, Role::Publisher { .. }) {
                forwards.push_back((peer, Forward::Rtp(packet)));
            }
        }
        Event::MediaEgressStats(stats) => {
            if let Some(rtt) = stats.rtt {
                follow_round_trip(p, stats.mid, rtt);
            }
        }
        Event::KeyframeRequest(req) => {
            if let Role::Subscriber { source, tracks, .. } = &p.role
                && let Some(source_mid) = tracks
                    .iter()
                    .find(|t| t.mid == req.mid)
                    .and_then(|t| t.source_mid)
            {
                forwards.push_back((
                    peer,
                    Forward::KeyframeRequest {
                        source: *source,
                        source_mid,
                        rid: None,
                        kind: req.kind,
                    },
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video_track() -> TrackIn {
        TrackIn::new(Mid::from("1"), MediaKind::Video, &[])
    }

    #[test]
    fn the_resend_buffer_follows_the_round_trip_within_bounds_and_only_on_a_clear_change() {
        let ms = Duration::from_millis;
        // Loopback: the floor. A slow link: three round trips and a margin. Past that: a second.
        assert_eq!(resend_age(ms(1)), RESEND_AGE_MIN);
        assert_eq!(resend_age(ms(100)), ms(400));
        assert_eq!(resend_age(ms(2000)), RESEND_AGE_MAX);
        // From the minimum a subscription starts with up to what a slow link needs: remade.
        assert!(resend_age_changed(RESEND_AGE_MIN, resend_age(ms(300))));
        // A round trip that wobbles by a few milliseconds leaves the buffer as it is.
        assert!(!resend_age_changed(ms(400), resend_age(ms(110))));
        assert!(!resend_age_changed(ms(400), resend_age(ms(90))));
        assert!(resend_age_changed(ms(400), resend_age(ms(200))));
    }

    #[test]
    fn a_keyframe_request_while_one_is_on_its_way_is_deferred_not_dropped() {
        let t0 = Instant::now();
        let mut track = video_track();
        let pli = KeyframeRequestKind::Pli;
        assert!(track.admit_keyframe_request(t0, None, pli));
        track.last_keyframe_request = Some(t0);
        // A second subscriber connects 10 ms later: its request waits for the first one's interval.
        let t1 = t0 + Duration::from_millis(10);
        assert!(!track.admit_keyframe_request(t1, None, pli));
        assert_eq!(
            track.deferred_keyframe_due(),
            Some(t0 + KEYFRAME_REQUEST_INTERVAL)
        );
        // A keyframe of the forwarded layer answers both: nothing is left to send, and the next
        // request goes out at once.
        track.keyframe_forwarded();
        assert_eq!(track.deferred_keyframe_due(), None);
        assert!(track.admit_keyframe_request(t1, None, pli));
    }
}
