//! A meeting keeps every one of its streams while one of its own participants attacks the server over
//! the real protocol: an SDP of sixty m-lines, forged and garbage datagrams at every SFU worker's
//! port, a signal flood, a negotiation flood. The attacker is refused or closed; the others' media is
//! checked for delivery (every subscription gets video and audio), never for speed.

mod common;

use std::time::Duration;

use common::{assert_delivered, config, server};
use loadtest::Target;
use loadtest::http::OpenViduRest;
use loadtest::signal::JsonSocket;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// Joins `session` with a fresh token over a raw socket; returns the socket.
async fn join_raw(rest: &OpenViduRest, session: &str) -> JsonSocket {
    let token = rest.create_token(session, "PUBLISHER").await.unwrap();
    let (base, _) = token.split_once('?').unwrap();
    let mut socket = JsonSocket::open(&format!("{base}/openvidu?sessionId={session}"), None)
        .await
        .unwrap();
    socket
        .send(
            &json!({ "jsonrpc": "2.0", "id": 0, "method": "joinRoom", "params": {
                "token": token, "session": session, "platform": "mallory", "metadata": "{}",
                "secret": "", "recorder": false,
            }}),
        )
        .await
        .unwrap();
    let reply = reply_to(&mut socket, 0).await;
    assert!(reply.get("result").is_some(), "joinRoom: {reply}");
    socket
}

/// Reads until the reply to request `id`.
async fn reply_to(socket: &mut JsonSocket, id: u64) -> Value {
    loop {
        let v = socket
            .recv(WAIT)
            .await
            .expect("the socket stays open")
            .expect("a reply in time");
        if v.get("method").is_none() && v["id"] == json!(id) {
            return v;
        }
    }
}

/// Reads until the server closes the socket, which it must do within [`WAIT`].
async fn wait_closed(socket: &mut JsonSocket) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server kept the flooder's socket open"
        );
        if socket.recv(Duration::from_millis(500)).await.is_err() {
            return;
        }
    }
}

/// Polls until the meeting's session exists with `n` participants that all publish; its id.
async fn meeting_in_full_swing(rest: &OpenViduRest, n: usize) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sessions = rest.get("/openvidu/api/sessions").await.unwrap();
        if let Some(s) = sessions["content"].as_array().and_then(|c| c.first()) {
            let publishing = s["connections"]["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["publishers"].as_array().is_some_and(|p| !p.is_empty()))
                .count();
            if publishing >= n {
                return s["id"].as_str().unwrap().to_owned();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the meeting did not start: {sessions}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling interval, not a synchronisation
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_keeps_every_stream_while_one_of_its_participants_attacks() {
    let (handle, secret) = server().await;
    let rest = OpenViduRest::new(handle.http_addr(), &secret);
    let mut run = config("meeting:3", Target::OpenVidu(rest.clone()));
    // Long enough for every attack to land inside the measured window.
    run.window = Duration::from_secs(6);
    let meeting = tokio::spawn(loadtest::scenario::run(run));
    let session = meeting_in_full_swing(&rest, 3).await;

    let mut mallory = join_raw(&rest, &session).await;
    // An offer of sixty m-lines: refused with an error, nothing built.
    let mut sdp = String::from("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    for mid in 0..60 {
        sdp += &format!(
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na=sendonly\r\n\
             a=rtpmap:96 VP8/90000\r\n"
        );
    }
    mallory
        .send(
            &json!({ "jsonrpc": "2.0", "id": 1, "method": "publishVideo", "params": {
                "sdpOffer": sdp, "hasAudio": false, "hasVideo": true, "doLoopback": false,
            }}),
        )
        .await
        .unwrap();
    let refused = reply_to(&mut mallory, 1).await;
    assert!(
        refused.get("error").is_some(),
        "a 60-m-line offer: {refused}"
    );

    // Garbage and forged STUN-looking datagrams at every worker's port.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for addr in handle.udp_addrs() {
        for i in 0..300u32 {
            let mut datagram = vec![(i % 256) as u8; 20 + (i as usize % 200)];
            if i % 3 == 0 {
                // A STUN binding request header with a bogus body.
                datagram[..4].copy_from_slice(&[0x00, 0x01, 0x00, 0x08]);
            }
            let _ = udp.send_to(&datagram, addr).await;
        }
    }

    // A signal flood to everyone: closed past the rate limit.
    for id in 2..400u64 {
        let flood = json!({ "jsonrpc": "2.0", "id": id, "method": "sendMessage", "params": {
            "message": json!({ "to": [], "data": "spam", "type": "signal:spam" }).to_string(),
        }});
        if mallory.send(&flood).await.is_err() {
            break;
        }
    }
    wait_closed(&mut mallory).await;

    // A negotiation flood from a new socket: closed past the rate limit too.
    let mut mallory = join_raw(&rest, &session).await;
    for id in 1..300u64 {
        let flood = json!({ "jsonrpc": "2.0", "id": id, "method": "prepareReceiveVideoFrom",
            "params": { "sender": "str_CAM_nobody_con_nobody", "reconnect": false } });
        if mallory.send(&flood).await.is_err() {
            break;
        }
    }
    wait_closed(&mut mallory).await;

    let report = meeting
        .await
        .expect("the run does not panic")
        .expect("the run completes");
    assert_delivered(&report);
    assert!(
        handle.stats().await.dropped_datagrams > 0,
        "the garbage reached the SFU and was counted"
    );
    handle.shutdown().await;
}
