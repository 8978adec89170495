//! What a run measured, summed up: per-stream rates, loss, delay and first-keyframe percentiles, and the
//! CPU and memory of the server (and of this client) from `/proc` over the measurement window.

use std::time::Duration;

use serde::Serialize;

use crate::peer::{PublishSettings, PublisherReport, SubscriberReport};

/// Loss and delay limits under which a load counts as carried.
pub const MAX_LOSS_PCT: f64 = 1.0;
pub const MAX_DELAY_P95_MS: f64 = 50.0;

/// Linux reports CPU times in clock ticks of 1/100 s (USER_HZ, fixed on every architecture we run on).
const TICKS_PER_SECOND: f64 = 100.0;

/// A process's CPU time and memory at one moment.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    pub cpu_seconds: f64,
    pub rss_kb: u64,
}

impl ProcSample {
    /// Reads `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status` (VmRSS).
    pub fn take(pid: u32) -> Option<ProcSample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces and parentheses): state is field 3,
        // utime 14 and stime 15.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        Some(ProcSample {
            cpu_seconds: (utime + stime) / TICKS_PER_SECOND,
            rss_kb,
        })
    }
}

/// Everything a run collected, before it is summed up.
pub struct Measured {
    pub server: &'static str,
    pub scenario: String,
    pub participants: usize,
    pub sessions: usize,
    pub expected_streams: usize,
    pub window: Duration,
    pub ramp_seconds: f64,
    pub publishers: Vec<PublisherReport>,
    pub subscribers: Vec<SubscriberReport>,
    pub errors: Vec<String>,
    pub server_baseline: Option<ProcSample>,
    pub server_window: Option<(ProcSample, ProcSample)>,
    pub client_window: Option<(ProcSample, ProcSample)>,
    pub publish: PublishSettings,
}

/// The summary of one run, as the JSON report holds it.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub server: &'static str,
    pub scenario: String,
    pub participants: usize,
    pub sessions: usize,
    pub expected_streams: usize,
    /// Subscriptions that received video during the window.
    pub receiving_streams: usize,
    pub window_s: f64,
    pub ramp_s: f64,
    pub video_kbps: u32,
    pub fps: u32,
    pub video_packets_per_s_per_stream: f64,
    pub audio_packets_per_s_per_stream: f64,
    pub video_frames_per_s_per_stream: f64,
    /// Video frames sent and never received complete, in %: end to end, by the frame numbers the
    /// publisher writes (a server that packetises again numbers its RTP packets anew, so RTP gaps
    /// only show the last hop).
    pub loss_pct: f64,
    /// RTP packets missing from the sequences the subscribers receive (server → subscriber hop),
    /// after retransmission, in %.
    pub packet_loss_pct: f64,
    pub delay_p50_ms: Option<f64>,
    pub delay_p95_ms: Option<f64>,
    pub delay_p99_ms: Option<f64>,
    /// Subscribe request → first keyframe complete at the subscriber.
    pub first_frame_p50_ms: Option<f64>,
    pub first_frame_p95_ms: Option<f64>,
    pub first_frame_max_ms: Option<f64>,
    pub first_frame_count: usize,
    pub keyframes_sent: u64,
    pub keyframe_requests: u64,
    pub server_cpu_cores: Option<f64>,
    pub streams_per_core: Option<f64>,
    pub server_rss_kb: Option<u64>,
    pub rss_kb_per_participant: Option<f64>,
    pub server_cpu_pct_per_stream: Option<f64>,
    pub client_cpu_cores: Option<f64>,
    pub client_cpu_pct_per_stream: Option<f64>,
    pub errors: usize,
    pub error_samples: Vec<String>,
    /// Every expected stream received, loss and p95 delay under the limits, no error.
    pub pass: bool,
    pub verdict: String,
}

/// The `p`-th percentile (0..=1) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

pub fn summarise(m: Measured) -> RunReport {
    let window_s = m.window.as_secs_f64().max(1e-9);
    let receiving: Vec<&SubscriberReport> = m
        .subscribers
        .iter()
        .filter(|s| s.video_frames > 0)
        .collect();
    let n = receiving.len().max(1) as f64;
    let sum = |f: fn(&SubscriberReport) -> u64| receiving.iter().map(|s| f(s)).sum::<u64>() as f64;
    let (packets, lost) = (sum(|s| s.video_packets), sum(|s| s.lost_packets));
    let (frames, lost_frames) = (sum(|s| s.video_frames), sum(|s| s.lost_frames));
    let pct = |lost: f64, got: f64| {
        if lost + got > 0.0 {
            100.0 * lost / (lost + got)
        } else {
            0.0
        }
    };
    let delays = sorted(
        receiving
            .iter()
            .flat_map(|s| s.delays_us.iter().map(|d| *d as f64 / 1000.0))
            .collect(),
    );
    let first = sorted(
        m.subscribers
            .iter()
            .filter_map(|s| s.first_keyframe_ms)
            .collect(),
    );
    let server_cpu = m
        .server_window
        .map(|(a, b)| (b.cpu_seconds - a.cpu_seconds) / window_s);
    let client_cpu = m
        .client_window
        .map(|(a, b)| (b.cpu_seconds - a.cpu_seconds) / window_s);
    let streams = receiving.len();
    let per_stream = |cores: Option<f64>| {
        cores
            .filter(|_| streams > 0)
            .map(|c| 100.0 * c / streams as f64)
    };
    let server_rss = m.server_window.map(|(_, b)| b.rss_kb);
    let rss_per_participant = m
        .server_window
        .zip(m.server_baseline)
        .map(|((_, end), base)| {
            end.rss_kb.saturating_sub(base.rss_kb) as f64 / m.participants.max(1) as f64
        });

    let loss_pct = pct(lost_frames, frames);
    let delay_p95 = percentile(&delays, 0.95);
    let mut failures = Vec::new();
    if streams < m.expected_streams {
        failures.push(format!(
            "{} of {} streams received",
            streams, m.expected_streams
        ));
    }
    if loss_pct >= MAX_LOSS_PCT {
        failures.push(format!("loss {loss_pct:.2} % ≥ {MAX_LOSS_PCT} %"));
    }
    match delay_p95 {
        Some(d) if d >= MAX_DELAY_P95_MS => {
            failures.push(format!("p95 delay {d:.1} ms ≥ {MAX_DELAY_P95_MS} ms"))
        }
        None => failures.push("no delay measured".into()),
        _ => {}
    }
    if !m.errors.is_empty() {
        failures.push(format!("{} errors", m.errors.len()));
    }
    let pass = failures.is_empty();
    RunReport {
        server: m.server,
        scenario: m.scenario,
        participants: m.participants,
        sessions: m.sessions,
        expected_streams: m.expected_streams,
        receiving_streams: streams,
        window_s,
        ramp_s: m.ramp_seconds,
        video_kbps: m.publish.video_bitrate_bps / 1000,
        fps: m.publish.fps,
        video_packets_per_s_per_stream: packets / window_s / n,
        audio_packets_per_s_per_stream: sum(|s| s.audio_packets) / window_s / n,
        video_frames_per_s_per_stream: frames / window_s / n,
        loss_pct,
        packet_loss_pct: pct(lost, packets),
        delay_p50_ms: percentile(&delays, 0.5),
        delay_p95_ms: delay_p95,
        delay_p99_ms: percentile(&delays, 0.99),
        first_frame_p50_ms: percentile(&first, 0.5),
        first_frame_p95_ms: percentile(&first, 0.95),
        first_frame_max_ms: first.last().copied(),
        first_frame_count: first.len(),
        keyframes_sent: m.publishers.iter().map(|p| p.keyframes).sum(),
        keyframe_requests: m.publishers.iter().map(|p| p.keyframe_requests).sum(),
        server_cpu_cores: server_cpu,
        streams_per_core: server_cpu.filter(|c| *c > 0.0).map(|c| streams as f64 / c),
        server_rss_kb: server_rss,
        rss_kb_per_participant: rss_per_participant,
        server_cpu_pct_per_stream: per_stream(server_cpu),
        client_cpu_cores: client_cpu,
        client_cpu_pct_per_stream: per_stream(client_cpu),
        errors: m.errors.len(),
        error_samples: m.errors.into_iter().take(5).collect(),
        pass,
        verdict: if pass {
            "pass".into()
        } else {
            failures.join("; ")
        },
    }
}

impl RunReport {
    /// The human table: one figure a line.
    pub fn table(&self) -> String {
        let f = |v: Option<f64>, d: usize| v.map_or("n/a".to_owned(), |v| format!("{v:.d$}"));
        let rows: Vec<(&str, String)> = vec![
            ("server", self.server.to_owned()),
            (
                "scenario",
                format!(
                    "{} ({} participants, {} sessions)",
                    self.scenario, self.participants, self.sessions
                ),
            ),
            (
                "video streams received",
                format!("{} of {}", self.receiving_streams, self.expected_streams),
            ),
            (
                "window",
                format!("{:.1} s (ramp {:.1} s)", self.window_s, self.ramp_s),
            ),
            (
                "video per stream",
                format!(
                    "{:.1} packets/s, {:.1} frames/s ({} kbps, {} fps sent)",
                    self.video_packets_per_s_per_stream,
                    self.video_frames_per_s_per_stream,
                    self.video_kbps,
                    self.fps
                ),
            ),
            (
                "audio per stream",
                format!("{:.1} packets/s", self.audio_packets_per_s_per_stream),
            ),
            (
                "loss",
                format!(
                    "{:.3} % of frames end to end, {:.3} % of packets on the last hop",
                    self.loss_pct, self.packet_loss_pct
                ),
            ),
            (
                "forwarding delay",
                format!(
                    "p50 {} ms, p95 {} ms, p99 {} ms",
                    f(self.delay_p50_ms, 2),
                    f(self.delay_p95_ms, 2),
                    f(self.delay_p99_ms, 2)
                ),
            ),
            (
                "subscribe → first keyframe",
                format!(
                    "p50 {} ms, p95 {} ms, max {} ms ({} streams)",
                    f(self.first_frame_p50_ms, 1),
                    f(self.first_frame_p95_ms, 1),
                    f(self.first_frame_max_ms, 1),
                    self.first_frame_count
                ),
            ),
            (
                "keyframes",
                format!(
                    "{} sent, {} requested by the server",
                    self.keyframes_sent, self.keyframe_requests
                ),
            ),
            (
                "server CPU",
                format!(
                    "{} cores, {} % of a core per stream",
                    f(self.server_cpu_cores, 3),
                    f(self.server_cpu_pct_per_stream, 3)
                ),
            ),
            ("streams per core", f(self.streams_per_core, 0)),
            (
                "server memory",
                format!(
                    "{} kB RSS, {} kB per participant",
                    self.server_rss_kb.map_or("n/a".into(), |v| v.to_string()),
                    f(self.rss_kb_per_participant, 0)
                ),
            ),
            (
                "client CPU",
                format!(
                    "{} cores, {} % of a core per stream",
                    f(self.client_cpu_cores, 3),
                    f(self.client_cpu_pct_per_stream, 3)
                ),
            ),
            (
                "errors",
                format!(
                    "{} {}",
                    self.errors,
                    self.error_samples
                        .first()
                        .map(|e| format!("(first: {e})"))
                        .unwrap_or_default()
                ),
            ),
            ("verdict", self.verdict.clone()),
        ];
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.95), Some(95.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.0], 0.01), Some(7.0));
    }

    #[test]
    fn this_process_can_be_measured() {
        let s = ProcSample::take(std::process::id()).expect("/proc/self is readable");
        assert!(s.rss_kb > 0);
        assert!(ProcSample::take(u32::MAX).is_none(), "no such process");
    }
}
