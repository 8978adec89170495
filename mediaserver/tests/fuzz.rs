//! Fuzzing on stable Rust (proptest): JSON-RPC frames and REST bodies into a live server, SDP offers
//! and answers and mutated STUN / DTLS / RTP datagrams into a live SFU core. Each target asserts that
//! nothing panics, that bad input gets a client error, and that a well-behaved participant is still
//! served afterwards.
//!
//! Each target runs for a time budget, not a case count: 12 s by default (the four run side by
//! side, well under a minute in all), in rounds of cases from fresh random seeds. A longer run is
//! one command, here ten minutes per target:
//!
//! ```sh
//! FUZZ_SECONDS=600 cargo test --release -p mediaserver --test fuzz -- --nocapture
//! ```
//!
//! A failing case is printed (minimised) by proptest; it becomes a regression test in `limits.rs` or
//! `signaling.rs`.

mod common;
mod sfu_support;

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use common::*;
use mediaserver::sfu::{PeerId, Sfu};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};
use sfu_support::{Publish, World};
use str0m::media::MediaKind;

/// How long each target runs: `FUZZ_SECONDS`, else 12 s.
fn budget() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    Duration::from_secs(seconds)
}

/// Runs `test` on cases of `strategy` until the [`budget`] is spent, in rounds of `round` cases,
/// each from a fresh random seed. At least one round runs, however slow the machine. A failing case
/// is minimised by proptest and the target fails with it.
fn fuzz<S: Strategy>(
    target: &str,
    round: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let deadline = Instant::now() + budget();
    let mut cases = 0u64;
    loop {
        let mut runner = TestRunner::new(RunnerConfig {
            cases: round,
            failure_persistence: None,
            ..RunnerConfig::default()
        });
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{target}: {e}");
        }
        cases += u64::from(round);
        if Instant::now() >= deadline {
            break;
        }
    }
    eprintln!("{target}: {cases} cases");
}

/// Any JSON value, nested a few levels, with strings that look like ids, SDP and tokens now and then.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("con_"),
            Just("ses_"),
            Just("str_CAM_"),
            Just("v=0\r\nm=video 9 x 96\r\n"),
            Just("wss://x?token=tok_")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::hash_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

static METHODS: [&str; 20] = [
    "ping",
    "joinRoom",
    "publishVideo",
    "unpublishVideo",
    "prepareReceiveVideoFrom",
    "receiveVideoFrom",
    "unsubscribeFromVideo",
    "onIceCandidate",
    "leaveRoom",
    "sendMessage",
    "streamPropertyChanged",
    "videoData",
    "echo",
    "connect",
    "reconnectStream",
    "forceDisconnect",
    "forceUnpublish",
    "applyFilter",
    "sessionStatus",
    "",
];

/// A JSON-RPC frame: mostly well-formed requests with fuzzed params, sometimes anything at all.
fn rpc_frame() -> impl Strategy<Value = String> {
    let request = (
        prop::sample::select(METHODS.to_vec()),
        json_value(),
        prop_oneof![any::<i64>().prop_map(Value::from), json_value()],
    )
        .prop_map(|(method, params, id)| {
            json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": id }).to_string()
        });
    let typed_params = (
        prop::sample::select(METHODS.to_vec()),
        prop::collection::hash_map(
            prop::sample::select(vec![
                "sdpOffer",
                "sdpAnswer",
                "sender",
                "stream",
                "streamId",
                "candidate",
                "endpointName",
                "message",
                "token",
                "session",
                "connectionId",
                "property",
                "newValue",
                "sessionId",
                "interval",
                "hasAudio",
            ]),
            json_value(),
            0..6,
        ),
    )
        .prop_map(|(method, params)| {
            let params: serde_json::Map<String, Value> =
                params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": 7 }).to_string()
        });
    prop_oneof![
        4 => typed_params,
        3 => request,
        1 => json_value().prop_map(|v| v.to_string()),
        1 => ".{0,200}",
    ]
}

#[test]
fn json_rpc_frames_get_replies_and_break_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(spawn_server());
    let session = rt.block_on(server.create_session());
    let (mut witness, _) = rt.block_on(server.join(&session, "PUBLISHER", "witness"));
    rt.block_on(publish(&mut witness));
    // The witness pings as a browser does (every 5 s at most), or the server would let it go.
    let witness = RefCell::new(witness);
    let fuzzer: RefCell<Option<Rpc>> = RefCell::new(None);
    let frames = Cell::new(0u32);
    let join_fuzzer = || async {
        // A moderator, so that force operations get past the permission check.
        let (mut rpc, _) = server.join(&session, "MODERATOR", "fuzzer").await;
        publish(&mut rpc).await;
        rpc
    };

    fuzz("JSON-RPC frames", 20, rpc_frame(), |frame| {
        rt.block_on(async {
            let mut slot = fuzzer.borrow_mut();
            // A fresh participant now and then: a frame may have been leaveRoom, or a forced
            // disconnect of itself.
            frames.set(frames.get() + 1);
            if frames.get() % 20 == 0 {
                assert!(
                    witness.borrow_mut().try_ping().await,
                    "the witness is served"
                );
            }
            if frames.get() % 50 == 0 || slot.as_ref().is_none_or(|r| r.closed.is_some()) {
                *slot = Some(join_fuzzer().await);
            }
            let rpc = slot.as_mut().unwrap();
            rpc.send_raw(frame).await;
            // The server still serves the socket (or closed it in an orderly way).
            rpc.try_ping().await;
        });
        Ok(())
    });

    let mut witness = witness.into_inner();
    rt.block_on(async {
        witness.ping().await;
        let (mut late, joined) = server.join(&session, "PUBLISHER", "late").await;
        assert!(
            joined["value"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["metadata"] == "witness"),
            "the witness is still in the call"
        );
        let marker = json!({ "to": [], "data": "after the fuzz", "type": "signal:x" }).to_string();
        late.request("sendMessage", json!({ "message": marker }))
            .await
            .unwrap();
        witness
            .next_notification_where("sendMessage", |p| p["data"] == "after the fuzz")
            .await;
    });
}

/// A REST call: an endpoint, and a body that is mostly JSON of roughly the right shape.
fn rest_call() -> impl Strategy<Value = (&'static str, String, Vec<u8>)> {
    let endpoint = prop::sample::select(vec![
        ("POST", "/openvidu/api/sessions"),
        ("POST", "/openvidu/api/sessions/{s}/connection"),
        ("POST", "/openvidu/api/tokens"),
        ("POST", "/openvidu/api/signal"),
        ("GET", "/openvidu/api/sessions/{s}?pendingConnections={j}"),
        ("GET", "/openvidu/api/sessions/{j}/connection/{j}"),
        ("DELETE", "/openvidu/api/sessions/{j}/connection/{j}"),
        ("DELETE", "/openvidu/api/sessions/{s}/stream/{j}"),
        ("POST", "/openvidu/api/sessions/{j}"),
    ]);
    let body = prop_oneof![
        3 => prop::collection::hash_map(
            prop::sample::select(vec!["customSessionId", "mediaMode", "recordingMode", "forcedVideoCodec", "role", "data",
                "record", "kurentoOptions", "session", "to", "type", "customIceServers", "defaultRecordingProperties"]),
            json_value(),
            0..6,
        )
        .prop_map(|m| {
            let m: serde_json::Map<String, Value> = m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(m).to_string().into_bytes()
        }),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ];
    (endpoint, "[a-zA-Z0-9_%.-]{0,20}", body)
        .prop_map(|((method, path), junk, body)| (method, path.replace("{j}", &junk), body))
}

#[test]
fn rest_bodies_get_client_errors_and_break_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(spawn_server());
    let session = rt.block_on(server.create_session());
    let witness = RefCell::new(rt.block_on(server.join(&session, "PUBLISHER", "witness")).0);
    let auth = server.basic_auth();
    let calls = Cell::new(0u32);

    fuzz("REST bodies", 50, rest_call(), |(method, path, body)| {
        calls.set(calls.get() + 1);
        if calls.get() % 20 == 0 {
            assert!(
                rt.block_on(witness.borrow_mut().try_ping()),
                "the witness is served"
            );
        }
        let path = path.replace("{s}", &session);
        let r = rt.block_on(http(
            server.addr,
            method,
            &path,
            Some(&auth),
            Some("application/json"),
            &body,
        ));
        prop_assert!(
            r.status < 500,
            "{method} {path} answered {}: {}",
            r.status,
            r.text()
        );
        Ok(())
    });

    let mut witness = witness.into_inner();
    rt.block_on(async {
        witness.ping().await;
        assert!(
            server.session_exists(&session).await,
            "the witness's session is still there"
        );
        let fresh = server.create_session().await;
        let (mut a, _) = server.join(&fresh, "PUBLISHER", "").await;
        a.ping().await;
    });
}

/// A line-level and byte-level mutation of `sdp`.
fn mutated(sdp: String) -> impl Strategy<Value = String> {
    let lines: Vec<String> = sdp.lines().map(str::to_owned).collect();
    let n = lines.len();
    let weird = prop_oneof![
        Just("m=video 9 UDP/TLS/RTP/SAVPF 96".to_owned()),
        Just("m=application 9 UDP/DTLS/SCTP webrtc-datachannel".to_owned()),
        Just("a=mid:0".to_owned()),
        Just("a=rid:q send".to_owned()),
        Just("a=simulcast:send a;b;c;d;e".to_owned()),
        Just("a=ssrc:1 cname:x".to_owned()),
        Just("a=rtpmap:96 VP8/90000".to_owned()),
        Just("a=fmtp:96 x=".to_owned()),
        Just("a=candidate:1 1 udp 1 127.0.0.1 9 typ host".to_owned()),
        Just("a=extmap:99 urn:x".to_owned()),
        ".{0,60}",
    ];
    let op = prop_oneof![
        (0..n).prop_map(|i| (0u8, i, String::new())),
        (0..n, weird.clone()).prop_map(|(i, l)| (1u8, i, l)),
        (0..n, weird).prop_map(|(i, l)| (2u8, i, l)),
        (0..n, 0..n).prop_map(|(i, j)| (3u8, i, j.to_string())),
        (0..n, any::<u8>()).prop_map(|(i, b)| (4u8, i, b.to_string())),
    ];
    prop::collection::vec(op, 1..6).prop_map(move |ops| {
        let mut lines = lines.clone();
        for (kind, i, arg) in ops {
            if lines.is_empty() {
                break;
            }
            let i = i % lines.len();
            match kind {
                0 => drop(lines.remove(i)),
                1 => lines.insert(i, arg),
                2 => lines[i] = arg,
                3 => {
                    let j = arg.parse::<usize>().unwrap() % lines.len();
                    lines.swap(i, j);
                }
                _ => {
                    let mut bytes = lines[i].clone().into_bytes();
                    if !bytes.is_empty() {
                        let at = usize::from(arg.parse::<u8>().unwrap()) % bytes.len();
                        bytes[at] = arg.parse::<u8>().unwrap() | 0x20;
                    }
                    lines[i] = String::from_utf8_lossy(&bytes).into_owned();
                }
            }
        }
        lines.join("\r\n") + "\r\n"
    })
}

#[test]
fn sdp_offers_and_answers_never_break_the_core() {
    let mut w = World::new();
    let alice = w.browser("alice");
    w.publish_with(
        alice,
        PeerId(1),
        Publish {
            rids: vec!["q", "h", "f"],
            ..Publish::audio_video()
        },
    )
    .unwrap();
    w.connect(&[alice]);
    let (_, _, offer) = publisher_offer();
    let now = w.now;
    let sub_offer = w
        .sfu
        .offer_subscription(now, PeerId(2), PeerId(1), "s")
        .unwrap();
    let (_, answer) = answer_offer(&sub_offer);

    let w = RefCell::new(w);
    let next_peer = Cell::new(100u64);
    fuzz(
        "SDP offers and answers",
        30,
        (mutated(offer), mutated(answer), any::<u8>()),
        |(offer, answer, which)| {
            let mut w = w.borrow_mut();
            let now = w.now;
            next_peer.set(next_peer.get() + 1);
            let peer = PeerId(next_peer.get());
            let sfu: &mut Sfu = &mut w.sfu;
            match which % 3 {
                0 => {
                    if let Ok(answer) = sfu.publish(now, peer, &offer) {
                        prop_assert!(
                            str0m::change::SdpAnswer::from_sdp_string(&answer).is_ok(),
                            "an answer that does not parse"
                        );
                    }
                }
                1 => {
                    let _ = sfu.accept_subscription_offer(now, peer, PeerId(1), &offer);
                }
                _ => {
                    if sfu.offer_subscription(now, peer, PeerId(1), "s").is_ok() {
                        let _ = sfu.accept_answer(now, peer, &answer);
                    }
                }
            }
            sfu.close(peer);
            Ok(())
        },
    );

    // The publisher is untouched: a new subscriber still gets its media.
    let mut w = w.into_inner();
    assert_eq!(w.sfu.peer_count(), 2, "only the real peers remain");
    let bob = w.browser("bob");
    w.subscribe(bob, PeerId(9), PeerId(1)).unwrap();
    w.connect(&[bob]);
    let before = w.received(bob, MediaKind::Video).len();
    w.run_until("bob receives video", 2000, |w| {
        w.received(bob, MediaKind::Video).len() > before + 5
    });
}

/// Mutations of a real datagram: (index into the log, operation, position, value, extra bytes).
fn datagram_mutation() -> impl Strategy<Value = (usize, u8, usize, u8, Vec<u8>)> {
    (
        any::<usize>(),
        0u8..5,
        any::<usize>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..80),
    )
}

fn apply_mutation(
    real: &[Vec<u8>],
    (index, op, at, value, extra): (usize, u8, usize, u8, Vec<u8>),
) -> Vec<u8> {
    let mut d = real[index % real.len()].clone();
    let at = at % d.len().max(1);
    match op {
        0 if !d.is_empty() => d[at] ^= value | 1,
        1 => d.truncate(at),
        2 => d.extend(extra.iter().copied().chain([value])),
        3 if !d.is_empty() => d[0] = value,
        _ => d = extra,
    }
    d
}

#[test]
fn mutated_datagrams_into_a_live_core_break_no_call() {
    let mut w = World::new();
    let alice = w.browser("alice");
    w.publish(alice, PeerId(1)).unwrap();
    w.connect(&[alice]);
    let bob = w.browser("bob");
    w.subscribe(bob, PeerId(2), PeerId(1)).unwrap();
    w.connect(&[bob]);
    w.run_until("bob receives video", 2000, |w| {
        w.received(bob, MediaKind::Video).len() > 5
    });

    let real: Vec<Vec<u8>> = w
        .b(alice)
        .sent_log
        .iter()
        .chain(w.b(bob).sent_log.iter())
        .cloned()
        .collect();
    let addrs = [
        w.b(alice).addr,
        w.b(bob).addr,
        "127.0.0.1:33333".parse().unwrap(),
    ];
    let w = RefCell::new(w);
    let case = Cell::new(0usize);
    fuzz(
        "datagrams",
        300,
        (datagram_mutation(), 0usize..3),
        |(m, from)| {
            let mut w = w.borrow_mut();
            let d = apply_mutation(&real, m);
            let now = w.now;
            w.sfu.handle_receive(now, addrs[from], &d);
            while w.sfu.poll_transmit().is_some() {}
            case.set(case.get() + 1);
            if case.get() % 50 == 0 {
                w.step();
            }
            Ok(())
        },
    );

    let mut w = w.into_inner();
    assert_eq!(w.sfu.peer_count(), 2, "no peer was ended by bad input");
    let before = w.received(bob, MediaKind::Video).len();
    w.run_until("bob receives video again", 2000, |w| {
        w.received(bob, MediaKind::Video).len() > before + 10
    });
}
