//! Hostile clients, over the real protocol: each test performs one attack against an in-process
//! server and asserts both the refusal and that a well-behaved participant of the same call notices
//! nothing (it still gets every notification meant for it).

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use str0m::Rtc;
use str0m::media::{Direction, MediaKind};

/// A well-behaved participant is still served: its socket is open, it pings, it hears a marker sent
/// by `from` after everything else, and before that marker it had heard every notification in
/// `expected` (a method and the connection it is about): nothing meant for it was skipped.
async fn still_served(me: &mut Rpc, from: &mut Rpc, expected: &[(&str, &Value)]) {
    me.ping().await;
    let data = broadcast_marker(from).await;
    me.next_notification_where("sendMessage", |p| p["data"] == data)
        .await;
    assert!(me.closed.is_none(), "the well-behaved socket stays open");
    for (method, cid) in expected {
        let cid = cid.as_str().expect("a connection id");
        assert!(
            me.has_heard(method, cid),
            "{method} about {cid} never arrived; heard: {:?}",
            me.buffered()
        );
    }
}

/// Polls `check` until it holds, for at most [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "never happened within {WAIT:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling interval, not a synchronisation
    }
}

fn close_code(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> Option<u16> {
    frame.map(|f| u16::from(f.code))
}

#[tokio::test]
async fn a_token_nobody_uses_expires() {
    let server = spawn_server_with(|c| c.pending_connection_ttl = Duration::from_secs(1)).await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (cid, token) = server.create_connection(&session, "MODERATOR").await;

    let path = format!("/openvidu/api/sessions/{session}/connection/{cid}");
    eventually("the pending connection is removed", || async {
        server.rest("GET", &path, None).await.status == 404
    })
    .await;
    let mut late = server.connect(&token).await;
    let e = late.join(&token, "").await.expect_err("an expired token");
    assert_eq!(e.code, 401, "{e:?}");

    // Alice, who joined in time, is still there and still served.
    let connections = server
        .rest(
            "GET",
            &format!("/openvidu/api/sessions/{session}/connection"),
            None,
        )
        .await
        .json();
    assert_eq!(connections["numberOfElements"], 1, "{connections}");
    assert_eq!(connections["content"][0]["status"], "active");
    let (mut bob, b) = server.join(&session, "PUBLISHER", "bob").await;
    still_served(&mut alice, &mut bob, &[("participantJoined", &b["id"])]).await;
}

#[tokio::test]
async fn one_answer_for_an_unknown_call_and_a_bad_token() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let token = server.token(&session, "PUBLISHER").await;

    let mut probe = server.open_socket("ses_Guess").await;
    let unknown = probe
        .join(&token.replace(&session, "ses_Guess"), "")
        .await
        .expect_err("no such call");
    let mut probe = server.open_socket(&session).await;
    let forged = format!("{}x", token_param(&token, "token").unwrap());
    let bad = probe
        .join(
            &token.replace(&token_param(&token, "token").unwrap(), &forged),
            "",
        )
        .await
        .expect_err("bad token");
    assert_eq!(unknown, bad, "the answers must not tell which calls exist");
    assert_eq!(bad.code, 401);

    // The real token still works.
    let mut rpc = server.connect(&token).await;
    rpc.join(&token, "").await.expect("the real token joins");
}

#[tokio::test]
async fn sessions_past_the_quota_are_refused_and_existing_ones_still_answer_409() {
    let server = spawn_server_with(|c| c.limits.max_sessions = 2).await;
    let first = server.create_session().await;
    let r = server
        .rest(
            "POST",
            "/openvidu/api/sessions",
            Some(json!({ "customSessionId": "second" })),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = server
        .rest("POST", "/openvidu/api/sessions", Some(json!({})))
        .await;
    assert_error_body(&r, 429);
    assert!(
        r.text().contains("sessions"),
        "a clear message: {}",
        r.text()
    );
    let again = server
        .rest(
            "POST",
            "/openvidu/api/sessions",
            Some(json!({ "customSessionId": "second" })),
        )
        .await;
    assert_eq!(
        again.status, 409,
        "joining an existing call is not blocked by the quota"
    );

    // The sessions there work; closing one makes room.
    let (mut alice, _) = server.join(&first, "PUBLISHER", "").await;
    alice.ping().await;
    assert_eq!(
        server
            .rest("DELETE", "/openvidu/api/sessions/second", None)
            .await
            .status,
        204
    );
    assert_eq!(
        server
            .rest("POST", "/openvidu/api/sessions", Some(json!({})))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_full_session_refuses_more_connections_and_its_members_carry_on() {
    let server = spawn_server_with(|c| c.limits.max_participants_per_session = 2).await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "bob").await;

    let path = format!("/openvidu/api/sessions/{session}/connection");
    let r = server
        .rest("POST", &path, Some(json!({ "role": "PUBLISHER" })))
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_error_body(&r, 429);
    assert!(r.text().contains("full"), "{}", r.text());
    still_served(&mut alice, &mut bob, &[("participantJoined", &b["id"])]).await;

    // Room again once someone leaves.
    bob.request("leaveRoom", json!({})).await.unwrap();
    alice.next_notification("participantLeft").await;
    assert_eq!(
        server
            .rest("POST", &path, Some(json!({ "role": "PUBLISHER" })))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn sockets_past_the_quota_of_one_address_are_closed_with_1013() {
    let server = spawn_server_with(|c| c.limits.max_sockets_per_address = 3).await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let mut second = server.open_socket(&session).await;
    second.ping().await;
    let third = server.open_socket(&session).await;

    let mut fourth = server.open_socket(&session).await;
    assert_eq!(close_code(fourth.wait_closed().await), Some(1013));
    alice.ping().await;

    // A socket that closes frees its place.
    third.close().await;
    let handle = server.handle.as_ref().unwrap();
    eventually("the closed sockets are forgotten", || async {
        handle.stats().await.sockets == 2
    })
    .await;
    let mut fifth = server.open_socket(&session).await;
    fifth.ping().await;
    second.ping().await;
}

#[tokio::test]
async fn a_socket_that_has_not_joined_may_only_join_reconnect_or_ping() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let mut stranger = server.open_socket(&session).await;
    let (_, _, offer) = publisher_offer();
    for (method, params) in [
        (
            "publishVideo",
            json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true }),
        ),
        ("sendMessage", json!({ "message": "{\"data\":\"x\"}" })),
        (
            "onIceCandidate",
            json!({ "endpointName": "x", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host" }),
        ),
        ("forceDisconnect", json!({ "connectionId": "con_x" })),
    ] {
        let e = stranger
            .request(method, params)
            .await
            .expect_err("refused before joining");
        assert_eq!(e.code, 803, "{method}: {e:?}");
    }
    let stats = server.handle.as_ref().unwrap().stats().await;
    assert_eq!(stats.peers, 0, "nothing reached the SFU: {stats:?}");
    stranger.ping().await;
}

#[tokio::test]
async fn a_socket_that_does_not_join_in_time_is_closed_and_one_that_left_too() {
    let server = spawn_server_with(|c| c.join_deadline = Duration::from_secs(1)).await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "bob").await;
    let (mut leaver, l) = server.join(&session, "PUBLISHER", "leaver").await;
    // Pings alone do not keep a socket that speaks for nobody.
    let mut idle = server.open_socket(&session).await;
    idle.ping().await;
    assert_eq!(close_code(idle.wait_closed().await), Some(1008));
    // Nor does having been a participant once.
    leaver.request("leaveRoom", json!({})).await.unwrap();
    assert_eq!(close_code(leaver.wait_closed().await), Some(1008));

    // Those who joined stay past the deadline.
    alice.ping().await;
    still_served(
        &mut alice,
        &mut bob,
        &[
            ("participantJoined", &b["id"]),
            ("participantJoined", &l["id"]),
            ("participantLeft", &l["id"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_request_flood_closes_the_flooder_only() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut carol, c) = server.join(&session, "PUBLISHER", "carol").await;
    let (mut mallory, m) = server.join(&session, "PUBLISHER", "mallory").await;

    // Far more than a browser ever sends at once; the server stops reading at its limit.
    for _ in 0..1500 {
        if !mallory.try_send_request("echo", json!({})).await {
            break;
        }
    }
    assert_eq!(close_code(mallory.wait_closed().await), Some(1008));

    // Alice hears Mallory leave (after the reconnection grace) and is served as before.
    let left = alice.next_notification("participantLeft").await;
    assert_eq!(left["reason"], "networkDisconnect");
    assert_eq!(left["connectionId"], m["id"]);
    still_served(
        &mut alice,
        &mut carol,
        &[
            ("participantJoined", &c["id"]),
            ("participantJoined", &m["id"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_flood_of_frames_that_do_not_parse_closes_the_sender_too() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "bob").await;
    let mut mallory = server.open_socket(&session).await;
    for i in 0..1500 {
        if mallory.closed.is_some() || !mallory.try_send_request("", json!(i)).await {
            break;
        }
        mallory.read_ready();
    }
    assert_eq!(close_code(mallory.wait_closed().await), Some(1008));
    still_served(&mut alice, &mut bob, &[("participantJoined", &b["id"])]).await;
}

#[tokio::test]
async fn a_negotiation_flood_is_cut_short_before_it_costs_peer_after_peer() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut mallory, m) = server.join(&session, "PUBLISHER", "mallory").await;
    let stream = publish(&mut mallory).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice.next_notification("participantPublished").await;
    // While the flood is handled, alice's socket must not be taken for dead: she pings as slowly as a
    // browser may (its socket task answers pings itself, whatever the hub is busy with).
    alice
        .request("ping", json!({ "interval": 10_000 }))
        .await
        .unwrap();

    // Each reconnectStream makes the SFU negotiate a new peer connection.
    let (_, _, offer) = publisher_offer();
    for _ in 0..400 {
        if !mallory
            .try_send_request(
                "reconnectStream",
                json!({ "stream": stream, "sdpString": offer }),
            )
            .await
        {
            break;
        }
        mallory.read_ready();
    }
    assert_eq!(close_code(mallory.wait_closed().await), Some(1008));
    // The negotiations admitted before the cut are still being handled; stats() is answered after
    // them. (While one task owns every session, they hold up every call that long: the reason for
    // the negotiation budget, and for one owner per session in the redesign.)
    let stats = server.handle.as_ref().unwrap().stats().await;
    assert!(
        stats.peers <= 1,
        "each renegotiation replaced the peer before it, none piled up: {stats:?}"
    );
    let (mut carol, c) = server.join(&session, "PUBLISHER", "carol").await;
    still_served(
        &mut alice,
        &mut carol,
        &[
            ("participantJoined", &m["id"]),
            ("participantPublished", &m["id"]),
            ("participantJoined", &c["id"]),
        ],
    )
    .await;
    let stats = server.handle.as_ref().unwrap().stats().await;
    assert!(
        stats.peers <= 1,
        "each renegotiation replaced the peer before it, none piled up: {stats:?}"
    );
}

#[tokio::test]
async fn a_signal_flood_closes_the_sender_and_the_others_hear_the_rest() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut carol, _) = server.join(&session, "PUBLISHER", "carol").await;
    let (mut mallory, _) = server.join(&session, "PUBLISHER", "mallory").await;
    alice.next_notification("participantJoined").await;
    alice.next_notification("participantJoined").await;

    let message = json!({ "to": [], "data": "spam", "type": "signal:chat" }).to_string();
    for _ in 0..400 {
        if !mallory
            .try_send_request("sendMessage", json!({ "message": message }))
            .await
        {
            break;
        }
    }
    assert_eq!(close_code(mallory.wait_closed().await), Some(1008));
    alice.ping().await;
    // Everything Mallory got through was handled before Carol's marker: count it on the way there.
    let marker = broadcast_marker(&mut carol).await;
    let mut spam = 0;
    loop {
        let n = alice.next_notification("sendMessage").await;
        if n["data"] == marker {
            break;
        }
        assert_eq!(n["data"], "spam");
        spam += 1;
    }
    assert!(
        (1..=120).contains(&spam),
        "the flood was cut short at its burst: {spam} spam signals reached alice"
    );
}

#[tokio::test]
async fn signals_over_8_kib_are_refused_over_rpc_and_rest() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "bob").await;
    alice.next_notification("participantJoined").await;

    let big = "x".repeat(8 * 1024 + 1);
    let message = json!({ "to": [], "data": big, "type": "signal:chat" }).to_string();
    let e = bob
        .request("sendMessage", json!({ "message": message }))
        .await
        .expect_err("too big");
    assert!(e.message.contains("8 KiB"), "{e:?}");
    let r = server
        .rest(
            "POST",
            "/openvidu/api/signal",
            Some(json!({ "session": session, "data": big })),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());

    let fits = "y".repeat(8 * 1024);
    let message = json!({ "to": [], "data": fits, "type": "signal:chat" }).to_string();
    bob.request("sendMessage", json!({ "message": message }))
        .await
        .expect("8 KiB fits");
    let got = alice.next_notification("sendMessage").await;
    assert_eq!(
        got["data"], fits,
        "alice gets the one that fits, and not the one that did not"
    );
}

#[tokio::test]
async fn a_reader_that_falls_behind_is_closed_rather_than_skipped_and_may_reconnect() {
    // The slow reader is closed early in the flood and reconnects only after it: on a loaded
    // machine the flood alone has taken over a minute, so the grace is far longer than that.
    let server = spawn_server_with(|c| c.reconnect_grace = Duration::from_secs(900)).await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let token = server.token(&session, "PUBLISHER").await;
    let url = format!("ws://{}/openvidu?sessionId={session}", server.addr);
    let mut slow = Rpc::open_with_small_receive_buffer(server.addr, &url).await;
    let s = slow.join(&token, "slow").await.expect("joins");
    let rpc_session = slow.rpc_session.clone().unwrap();
    alice.next_notification("participantJoined").await;
    // Alice says nothing for a while: she asks for the slowest pings a browser may send.
    alice
        .request("ping", json!({ "interval": 10_000 }))
        .await
        .unwrap();

    // 25 senders, each within its own signal rate, together far more than the slow one's queue and
    // socket buffers hold: 8 KiB signals to the slow one, who reads nothing meanwhile.
    const SENDERS: usize = 25;
    const EACH: usize = 90;
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (mut sender, _) = server.join(&session, "PUBLISHER", "sender").await;
        // Joining all of them takes a while: slow pings, or the first would be taken for dead.
        sender
            .request("ping", json!({ "interval": 10_000 }))
            .await
            .unwrap();
        senders.push(sender);
    }
    let to = json!([s["id"]]);
    let padding = "z".repeat(8 * 1024 - 8);
    for k in 0..SENDERS {
        // Everyone keeps pinging, as browsers do, or a socket is taken for dead while the others
        // send (on a loaded machine that can take longer than the watchdog's 30 s).
        for other in &mut senders[..=k] {
            let pong = other.request("ping", json!({ "interval": 10_000 })).await;
            assert!(pong.is_ok(), "a sender lost its socket: {pong:?}");
        }
        let sender = &mut senders[k];
        for i in 0..EACH {
            let data = format!("{k:03}{i:03}{padding}");
            let message = json!({ "to": to, "data": data, "type": "signal:flood" }).to_string();
            if !sender
                .try_send_request("sendMessage", json!({ "message": message }))
                .await
            {
                panic!("sender {k} closed at {i}: {:?}", sender.wait_closed().await);
            }
        }
    }
    // The session's owner answers in order: once each sender's echo is answered, all its signals
    // were handled.
    for sender in &mut senders {
        sender.request("echo", json!({})).await.expect("echo");
    }

    // Reading only now, the slow one gets, of each sender, the first signals without a gap, then
    // the close: it was closed rather than skipped.
    let got = slow.drain(Duration::from_secs(5)).await;
    assert!(slow.closed.is_some(), "the slow reader was closed");
    let mut per_sender = vec![Vec::new(); SENDERS];
    for n in got.iter().filter(|n| n["params"]["type"] == "signal:flood") {
        let data = n["params"]["data"].as_str().unwrap();
        per_sender[data[..3].parse::<usize>().unwrap()].push(data[3..6].parse::<usize>().unwrap());
    }
    let total: usize = per_sender.iter().map(Vec::len).sum();
    assert!(
        total < SENDERS * EACH,
        "it cannot have kept up ({total} of {})",
        SENDERS * EACH
    );
    for (k, seq) in per_sender.iter().enumerate() {
        assert_eq!(
            *seq,
            (0..seq.len()).collect::<Vec<_>>(),
            "sender {k}'s signals have a gap"
        );
    }

    // It reconnects with its RPC session and is a participant again; Alice, who was sent nothing of
    // the flood, never saw it leave and is served as before.
    let mut back = server.open_socket(&session).await;
    back.request("connect", json!({ "sessionId": rpc_session }))
        .await
        .expect("reconnects within the grace");
    back.ping().await;
    still_served(
        &mut alice,
        &mut senders[0],
        &[("participantJoined", &s["id"])],
    )
    .await;
    assert!(!alice.has_heard("participantLeft", s["id"].as_str().unwrap()));
}

/// A publisher's offer with `audio` audio and `video` video m-lines, from a real WebRTC stack.
fn offer_with(audio: usize, video: usize) -> String {
    let mut rtc = Rtc::builder().build(Instant::now());
    let mut change = rtc.sdp_api();
    for _ in 0..audio {
        change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    }
    for _ in 0..video {
        change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    }
    change.apply().expect("an offer").0.to_sdp_string()
}

#[tokio::test]
async fn offers_of_more_than_one_stream_are_refused_and_subscribers_are_unaffected() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "alice").await;
    let stream = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
    let (mut viewer, _) = server.join(&session, "SUBSCRIBER", "viewer").await;
    let _rtc = subscribe(&mut viewer, &stream).await;
    let (mut mallory, m) = server.join(&session, "PUBLISHER", "mallory").await;

    for (audio, video) in [(0, 8), (2, 1), (1, 4)] {
        let params = json!({ "sdpOffer": offer_with(audio, video), "hasAudio": audio > 0, "hasVideo": true });
        let e = mallory
            .request("publishVideo", params)
            .await
            .expect_err("refused");
        assert!(
            e.message.contains("one audio and one video"),
            "{audio}+{video}: {e:?}"
        );
    }
    let e = mallory
        .request(
            "receiveVideoFrom",
            json!({ "sender": stream, "sdpOffer": offer_with(0, 5) }),
        )
        .await
        .expect_err("a subscription offer of five video m-lines");
    assert!(e.message.contains("one audio and one video"), "{e:?}");
    // One audio and one video m-line, but four simulcast layers, or the video under the audio's mid.
    let fine = offer_with(1, 1);
    let mids: Vec<&str> = fine
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=mid:"))
        .collect();
    assert_eq!(mids.len(), 2, "{fine}");
    let video_mid = format!("a=mid:{}", mids[1]);
    let four_layers = fine.replacen(
        &video_mid,
        &format!("{video_mid}\r\na=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=rid:x send"),
        1,
    );
    let same_mid = fine.replacen(&video_mid, &format!("a=mid:{}", mids[0]), 1);
    for (offer, why) in [
        (four_layers, "at most three simulcast layers"),
        (same_mid, "the same mid"),
    ] {
        let params = json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true });
        let e = mallory
            .request("publishVideo", params)
            .await
            .expect_err(why);
        assert!(e.message.contains(why), "{why}: {e:?}");
    }

    assert!(
        !viewer.has_buffered("participantPublished"),
        "nothing was published"
    );
    still_served(&mut viewer, &mut alice, &[("participantJoined", &m["id"])]).await;
    assert_eq!(
        server.handle.as_ref().unwrap().stats().await.peers,
        2,
        "alice's peer and the viewer's only"
    );
}

#[tokio::test]
async fn oversized_ice_candidates_are_refused_and_a_flood_of_them_stops_at_the_cap() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut bob, _) = server.join(&session, "SUBSCRIBER", "bob").await;
    publish(&mut alice).await;
    let me = a["id"].as_str().unwrap();
    let long = format!(
        "candidate:1 1 udp 1 127.0.0.1 9 typ host {}",
        "x".repeat(2000)
    );
    let e = alice
        .request(
            "onIceCandidate",
            json!({ "endpointName": me, "candidate": long }),
        )
        .await
        .expect_err("too long");
    assert_eq!(e.code, -32602, "{e:?}");
    let handle = server.handle.as_ref().unwrap();
    let before = handle.stats().await.candidates;
    for port in 0..40 {
        let c = format!(
            "candidate:1 1 udp 2122260223 127.0.0.1 {} typ host",
            40000 + port
        );
        let r = alice
            .request(
                "onIceCandidate",
                json!({ "endpointName": me, "candidate": c, "sdpMid": "0", "sdpMLineIndex": 0 }),
            )
            .await;
        assert_eq!(
            r,
            Ok(json!({})),
            "extra candidates are accepted and dropped quietly"
        );
    }
    // The SFU hears of the first 32, as many as any browser sends; signaling drops the rest before
    // they cost it anything. (Its queue is in order: stats() is answered after every one of them.)
    assert_eq!(
        handle.stats().await.candidates - before,
        32,
        "candidates past the cap reached the SFU"
    );
    still_served(&mut bob, &mut alice, &[("participantPublished", &a["id"])]).await;
}

#[tokio::test]
async fn out_of_range_durations_are_refused_at_start_up() {
    let mut config = mediaserver::Config::new(mediaserver::Secret::new("s"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.reconnect_grace = Duration::from_secs(u64::MAX / 2);
    let e = mediaserver::start(config).await.err().expect("refused");
    assert!(e.to_string().contains("--reconnect-grace"), "{e}");
}

#[tokio::test]
async fn a_session_whose_owner_fails_is_contained_and_the_others_carry_on() {
    let server = spawn_server().await;
    let handle = server.handle.as_ref().unwrap();
    let broken = server.create_session().await;
    let healthy = server.create_session().await;
    let (mut victim, _) = server.join(&broken, "PUBLISHER", "victim").await;
    let (_, _, offer) = publisher_offer();
    victim
        .request(
            "publishVideo",
            json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true }),
        )
        .await
        .expect("the victim publishes");
    let (mut alice, _) = server.join(&healthy, "PUBLISHER", "alice").await;
    let (mut bob, b) = server.join(&healthy, "PUBLISHER", "bob").await;

    assert!(handle.crash_session_for_tests(&broken).await);

    // The failed session's participant is told by its socket closing (1011), and the session, its
    // peer and its token are gone, as if it had ended.
    assert_eq!(close_code(victim.wait_closed().await), Some(1011));
    server.wait_session_gone(&broken).await;
    eventually("the failed session's peer is closed", || async {
        let s = handle.stats().await;
        s.sessions == 1 && s.participants == 2 && s.peers == 0
    })
    .await;
    // The healthy session notices nothing, and new sessions work.
    still_served(&mut alice, &mut bob, &[("participantJoined", &b["id"])]).await;
    still_served(&mut bob, &mut alice, &[]).await;
    let later = server.create_session().await;
    let (mut carol, _) = server.join(&later, "PUBLISHER", "carol").await;
    carol.ping().await;
}

#[tokio::test]
async fn a_negotiation_flood_in_one_session_does_not_hold_up_another() {
    let server = spawn_server().await;
    let flooded = server.create_session().await;
    let quiet = server.create_session().await;
    let (mut mallory, _) = server.join(&flooded, "PUBLISHER", "mallory").await;
    let (mut alice, _) = server.join(&quiet, "PUBLISHER", "alice").await;
    let (mut bob, b) = server.join(&quiet, "PUBLISHER", "bob").await;

    // A burst of negotiations within the rate limit, each one making the SFU build a new publisher
    // peer connection (a `reconnectStream` of her own stream): all sent before Bob speaks, none
    // waited for.
    let (_, _, offer) = publisher_offer();
    let published = mallory
        .request(
            "publishVideo",
            json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true }),
        )
        .await
        .expect("mallory publishes");
    let stream = published["id"].as_str().unwrap().to_owned();
    const FLOOD: usize = 100;
    for _ in 0..FLOOD {
        mallory
            .send_request(
                "reconnectStream",
                json!({ "stream": stream, "sdpString": offer }),
            )
            .await;
    }
    // Bob's message reaches Alice while Mallory's session still works through its queue: the quiet
    // session did not wait behind the flooded one (with one owner for all, it did).
    still_served(&mut alice, &mut bob, &[("participantJoined", &b["id"])]).await;
    mallory.read_ready();
    let answered = mallory.buffered_replies();
    assert!(
        answered < FLOOD / 2,
        "{answered} of the flood's {FLOOD} negotiations were answered before the quiet session's \
         message went through"
    );
    // Mallory gets every answer in the end.
    for _ in 0..FLOOD {
        mallory.next_stray_reply().await;
    }
}
