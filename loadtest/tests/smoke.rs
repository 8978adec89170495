//! The load client against our real media server, started in-process on random loopback ports: a few
//! streams in each scenario shape, asserting that every subscription gets video (delivery), never how
//! fast. The figures come from `scripts/bench.sh` only.

mod common;

use std::time::Duration;

use common::{assert_delivered, config, server};
use loadtest::http::OpenViduRest;
use loadtest::{Scenario, Target};

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

#[tokio::test]
async fn the_rest_rate_creates_every_connection_it_counts() {
    // More connections than one session may hold: the rate must be of connections created, never of
    // the server's refusals past its per-session quota.
    let (handle, secret) = server().await;
    let rest = OpenViduRest::new(handle.http_addr(), &secret);
    let rate = loadtest::http::connection_rate(&rest, 130, 4, Duration::from_secs(60))
        .await
        .expect("the rate run completes");
    assert_eq!((rate.connections, rate.failed), (130, 0), "{rate:?}");
    handle.shutdown().await;
}
