//! What the load client's tests share: our media server in-process on random loopback ports, a small
//! run's configuration, and the delivery check.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use loadtest::{PublishSettings, RunConfig, RunReport, Target};
use mediaserver::Config;

pub async fn server() -> (mediaserver::Handle, String) {
    server_with(|_| {}).await
}

/// [`server`] with some settings changed.
pub async fn server_with(adjust: impl FnOnce(&mut Config)) -> (mediaserver::Handle, String) {
    let secret = format!("smoke-{}", std::process::id());
    let mut config = testkit::loopback_media_config(&secret);
    // Two SFU workers whatever the machine, so that the sessions scenario crosses workers.
    config.workers = 2;
    adjust(&mut config);
    (
        mediaserver::start(config)
            .await
            .expect("the media server starts"),
        secret,
    )
}

pub fn config(scenario: &str, target: Target) -> RunConfig {
    RunConfig {
        scenario: scenario.parse().unwrap(),
        target,
        publish: PublishSettings {
            video_bitrate_bps: 200_000,
            fps: 15,
            keyframe_interval_frames: 30,
            audio_packet_bytes: 60,
        },
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        // Generous: CI machines are slow and shared. The ramp ends as soon as every stream shows video.
        ramp_timeout: Duration::from_secs(30),
        warmup: Duration::from_millis(300),
        window: Duration::from_secs(2),
        join_interval: Duration::from_millis(5),
        server_pid: None,
        progress: false,
    }
}

pub fn assert_delivered(r: &RunReport) {
    assert_eq!(r.errors, 0, "{}", r.table());
    assert_eq!(
        r.receiving_streams,
        r.expected_streams,
        "every subscription gets video:\n{}",
        r.table()
    );
    assert_eq!(
        r.first_frame_count,
        r.expected_streams,
        "every subscription starts with a keyframe:\n{}",
        r.table()
    );
    assert!(
        r.keyframes_sent > 0 && r.video_frames_per_s_per_stream > 0.0,
        "{}",
        r.table()
    );
    assert!(
        r.audio_packets_per_s_per_stream > 0.0,
        "audio is forwarded too:\n{}",
        r.table()
    );
    assert!(
        r.delay_p50_ms.is_some(),
        "the send time rides through the server:\n{}",
        r.table()
    );
}
