//! An in-memory network for the sans-IO SFU core: "browsers" are str0m `Rtc`s (full ICE, not lite),
//! datagrams move between them and the [`Sfu`] without sockets, and time is simulated.
//!
//! Modelled on str0m's `tests/common.rs`. It owns the clock, the routing of datagrams by address and
//! a fake camera per publishing browser; it does not own any assertion about the SFU's behaviour.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mediaserver::sfu::{PeerId, Sfu, SfuError, VideoCodec};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{
    Direction, Frequency, KeyframeRequest, KeyframeRequestKind, MediaKind, MediaTime, Mid, Rid,
    Simulcast, SimulcastLayer,
};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

/// Where the SFU listens and what it announces as its host candidate.
pub const SFU_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4000);

/// The smallest and largest step of the simulated clock. The upper bound keeps cameras, pacers and
/// the SFU's timers interleaved the way they would be on a real machine.
const MIN_STEP: Duration = Duration::from_millis(1);
const MAX_STEP: Duration = Duration::from_millis(10);

const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);

/// A browser's handle in the [`World`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct B(pub usize);

/// One media frame, as written by a camera or as delivered to a browser.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub kind: MediaKind,
    pub mid: Mid,
    /// The simulcast layer a camera wrote it on.
    pub rid: Option<Rid>,
    pub data: Vec<u8>,
}

/// What a browser publishes.
#[derive(Debug, Clone, Default)]
pub struct Publish {
    pub audio: bool,
    pub video: bool,
    /// Simulcast layers, lowest first (openvidu-browser's order); empty for one layer.
    pub rids: Vec<&'static str>,
    /// The session's `forcedVideoCodec`, handed to the SFU.
    pub forced_codec: Option<VideoCodec>,
}

impl Publish {
    pub fn audio_video() -> Publish {
        Publish {
            audio: true,
            video: true,
            ..Publish::default()
        }
    }
}

/// A publishing browser's source: a video frame every 33 ms (one per simulcast layer) and an audio
/// frame every 20 ms, each with a unique payload, written only while the browser is connected.
pub struct Camera {
    pub audio: Option<Mid>,
    pub video: Option<Mid>,
    rids: Vec<Rid>,
    /// Set in every payload, so that two cameras never send the same bytes.
    salt: u8,
    t0: Instant,
    next_audio: Instant,
    next_video: Instant,
    count: u32,
    started: bool,
    /// Everything written, in order.
    pub sent: Vec<Frame>,
    pub on: bool,
    /// Simulcast layers not sent for now (as Chrome drops its top layers when bandwidth is short).
    pub paused_layers: Vec<Rid>,
}

pub struct Browser {
    pub name: String,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    next_timeout: Instant,
    /// Media delivered to this browser (`Event::MediaData`), in order.
    pub received: Vec<Frame>,
    /// The browser's m-lines, in the order they appeared.
    pub media: Vec<(Mid, MediaKind)>,
    /// Keyframe requests the remote (the SFU) sent this browser.
    pub keyframe_requests: Vec<KeyframeRequest>,
    /// `Event::Connected` was seen.
    pub connected: bool,
    pub camera: Option<Camera>,
    /// A hung-up browser neither sends nor receives.
    pub gone: bool,
    /// Its network is down: timers run, datagrams both ways are lost.
    pub offline: bool,
    /// Percentage of RTP and RTCP datagrams lost each way (ICE and DTLS get through).
    pub loss_percent: u64,
    /// How long a datagram takes each way between this browser and the SFU (half its round trip).
    pub delay: Duration,
    /// The first datagrams it sent (STUN, DTLS, RTP, RTCP), up to [`SENT_LOG`], for replaying and
    /// mutating real traffic.
    pub sent_log: Vec<Vec<u8>>,
}

/// How many datagrams a browser's `sent_log` keeps.
pub const SENT_LOG: usize = 3000;

pub struct World {
    pub start: Instant,
    pub now: Instant,
    pub sfu: Sfu,
    pub browsers: Vec<Browser>,
    /// Datagrams the SFU sent to an address no browser has.
    pub undeliverable: usize,
    /// Drives simulated packet loss; fixed seed, so that a run replays exactly.
    loss_rng: u64,
    /// Datagrams on a delayed link ([`Browser::delay`]), in the order sent.
    in_flight: Vec<InFlight>,
}

/// A datagram on its way over a delayed link.
struct InFlight {
    due: Instant,
    /// To the SFU, else from it to a browser.
    to_sfu: bool,
    proto: Protocol,
    source: SocketAddr,
    destination: SocketAddr,
    contents: Vec<u8>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> World {
        init_log();
        let now = Instant::now();
        World {
            start: now,
            now,
            sfu: Sfu::new(SFU_ADDR, SFU_ADDR),
            browsers: Vec::new(),
            undeliverable: 0,
            loss_rng: 0x853c_49e6_748f_ea9b,
            in_flight: Vec::new(),
        }
    }

    /// A browser with a host candidate on its own made-up loopback port (10001, 10002, …).
    pub fn browser(&mut self, name: &str) -> B {
        self.browser_with(name, |c| c)
    }

    /// A browser whose str0m configuration `config` adjusts (its codecs, say).
    pub fn browser_with(&mut self, name: &str, config: impl FnOnce(RtcConfig) -> RtcConfig) -> B {
        let addr = SocketAddr::new(
            Ipv4Addr::LOCALHOST.into(),
            10001 + self.browsers.len() as u16,
        );
        let mut rtc = config(Rtc::builder()).build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, Protocol::Udp).expect("host candidate"));
        self.browsers.push(Browser {
            name: name.to_owned(),
            addr,
            rtc,
            next_timeout: self.now,
            received: Vec::new(),
            media: Vec::new(),
            keyframe_requests: Vec::new(),
            connected: false,
            camera: None,
            gone: false,
            offline: false,
            loss_percent: 0,
            delay: Duration::ZERO,
            sent_log: Vec::new(),
        });
        B(self.browsers.len() - 1)
    }

    pub fn b(&self, b: B) -> &Browser {
        &self.browsers[b.0]
    }

    pub fn b_mut(&mut self, b: B) -> &mut Browser {
        &mut self.browsers[b.0]
    }

    /// The browser offers send-only audio and video (what openvidu-browser's `publish` does) and the
    /// SFU answers. The camera starts once the browser is connected.
    pub fn publish(&mut self, b: B, peer: PeerId) -> Result<(), SfuError> {
        self.publish_with(b, peer, Publish::audio_video())
    }

    pub fn publish_with(&mut self, b: B, peer: PeerId, what: Publish) -> Result<(), SfuError> {
        let now = self.now;
        let browser = &mut self.browsers[b.0];
        let stream = format!("{}-stream", browser.name);
        let mut api = browser.rtc.sdp_api();
        let audio = what.audio.then(|| {
            api.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some(stream.clone()),
                Some("mic".into()),
                None,
            )
        });
        let simulcast = (!what.rids.is_empty()).then(|| {
            let mut s = Simulcast::new();
            s.send = what.rids.iter().map(|r| SimulcastLayer::new(r)).collect();
            s
        });
        let video = what.video.then(|| {
            api.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some(stream),
                Some("cam".into()),
                simulcast,
            )
        });
        let (offer, pending) = api.apply().expect("an offer with media");
        let answer =
            self.sfu
                .publish_with_codec(now, peer, &offer.to_sdp_string(), what.forced_codec)?;
        let answer = SdpAnswer::from_sdp_string(&answer).expect("the SFU's answer parses");
        browser
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("the browser accepts the SFU's answer");
        browser.media.extend(
            audio
                .map(|m| (m, MediaKind::Audio))
                .into_iter()
                .chain(video.map(|m| (m, MediaKind::Video))),
        );
        browser.camera = Some(Camera {
            audio,
            video,
            rids: what.rids.iter().map(|r| Rid::from(*r)).collect(),
            salt: 0x80 | b.0 as u8,
            t0: now,
            next_audio: now,
            next_video: now,
            count: 0,
            started: false,
            sent: Vec::new(),
            on: true,
            paused_layers: Vec::new(),
        });
        Ok(())
    }

    /// A server-offered subscription (openvidu-browser's `prepareReceiveVideoFrom` path): the SFU
    /// offers, the browser answers.
    pub fn subscribe(&mut self, b: B, peer: PeerId, source: PeerId) -> Result<(), SfuError> {
        let now = self.now;
        let offer =
            self.sfu
                .offer_subscription(now, peer, source, &format!("stream-of-{source}"))?;
        let offer = SdpOffer::from_sdp_string(&offer).expect("the SFU's offer parses");
        let browser = &mut self.browsers[b.0];
        let answer = browser
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .expect("the browser accepts the SFU's offer");
        self.sfu.accept_answer(now, peer, &answer.to_sdp_string())
    }

    /// A browser-offered subscription (`receiveVideoFrom` with an `sdpOffer`): recv-only audio and video.
    pub fn subscribe_offering(
        &mut self,
        b: B,
        peer: PeerId,
        source: PeerId,
    ) -> Result<(), SfuError> {
        self.subscribe_offering_kinds(b, peer, source, &[MediaKind::Audio, MediaKind::Video])
    }

    /// A browser-offered subscription with recv-only m-lines of `kinds`, in that order.
    pub fn subscribe_offering_kinds(
        &mut self,
        b: B,
        peer: PeerId,
        source: PeerId,
        kinds: &[MediaKind],
    ) -> Result<(), SfuError> {
        let now = self.now;
        let browser = &mut self.browsers[b.0];
        let mut api = browser.rtc.sdp_api();
        for kind in kinds {
            let mid = api.add_media(*kind, Direction::RecvOnly, None, None, None);
            browser.media.push((mid, *kind));
        }
        let (offer, pending) = api.apply().expect("an offer with media");
        let answer =
            self.sfu
                .accept_subscription_offer(now, peer, source, &offer.to_sdp_string())?;
        let answer = SdpAnswer::from_sdp_string(&answer).expect("the SFU's answer parses");
        browser
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("the browser accepts the SFU's answer");
        Ok(())
    }

    /// The browser's first m-line of `kind` (what a subscriber would show or play).
    pub fn mid_of(&self, b: B, kind: MediaKind) -> Mid {
        let browser = &self.browsers[b.0];
        browser
            .media
            .iter()
            .find(|(_, k)| *k == kind)
            .map(|(mid, _)| *mid)
            .unwrap_or_else(|| panic!("{} has no {kind:?} m-line", self.browsers[b.0].name))
    }

    /// Asks the SFU for a keyframe on the browser's incoming video, as a decoder that lost a frame does.
    pub fn request_keyframe(&mut self, b: B) {
        let mid = self.mid_of(b, MediaKind::Video);
        let browser = &mut self.browsers[b.0];
        let mut writer = browser
            .rtc
            .writer(mid)
            .expect("a writer for the video m-line");
        assert!(
            writer.is_request_keyframe_possible(KeyframeRequestKind::Pli),
            "PLI was not negotiated"
        );
        writer
            .request_keyframe(None, KeyframeRequestKind::Pli)
            .expect("a PLI can be queued");
    }

    /// The browser closes its peer connection and goes quiet.
    pub fn hang_up(&mut self, b: B) {
        let browser = &mut self.browsers[b.0];
        browser.rtc.disconnect();
        browser.gone = true;
    }

    /// Frames of `kind` the camera of `b` has written so far.
    pub fn sent(&self, b: B, kind: MediaKind) -> Vec<Vec<u8>> {
        let camera = self.browsers[b.0]
            .camera
            .as_ref()
            .expect("a publishing browser");
        camera
            .sent
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.data.clone())
            .collect()
    }

    /// Video frames the camera of `b` has written on simulcast layer `rid`.
    pub fn sent_on_layer(&self, b: B, rid: &str) -> Vec<Vec<u8>> {
        let camera = self.browsers[b.0]
            .camera
            .as_ref()
            .expect("a publishing browser");
        camera
            .sent
            .iter()
            .filter(|f| f.rid == Some(Rid::from(rid)))
            .map(|f| f.data.clone())
            .collect()
    }

    /// Frames of `kind` delivered to `b` so far.
    pub fn received(&self, b: B, kind: MediaKind) -> Vec<Vec<u8>> {
        self.browsers[b.0]
            .received
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.data.clone())
            .collect()
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// One tick: move every datagram that is ready, advance the clock to the earliest timeout (within
    /// [`MIN_STEP`, `MAX_STEP`]), fire timers and cameras, and move datagrams again.
    pub fn step(&mut self) {
        self.exchange();
        let mut next = self.sfu.next_timeout(self.now);
        if let Some(first) = self.in_flight.iter().map(|d| d.due).min() {
            next = next.min(first);
        }
        for b in self.browsers.iter().filter(|b| !b.gone) {
            next = next.min(b.next_timeout);
            if let Some(c) = b.camera.as_ref().filter(|c| c.on && b.connected) {
                next = next.min(c.next_audio).min(c.next_video);
            }
        }
        self.now = next.clamp(self.now + MIN_STEP, self.now + MAX_STEP);
        let now = self.now;
        for b in self.browsers.iter_mut().filter(|b| !b.gone) {
            b.rtc
                .handle_input(Input::Timeout(now))
                .unwrap_or_else(|e| panic!("{} failed on timeout: {e}", b.name));
            b.next_timeout = now;
            run_camera(b, now);
        }
        self.sfu.handle_timeout(now);
        self.exchange();
    }

    /// Steps until `done` holds; panics, saying what was awaited, after `max_steps`.
    pub fn run_until(
        &mut self,
        what: &str,
        max_steps: usize,
        mut done: impl FnMut(&World) -> bool,
    ) {
        for _ in 0..max_steps {
            if done(self) {
                return;
            }
            self.step();
        }
        assert!(
            done(self),
            "never happened: {what} (after {max_steps} steps, {:?} simulated)",
            self.elapsed()
        );
    }

    /// Steps for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.now < until {
            self.step();
        }
    }

    /// Drives until every browser in `bs` has seen `Event::Connected`.
    pub fn connect(&mut self, bs: &[B]) {
        let names: Vec<&str> = bs
            .iter()
            .map(|b| self.browsers[b.0].name.as_str())
            .collect();
        let what = format!("{names:?} connected (ICE + DTLS)");
        self.run_until(&what, 1000, |w| {
            bs.iter().all(|b| w.browsers[b.0].connected)
        });
    }

    /// Moves datagrams until nobody has anything more to send at this instant.
    fn exchange(&mut self) {
        let now = self.now;
        for round in 0.. {
            assert!(
                round < 10_000,
                "datagrams kept flowing at one instant: a loop between peers?"
            );
            let mut to_sfu = Vec::new();
            for b in self.browsers.iter_mut().filter(|b| !b.gone) {
                drain(b, &mut to_sfu);
            }
            let mut moved = to_sfu.len();
            for (source, destination, bytes) in to_sfu {
                let sender = self.browsers.iter().find(|b| b.addr == source);
                let (loss, delay, offline) = sender.map_or((0, Duration::ZERO, false), |b| {
                    (b.loss_percent, b.delay, b.offline)
                });
                if is_rtp(&bytes) && chance(&mut self.loss_rng, loss) {
                    continue;
                }
                if destination != SFU_ADDR || offline {
                    continue;
                }
                if delay.is_zero() {
                    self.sfu.handle_receive(now, source, &bytes);
                } else {
                    self.in_flight.push(InFlight {
                        due: now + delay,
                        to_sfu: true,
                        proto: Protocol::Udp,
                        source,
                        destination,
                        contents: bytes,
                    });
                }
            }
            while let Some(t) = self.sfu.poll_transmit() {
                moved += 1;
                let Some(b) = self
                    .browsers
                    .iter_mut()
                    .find(|b| b.addr == t.destination && !b.gone)
                else {
                    self.undeliverable += 1;
                    continue;
                };
                if b.offline || (is_rtp(&t.contents) && chance(&mut self.loss_rng, b.loss_percent))
                {
                    continue;
                }
                if b.delay.is_zero() {
                    deliver(b, now, t.proto, t.source, t.destination, &t.contents);
                } else {
                    self.in_flight.push(InFlight {
                        due: now + b.delay,
                        to_sfu: false,
                        proto: t.proto,
                        source: t.source,
                        destination: t.destination,
                        contents: t.contents.to_vec(),
                    });
                }
            }
            // What arrives over a delayed link now.
            let (arrived, later) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition::<Vec<_>, _>(|d| d.due <= now);
            self.in_flight = later;
            moved += arrived.len();
            for d in arrived {
                if d.to_sfu {
                    self.sfu.handle_receive(now, d.source, &d.contents);
                } else if let Some(b) = self
                    .browsers
                    .iter_mut()
                    .find(|b| b.addr == d.destination && !b.gone)
                {
                    deliver(b, now, d.proto, d.source, d.destination, &d.contents);
                }
            }
            if moved == 0 {
                return;
            }
        }
    }
}

/// A datagram from the SFU, into browser `b`.
fn deliver(
    b: &mut Browser,
    now: Instant,
    proto: Protocol,
    source: SocketAddr,
    destination: SocketAddr,
    contents: &[u8],
) {
    let input = Input::Receive(
        now,
        Receive {
            proto,
            source,
            destination,
            contents: contents
                .try_into()
                .expect("the SFU sends parseable datagrams"),
        },
    );
    b.rtc
        .handle_input(input)
        .unwrap_or_else(|e| panic!("{} failed on a datagram from the SFU: {e}", b.name));
}

/// RTP and RTCP (RFC 7983: first byte 128..=191), as opposed to STUN and DTLS.
fn is_rtp(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| (128..=191).contains(b))
}

/// True `percent` times in a hundred (xorshift).
fn chance(state: &mut u64, percent: u64) -> bool {
    if percent == 0 {
        return false;
    }
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % 100 < percent
}

/// Polls a browser until it has nothing more to say, recording events and collecting datagrams.
fn drain(b: &mut Browser, out: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>) {
    loop {
        match b
            .rtc
            .poll_output()
            .unwrap_or_else(|e| panic!("{} failed: {e}", b.name))
        {
            Output::Timeout(t) => {
                b.next_timeout = t;
                return;
            }
            Output::Transmit(t) => {
                if b.sent_log.len() < SENT_LOG {
                    b.sent_log.push(t.contents.to_vec());
                }
                out.push((t.source, t.destination, t.contents.to_vec()))
            }
            Output::Event(Event::Connected) => b.connected = true,
            Output::Event(Event::MediaData(data)) => {
                let kind = b
                    .rtc
                    .media(data.mid)
                    .map(|m| m.kind())
                    .expect("media data on a known m-line");
                b.received.push(Frame {
                    kind,
                    mid: data.mid,
                    rid: data.rid,
                    data: data.data.to_vec(),
                });
            }
            Output::Event(Event::KeyframeRequest(req)) => b.keyframe_requests.push(req),
            Output::Event(Event::MediaAdded(added)) => {
                if !b.media.iter().any(|(mid, _)| *mid == added.mid) {
                    b.media.push((added.mid, added.kind));
                }
            }
            Output::Event(_) => {}
        }
    }
}

/// Writes the frames that are due. Payloads are unique (a counter) and some video frames span several
/// RTP packets, so that a subscriber's copy proves reassembly as well as forwarding.
fn run_camera(b: &mut Browser, now: Instant) {
    let Some(camera) = b.camera.as_mut() else {
        return;
    };
    if !camera.on || !b.connected {
        return;
    }
    if !camera.started {
        camera.started = true;
        camera.next_audio = now;
        camera.next_video = now;
    }
    let elapsed = now - camera.t0;
    while let Some(mid) = camera.video.filter(|_| camera.next_video <= now) {
        let (codec, pt) = video_codec(&mut b.rtc, mid);
        let time = MediaTime::from(elapsed).rebase(Frequency::NINETY_KHZ);
        let layers: Vec<Option<Rid>> = if camera.rids.is_empty() {
            vec![None]
        } else {
            camera.rids.iter().copied().map(Some).collect()
        };
        for rid in layers {
            if rid.is_some_and(|r| camera.paused_layers.contains(&r)) {
                continue;
            }
            camera.count += 1;
            let data = video_frame(codec, camera.salt, camera.count);
            let mut writer = b.rtc.writer(mid).expect("a writer for the camera's m-line");
            if let Some(rid) = rid {
                writer = writer.rid(rid);
            }
            writer
                .write(pt, now, time, data.clone())
                .unwrap_or_else(|e| panic!("{} could not write video: {e}", b.name));
            camera.sent.push(Frame {
                kind: MediaKind::Video,
                mid,
                rid,
                data,
            });
        }
        camera.next_video += VIDEO_INTERVAL;
    }
    while let Some(mid) = camera.audio.filter(|_| camera.next_audio <= now) {
        camera.count += 1;
        let data = opus_frame(camera.salt, camera.count);
        let time = MediaTime::from(elapsed).rebase(Frequency::FORTY_EIGHT_KHZ);
        let writer = b
            .rtc
            .writer(mid)
            .expect("a writer for the microphone's m-line");
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .expect("Opus was negotiated")
            .pt();
        writer
            .write(pt, now, time, data.clone())
            .unwrap_or_else(|e| panic!("{} could not write audio: {e}", b.name));
        camera.sent.push(Frame {
            kind: MediaKind::Audio,
            mid,
            rid: None,
            data,
        });
        camera.next_audio += AUDIO_INTERVAL;
    }
}

/// The video codec negotiated on `mid` (VP8 when there is a choice, as browsers prefer it).
fn video_codec(rtc: &mut Rtc, mid: Mid) -> (Codec, str0m::media::Pt) {
    let writer = rtc.writer(mid).expect("a writer for the camera's m-line");
    let params: Vec<_> = writer
        .payload_params()
        .map(|p| (p.spec().codec, p.pt()))
        .collect();
    [Codec::Vp8, Codec::H264, Codec::Vp9]
        .into_iter()
        .find_map(|c| params.iter().find(|(codec, _)| *codec == c).copied())
        .unwrap_or_else(|| panic!("no known video codec negotiated on {mid}: {params:?}"))
}

/// A frame of `codec` with a camera's salt and a unique counter; every fourth one is larger than one MTU.
pub fn video_frame(codec: Codec, salt: u8, n: u32) -> Vec<u8> {
    let len = if n.is_multiple_of(4) { 3000 } else { 600 };
    // The counter as three bytes with the top bit set: never part of an H.264 start code.
    let counter = [
        salt | 0x80,
        0x80 | (n >> 14) as u8 & 0x7f,
        0x80 | (n >> 7) as u8 & 0x7f,
        0x80 | n as u8 & 0x7f,
    ];
    let mut v = match codec {
        // An IDR slice after SPS and PPS, Annex B with 4-byte start codes, as str0m hands it out.
        Codec::H264 => vec![
            0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0x8c, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0,
            1, 0x65, 0x88,
        ],
        // A VP8 key frame header: frame tag, start code, 640x480.
        _ => vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01],
    };
    v.extend_from_slice(&counter);
    // Filler whose neighbouring bytes differ by 31: no two zero bytes in a row.
    v.extend((0..len - v.len()).map(|i| (i as u32).wrapping_mul(31).wrapping_add(n | 1) as u8));
    v
}

/// An Opus-looking frame (TOC byte) followed by a camera's salt, a counter and filler.
pub fn opus_frame(salt: u8, n: u32) -> Vec<u8> {
    let mut v = vec![0xfc, salt];
    v.extend_from_slice(&n.to_be_bytes());
    v.extend((0..60u32).map(|i| i.wrapping_add(n) as u8));
    v
}

/// Logs with `RUST_LOG=…`, silent otherwise.
fn init_log() {
    use tracing_subscriber::EnvFilter;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
