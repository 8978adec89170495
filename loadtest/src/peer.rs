//! One synthetic peer connection: a str0m [`Rtc`] with its own UDP socket on loopback, driven by a
//! tokio task (many of them share a few runtime threads). A publisher writes VP8 and Opus at a set rate;
//! a subscriber measures what arrives. Subscribers run in str0m's RTP mode: they read each packet as
//! it comes (no depacketising, no jitter buffer), which is all the measurement needs, so that the
//! client costs less per stream than the servers it loads.
//!
//! Why a socket per peer connection rather than one per task: both servers tell peers apart by the
//! client's address (ours learns it from the first STUN check, Janus by ICE pair), so two peer
//! connections behind one client port would be one peer to the server.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::crypto::dtls::DtlsCert;
use str0m::format::{Codec, detect_vp8_keyframe};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpPacket;
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::media;

/// Where a run is. Peers read it on every frame; only frames of the window are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Joining, negotiating, warming up.
    Ramp = 0,
    /// The measurement window.
    Window = 1,
    /// Everyone stops.
    Stop = 2,
}

/// What every task of a run shares: the phase and the counters of the progress line.
#[derive(Default)]
pub struct Shared {
    phase: AtomicU8,
    pub joined: AtomicU64,
    pub publishing: AtomicU64,
    pub subscribed: AtomicU64,
    pub first_keyframes: AtomicU64,
    pub video_frames: AtomicU64,
    pub errors: AtomicU64,
}

impl Shared {
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Ramp,
            1 => Phase::Window,
            _ => Phase::Stop,
        }
    }
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }
}

/// What a publisher sends.
#[derive(Debug, Clone, Copy)]
pub struct PublishSettings {
    pub video_bitrate_bps: u32,
    pub fps: u32,
    /// A keyframe every this many frames (and whenever a PLI or FIR asks for one).
    pub keyframe_interval_frames: u32,
    /// Opus, 20 ms packets of this many bytes; 0 for no audio.
    pub audio_packet_bytes: usize,
}

/// What one subscription measured. Counts cover the measurement window only; the first keyframe
/// is timed from the subscribe request whenever it comes.
#[derive(Debug, Clone, Default)]
pub struct SubscriberReport {
    pub connected: bool,
    pub first_keyframe_ms: Option<f64>,
    pub video_frames: u64,
    pub video_packets: u64,
    /// RTP packets missing from the sequence (after retransmissions) in the window.
    pub lost_packets: u64,
    /// Frames missing by frame number in the window.
    pub lost_frames: u64,
    pub audio_packets: u64,
    /// Forwarding delay of each video frame of the window, in µs (send time to complete frame).
    pub delays_us: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct PublisherReport {
    pub connected: bool,
    pub video_frames: u64,
    pub keyframes: u64,
    pub keyframe_requests: u64,
}

/// A peer connection and its socket, before it runs.
pub struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
}

impl Peer {
    /// A peer on a new UDP socket of `ip`, with Opus and VP8 only and the run's one DTLS certificate
    /// (a key per peer would cost the client a key generation per subscription). `rtp_mode` for a
    /// subscriber: packets as events, not frames.
    pub async fn new(ip: IpAddr, cert: Option<&DtlsCert>, rtp_mode: bool) -> anyhow::Result<Peer> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .context("binding a UDP socket")?;
        let local = socket.local_addr()?;
        let mut builder = Rtc::builder()
            .set_rtp_mode(rtp_mode)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true);
        if let Some(cert) = cert {
            builder = builder.set_dtls_cert(cert.clone());
        }
        let mut rtc = builder.build(Instant::now());
        let candidate = Candidate::host(local, Protocol::Udp).context("a host candidate")?;
        rtc.add_local_candidate(candidate);
        Ok(Peer { rtc, socket, local })
    }

    /// A browser-style send-only offer with audio (if wanted) and video; the mids are (audio, video).
    pub fn publish_offer(
        &mut self,
        audio: bool,
    ) -> anyhow::Result<(String, SdpPendingOffer, Option<Mid>, Mid)> {
        let mut change = self.rtc.sdp_api();
        let audio_mid = audio
            .then(|| change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
        let video_mid = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().context("an offer")?;
        Ok((offer.to_sdp_string(), pending, audio_mid, video_mid))
    }

    pub fn accept_answer(&mut self, pending: SdpPendingOffer, answer: &str) -> anyhow::Result<()> {
        let answer = SdpAnswer::from_sdp_string(answer).context("the server's answer is no SDP")?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .context("the server's answer does not fit the offer")
    }

    /// Answers a server's offer (a subscription).
    pub fn answer_offer(&mut self, offer: &str) -> anyhow::Result<String> {
        let offer = SdpOffer::from_sdp_string(offer).context("the server's offer is no SDP")?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .context("the server's offer was refused")?;
        Ok(answer.to_sdp_string())
    }

    /// This peer's ICE candidate, as a browser would trickle it.
    pub fn candidate_line(&self) -> String {
        format!(
            "candidate:1 1 udp 2130706431 {} {} typ host",
            self.local.ip(),
            self.local.port()
        )
    }

    /// Runs a publisher until the run stops or `deadline`.
    pub async fn run_publisher(
        self,
        audio_mid: Option<Mid>,
        video_mid: Mid,
        settings: PublishSettings,
        shared: Arc<Shared>,
        deadline: Instant,
    ) -> PublisherReport {
        let mut state = Publisher::new(audio_mid, video_mid, settings);
        let mut report = PublisherReport::default();
        drive(self, &shared, deadline, &mut state).await;
        report.connected = state.connected;
        report.video_frames = state.sent;
        report.keyframes = state.keyframes;
        report.keyframe_requests = state.keyframe_requests;
        report
    }

    /// Runs a subscriber until the run stops or `deadline`; `requested` is when the subscription was
    /// asked for (the start of the first-keyframe time).
    pub async fn run_subscriber(
        self,
        requested: Instant,
        shared: Arc<Shared>,
        deadline: Instant,
    ) -> SubscriberReport {
        let mut state = Subscriber {
            requested,
            video_mids: Vec::new(),
            audio_mids: Vec::new(),
            last_seq: None,
            last_frame: None,
            keyframe_at: None,
            tail: media::FrameTail::default(),
            report: SubscriberReport::default(),
        };
        drive(self, &shared, deadline, &mut state).await;
        state.report
    }
}

/// What a peer does with str0m's events and with time: publish or measure.
trait Role {
    fn on(&mut self, rtc: &mut Rtc, now: Instant, event: Event, shared: &Shared);
    /// Writes what is due by `now`; returns when it next wants to run.
    fn tick(&mut self, rtc: &mut Rtc, now: Instant) -> Instant;
}

/// The loop of one peer: receive, time out, let the role write, drain str0m's output.
/// Datagrams taken from the socket in one wake-up, when that many are queued.
const RECEIVE_BATCH: usize = 32;

fn receive(rtc: &mut Rtc, data: &[u8], source: SocketAddr, local: SocketAddr, shared: &Shared) {
    let Ok(contents) = data.try_into() else {
        return;
    };
    let input = Input::Receive(
        Instant::now(),
        Receive {
            proto: Protocol::Udp,
            source,
            destination: local,
            contents,
        },
    );
    if rtc.handle_input(input).is_err() {
        shared.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Hands str0m's events to the role and sends what it has to send, until it asks for a timeout.
fn take_events(rtc: &mut Rtc, socket: &UdpSocket, role: &mut impl Role, shared: &Shared) {
    let now = Instant::now();
    loop {
        match rtc.poll_output() {
            Ok(Output::Timeout(_)) => return,
            Ok(Output::Transmit(t)) => {
                let _ = socket.try_send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(e)) => role.on(rtc, now, e, shared),
            Err(_) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                rtc.disconnect();
                return;
            }
        }
    }
}

async fn drive(peer: Peer, shared: &Shared, deadline: Instant, role: &mut impl Role) {
    let Peer {
        mut rtc,
        socket,
        local,
    } = peer;
    let mut buf = vec![0u8; 2000];
    // Woken at least this often to look at the phase.
    const PHASE_CHECK: Duration = Duration::from_millis(250);
    let mut next_tick = Instant::now();
    // One timer for the peer's life, moved to each new wake-up time.
    let sleep = tokio::time::sleep_until(next_tick.into());
    tokio::pin!(sleep);
    loop {
        let now = Instant::now();
        if now >= deadline || shared.phase() == Phase::Stop || !rtc.is_alive() {
            break;
        }
        if now >= next_tick {
            next_tick = role.tick(&mut rtc, now);
        }
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    // Like a full UDP socket, a full send buffer drops the datagram.
                    let _ = socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => role.on(&mut rtc, now, e, shared),
                Err(_) => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    rtc.disconnect();
                    break now;
                }
            }
        };
        if !rtc.is_alive() {
            break;
        }
        let wake = timeout
            .min(next_tick)
            .min(deadline)
            .min(now + PHASE_CHECK)
            .max(now);
        sleep.as_mut().reset(wake.into());
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = received else { continue };
                receive(&mut rtc, &buf[..n], source, local, shared);
                // Whatever else is queued, in the same wake-up. In RTP mode str0m holds one packet
                // per datagram for the next poll: its events are taken before the next datagram.
                for _ in 1..RECEIVE_BATCH {
                    let Ok((n, source)) = socket.try_recv_from(&mut buf) else { break };
                    take_events(&mut rtc, &socket, role, shared);
                    receive(&mut rtc, &buf[..n], source, local, shared);
                }
            }
            _ = &mut sleep => {
                let now = Instant::now();
                if now >= timeout && rtc.handle_input(Input::Timeout(now)).is_err() {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    rtc.disconnect();
    // The close alerts DTLS queued on disconnect are sent once; nobody waits for them.
    while let Ok(Output::Transmit(t)) = rtc.poll_output() {
        let _ = socket.try_send_to(&t.contents, t.destination);
    }
}

struct Publisher {
    audio_mid: Option<Mid>,
    video_mid: Mid,
    settings: PublishSettings,
    delta_size: usize,
    key_size: usize,
    connected: bool,
    started: Option<Instant>,
    /// Frame slots passed since the start (the clock of the camera); slots missed when the task ran
    /// late are skipped, not sent in a burst.
    frames: u64,
    /// Frames sent: the number in each frame's trailer, so that a skipped slot is no loss.
    sent: u64,
    audio_packets: u64,
    keyframes: u64,
    keyframe_requests: u64,
    force_keyframe: bool,
}

const AUDIO_INTERVAL: Duration = Duration::from_millis(20);

impl Role for Publisher {
    fn on(&mut self, rtc: &mut Rtc, now: Instant, event: Event, shared: &Shared) {
        self.on_event(rtc, now, event, shared)
    }
    fn tick(&mut self, rtc: &mut Rtc, now: Instant) -> Instant {
        self.write_due(rtc, now)
    }
}

impl Publisher {
    fn new(audio_mid: Option<Mid>, video_mid: Mid, settings: PublishSettings) -> Publisher {
        let (delta_size, key_size) = media::frame_sizes(
            settings.video_bitrate_bps,
            settings.fps,
            settings.keyframe_interval_frames,
        );
        Publisher {
            audio_mid,
            video_mid,
            settings,
            delta_size,
            key_size,
            connected: false,
            started: None,
            frames: 0,
            sent: 0,
            audio_packets: 0,
            keyframes: 0,
            keyframe_requests: 0,
            force_keyframe: true,
        }
    }

    fn on_event(&mut self, _rtc: &mut Rtc, now: Instant, event: Event, shared: &Shared) {
        match event {
            Event::Connected => {
                self.connected = true;
                self.started = Some(now);
                shared.publishing.fetch_add(1, Ordering::Relaxed);
            }
            Event::KeyframeRequest(req) if req.mid == self.video_mid => {
                self.keyframe_requests += 1;
                self.force_keyframe = true;
            }
            _ => {}
        }
    }

    fn video_interval(&self) -> Duration {
        Duration::from_secs(1) / self.settings.fps.max(1)
    }

    /// Writes every frame and packet due by `now`; when a writer falls behind it skips, as a camera
    /// does, rather than bursting.
    fn write_due(&mut self, rtc: &mut Rtc, now: Instant) -> Instant {
        let Some(started) = self.started else {
            return now + Duration::from_millis(50);
        };
        let fps = self.settings.fps.max(1) as u64;
        let video_due = |n: u64| started + Duration::from_micros(n * 1_000_000 / fps);
        if video_due(self.frames) <= now {
            let behind = now.saturating_duration_since(video_due(self.frames));
            if behind > self.video_interval() * 2 {
                self.frames =
                    (now.saturating_duration_since(started).as_micros() as u64) * fps / 1_000_000;
            }
            let interval = self.settings.keyframe_interval_frames.max(1) as u64;
            let key = self.force_keyframe || self.frames.is_multiple_of(interval);
            let size = if key { self.key_size } else { self.delta_size };
            let frame = media::vp8_frame(key, self.sent as u32, size, media::now_micros());
            let rtp_time = MediaTime::new(self.frames * 90_000 / fps, Frequency::NINETY_KHZ);
            if let Some(pt) = payload_type(rtc, self.video_mid, Codec::Vp8)
                && let Some(writer) = rtc.writer(self.video_mid)
                && writer.write(pt, now, rtp_time, frame).is_ok()
            {
                self.sent += 1;
                if key {
                    self.keyframes += 1;
                    self.force_keyframe = false;
                }
            }
            self.frames += 1;
        }
        let mut next = video_due(self.frames);
        if let Some(mid) = self.audio_mid {
            let audio_due = |n: u64| started + AUDIO_INTERVAL * n as u32;
            if audio_due(self.audio_packets) <= now {
                if now.saturating_duration_since(audio_due(self.audio_packets)) > AUDIO_INTERVAL * 2
                {
                    self.audio_packets =
                        (now.saturating_duration_since(started).as_millis() / 20) as u64;
                }
                let rtp_time = MediaTime::new(self.audio_packets * 960, Frequency::FORTY_EIGHT_KHZ);
                if let Some(pt) = payload_type(rtc, mid, Codec::Opus)
                    && let Some(writer) = rtc.writer(mid)
                {
                    let _ = writer.write(
                        pt,
                        now,
                        rtp_time,
                        media::opus_packet(self.settings.audio_packet_bytes),
                    );
                }
                self.audio_packets += 1;
            }
            next = next.min(audio_due(self.audio_packets));
        }
        next
    }
}

/// The payload type the negotiation gave `codec` on `mid`.
fn payload_type(rtc: &mut Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    let writer = rtc.writer(mid)?;
    writer
        .payload_params()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
}

struct Subscriber {
    requested: Instant,
    video_mids: Vec<Mid>,
    audio_mids: Vec<Mid>,
    /// Last RTP sequence number seen on video, to find gaps.
    last_seq: Option<u64>,
    last_frame: Option<u32>,
    /// The RTP time of the first keyframe while its packets arrive, until its last one.
    keyframe_at: Option<u32>,
    /// The end of the frame being received, for its trailer.
    tail: media::FrameTail,
    report: SubscriberReport,
}

impl Role for Subscriber {
    fn on(&mut self, rtc: &mut Rtc, now: Instant, event: Event, shared: &Shared) {
        if let Event::RtpPacket(packet) = event {
            let mid = rtc
                .direct_api()
                .stream_rx(&packet.header.ssrc)
                .map(|s| s.mid());
            match mid {
                Some(mid) if self.video_mids.contains(&mid) => self.on_video(now, &packet, shared),
                Some(mid) if self.audio_mids.contains(&mid) && shared.phase() == Phase::Window => {
                    self.report.audio_packets += 1
                }
                _ => {}
            }
            return;
        }
        self.on_event(event)
    }
    fn tick(&mut self, _rtc: &mut Rtc, now: Instant) -> Instant {
        now + Duration::from_secs(3600)
    }
}

impl Subscriber {
    /// One video packet. A frame ends with the packet that has the marker bit; its trailer is the
    /// last bytes of the frame.
    fn on_video(&mut self, now: Instant, packet: &RtpPacket, shared: &Shared) {
        let seq = *packet.seq_no;
        let timestamp = packet.header.timestamp;
        let in_window = shared.phase() == Phase::Window;
        if self.report.first_keyframe_ms.is_none()
            && self.keyframe_at.is_none()
            && detect_vp8_keyframe(&packet.payload)
        {
            self.keyframe_at = Some(timestamp);
        }
        if in_window {
            self.report.video_packets += 1;
            match self.last_seq {
                Some(prev) if seq > prev + 1 => self.report.lost_packets += seq - prev - 1,
                // A retransmission fills a gap counted before.
                Some(prev) if seq < prev => {
                    self.report.lost_packets = self.report.lost_packets.saturating_sub(1)
                }
                _ => {}
            }
        }
        self.last_seq = Some(self.last_seq.map_or(seq, |p| p.max(seq)));
        let trailer = self
            .tail
            .push(timestamp, &packet.payload, packet.header.marker);
        if !packet.header.marker {
            return;
        }
        shared.video_frames.fetch_add(1, Ordering::Relaxed);
        if self.keyframe_at == Some(timestamp) {
            self.keyframe_at = None;
            self.report.first_keyframe_ms =
                Some(now.saturating_duration_since(self.requested).as_secs_f64() * 1000.0);
            shared.first_keyframes.fetch_add(1, Ordering::Relaxed);
        }
        if in_window {
            self.report.video_frames += 1;
            if let (Some(prev), Some((number, _))) = (self.last_frame, trailer)
                && number > prev + 1
            {
                self.report.lost_frames += u64::from(number - prev - 1);
            }
            if let Some((_, sent)) = trailer {
                let delay = media::now_micros().saturating_sub(sent);
                self.report
                    .delays_us
                    .push(delay.min(u64::from(u32::MAX)) as u32);
            }
        }
        if let Some((number, _)) = trailer {
            self.last_frame = Some(self.last_frame.map_or(number, |p| p.max(number)));
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => self.report.connected = true,
            Event::MediaAdded(added) => match added.kind {
                MediaKind::Video => self.video_mids.push(added.mid),
                MediaKind::Audio => self.audio_mids.push(added.mid),
            },
            _ => {}
        }
    }
}
