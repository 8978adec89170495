//! A run: sessions of synthetic participants against one server, a ramp until every subscription has
//! had its first keyframe (or a time limit), a warm-up, a measurement window, then everyone leaves.
//! Every loop here is bounded by a deadline; nothing waits forever.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use str0m::crypto::dtls::DtlsCert;

use crate::http::OpenViduRest;
use crate::janus::JanusSignal;
use crate::openvidu::OpenViduSignal;
use crate::peer::{Peer, Phase, PublishSettings, PublisherReport, Shared, SubscriberReport};
use crate::report::{self, Measured, ProcSample, RunReport};
use crate::signal::{Signal, StreamRef};

/// Who sits in the sessions of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// One session of `n`, everyone publishing and receiving everyone else: n·(n−1) streams.
    Meeting { n: usize },
    /// One publisher and `n` viewers: n streams.
    Broadcast { n: usize },
    /// `m` meetings of `k`: m·k·(k−1) streams.
    Sessions { m: usize, k: usize },
}

/// A participant's part.
#[derive(Debug, Clone, Copy)]
pub struct Seat {
    pub publishes: bool,
    pub subscribes: bool,
}

impl Scenario {
    pub fn sessions(&self) -> Vec<Vec<Seat>> {
        let both = Seat {
            publishes: true,
            subscribes: true,
        };
        match *self {
            Scenario::Meeting { n } => vec![vec![both; n]],
            Scenario::Broadcast { n } => {
                let mut seats = vec![Seat {
                    publishes: true,
                    subscribes: false,
                }];
                seats.extend(std::iter::repeat_n(
                    Seat {
                        publishes: false,
                        subscribes: true,
                    },
                    n,
                ));
                vec![seats]
            }
            Scenario::Sessions { m, k } => vec![vec![both; k]; m],
        }
    }

    /// Video streams the server forwards once everyone is in.
    pub fn expected_streams(&self) -> usize {
        self.sessions()
            .iter()
            .map(|seats| {
                let publishers = seats.iter().filter(|s| s.publishes).count();
                seats
                    .iter()
                    .filter(|s| s.subscribes)
                    .map(|s| publishers - usize::from(s.publishes))
                    .sum::<usize>()
            })
            .sum()
    }

    pub fn participants(&self) -> usize {
        self.sessions().iter().map(Vec::len).sum()
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scenario::Meeting { n } => write!(f, "meeting:{n}"),
            Scenario::Broadcast { n } => write!(f, "broadcast:{n}"),
            Scenario::Sessions { m, k } => write!(f, "sessions:{m}x{k}"),
        }
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Scenario, String> {
        const HELP: &str = "expected meeting:N, broadcast:N or sessions:MxK (N, M ≥ 1, K ≥ 2, at most 2000 participants)";
        let (kind, size) = s.split_once(':').ok_or(HELP)?;
        let num = |t: &str| t.parse::<usize>().map_err(|_| HELP.to_owned());
        let scenario = match kind {
            "meeting" => Scenario::Meeting { n: num(size)? },
            "broadcast" => Scenario::Broadcast { n: num(size)? },
            "sessions" => {
                let (m, k) = size.split_once('x').ok_or(HELP)?;
                Scenario::Sessions {
                    m: num(m)?,
                    k: num(k)?,
                }
            }
            _ => return Err(HELP.to_owned()),
        };
        let ok = match scenario {
            Scenario::Meeting { n } => n >= 2,
            Scenario::Broadcast { n } => n >= 1,
            Scenario::Sessions { m, k } => m >= 1 && k >= 2,
        };
        if !ok || scenario.participants() > 2000 {
            return Err(HELP.to_owned());
        }
        Ok(scenario)
    }
}

/// The server under load.
#[derive(Clone)]
pub enum Target {
    /// Ours (or any OpenVidu 2): REST for tokens, JSON-RPC on the WebSocket the token names.
    OpenVidu(OpenViduRest),
    /// Janus's VideoRoom at this WebSocket URL.
    Janus(String),
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::OpenVidu(_) => "ours",
            Target::Janus(_) => "janus",
        }
    }
}

/// A session of the run, as the server names it.
#[derive(Clone)]
enum Room {
    OpenVidu(String),
    Janus(u64),
}

pub struct RunConfig {
    pub scenario: Scenario,
    pub target: Target,
    pub publish: PublishSettings,
    /// Local address of every media socket (loopback).
    pub ip: IpAddr,
    pub ramp_timeout: Duration,
    pub warmup: Duration,
    pub window: Duration,
    /// Pause between starting two participants, so that joins do not all land at once.
    pub join_interval: Duration,
    /// The server's process, for its CPU and memory; none when it runs in this process.
    pub server_pid: Option<u32>,
    /// Print a progress line on stderr.
    pub progress: bool,
}

#[derive(Default)]
struct ParticipantReport {
    publisher: Option<PublisherReport>,
    subscribers: Vec<SubscriberReport>,
    errors: Vec<String>,
}

/// Runs the scenario and measures it.
pub async fn run(config: RunConfig) -> anyhow::Result<RunReport> {
    let shared = Arc::new(Shared::default());
    let cert = str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate();
    let expected = config.scenario.expected_streams();
    let participants = config.scenario.participants();
    let baseline = config.server_pid.and_then(ProcSample::take);
    let started = Instant::now();
    let hard_deadline =
        started + config.ramp_timeout + config.warmup + config.window + Duration::from_secs(30);

    let mut rooms = Vec::new();
    for seats in config.scenario.sessions() {
        let room = match &config.target {
            Target::OpenVidu(rest) => Room::OpenVidu(rest.create_session().await?),
            Target::Janus(url) => Room::Janus(JanusSignal::create_room(url, seats.len()).await?),
        };
        rooms.push((room, seats));
    }

    // Participants start in turns across sessions (the first of each session, then the second, ...),
    // so that every session fills at the same pace.
    let mut tasks = Vec::with_capacity(participants);
    let max_seats = rooms.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    let mut index = 0usize;
    for turn in 0..max_seats {
        for (room, seats) in &rooms {
            let Some(seat) = seats.get(turn).copied() else {
                continue;
            };
            let (target, room, task_shared, cert) = (
                config.target.clone(),
                room.clone(),
                shared.clone(),
                cert.clone(),
            );
            let publish = config.publish;
            let ip = config.ip;
            let name = format!("load{index}");
            tasks.push(tokio::spawn(participant(
                target,
                room,
                seat,
                name,
                publish,
                ip,
                cert,
                task_shared,
                hard_deadline,
            )));
            index += 1;
            tokio::time::sleep(config.join_interval).await; // pacing of the ramp, not a synchronisation
            progress(&config, &shared, participants, expected, "ramp", false);
        }
    }

    // Ramp: until every expected subscription has shown a keyframe, or the limit.
    let ramp_end = started + config.ramp_timeout;
    while shared.first_keyframes.load(Ordering::Relaxed) < expected as u64
        && Instant::now() < ramp_end
    {
        progress(&config, &shared, participants, expected, "ramp", false);
        tokio::time::sleep(Duration::from_millis(200)).await; // polling interval
    }
    let ramp_seconds = started.elapsed().as_secs_f64();
    let warmup_end = Instant::now() + config.warmup;
    while Instant::now() < warmup_end {
        progress(&config, &shared, participants, expected, "warm-up", false);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The window.
    let server_start = config.server_pid.and_then(ProcSample::take);
    let client_start = ProcSample::take(std::process::id());
    let window_start = Instant::now();
    shared.set_phase(Phase::Window);
    let window_end = window_start + config.window;
    while Instant::now() < window_end {
        progress(&config, &shared, participants, expected, "window", false);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shared.set_phase(Phase::Stop);
    let window = window_start.elapsed();
    let server_end = config.server_pid.and_then(ProcSample::take);
    let client_end = ProcSample::take(std::process::id());
    progress(&config, &shared, participants, expected, "window", true);

    // Everyone leaves; a participant that does not finish in time is counted as failed.
    let mut reports = Vec::with_capacity(tasks.len());
    let collect_deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for t in tasks {
        match tokio::time::timeout_at(collect_deadline, t).await {
            Ok(Ok(r)) => reports.push(r),
            Ok(Err(e)) => reports.push(ParticipantReport {
                errors: vec![format!("a participant task failed: {e}")],
                ..Default::default()
            }),
            Err(_) => reports.push(ParticipantReport {
                errors: vec!["a participant did not leave in time".into()],
                ..Default::default()
            }),
        }
    }

    let measured = Measured {
        server: config.target.name(),
        scenario: config.scenario.to_string(),
        participants,
        sessions: rooms.len(),
        expected_streams: expected,
        window,
        ramp_seconds,
        publishers: reports.iter().filter_map(|r| r.publisher.clone()).collect(),
        subscribers: reports
            .iter()
            .flat_map(|r| r.subscribers.iter().cloned())
            .collect(),
        errors: reports
            .iter()
            .flat_map(|r| r.errors.iter().cloned())
            .collect(),
        server_baseline: baseline,
        server_window: server_start.zip(server_end),
        client_window: client_start.zip(client_end),
        publish: config.publish,
    };
    Ok(report::summarise(measured))
}

fn progress(
    config: &RunConfig,
    shared: &Shared,
    participants: usize,
    expected: usize,
    phase: &str,
    last: bool,
) {
    if !config.progress {
        return;
    }
    use std::sync::Mutex;
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut guard = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if !last && guard.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
        return;
    }
    *guard = Some(Instant::now());
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "[{} {}] {phase}: joined {}/{participants} · subscribed {}/{expected} · first keyframe {}/{expected} · video frames {} · errors {}",
        config.target.name(),
        config.scenario,
        l(&shared.joined),
        l(&shared.subscribed),
        l(&shared.first_keyframes),
        l(&shared.video_frames),
        l(&shared.errors),
    );
}

#[allow(clippy::too_many_arguments)]
async fn participant(
    target: Target,
    room: Room,
    seat: Seat,
    name: String,
    publish: PublishSettings,
    ip: IpAddr,
    cert: Option<DtlsCert>,
    shared: Arc<Shared>,
    deadline: Instant,
) -> ParticipantReport {
    let mut report = ParticipantReport::default();
    let joined = match (&target, &room) {
        (Target::OpenVidu(rest), Room::OpenVidu(session)) => {
            let role = if seat.publishes {
                "PUBLISHER"
            } else {
                "SUBSCRIBER"
            };
            OpenViduSignal::join(rest, session, role, &name)
                .await
                .map(|(s, k)| (Signal::OpenVidu(s), k))
        }
        (Target::Janus(url), Room::Janus(room)) => JanusSignal::join(url, *room, &name)
            .await
            .map(|(s, k)| (Signal::Janus(s), k)),
        _ => Err(anyhow::anyhow!("room and server do not match")),
    };
    let (mut signal, mut pending) = match joined {
        Ok(j) => j,
        Err(e) => {
            fail(&shared, &mut report, format!("join: {e:#}"));
            return report;
        }
    };
    shared.joined.fetch_add(1, Ordering::Relaxed);

    let mut publisher = None;
    let mut subscribers = Vec::new();
    if seat.publishes {
        match start_publishing(&mut signal, publish, ip, cert.as_ref(), &shared, deadline).await {
            Ok(task) => publisher = Some(task),
            Err(e) => fail(&shared, &mut report, format!("publish: {e:#}")),
        }
    }
    let mut subscribed: Vec<String> = Vec::new();
    let mut last_keepalive = Instant::now();
    while shared.phase() != Phase::Stop && Instant::now() < deadline {
        if seat.subscribes {
            for stream in pending.drain(..) {
                if signal.is_me(&stream.owner) || subscribed.contains(&stream.id) {
                    continue;
                }
                subscribed.push(stream.id.clone());
                match subscribe(&mut signal, &stream, ip, cert.as_ref(), &shared, deadline).await {
                    Ok(task) => subscribers.push(task),
                    Err(e) => fail(&shared, &mut report, format!("subscribe: {e:#}")),
                }
            }
        } else {
            pending.clear();
        }
        if last_keepalive.elapsed() >= Duration::from_secs(5) {
            last_keepalive = Instant::now();
            if let Err(e) = signal.keepalive().await {
                fail(&shared, &mut report, format!("keepalive: {e:#}"));
                break;
            }
        }
        match signal.new_streams(Duration::from_millis(250)).await {
            Ok(found) => pending.extend(found),
            Err(e) => {
                fail(&shared, &mut report, format!("signaling: {e:#}"));
                break;
            }
        }
    }
    // The media tasks stop on the phase (or their deadline); then the participant leaves.
    if let Some(task) = publisher {
        report.publisher = task.await.ok();
    }
    for task in subscribers {
        if let Ok(r) = task.await {
            report.subscribers.push(r);
        }
    }
    signal.leave().await;
    report
}

fn fail(shared: &Shared, report: &mut ParticipantReport, error: String) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    if report.errors.len() < 5 {
        report.errors.push(error);
    }
}

async fn start_publishing(
    signal: &mut Signal,
    settings: PublishSettings,
    ip: IpAddr,
    cert: Option<&DtlsCert>,
    shared: &Arc<Shared>,
    deadline: Instant,
) -> anyhow::Result<tokio::task::JoinHandle<PublisherReport>> {
    let mut peer = Peer::new(ip, cert, false).await?;
    let (offer, pending, audio_mid, video_mid) =
        peer.publish_offer(settings.audio_packet_bytes > 0)?;
    let answer = signal.publish(&offer).await?;
    peer.accept_answer(pending, &answer)?;
    Ok(tokio::spawn(peer.run_publisher(
        audio_mid,
        video_mid,
        settings,
        shared.clone(),
        deadline,
    )))
}

async fn subscribe(
    signal: &mut Signal,
    stream: &StreamRef,
    ip: IpAddr,
    cert: Option<&DtlsCert>,
    shared: &Arc<Shared>,
    deadline: Instant,
) -> anyhow::Result<tokio::task::JoinHandle<SubscriberReport>> {
    let requested = Instant::now();
    let offer = signal.subscribe_offer(stream).await?;
    let mut peer = Peer::new(ip, cert, true).await?;
    let answer = peer
        .answer_offer(&offer)
        .context("answering the server's offer")?;
    // The peer runs before the answer is acknowledged, so that it is ready for the first check.
    let task = tokio::spawn(peer.run_subscriber(requested, shared.clone(), deadline));
    if let Err(e) = signal.subscribe_answer(stream, &answer).await {
        task.abort();
        bail!(e);
    }
    shared.subscribed.fetch_add(1, Ordering::Relaxed);
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::Scenario;

    #[test]
    fn scenarios_parse_and_count_their_streams() {
        let s: Scenario = "meeting:4".parse().unwrap();
        assert_eq!((s.participants(), s.expected_streams()), (4, 12));
        let s: Scenario = "broadcast:10".parse().unwrap();
        assert_eq!((s.participants(), s.expected_streams()), (11, 10));
        let s: Scenario = "sessions:3x4".parse().unwrap();
        assert_eq!(
            (s.participants(), s.expected_streams(), s.sessions().len()),
            (12, 36, 3)
        );
        assert_eq!(s.to_string(), "sessions:3x4");
        for bad in [
            "",
            "meeting",
            "meeting:1",
            "meeting:x",
            "sessions:3",
            "sessions:0x4",
            "party:3",
            "broadcast:5000",
        ] {
            assert!(bad.parse::<Scenario>().is_err(), "{bad:?} is refused");
        }
    }
}
