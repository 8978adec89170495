//! The load client against our real media server, started in-process on random loopback ports: a few
//! streams in each scenario shape, asserting that every subscription gets video (delivery), never how
//! fast. The figures come from `scripts/bench.sh` only.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use loadtest::http::OpenViduRest;
use loadtest::{PublishSettings, RunConfig, RunReport, Scenario, Target};
use mediaserver::{Config, Secret};

async fn server() -> (mediaserver::Handle, String) {
    let secret = format!("smoke-{}", std::process::id());
    let mut config = Config::new(Secret::new(secret.clone()));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.udp = "127.0.0.1:0".parse().unwrap();
    // Two SFU workers whatever the machine, so that the sessions scenario crosses workers.
    config.workers = 2;
    (
        mediaserver::start(config)
            .await
            .expect("the media server starts"),
        secret,
    )
}

fn config(scenario: &str, target: Target) -> RunConfig {
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

fn assert_delivered(r: &RunReport) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_shape_gets_its_streams_through_our_server() {
    let (handle, secret) = server().await;
    let target = Target::OpenVidu(OpenViduRest::new(handle.http_addr(), &secret));
    for (scenario, streams) in [("meeting:3", 6), ("broadcast:3", 3), ("sessions:2x2", 4)] {
        assert_eq!(
            scenario.parse::<Scenario>().unwrap().expected_streams(),
            streams
        );
        let report = loadtest::scenario::run(config(scenario, target.clone()))
            .await
            .expect("the run completes");
        assert_eq!(report.expected_streams, streams);
        assert_delivered(&report);
    }
    // Everyone left with leaveRoom: the server holds no participant any more.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handle.stats().await.participants > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "participants left behind: {:?}",
            handle.stats().await.participants
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling interval, not a synchronisation
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_a_clear_error_and_nothing_runs() {
    let (handle, _) = server().await;
    let target = Target::OpenVidu(OpenViduRest::new(handle.http_addr(), "not-the-secret"));
    let err = loadtest::scenario::run(config("meeting:2", target))
        .await
        .expect_err("the server refuses the secret");
    let text = format!("{err:#}");
    assert!(text.contains("401"), "{text}");
    assert!(
        !text.contains("not-the-secret"),
        "the secret stays out of errors: {text}"
    );
    handle.shutdown().await;
}
