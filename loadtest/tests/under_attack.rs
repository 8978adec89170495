//! A meeting keeps every one of its streams while its own participants, strangers and other clients
//! attack the server over the real protocol: SDP of sixty m-lines, four simulcast layers or a reused
//! mid, forged and garbage datagrams at every SFU worker's port, signal and negotiation floods, ICE
//! candidate floods, oversized signals, requests before joining, frames that do not parse, every
//! quota (sessions, connections per session, sockets per address), a token left to expire, a socket
//! that never joins, a request flood, a revoked participant, a reader that falls behind, and a
//! participant's own STUN checks replayed from ever new ports at the real UDP socket. Each attack is
//! refused or its sender closed; the others' media is checked for delivery (every subscription gets
//! video and audio), never for speed.
mod common;

use std::time::Duration;

use common::{assert_delivered, config, server, server_with};
use loadtest::Target;
use loadtest::http::OpenViduRest;
use loadtest::signal::JsonSocket;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// Joins `session` with a fresh token over a raw socket; returns the socket.
async fn join_raw(rest: &OpenViduRest, session: &str) -> JsonSocket {
    join_raw_with_result(rest, session).await.0
}

/// [`join_raw`], with the `joinRoom` result (who is there, with which streams).
async fn join_raw_with_result(rest: &OpenViduRest, session: &str) -> (JsonSocket, Value) {
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
    (socket, reply["result"].clone())
}

/// Sends request `id` and returns its reply.
async fn request(socket: &mut JsonSocket, id: u64, method: &str, params: Value) -> Value {
    socket
        .send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
        .await
        .unwrap();
    reply_to(socket, id).await
}

/// A publishing browser's offer (one audio and one video m-line) from a real WebRTC stack.
fn publisher_offer() -> String {
    use str0m::media::{Direction, MediaKind};
    let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _) = change.apply().expect("an offer with two m-lines");
    offer.to_sdp_string()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_keeps_every_stream_while_strangers_floods_and_quotas_are_refused() {
    // Quotas small enough to reach, with room for the meeting and its attacker.
    let (handle, secret) = server_with(|c| {
        c.limits.max_sessions = 3;
        c.limits.max_participants_per_session = 6;
        c.limits.max_sockets_per_address = 8;
    })
    .await;
    let rest = OpenViduRest::new(handle.http_addr(), &secret);
    let mut run = config("meeting:3", Target::OpenVidu(rest.clone()));
    run.window = Duration::from_secs(6);
    let meeting = tokio::spawn(loadtest::scenario::run(run));
    let session = meeting_in_full_swing(&rest, 3).await;
    let (mut mallory, there) = join_raw_with_result(&rest, &session).await;

    // Offers of the right m-lines but four simulcast layers, or the video under the audio's mid.
    let fine = publisher_offer();
    let mids: Vec<&str> = fine
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=mid:"))
        .collect();
    let video_mid = format!("a=mid:{}", mids[1]);
    let four_layers = fine.replacen(
        &video_mid,
        &format!("{video_mid}\r\na=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=rid:x send"),
        1,
    );
    let same_mid = fine.replacen(&video_mid, &format!("a=mid:{}", mids[0]), 1);
    for (id, offer) in [(1, four_layers), (2, same_mid)] {
        let params =
            json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true, "doLoopback": false });
        let r = request(&mut mallory, id, "publishVideo", params).await;
        assert!(r.get("error").is_some(), "a bad offer: {r}");
    }

    // A subscription of Mallory's, then candidates for it: one far too long, then far more than any
    // browser sends. The long one is refused, the rest dropped past the cap.
    let other = &there["value"][0];
    let (publisher, stream) = (&other["id"], &other["streams"][0]["id"]);
    let offer = request(
        &mut mallory,
        3,
        "prepareReceiveVideoFrom",
        json!({ "sender": stream }),
    )
    .await;
    let offer =
        str0m::change::SdpOffer::from_sdp_string(offer["result"]["sdpOffer"].as_str().unwrap())
            .expect("the server's offer parses");
    let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
    let answer = rtc.sdp_api().accept_offer(offer).unwrap().to_sdp_string();
    let r = request(
        &mut mallory,
        4,
        "receiveVideoFrom",
        json!({ "sender": stream, "sdpAnswer": answer }),
    )
    .await;
    assert!(r.get("result").is_some(), "receiveVideoFrom: {r}");
    let long = format!(
        "candidate:1 1 udp 1 127.0.0.1 9 typ host {}",
        "x".repeat(2000)
    );
    let r = request(
        &mut mallory,
        5,
        "onIceCandidate",
        json!({ "endpointName": publisher, "candidate": long }),
    )
    .await;
    assert!(r.get("error").is_some(), "an oversized candidate: {r}");
    for port in 0..100u64 {
        let c = format!(
            "candidate:1 1 udp 2122260223 127.0.0.1 {} typ host",
            40000 + port
        );
        let params =
            json!({ "endpointName": publisher, "candidate": c, "sdpMid": "0", "sdpMLineIndex": 0 });
        let r = request(&mut mallory, 6 + port, "onIceCandidate", params).await;
        assert!(
            r.get("result").is_some(),
            "extra candidates are dropped quietly: {r}"
        );
    }

    // A signal over 8 KiB is refused.
    let big =
        json!({ "to": [], "data": "x".repeat(8 * 1024 + 1), "type": "signal:chat" }).to_string();
    let r = request(&mut mallory, 200, "sendMessage", json!({ "message": big })).await;
    assert!(r.get("error").is_some(), "an oversized signal: {r}");

    // A stranger's socket may do nothing before joining, and frames that do not parse close it.
    let mut stranger = JsonSocket::open(
        &format!("ws://{}/openvidu?sessionId={session}", handle.http_addr()),
        None,
    )
    .await
    .unwrap();
    for (id, method) in [
        (1, "publishVideo"),
        (2, "sendMessage"),
        (3, "forceDisconnect"),
    ] {
        let r = request(
            &mut stranger,
            id,
            method,
            json!({ "sdpOffer": fine, "message": "{}", "connectionId": publisher }),
        )
        .await;
        assert_eq!(r["error"]["code"], 803, "{method} before joining: {r}");
    }
    for i in 0..1500 {
        if stranger.send(&json!(i)).await.is_err() {
            break;
        }
    }
    wait_closed(&mut stranger).await;

    // Sockets from another client address, past its quota: the extra ones are closed at once.
    let url = format!("ws://{}/openvidu?sessionId={session}", handle.http_addr());
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..12 {
        let tcp = tokio::net::TcpSocket::new_v4().unwrap();
        tcp.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let stream = tcp.connect(handle.http_addr()).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(url.as_str(), stream)
            .await
            .expect("the handshake completes, then the quota speaks");
        let mut ws = ws;
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        // A ping tells the two apart: an admitted socket answers it, a refused one is closed.
        let ping =
            json!({ "jsonrpc": "2.0", "id": 1, "method": "ping", "params": { "interval": 5000 } });
        let _ = ws.send(Message::text(ping.to_string())).await;
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("an answer or a close in time")
        {
            Some(Ok(Message::Text(_))) => {}
            Some(Ok(Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 1013, "{f:?}");
                refused += 1;
            }
            other => panic!("neither an answer nor a close: {other:?}"),
        }
        held.push(ws);
    }
    assert_eq!(
        refused, 4,
        "twelve sockets from one address, eight admitted"
    );

    // More sessions than the quota, and more connections than the meeting's session holds.
    let mut sessions_refused = false;
    for _ in 0..5 {
        if let Err(e) = rest.create_session().await {
            assert!(e.to_string().contains("429"), "{e:#}");
            sessions_refused = true;
            break;
        }
    }
    assert!(sessions_refused, "the sessions quota was reached");
    let mut connections_refused = false;
    for _ in 0..5 {
        if let Err(e) = rest.create_token(&session, "PUBLISHER").await {
            assert!(e.to_string().contains("429"), "{e:#}");
            connections_refused = true;
            break;
        }
    }
    assert!(connections_refused, "the session's quota was reached");

    let report = meeting
        .await
        .expect("the run does not panic")
        .expect("the run completes");
    assert_delivered(&report);
    drop(held);
    handle.shutdown().await;
}

/// A socket on a TCP connection with a tiny receive buffer, joined to `session`: a participant whose
/// reading falls behind. Returns it and its connection id.
async fn join_slow_reader(
    rest: &OpenViduRest,
    addr: std::net::SocketAddr,
    session: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    String,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let token = rest.create_token(session, "PUBLISHER").await.unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/openvidu?sessionId={session}");
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), stream)
        .await
        .unwrap();
    let join = json!({ "jsonrpc": "2.0", "id": 0, "method": "joinRoom", "params": {
        "token": token, "session": session, "platform": "slow", "metadata": "{}",
        "secret": "", "recorder": false,
    }});
    ws.send(Message::text(join.to_string())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a joinRoom reply in time")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(t) = frame {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == json!(0) {
                let id = v["result"]["id"].as_str().expect("joined").to_owned();
                return (ws, id);
            }
        }
    }
}

/// Subscribes Mallory to `stream` with a real WebRTC peer on a UDP socket and runs it until ICE
/// and DTLS connect; returns the STUN checks it sent, each with the server address it went to.
async fn connected_subscription(
    socket: &mut JsonSocket,
    stream: &Value,
) -> Vec<(std::net::SocketAddr, Vec<u8>)> {
    use str0m::net::{Protocol, Receive};
    use str0m::{Candidate, Event, Input, Output};
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = udp.local_addr().unwrap();
    let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
    rtc.add_local_candidate(Candidate::host(local, Protocol::Udp).unwrap());
    let offer = request(
        socket,
        1000,
        "prepareReceiveVideoFrom",
        json!({ "sender": stream }),
    )
    .await;
    let offer =
        str0m::change::SdpOffer::from_sdp_string(offer["result"]["sdpOffer"].as_str().unwrap())
            .expect("the server's offer parses");
    let answer = rtc.sdp_api().accept_offer(offer).unwrap().to_sdp_string();
    let r = request(
        socket,
        1001,
        "receiveVideoFrom",
        json!({ "sender": stream, "sdpAnswer": answer }),
    )
    .await;
    assert!(r.get("result").is_some(), "receiveVideoFrom: {r}");

    let deadline = std::time::Instant::now() + WAIT;
    let mut checks = Vec::new();
    let mut connected = false;
    let mut buf = vec![0u8; 2000];
    while !(connected && !checks.is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "Mallory's subscription never connected"
        );
        match rtc.poll_output().unwrap() {
            Output::Transmit(t) => {
                // RFC 7983: a first byte of 0 to 3 is STUN.
                if t.contents[0] <= 3 {
                    checks.push((t.destination, t.contents.to_vec()));
                }
                udp.send_to(&t.contents, t.destination).await.unwrap();
            }
            // DTLS is up: ICE passed, and the SFU knows this address.
            Output::Event(Event::Connected) => connected = true,
            Output::Event(_) => {}
            Output::Timeout(at) => {
                let wait = at
                    .saturating_duration_since(std::time::Instant::now())
                    .min(Duration::from_millis(100));
                let input = match tokio::time::timeout(wait, udp.recv_from(&mut buf)).await {
                    Ok(Ok((n, source))) => Input::Receive(
                        std::time::Instant::now(),
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: local,
                            contents: buf[..n].try_into().unwrap(),
                        },
                    ),
                    _ => Input::Timeout(std::time::Instant::now()),
                };
                rtc.handle_input(input).unwrap();
            }
        }
    }
    checks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_keeps_every_stream_while_stale_tokens_idlers_slow_readers_and_roamers_are_dealt_with()
 {
    let (handle, secret) = server_with(|c| {
        c.pending_connection_ttl = Duration::from_secs(3);
        c.join_deadline = Duration::from_secs(3);
    })
    .await;
    let rest = OpenViduRest::new(handle.http_addr(), &secret);
    let mut run = config("meeting:3", Target::OpenVidu(rest.clone()));
    // Long enough for every attack, the waits for expiry included, to land inside the window.
    run.window = Duration::from_secs(15);
    let meeting = tokio::spawn(loadtest::scenario::run(run));
    let session = meeting_in_full_swing(&rest, 3).await;
    let url = format!("ws://{}/openvidu?sessionId={session}", handle.http_addr());

    // A socket that never joins, and a token nobody uses: the one is closed, the other expires.
    let mut idler = JsonSocket::open(&url, None).await.unwrap();
    let stale = rest.create_token(&session, "MODERATOR").await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut listed = false;
    loop {
        let s = rest
            .get(&format!(
                "/openvidu/api/sessions/{session}?pendingConnections=true"
            ))
            .await
            .unwrap();
        let pending = s["connections"]["content"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["token"] == stale);
        if !pending {
            assert!(listed, "the token was listed as pending before it expired");
            break;
        }
        listed = true;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unused token did not expire"
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // polling interval, not a synchronisation
    }
    let mut late = JsonSocket::open(&url, None).await.unwrap();
    let r = request(
        &mut late,
        0,
        "joinRoom",
        json!({ "token": stale, "session": session, "platform": "mallory", "metadata": "{}",
                "secret": "", "recorder": false }),
    )
    .await;
    assert_eq!(r["error"]["code"], 401, "an expired token: {r}");
    wait_closed(&mut idler).await;

    // A request flood from a participant: closed at the rate limit.
    let mut mallory = join_raw(&rest, &session).await;
    for id in 1..1500u64 {
        let echo = json!({ "jsonrpc": "2.0", "id": id, "method": "echo", "params": {} });
        if mallory.send(&echo).await.is_err() {
            break;
        }
    }
    wait_closed(&mut mallory).await;

    // A participant revoked over REST (as the app does when a user is removed): evicted, and its RPC
    // session cannot be resumed.
    let (mut revoked, joined) = join_raw_with_result(&rest, &session).await;
    let rpc_session = joined["sessionId"].as_str().unwrap().to_owned();
    rest.delete(&format!(
        "/openvidu/api/sessions/{session}/connection/{}",
        joined["id"].as_str().unwrap()
    ))
    .await
    .expect("the connection is revoked");
    wait_closed(&mut revoked).await;
    let mut back = JsonSocket::open(&url, None).await.unwrap();
    let r = request(
        &mut back,
        0,
        "connect",
        json!({ "sessionId": rpc_session, "reconnect": true }),
    )
    .await;
    assert_eq!(r["error"]["code"], 40007, "a revoked participant: {r}");

    // A slow reader: senders within their own rate, together more than its queue and socket
    // buffers hold. It is closed, not skipped.
    let (mut slow, slow_id) = join_slow_reader(&rest, handle.http_addr(), &session).await;
    const SENDERS: usize = 20;
    const EACH: u64 = 90;
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        senders.push(join_raw(&rest, &session).await);
    }
    let padding = "z".repeat(8 * 1024 - 8);
    for k in 0..SENDERS {
        // Everyone keeps pinging, as browsers do, or a socket is taken for dead.
        for (n, other) in senders[..=k].iter_mut().enumerate() {
            let id = 10_000 + (k * SENDERS + n) as u64;
            let pong = request(other, id, "ping", json!({ "interval": 10_000 })).await;
            assert!(
                pong.get("result").is_some(),
                "a sender lost its socket: {pong}"
            );
        }
        for i in 0..EACH {
            let message =
                json!({ "to": [slow_id], "data": padding, "type": "signal:flood" }).to_string();
            let flood = json!({ "jsonrpc": "2.0", "id": 100 + i, "method": "sendMessage",
                "params": { "message": message } });
            senders[k].send(&flood).await.unwrap();
        }
    }
    {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, slow.next()).await {
                Err(_) => panic!("the slow reader was not closed"),
                Ok(Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(_) => break,
            }
        }
    }

    // A participant's own STUN checks replayed from 200 new source ports, as a roaming browser or a
    // forger would: each is answered, and the SFU keeps a bounded number of addresses per peer.
    let mut roamer = join_raw_with_result(&rest, &session).await;
    let stream = roamer.1["value"][0]["streams"][0]["id"].clone();
    let checks = connected_subscription(&mut roamer.0, &stream).await;
    let mut answered = 0;
    for port in 0..200usize {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (to, check) = &checks[port % checks.len()];
        udp.send_to(check, to).await.unwrap();
        let mut buf = [0u8; 1500];
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(2), udp.recv_from(&mut buf)).await
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 200, "each replayed check passes and is answered");
    let stats = handle.stats().await;
    assert!(
        stats.addresses <= 4 * stats.peers,
        "at most four addresses per peer: {stats:?}"
    );

    assert!(
        !meeting.is_finished(),
        "every attack landed while the meeting was measured"
    );
    let report = meeting
        .await
        .expect("the run does not panic")
        .expect("the run completes");
    assert_delivered(&report);
    drop(senders);
    handle.shutdown().await;
}
