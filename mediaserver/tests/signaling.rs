//! The JSON-RPC signaling at `/openvidu`, driven as openvidu-browser drives it: every test starts its
//! own server and talks to it over real sockets (OPENVIDU-PROTOCOL.md part B is the contract).

mod common;

use common::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn join_room_answers_what_the_browser_needs() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (cid, token) = server.create_connection(&session, "PUBLISHER").await;
    let mut rpc = server.connect(&token).await;
    rpc.ping().await;
    let r = rpc
        .join(&token, "{\"clientData\":\"Alice\"}")
        .await
        .expect("joinRoom succeeds");

    assert_eq!(
        r["id"],
        cid.as_str(),
        "the participant gets the connectionId the REST API gave: {r}"
    );
    assert_eq!(r["role"], "PUBLISHER");
    let version = r["version"].as_str().expect("version is a string");
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "version {version:?} must be full semver"
    );
    assert_eq!(parts[0], "2");
    assert_eq!(r["session"], session.as_str());
    assert_eq!(r["value"], json!([]), "nobody else is in the session yet");
    assert!(
        r["sessionId"].as_str().is_some_and(|s| !s.is_empty()),
        "sessionId (for reconnection) is set: {r}"
    );
    assert!(
        r["mediaServer"].is_string(),
        "mediaServer tells the browser who offers: {r}"
    );
    assert_eq!(r["metadata"], "{\"clientData\":\"Alice\"}");
    assert!(r["createdAt"].as_u64().is_some_and(|t| t > 0));

    // REST sees the connection as active now.
    let c = server
        .rest(
            "GET",
            &format!("/openvidu/api/sessions/{session}/connection/{cid}"),
            None,
        )
        .await;
    assert_eq!(c.status, 200);
    assert_eq!(c.json()["status"], "active");
}

#[tokio::test]
async fn others_hear_of_a_join_and_a_newcomer_sees_who_is_there() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut bob, b) = server.join(&session, "SUBSCRIBER", "bob").await;

    let joined = alice.next_notification("participantJoined").await;
    assert_eq!(joined["id"], b["id"]);
    assert_eq!(joined["metadata"], "bob");
    assert!(
        joined.get("role").is_none(),
        "a remote participant carries no role (the browser would take it for itself)"
    );

    let value = b["value"].as_array().expect("value is an array");
    assert_eq!(value.len(), 1, "bob sees alice: {value:?}");
    assert_eq!(value[0]["id"], a["id"]);
    assert_eq!(value[0]["metadata"], "alice");
    assert!(value[0].get("role").is_none());
    assert_eq!(b["role"], "SUBSCRIBER");

    // A third one sees both, and both hear of it.
    let (_carol, c) = server.join(&session, "PUBLISHER", "carol").await;
    let ids: Vec<&Value> = c["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&&a["id"]) && ids.contains(&&b["id"]));
    alice
        .next_notification_where("participantJoined", |p| p["id"] == c["id"])
        .await;
    bob.next_notification_where("participantJoined", |p| p["id"] == c["id"])
        .await;
}

#[tokio::test]
async fn a_token_works_once() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let token = server.token(&session, "PUBLISHER").await;
    let mut first = server.connect(&token).await;
    first
        .join(&token, "")
        .await
        .expect("the first join succeeds");

    let mut second = server.connect(&token).await;
    let e = second
        .join(&token, "")
        .await
        .expect_err("the token was used already");
    assert_eq!(e.code, 401, "{e:?}");
    // The first participant is untouched.
    first.ping().await;
    broadcast_marker(&mut first).await;
}

#[tokio::test]
async fn joining_an_unknown_session_is_refused_like_a_bad_token() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let token = server.token(&session, "PUBLISHER").await;
    let bogus = token.replace(&session, "ses_DoesNotExist");
    let mut rpc = server.open_socket("ses_DoesNotExist").await;
    let e = rpc.join(&bogus, "").await.expect_err("no such session");
    assert_eq!(
        e.code, 401,
        "the same answer as a bad token, so that nobody learns which calls exist: {e:?}"
    );
}

#[tokio::test]
async fn requests_before_join_room_get_803() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let mut rpc = server.open_socket(&session).await;
    for (method, params) in [
        ("publishVideo", json!({ "sdpOffer": "v=0" })),
        (
            "sendMessage",
            json!({ "message": "{\"to\":[],\"data\":\"x\",\"type\":\"signal\"}" }),
        ),
        ("leaveRoom", json!({})),
        ("unpublishVideo", json!({})),
        ("forceDisconnect", json!({ "connectionId": "con_X" })),
    ] {
        let e = rpc.request(method, params).await.expect_err(method);
        assert_eq!(e.code, 803, "{method}: {e:?}");
    }
    // The socket still works: it can join afterwards.
    let token = server.token(&session, "PUBLISHER").await;
    rpc.join(&token, "")
        .await
        .expect("joinRoom after refused requests");
}

#[tokio::test]
async fn an_unknown_method_gets_an_error_reply() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut rpc, _) = server.join(&session, "PUBLISHER", "").await;
    let e = rpc
        .request("noSuchMethod", json!({}))
        .await
        .expect_err("unknown method");
    assert_eq!(e.code, -32601, "{e:?}");
    rpc.ping().await;
}

#[tokio::test]
async fn malformed_frames_get_error_replies_and_nobody_is_hurt() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;

    // Not JSON, not an object: an error reply with a null id.
    for frame in [
        "this is not json",
        "[1,2,3]",
        "{\"jsonrpc\":\"2.0\",\"id\":",
        "42",
    ] {
        bob.send_raw(frame).await;
        let reply = bob.next_stray_reply().await;
        assert_eq!(reply["id"], Value::Null, "{frame}: {reply}");
        assert!(reply["error"]["code"].is_i64(), "{frame}: {reply}");
        assert!(reply.get("result").is_none());
    }
    // Wrong parameter types: an error reply to that id.
    let wrong = [
        ("sendMessage", json!({ "message": 12 })),
        ("publishVideo", json!({ "sdpOffer": ["v=0"] })),
        (
            "streamPropertyChanged",
            json!({ "streamId": 1, "property": null }),
        ),
        ("forceDisconnect", json!({})),
        ("joinRoom", json!({ "token": false, "session": 3 })),
    ];
    for (method, params) in wrong {
        let e = bob.request(method, params.clone()).await.expect_err(method);
        assert!(e.code != 0, "{method} {params}: {e:?}");
    }
    let e = bob
        .request("sendMessage", json!("params must be an object"))
        .await
        .expect_err("string params");
    assert_eq!(e.code, -32602, "{e:?}");
    // sendMessage whose inner message is not JSON.
    let e = bob
        .request("sendMessage", json!({ "message": "{not json" }))
        .await
        .expect_err("bad inner JSON");
    assert_eq!(e.code, 600, "{e:?}");

    // Both still work, and still reach each other.
    bob.ping().await;
    let marker = broadcast_marker(&mut bob).await;
    wait_marker(&mut alice, &marker).await;
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut bob, &marker).await;
}

#[tokio::test]
async fn a_frame_above_64_kib_closes_that_socket_with_1009_only() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "").await;

    let huge = json!({ "to": [], "data": "x".repeat(70 * 1024), "type": "signal" }).to_string();
    bob.send_request("sendMessage", json!({ "message": huge }))
        .await;
    let close = bob.wait_closed().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Size, "close code 1009: {close:?}");
    assert!(
        !alice.has_buffered("sendMessage"),
        "the oversized message was not relayed"
    );

    // Alice is unaffected and can go on; the others of the session too.
    alice.ping().await;
    let (mut carol, _) = server.join(&session, "PUBLISHER", "").await;
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut carol, &marker).await;
    let _ = b;
}

#[tokio::test]
async fn a_frame_of_a_mebibyte_closes_that_socket_with_1009_too() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;

    let huge = json!({ "to": [], "data": "y".repeat(1024 * 1024), "type": "signal" }).to_string();
    bob.send_request("sendMessage", json!({ "message": huge }))
        .await;
    let close = bob.wait_closed().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Size, "close code 1009: {close:?}");
    alice.ping().await;
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut alice, &marker).await;
}

#[tokio::test]
async fn forcing_an_unpublish_over_rest_tells_everyone_with_force_unpublish_by_server() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    let stream_id = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;
    let r = server
        .rest(
            "DELETE",
            &format!("/openvidu/api/sessions/{session}/stream/{stream_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    for rpc in [&mut alice, &mut bob] {
        let u = rpc.next_notification("participantUnpublished").await;
        assert_eq!(u["connectionId"], a["id"]);
        assert_eq!(u["reason"], "forceUnpublishByServer");
    }
    let r = server
        .rest(
            "DELETE",
            &format!("/openvidu/api/sessions/{session}/stream/{stream_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "the stream is gone: {}", r.text());
}

#[tokio::test]
async fn a_subscriber_may_not_publish() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut sub, _) = server.join(&session, "SUBSCRIBER", "").await;
    let (_rtc, _pending, offer) = publisher_offer();
    let e = sub
        .request(
            "publishVideo",
            json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true, "doLoopback": false }),
        )
        .await
        .expect_err("a SUBSCRIBER cannot publish");
    assert_eq!(e.code, 401, "{e:?}");
    // Nobody was told of a stream.
    let marker = broadcast_marker(&mut sub).await;
    wait_marker(&mut alice, &marker).await;
    assert!(
        !alice.has_buffered("participantPublished"),
        "{:?}",
        alice.buffered()
    );
    let conns = server
        .rest(
            "GET",
            &format!("/openvidu/api/sessions/{session}/connection"),
            None,
        )
        .await
        .json();
    for c in conns["content"].as_array().unwrap() {
        assert_eq!(c["publishers"], json!([]), "no stream exists: {c}");
    }
}

#[tokio::test]
async fn garbage_sdp_is_an_error_and_the_server_keeps_serving() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    for garbage in [
        "",
        "v=0",
        "hello\r\nworld",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n",
        &"a".repeat(10_000),
    ] {
        let e = bob
            .request(
                "publishVideo",
                json!({ "sdpOffer": garbage, "hasAudio": true, "hasVideo": true }),
            )
            .await
            .expect_err("garbage SDP is refused");
        assert!(e.code != 0, "{e:?}");
    }
    assert!(!alice.has_buffered("participantPublished"));
    // Bob can still publish for real, and Alice hears of it.
    let published = publish(&mut bob).await;
    let p = alice.next_notification("participantPublished").await;
    assert_eq!(p["streams"][0]["id"], published["id"]);
}

#[tokio::test]
async fn publish_subscribe_and_unpublish() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "alice").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "bob").await;

    let published = publish(&mut alice).await;
    let stream_id = published["id"]
        .as_str()
        .expect("id (the streamId) is a string")
        .to_owned();
    assert!(!stream_id.is_empty());
    assert!(
        published["createdAt"].as_u64().is_some_and(|t| t > 0),
        "{published}"
    );

    // Bob hears of the stream, in the shape the browser reads.
    let p = bob.next_notification("participantPublished").await;
    assert_eq!(p["id"], a["id"]);
    let s = &p["streams"][0];
    assert_eq!(s["id"], stream_id.as_str());
    assert_eq!(s["hasAudio"], true);
    assert_eq!(s["hasVideo"], true);
    assert_eq!(s["typeOfVideo"], "CAMERA");
    assert_eq!(s["videoDimensions"], "{\"width\":640,\"height\":480}");
    assert!(p.get("role").is_none());

    // A newcomer sees the stream in joinRoom's value[].
    let (mut carol, c) = server.join(&session, "SUBSCRIBER", "carol").await;
    let alice_entry = c["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == a["id"])
        .cloned()
        .expect("alice is listed");
    assert_eq!(alice_entry["streams"][0]["id"], stream_id.as_str());

    // Server-offered subscription: prepareReceiveVideoFrom → offer; the answer completes it.
    let offer = carol
        .request(
            "prepareReceiveVideoFrom",
            json!({ "sender": stream_id, "reconnect": false }),
        )
        .await
        .expect("prepareReceiveVideoFrom succeeds");
    let offer = offer["sdpOffer"]
        .as_str()
        .expect("sdpOffer is a string")
        .to_owned();
    assert!(
        offer.contains("m=audio") && offer.contains("m=video"),
        "one m-line per published track: {offer}"
    );
    let (_rtc, answer) = answer_offer(&offer);
    let r = carol
        .request(
            "receiveVideoFrom",
            json!({ "sender": stream_id, "sdpAnswer": answer }),
        )
        .await
        .expect("receiveVideoFrom with the answer succeeds");
    assert_eq!(r, json!({}));
    let conn = server
        .rest(
            "GET",
            &format!(
                "/openvidu/api/sessions/{session}/connection/{}",
                c["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        conn.json()["subscribers"][0]["streamId"],
        stream_id.as_str(),
        "REST lists the subscription"
    );

    // Subscribing to a stream that does not exist is an error.
    let e = carol
        .request(
            "prepareReceiveVideoFrom",
            json!({ "sender": "str_CAM_NoNo_con_Nobody" }),
        )
        .await
        .expect_err("no such stream");
    assert!(e.code != 0);

    // Unpublish: the others hear it with reason `unpublish`.
    alice
        .request("unpublishVideo", json!({}))
        .await
        .expect("unpublishVideo succeeds");
    for rpc in [&mut bob, &mut carol] {
        let u = rpc.next_notification("participantUnpublished").await;
        assert_eq!(u["connectionId"], a["id"]);
        assert_eq!(u["reason"], "unpublish");
    }
    // The owner asked for it, so it is not told again.
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut alice, &marker).await;
    assert!(
        !alice.has_buffered("participantUnpublished"),
        "{:?}",
        alice.buffered()
    );
    let e = alice
        .request("unpublishVideo", json!({}))
        .await
        .expect_err("nothing left to unpublish");
    assert!(e.code != 0);
    // The stream is gone for newcomers, and Alice may publish again.
    let (_dave, d) = server.join(&session, "SUBSCRIBER", "dave").await;
    let alice_entry = d["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == a["id"])
        .cloned()
        .unwrap();
    assert!(
        alice_entry
            .get("streams")
            .is_none_or(|s| s.as_array().is_some_and(|s| s.is_empty())),
        "{alice_entry}"
    );
    publish(&mut alice).await;
    bob.next_notification("participantPublished").await;
    let _ = b;
}

#[tokio::test]
async fn send_message_reaches_its_targets() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "").await;
    let (mut carol, _) = server.join(&session, "PUBLISHER", "").await;

    // `to: []`: everyone, the sender included, with `from`.
    let message = json!({ "to": [], "data": "hello all", "type": "signal:chat" }).to_string();
    alice
        .request("sendMessage", json!({ "message": message }))
        .await
        .expect("sendMessage");
    for rpc in [&mut alice, &mut bob, &mut carol] {
        let m = rpc.next_notification("sendMessage").await;
        assert_eq!(m["data"], "hello all");
        assert_eq!(m["type"], "signal:chat");
        assert_eq!(m["from"], a["id"]);
    }

    // `to: [bob]`: only Bob. A later broadcast proves Carol and Alice got nothing in between.
    let message = json!({ "to": [b["id"]], "data": "just bob", "type": "signal:dm" }).to_string();
    alice
        .request("sendMessage", json!({ "message": message }))
        .await
        .expect("sendMessage");
    let m = bob.next_notification("sendMessage").await;
    assert_eq!(m["data"], "just bob");
    let marker = broadcast_marker(&mut alice).await;
    for rpc in [&mut alice, &mut carol] {
        let m = rpc.next_notification("sendMessage").await;
        assert_eq!(
            m["data"],
            marker.as_str(),
            "the first message after the direct one is the broadcast"
        );
    }

    // An unknown target: error 601, nobody gets anything.
    let message = json!({ "to": ["con_Nobody"], "data": "lost", "type": "signal" }).to_string();
    let e = alice
        .request("sendMessage", json!({ "message": message }))
        .await
        .expect_err("unknown target");
    assert_eq!(e.code, 601, "{e:?}");
    let marker = broadcast_marker(&mut alice).await;
    let m = carol.next_notification("sendMessage").await;
    assert_eq!(
        m["data"],
        marker.as_str(),
        "nothing came before the broadcast"
    );
}

#[tokio::test]
async fn stream_property_changes_are_relayed_as_json_text() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    let published = publish(&mut alice).await;
    let stream_id = published["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;

    let dims = "{\"width\":1280,\"height\":720}";
    let cases = [
        ("audioActive", json!(false), "publishAudio", json!("false")),
        ("videoActive", json!(true), "publishVideo", json!("true")),
        // The browser decodes this one with JSON.parse(JSON.parse(v)).
        (
            "videoDimensions",
            json!(dims),
            "screenResized",
            json!(serde_json::to_string(dims).unwrap()),
        ),
    ];
    for (property, value, reason, expected) in cases {
        let r = alice
            .request("streamPropertyChanged", json!({ "streamId": stream_id, "property": property, "newValue": value, "reason": reason }))
            .await
            .expect("streamPropertyChanged succeeds");
        assert_eq!(r, json!({}));
        let n = bob.next_notification("streamPropertyChanged").await;
        assert_eq!(n["connectionId"], a["id"]);
        assert_eq!(n["streamId"], stream_id.as_str());
        assert_eq!(n["property"], property);
        assert_eq!(n["newValue"], expected, "{property}");
        assert_eq!(n["reason"], reason);
    }
    // Alice, the sender, got replies only.
    let marker = broadcast_marker(&mut bob).await;
    wait_marker(&mut alice, &marker).await;
    assert!(
        !alice.has_buffered("streamPropertyChanged"),
        "{:?}",
        alice.buffered()
    );
}

#[tokio::test]
async fn force_disconnect_and_force_unpublish_need_a_moderator() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    let stream_id = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;

    let e = bob
        .request("forceDisconnect", json!({ "connectionId": a["id"] }))
        .await
        .expect_err("not a moderator");
    assert_eq!(e.code, 401, "{e:?}");
    let e = bob
        .request("forceUnpublish", json!({ "streamId": stream_id }))
        .await
        .expect_err("not a moderator");
    assert_eq!(e.code, 401, "{e:?}");
    // Nothing happened to Alice.
    let marker = broadcast_marker(&mut bob).await;
    wait_marker(&mut alice, &marker).await;
    assert!(
        !alice.has_buffered("participantEvicted") && !alice.has_buffered("participantUnpublished"),
        "{:?}",
        alice.buffered()
    );
    let (_carol, c) = server.join(&session, "SUBSCRIBER", "").await;
    let alice_entry = c["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == a["id"])
        .cloned()
        .expect("alice is still there");
    assert_eq!(alice_entry["streams"][0]["id"], stream_id.as_str());
}

#[tokio::test]
async fn a_moderator_can_force_unpublish_and_force_disconnect() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut moderator, _) = server.join(&session, "MODERATOR", "").await;
    let stream_id = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;
    moderator.next_notification("participantPublished").await;

    // forceUnpublish: everyone, the owner included, hears forceUnpublishByUser.
    moderator
        .request("forceUnpublish", json!({ "streamId": stream_id }))
        .await
        .expect("forceUnpublish");
    for rpc in [&mut alice, &mut bob, &mut moderator] {
        let u = rpc.next_notification("participantUnpublished").await;
        assert_eq!(u["connectionId"], a["id"]);
        assert_eq!(u["reason"], "forceUnpublishByUser");
    }

    // forceDisconnect: Alice is evicted (and her socket closed); the others see her leave.
    moderator
        .request("forceDisconnect", json!({ "connectionId": a["id"] }))
        .await
        .expect("forceDisconnect");
    let ev = alice.next_notification("participantEvicted").await;
    assert_eq!(ev["connectionId"], a["id"]);
    assert_eq!(ev["reason"], "forceDisconnectByUser");
    alice.wait_closed().await;
    for rpc in [&mut bob, &mut moderator] {
        let l = rpc.next_notification("participantLeft").await;
        assert_eq!(l["connectionId"], a["id"]);
        assert_eq!(l["reason"], "forceDisconnectByUser");
    }
    let e = moderator
        .request("forceDisconnect", json!({ "connectionId": a["id"] }))
        .await
        .expect_err("already gone");
    assert!(e.code != 0);
    let r = server
        .rest(
            "GET",
            &format!(
                "/openvidu/api/sessions/{session}/connection/{}",
                a["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "the connection is gone: {}", r.text());
}

#[tokio::test]
async fn leave_room_tells_the_others_and_the_last_one_out_closes_the_session() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "").await;
    publish(&mut alice).await;
    bob.next_notification("participantPublished").await;

    alice
        .request("leaveRoom", json!({}))
        .await
        .expect("leaveRoom");
    let l = bob.next_notification("participantLeft").await;
    assert_eq!(l["connectionId"], a["id"]);
    assert_eq!(l["reason"], "disconnect");
    assert!(server.session_exists(&session).await, "bob is still in it");
    // Requests after leaving are refused like before joining.
    let e = alice
        .request("sendMessage", json!({ "message": "{\"to\":[]}" }))
        .await
        .expect_err("left");
    assert_eq!(e.code, 803, "{e:?}");

    bob.request("leaveRoom", json!({}))
        .await
        .expect("leaveRoom");
    assert!(
        !server.session_exists(&session).await,
        "the session closes when the last participant leaves"
    );
    let _ = b;
}

#[tokio::test]
async fn a_dropped_socket_is_evicted_with_network_disconnect_after_the_grace() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (bob, b) = server.join(&session, "PUBLISHER", "").await;
    let rpc_session = bob.rpc_session.clone().unwrap();
    bob.drop_abruptly();
    let l = alice.next_notification("participantLeft").await;
    assert_eq!(l["connectionId"], b["id"]);
    assert_eq!(l["reason"], "networkDisconnect");
    let r = server
        .rest(
            "GET",
            &format!(
                "/openvidu/api/sessions/{session}/connection/{}",
                b["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    // Too late to come back: the browser is told so, and ends with networkDisconnect.
    let mut late = server.open_socket(&session).await;
    let e = late
        .request(
            "connect",
            json!({ "sessionId": rpc_session, "reconnect": true }),
        )
        .await
        .expect_err("evicted already");
    assert_eq!(e.code, 40007, "{e:?}");
}

#[tokio::test]
async fn a_socket_closed_without_leave_room_is_also_evicted() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (bob, b) = server.join(&session, "PUBLISHER", "").await;
    bob.close().await;
    let l = alice.next_notification("participantLeft").await;
    assert_eq!(l["connectionId"], b["id"]);
    assert_eq!(l["reason"], "networkDisconnect");
}

#[tokio::test]
async fn connect_on_a_new_socket_within_the_grace_keeps_the_participant() {
    // A long grace, so that the reconnection surely comes within it.
    let server = spawn_server_with(|c| c.reconnect_grace = std::time::Duration::from_secs(5)).await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (bob, b) = server.join(&session, "PUBLISHER", "").await;
    let (carol, c) = server.join(&session, "PUBLISHER", "").await;
    let rpc_session = bob.rpc_session.clone().expect("joinRoom gave a sessionId");

    // Bob's socket dies, then a new one reconnects with `connect`.
    bob.drop_abruptly();
    let mut bob = server.open_socket(&session).await;
    let r = bob
        .request(
            "connect",
            json!({ "sessionId": rpc_session, "reconnect": true }),
        )
        .await
        .expect("connect succeeds");
    assert!(r.is_object(), "{r}");
    bob.ping().await;
    // Bob is served as himself on the new socket.
    let marker = broadcast_marker(&mut bob).await;
    let m = alice
        .next_notification_where("sendMessage", |m| m["data"] == marker.as_str())
        .await;
    assert_eq!(m["from"], b["id"]);

    // Carol drops later than Bob did and never comes back: her eviction proves Bob's grace has run
    // out, so any eviction of Bob would have reached Alice before it.
    carol.drop_abruptly();
    let l = alice.next_notification("participantLeft").await;
    assert_eq!(
        l["connectionId"], c["id"],
        "the first to leave is Carol, not Bob"
    );
    assert_eq!(l["reason"], "networkDisconnect");
    let marker = broadcast_marker(&mut bob).await;
    wait_marker(&mut alice, &marker).await;
    assert!(
        !alice.has_buffered("participantLeft"),
        "{:?}",
        alice.buffered()
    );
}

#[tokio::test]
async fn connect_with_a_bogus_session_id_is_error_40007() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let mut rpc = server.open_socket(&session).await;
    let e = rpc
        .request(
            "connect",
            json!({ "sessionId": "not-an-rpc-session", "reconnect": true }),
        )
        .await
        .expect_err("bogus");
    assert_eq!(e.code, 40007, "{e:?}");
    // And after a participant really left, its rpc session id is dead too.
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut keeper, _) = server.join(&session, "PUBLISHER", "").await;
    let old = alice.rpc_session.clone().unwrap();
    alice
        .request("leaveRoom", json!({}))
        .await
        .expect("leaveRoom");
    keeper.next_notification("participantLeft").await;
    let e = rpc
        .request("connect", json!({ "sessionId": old, "reconnect": true }))
        .await
        .expect_err("left already");
    assert_eq!(e.code, 40007, "{e:?}");
}

#[tokio::test]
async fn deleting_a_session_over_rest_evicts_everyone() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "SUBSCRIBER", "").await;
    publish(&mut alice).await;

    let r = server
        .rest("DELETE", &format!("/openvidu/api/sessions/{session}"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    for (rpc, me) in [(&mut alice, &a), (&mut bob, &b)] {
        let ev = rpc
            .next_notification_where("participantEvicted", |p| p["connectionId"] == me["id"])
            .await;
        assert_eq!(ev["reason"], "sessionClosedByServer");
        rpc.wait_closed().await;
    }
    assert!(!server.session_exists(&session).await);
}

#[tokio::test]
async fn deleting_a_connection_over_rest_evicts_it_with_force_disconnect_by_server() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    let cid = a["id"].as_str().unwrap();
    let r = server
        .rest(
            "DELETE",
            &format!("/openvidu/api/sessions/{session}/connection/{cid}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let ev = alice.next_notification("participantEvicted").await;
    assert_eq!(ev["connectionId"], cid);
    assert_eq!(ev["reason"], "forceDisconnectByServer");
    alice.wait_closed().await;
    let l = bob.next_notification("participantLeft").await;
    assert_eq!(l["connectionId"], cid);
    assert_eq!(l["reason"], "forceDisconnectByServer");
    bob.ping().await;

    // A pending connection's token dies with it.
    let (pending, token) = server.create_connection(&session, "PUBLISHER").await;
    let r = server
        .rest(
            "DELETE",
            &format!("/openvidu/api/sessions/{session}/connection/{pending}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let mut late = server.connect(&token).await;
    let e = late
        .join(&token, "")
        .await
        .expect_err("the token was revoked");
    assert_eq!(e.code, 401, "{e:?}");
}

#[tokio::test]
async fn a_rest_signal_reaches_participants_without_from() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "").await;

    let r = server
        .rest(
            "POST",
            "/openvidu/api/signal",
            Some(json!({ "session": session, "type": "signal:news", "data": "to all" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for rpc in [&mut alice, &mut bob] {
        let m = rpc.next_notification("sendMessage").await;
        assert_eq!(m["data"], "to all");
        assert_eq!(m["type"], "signal:news");
        assert!(
            m.get("from").is_none(),
            "a server signal has no sender: {m}"
        );
    }

    let r = server
        .rest("POST", "/openvidu/api/signal", Some(json!({ "session": session, "to": [b["id"]], "type": "signal:dm", "data": "bob only" })))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        bob.next_notification("sendMessage").await["data"],
        "bob only"
    );
    let marker = broadcast_marker(&mut bob).await;
    assert_eq!(
        alice.next_notification("sendMessage").await["data"],
        marker.as_str(),
        "alice got nothing in between"
    );

    let r = server
        .rest(
            "POST",
            "/openvidu/api/signal",
            Some(json!({ "session": session, "to": ["con_Nobody"], "data": "x" })),
        )
        .await;
    assert_eq!(r.status, 406);
}

#[tokio::test]
async fn sessions_nobody_joins_are_collected() {
    let server =
        spawn_server_with(|c| c.unused_session_timeout = std::time::Duration::from_secs(1)).await;
    let used = server.create_session().await;
    let (mut alice, _) = server.join(&used, "PUBLISHER", "").await;
    let unused = server.create_session().await;
    server.wait_session_gone(&unused).await;
    // The one in use stays, and so does its participant.
    assert!(server.session_exists(&used).await);
    alice.ping().await;
    broadcast_marker(&mut alice).await;
}

#[tokio::test]
async fn the_socket_is_served_after_a_client_side_close_handshake_of_another() {
    // A participant that closes the socket cleanly after leaveRoom leaves no trace.
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "").await;
    bob.request("leaveRoom", json!({}))
        .await
        .expect("leaveRoom");
    bob.close().await;
    let l = alice.next_notification("participantLeft").await;
    assert_eq!(l["connectionId"], b["id"]);
    assert_eq!(l["reason"], "disconnect");
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut alice, &marker).await;
    assert!(
        !alice.has_buffered("participantLeft"),
        "exactly one participantLeft: {:?}",
        alice.buffered()
    );
}

#[tokio::test]
async fn a_silent_browser_is_evicted_after_three_missed_pings() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "PUBLISHER", "").await;
    // Bob announces 1 s pings (the smallest interval the server takes), then goes silent.
    let r = bob
        .request("ping", json!({ "interval": 1000 }))
        .await
        .expect("ping");
    assert_eq!(r["value"], "pong");
    let l = alice.next_notification("participantLeft").await;
    assert_eq!(l["connectionId"], b["id"]);
    assert_eq!(l["reason"], "networkDisconnect");
    bob.wait_closed().await;
}

#[tokio::test]
async fn a_reconnection_while_the_old_socket_still_looks_open_moves_the_participant() {
    let server = spawn_server_with(|c| c.reconnect_grace = std::time::Duration::from_secs(3)).await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut old, b) = server.join(&session, "PUBLISHER", "").await;
    let (carol, c) = server.join(&session, "PUBLISHER", "").await;
    let rpc_session = old.rpc_session.clone().unwrap();

    // The browser gave up on a socket the server still holds (a ping timed out on its side).
    let mut new = server.open_socket(&session).await;
    new.request(
        "connect",
        json!({ "sessionId": rpc_session, "reconnect": true }),
    )
    .await
    .expect("connect succeeds");
    old.wait_closed().await;
    // Notifications now reach the new socket.
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut new, &marker).await;

    // The old socket's end evicts nobody: Carol's later drop is the only departure Alice sees.
    carol.drop_abruptly();
    let l = alice.next_notification("participantLeft").await;
    assert_eq!(l["connectionId"], c["id"]);
    let marker = broadcast_marker(&mut new).await;
    let m = alice
        .next_notification_where("sendMessage", |m| m["data"] == marker.as_str())
        .await;
    assert_eq!(m["from"], b["id"]);
    assert!(
        !alice.has_buffered("participantLeft"),
        "{:?}",
        alice.buffered()
    );
}

#[tokio::test]
async fn publishing_twice_is_an_error_and_the_first_stream_stays() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let first = publish(&mut alice).await;
    let (_rtc, _pending, offer) = publisher_offer();
    let e = alice
        .request(
            "publishVideo",
            json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true }),
        )
        .await
        .expect_err("already publishing");
    assert!(e.code != 0, "{e:?}");
    let (_bob, b) = server.join(&session, "SUBSCRIBER", "").await;
    let entry = b["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == a["id"])
        .cloned()
        .unwrap();
    assert_eq!(entry["streams"].as_array().map(Vec::len), Some(1));
    assert_eq!(entry["streams"][0]["id"], first["id"]);
}

#[tokio::test]
async fn unsubscribing_and_leaving_end_subscriptions() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "SUBSCRIBER", "").await;
    let stream_id = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;
    let bob_conn = format!(
        "/openvidu/api/sessions/{session}/connection/{}",
        b["id"].as_str().unwrap()
    );

    async fn subscribe(rpc: &mut Rpc, stream_id: &str) {
        let offer = rpc
            .request("prepareReceiveVideoFrom", json!({ "sender": stream_id }))
            .await
            .expect("offer");
        let (_rtc, answer) = answer_offer(offer["sdpOffer"].as_str().unwrap());
        rpc.request(
            "receiveVideoFrom",
            json!({ "sender": stream_id, "sdpAnswer": answer }),
        )
        .await
        .expect("answer");
    }
    subscribe(&mut bob, &stream_id).await;
    assert_eq!(
        server.rest("GET", &bob_conn, None).await.json()["subscribers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // unsubscribeFromVideo names the publisher's connection id.
    let r = bob
        .request("unsubscribeFromVideo", json!({ "sender": a["id"] }))
        .await
        .expect("unsubscribe");
    assert_eq!(r, json!({}));
    assert_eq!(
        server.rest("GET", &bob_conn, None).await.json()["subscribers"],
        json!([])
    );
    let e = bob
        .request("unsubscribeFromVideo", json!({ "sender": a["id"] }))
        .await
        .expect_err("not subscribed any more");
    assert!(e.code != 0);

    // A subscription ends when its publisher leaves.
    subscribe(&mut bob, &stream_id).await;
    alice
        .request("leaveRoom", json!({}))
        .await
        .expect("leaveRoom");
    bob.next_notification("participantLeft").await;
    assert_eq!(
        server.rest("GET", &bob_conn, None).await.json()["subscribers"],
        json!([])
    );
}

#[tokio::test]
async fn ice_candidates_good_mdns_and_bogus_do_no_harm() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    publish(&mut alice).await;
    bob.next_notification("participantPublished").await;
    let candidates = [
        "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host generation 0",
        "candidate:2 1 udp 2122260223 4f2a9c1e-1111-2222-3333-444455556666.local 54322 typ host generation 0",
        "candidate:garbage",
        "",
        "candidate:3 1 udp 99999999999999999999 999.999.1.1 70000 typ nonsense",
    ];
    for candidate in candidates {
        let r = alice
            .request("onIceCandidate", json!({ "endpointName": a["id"], "candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0 }))
            .await;
        // A bad candidate may be refused, but never with silence or a crash.
        if let Err(e) = r {
            assert!(e.code != 0, "{candidate:?}: {e:?}");
        }
    }
    // For an endpoint that does not exist (yet): accepted or refused, harmlessly.
    let _ = alice
        .request(
            "onIceCandidate",
            json!({ "endpointName": "con_Nobody", "candidate": candidates[0] }),
        )
        .await;
    alice.ping().await;
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut bob, &marker).await;
}

#[tokio::test]
async fn a_binary_frame_gets_an_error_reply() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    alice
        .send_binary(br#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{}}"#.to_vec())
        .await;
    let reply = alice.next_stray_reply().await;
    assert!(reply["error"]["code"].is_i64(), "{reply}");
    alice.ping().await;
}

#[tokio::test]
async fn tokens_of_a_collected_session_are_dead() {
    let server =
        spawn_server_with(|c| c.unused_session_timeout = std::time::Duration::from_secs(1)).await;
    let session = server.create_session().await;
    let token = server.token(&session, "PUBLISHER").await;
    server.wait_session_gone(&session).await;
    let mut rpc = server.connect(&token).await;
    let e = rpc
        .join(&token, "")
        .await
        .expect_err("the session was collected");
    assert_eq!(e.code, 401, "{e:?}");
}

#[tokio::test]
async fn the_same_token_sent_twice_at_once_admits_one_participant() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let token = server.token(&session, "PUBLISHER").await;
    let mut one = server.connect(&token).await;
    let mut two = server.connect(&token).await;
    let (r1, r2) = tokio::join!(one.join(&token, "one"), two.join(&token, "two"));
    match (r1, r2) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => assert_eq!(e.code, 401, "{e:?}"),
        (r1, r2) => panic!("exactly one join may succeed: {r1:?} / {r2:?}"),
    }
    let conns = server
        .rest(
            "GET",
            &format!("/openvidu/api/sessions/{session}/connection"),
            None,
        )
        .await
        .json();
    assert_eq!(conns["numberOfElements"], 1, "{conns}");
}

#[tokio::test]
async fn a_participant_that_stops_reading_does_not_hold_up_the_others() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut carol, c) = server.join(&session, "PUBLISHER", "").await;
    // Bob joins and then stops reading; his tiny receive window fills at once.
    let token = server.token(&session, "PUBLISHER").await;
    let url = format!("ws://{}/openvidu?sessionId={session}", server.addr);
    let mut bob = Rpc::open_with_small_receive_buffer(server.addr, &url).await;
    bob.join(&token, "").await.expect("bob joins");
    alice.next_notification("participantJoined").await;

    // More than the server can buffer for Bob. The browser's pings keep the readers' sockets alive.
    const N: usize = 3000;
    let payload = "z".repeat(8000);
    // The server's own signals (REST): a participant's sendMessage rate is limited per socket.
    let send_all = async {
        for i in 0..N {
            if i % 50 == 0 {
                alice.request("ping", json!({})).await.expect("ping");
            }
            let body = json!({ "session": session, "data": format!("{i}:{payload}"), "type": "signal:bulk" });
            let r = server
                .rest("POST", "/openvidu/api/signal", Some(body))
                .await;
            assert_eq!(r.status, 200, "signals keep being accepted: {}", r.text());
        }
    };
    let receive_all = async {
        for i in 0..N {
            if i % 50 == 0 {
                carol.request("ping", json!({})).await.expect("ping");
            }
            let m = carol.next_notification("sendMessage").await;
            assert!(
                m["data"].as_str().unwrap().starts_with(&format!("{i}:")),
                "in order and complete"
            );
        }
    };
    tokio::join!(send_all, receive_all);
    // The readers are still in the call; Bob is either still there or was let go (a browser that
    // reads nothing for long is treated as disconnected).
    let (_dave, d) = server.join(&session, "PUBLISHER", "").await;
    let others: Vec<&str> = d["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        others.contains(&a["id"].as_str().unwrap()) && others.contains(&c["id"].as_str().unwrap()),
        "{others:?}"
    );
    assert!(others.len() <= 3, "{others:?}");

    // The stall really happened: Bob missed messages (or was let go), whatever the server chose.
    let got = bob.drain(std::time::Duration::from_millis(500)).await;
    let bulk = got.iter().filter(|n| n["method"] == "sendMessage").count();
    eprintln!(
        "bob received {bulk} of {N} messages; closed: {:?}",
        bob.closed
    );
    assert!(
        bulk < N || bob.closed.is_some(),
        "bob got all {N} messages, so he never stalled the server (its socket buffers are larger than \
         this test assumed): raise N"
    );
}

#[tokio::test]
async fn shutdown_closes_every_socket() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "SUBSCRIBER", "").await;
    publish(&mut alice).await;
    let handle = server.handle.expect("in-process server");
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .expect("shutdown finishes");
    alice.wait_closed().await;
    bob.wait_closed().await;
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn nobody_may_change_the_properties_of_someone_elses_stream() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "MODERATOR", "").await;
    let stream_id = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;
    let e = bob
        .request("streamPropertyChanged", json!({ "streamId": stream_id, "property": "audioActive", "newValue": false, "reason": "publishAudio" }))
        .await
        .expect_err("not bob's stream");
    assert!(e.code != 0);
    let marker = broadcast_marker(&mut bob).await;
    wait_marker(&mut alice, &marker).await;
    assert!(
        !alice.has_buffered("streamPropertyChanged"),
        "{:?}",
        alice.buffered()
    );
}

#[tokio::test]
async fn a_browser_offered_subscription_gets_an_answer() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, b) = server.join(&session, "SUBSCRIBER", "").await;
    let stream_id = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;

    // openvidu-browser against a Kurento-style server: one recvonly transceiver per kind.
    let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
    let mut change = rtc.sdp_api();
    change.add_media(
        str0m::media::MediaKind::Audio,
        str0m::media::Direction::RecvOnly,
        None,
        None,
        None,
    );
    change.add_media(
        str0m::media::MediaKind::Video,
        str0m::media::Direction::RecvOnly,
        None,
        None,
        None,
    );
    let (offer, pending) = change.apply().unwrap();
    let r = bob
        .request(
            "receiveVideoFrom",
            json!({ "sender": stream_id, "sdpOffer": offer.to_sdp_string() }),
        )
        .await
        .expect("receiveVideoFrom with an offer succeeds");
    accept_answer(
        &mut rtc,
        pending,
        r["sdpAnswer"].as_str().expect("sdpAnswer"),
    );
    let conn = server
        .rest(
            "GET",
            &format!(
                "/openvidu/api/sessions/{session}/connection/{}",
                b["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        conn.json()["subscribers"][0]["streamId"],
        stream_id.as_str()
    );

    let e = bob
        .request("receiveVideoFrom", json!({ "sender": stream_id }))
        .await
        .expect_err("neither offer nor answer");
    assert!(e.code != 0);
}

#[tokio::test]
async fn reconnect_stream_renegotiates_without_telling_the_others() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "SUBSCRIBER", "").await;
    let published = publish(&mut alice).await;
    let stream_id = published["id"].as_str().unwrap().to_owned();
    bob.next_notification("participantPublished").await;
    let offer = bob
        .request("prepareReceiveVideoFrom", json!({ "sender": stream_id }))
        .await
        .expect("offer");
    let (_rtc, answer) = answer_offer(offer["sdpOffer"].as_str().unwrap());
    bob.request(
        "receiveVideoFrom",
        json!({ "sender": stream_id, "sdpAnswer": answer }),
    )
    .await
    .expect("answer");

    // The publisher's ICE broke: a new offer for the same stream.
    let (mut rtc, pending, offer) = publisher_offer();
    let r = alice
        .request(
            "reconnectStream",
            json!({ "stream": stream_id, "sdpString": offer }),
        )
        .await
        .expect("the publisher reconnects its stream");
    accept_answer(
        &mut rtc,
        pending,
        r["sdpAnswer"].as_str().expect("sdpAnswer"),
    );

    // The subscriber's too: server offer again (prepareReceiveVideoFrom reconnect:true), then its answer.
    let offer = bob
        .request(
            "prepareReceiveVideoFrom",
            json!({ "sender": stream_id, "reconnect": true }),
        )
        .await
        .expect("a new offer");
    let (_rtc, answer) = answer_offer(offer["sdpOffer"].as_str().unwrap());
    let r = bob
        .request(
            "reconnectStream",
            json!({ "stream": stream_id, "sdpString": answer, "forciblyReconnect": false }),
        )
        .await
        .expect("the subscriber reconnects");
    assert!(r.is_object(), "{r}");

    // Nobody saw the stream go away, and it is still there for newcomers.
    let marker = broadcast_marker(&mut alice).await;
    wait_marker(&mut bob, &marker).await;
    assert!(
        !bob.has_buffered("participantUnpublished") && !bob.has_buffered("participantLeft"),
        "{:?}",
        bob.buffered()
    );
    let (_carol, c) = server.join(&session, "SUBSCRIBER", "").await;
    let entry = c["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == a["id"])
        .cloned()
        .unwrap();
    assert_eq!(entry["streams"][0]["id"], stream_id.as_str());

    let e = bob
        .request(
            "reconnectStream",
            json!({ "stream": "str_CAM_None_con_None", "sdpString": "v=0" }),
        )
        .await
        .expect_err("no such stream");
    assert!(e.code != 0);
}

#[tokio::test]
async fn metadata_is_client_data_and_server_data_joined_by_the_reference_separator() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let r = server
        .rest(
            "POST",
            &format!("/openvidu/api/sessions/{session}/connection"),
            Some(json!({ "role": "PUBLISHER", "data": "{\"server\":1}" })),
        )
        .await
        .json();
    let token = r["token"].as_str().unwrap().to_owned();
    let mut bob = server.connect(&token).await;
    let b = bob
        .join(&token, "{\"clientData\":\"Bob\"}")
        .await
        .expect("joinRoom");
    assert_eq!(b["metadata"], "{\"clientData\":\"Bob\"}%/%{\"server\":1}");
    let joined = alice.next_notification("participantJoined").await;
    assert_eq!(
        joined["metadata"],
        "{\"clientData\":\"Bob\"}%/%{\"server\":1}"
    );
}

#[tokio::test]
async fn the_announced_version_suits_each_browser_version() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    for (sdk, minors) in [
        ("2.22.0", 22..=23),
        ("2.32.2", 32..=33),
        ("not a version", 0..=u32::MAX),
    ] {
        let token = server.token(&session, "PUBLISHER").await;
        let mut rpc = server.connect(&token).await;
        let r = rpc
            .request("joinRoom", json!({ "token": token, "session": session, "sdkVersion": sdk, "metadata": "", "secret": "", "recorder": false }))
            .await
            .expect("joinRoom");
        let version = r["version"].as_str().unwrap();
        let parts: Vec<u32> = version
            .split('.')
            .map(|p| p.parse().expect("numeric semver"))
            .collect();
        assert_eq!(parts.len(), 3, "{version}");
        assert_eq!(parts[0], 2, "{version}");
        // openvidu-browser logs an error unless the server's minor is its own or one more.
        assert!(
            minors.contains(&parts[1]),
            "sdk {sdk} got version {version}"
        );
    }
}

#[tokio::test]
async fn requests_with_a_bad_id_or_no_method_get_an_error_reply() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    for frame in [
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":true,"method":"ping","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":{"n":1},"method":"ping","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":9,"params":{}}"#,
        r#"{"jsonrpc":"2.0","id":10,"method":5,"params":{}}"#,
    ] {
        alice.send_raw(frame).await;
        // A ping right after: its reply must not be the first reply the socket sends back.
        let id = alice.send_request("ping", json!({})).await;
        let reply = alice.next_stray_reply().await;
        assert!(
            reply["id"] != json!(id) && reply.get("error").is_some(),
            "{frame} got no error reply before the ping's: {reply}"
        );
        alice.reply(id).await.expect("the ping is answered");
    }
}

#[tokio::test]
async fn a_joined_socket_cannot_take_over_another_participant() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, a) = server.join(&session, "PUBLISHER", "").await;
    let (mut bob, _) = server.join(&session, "PUBLISHER", "").await;
    let alice_rpc_session = a["sessionId"].as_str().unwrap().to_owned();
    let e = bob
        .request(
            "connect",
            json!({ "sessionId": alice_rpc_session, "reconnect": true }),
        )
        .await
        .expect_err("refused");
    assert_eq!(e.code, 40007, "{e:?}");
    // Both are still themselves: a broadcast from Bob reaches Alice as coming from Bob.
    let bob_id = server
        .rest(
            "GET",
            &format!("/openvidu/api/sessions/{session}/connection"),
            None,
        )
        .await
        .json()["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connectionId"].as_str().unwrap().to_owned())
        .find(|id| id != a["id"].as_str().unwrap())
        .unwrap();
    let message = json!({ "to": [], "data": "hi", "type": "signal:x" }).to_string();
    bob.request("sendMessage", json!({ "message": message }))
        .await
        .expect("bob still speaks as bob");
    let m = alice.next_notification("sendMessage").await;
    assert_eq!(m["from"], json!(bob_id));
}

#[tokio::test]
async fn a_publish_with_an_unknown_type_of_video_is_refused() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
    let (_rtc, _pending, offer) = publisher_offer();
    let e = alice
        .request("publishVideo", json!({ "sdpOffer": offer, "hasAudio": true, "hasVideo": true, "typeOfVideo": "\r\nX" }))
        .await
        .expect_err("refused");
    assert_eq!(e.code, -32602, "{e:?}");
    let s = server
        .rest("GET", &format!("/openvidu/api/sessions/{session}"), None)
        .await
        .json();
    assert_eq!(
        s["connections"]["content"][0]["publishers"],
        json!([]),
        "{s}"
    );
}

/// Sessions, participants, peer connections and sockets are all freed once everyone has gone, whether
/// they left, were evicted or just dropped their socket.
#[tokio::test]
async fn nothing_is_left_behind_once_everyone_has_gone() {
    let server = spawn_server().await;
    let stats = || async { server.handle.as_ref().expect("in-process").stats().await };
    for round in 0..3 {
        let session = server.create_session().await;
        let (mut alice, _) = server.join(&session, "PUBLISHER", "").await;
        let (mut bob, _) = server.join(&session, "MODERATOR", "").await;
        let (mut carol, _) = server.join(&session, "SUBSCRIBER", "").await;
        let stream = publish(&mut alice).await["id"].as_str().unwrap().to_owned();
        publish(&mut bob).await;
        for viewer in [&mut bob, &mut carol] {
            let offer = viewer
                .request(
                    "prepareReceiveVideoFrom",
                    json!({ "sender": stream, "reconnect": false }),
                )
                .await
                .unwrap();
            let (_rtc, answer) = answer_offer(offer["sdpOffer"].as_str().unwrap());
            viewer
                .request(
                    "receiveVideoFrom",
                    json!({ "sender": stream, "sdpAnswer": answer }),
                )
                .await
                .unwrap();
        }
        let busy = stats().await;
        assert_eq!(
            (busy.sessions, busy.participants, busy.peers),
            (1, 3, 4),
            "round {round}: {busy:?}"
        );

        // Three ways to go: evicted by a moderator, dropping the socket, leaving.
        let carol_id = server
            .rest(
                "GET",
                &format!("/openvidu/api/sessions/{session}/connection"),
                None,
            )
            .await
            .json()["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["role"] == "SUBSCRIBER")
            .map(|c| c["connectionId"].as_str().unwrap().to_owned())
            .unwrap();
        bob.request("forceDisconnect", json!({ "connectionId": carol_id }))
            .await
            .unwrap();
        alice.drop_abruptly();
        bob.next_notification("participantLeft").await; // carol
        bob.next_notification("participantLeft").await; // alice, after the grace
        bob.request("leaveRoom", json!({})).await.unwrap();
        server.wait_session_gone(&session).await;
        drop((bob, carol));
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let s = stats().await;
        if (s.sessions, s.participants, s.peers, s.sockets) == (0, 0, 0, 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still held after everyone left: {s:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await; // polling interval, not a synchronisation
    }
}
