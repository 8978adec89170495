//! The REST API's guards and error statuses (OPENVIDU-PROTOCOL.md C). The happy paths are covered by
//! the real openvidu-node-client in tests/interop; these are the refusals a client must be able to
//! rely on.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn every_call_needs_the_secret() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let wrong = [
        None,
        Some(basic_auth("not-the-secret")),
        Some(basic_auth(&format!("{}x", server.secret))),
        Some(format!("Basic {}", "T1BFTlZJRFVBUFA6")), // "OPENVIDUAPP:" with an empty secret
        Some(format!("Bearer {}", server.secret)),
        Some("Basic !!!not-base64!!!".to_owned()),
    ];
    let calls = [
        ("GET", "/openvidu/api/sessions".to_owned(), None),
        (
            "POST",
            "/openvidu/api/sessions".to_owned(),
            Some(json!({ "customSessionId": "intruder" })),
        ),
        ("GET", format!("/openvidu/api/sessions/{session}"), None),
        ("DELETE", format!("/openvidu/api/sessions/{session}"), None),
        (
            "POST",
            format!("/openvidu/api/sessions/{session}/connection"),
            Some(json!({})),
        ),
        (
            "POST",
            "/openvidu/api/tokens".to_owned(),
            Some(json!({ "session": session })),
        ),
        (
            "POST",
            "/openvidu/api/signal".to_owned(),
            Some(json!({ "session": session })),
        ),
        ("GET", "/openvidu/api/config".to_owned(), None),
        ("GET", "/openvidu/api/no-such-endpoint".to_owned(), None),
    ];
    for auth in &wrong {
        for (method, path, body) in &calls {
            let body = body.as_ref().map(Value::to_string).unwrap_or_default();
            let r = http(
                server.addr,
                method,
                path,
                auth.as_deref(),
                Some("application/json"),
                body.as_bytes(),
            )
            .await;
            assert_eq!(r.status, 401, "{method} {path} with {auth:?}: {}", r.text());
            assert!(
                !r.text().contains(&server.secret),
                "the answer does not echo the secret"
            );
        }
    }
    // Nothing changed: the session is still there, nobody created "intruder".
    assert!(server.session_exists(&session).await);
    assert!(!server.session_exists("intruder").await);
    // The public URL is the one public endpoint, as in the reference server.
    let r = http(
        server.addr,
        "GET",
        "/openvidu/api/config/openvidu-publicurl",
        None,
        None,
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), server.public_url());
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_message() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let auth = server.basic_auth();
    let bad: Vec<(&str, String, String)> = vec![
        ("POST", "/openvidu/api/sessions".into(), "{not json".into()),
        ("POST", "/openvidu/api/sessions".into(), "[1,2]".into()),
        (
            "POST",
            "/openvidu/api/sessions".into(),
            r#"{"customSessionId":999}"#.into(),
        ),
        (
            "POST",
            "/openvidu/api/sessions".into(),
            r#"{"customSessionId":"has spaces/and slashes"}"#.into(),
        ),
        (
            "POST",
            "/openvidu/api/sessions".into(),
            r#"{"recordingMode":false}"#.into(),
        ),
        (
            "POST",
            "/openvidu/api/sessions".into(),
            r#"{"mediaMode":"SIDEWAYS"}"#.into(),
        ),
        (
            "POST",
            format!("/openvidu/api/sessions/{session}/connection"),
            "{not json".into(),
        ),
        (
            "POST",
            format!("/openvidu/api/sessions/{session}/connection"),
            r#"{"role":"KING"}"#.into(),
        ),
        (
            "POST",
            format!("/openvidu/api/sessions/{session}/connection"),
            r#"{"data":42}"#.into(),
        ),
        (
            "POST",
            format!("/openvidu/api/sessions/{session}/connection"),
            r#"{"record":"yes"}"#.into(),
        ),
        (
            "POST",
            format!("/openvidu/api/sessions/{session}/connection"),
            r#"{"customIceServers":[{"url":"http://x"}]}"#.into(),
        ),
        (
            "POST",
            "/openvidu/api/tokens".into(),
            r#"{"role":"PUBLISHER"}"#.into(),
        ),
        (
            "POST",
            "/openvidu/api/tokens".into(),
            r#"{"session":12}"#.into(),
        ),
        ("POST", "/openvidu/api/signal".into(), r#"{"to":[]}"#.into()),
        (
            "POST",
            "/openvidu/api/signal".into(),
            format!(r#"{{"session":"{session}","to":12}}"#),
        ),
        (
            "POST",
            "/openvidu/api/signal".into(),
            format!(r#"{{"session":"{session}","data":false}}"#),
        ),
    ];
    for (method, path, body) in &bad {
        let r = http(
            server.addr,
            method,
            path,
            Some(&auth),
            Some("application/json"),
            body.as_bytes(),
        )
        .await;
        assert_error_body(&r, 400);
    }
    // Nothing was created by the refused calls.
    let s = server
        .rest(
            "GET",
            &format!("/openvidu/api/sessions/{session}?pendingConnections=true"),
            None,
        )
        .await
        .json();
    assert_eq!(s["connections"]["numberOfElements"], 0, "{s}");
    let list = server
        .rest("GET", "/openvidu/api/sessions", None)
        .await
        .json();
    assert_eq!(list["numberOfElements"], 1, "{list}");
}

#[tokio::test]
async fn a_duplicate_custom_session_id_is_409_and_changes_nothing() {
    let server = spawn_server().await;
    let r = server
        .rest(
            "POST",
            "/openvidu/api/sessions",
            Some(json!({ "customSessionId": "room-1", "recordingMode": "MANUAL" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "room-1");
    let (cid, token) = server.create_connection("room-1", "PUBLISHER").await;
    let before = server
        .rest(
            "GET",
            "/openvidu/api/sessions/room-1?pendingConnections=true",
            None,
        )
        .await
        .json();

    let r = server
        .rest(
            "POST",
            "/openvidu/api/sessions",
            Some(json!({ "customSessionId": "room-1", "mediaMode": "RELAYED" })),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());

    let after = server
        .rest(
            "GET",
            "/openvidu/api/sessions/room-1?pendingConnections=true",
            None,
        )
        .await
        .json();
    assert_eq!(before, after, "the session is exactly as it was");
    assert_eq!(after["mediaMode"], "ROUTED");
    let list = server
        .rest("GET", "/openvidu/api/sessions", None)
        .await
        .json();
    assert_eq!(list["numberOfElements"], 1);
    // Its pending connection still works.
    let mut rpc = server.connect(&token).await;
    let joined = rpc
        .join(&token, "")
        .await
        .expect("the token from before the 409 still works");
    assert_eq!(joined["id"], cid.as_str());
}

#[tokio::test]
async fn unknown_things_are_404() {
    let server = spawn_server().await;
    let session = server.create_session().await;
    let (mut rpc, me) = server.join(&session, "PUBLISHER", "").await;
    let cid = me["id"].as_str().unwrap();
    let not_found: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/openvidu/api/sessions/ses_Nope".into(), None),
        ("DELETE", "/openvidu/api/sessions/ses_Nope".into(), None),
        (
            "POST",
            "/openvidu/api/sessions/ses_Nope/connection".into(),
            Some(json!({})),
        ),
        (
            "GET",
            "/openvidu/api/sessions/ses_Nope/connection".into(),
            None,
        ),
        (
            "POST",
            "/openvidu/api/tokens".into(),
            Some(json!({ "session": "ses_Nope" })),
        ),
        (
            "POST",
            "/openvidu/api/signal".into(),
            Some(json!({ "session": "ses_Nope", "data": "x" })),
        ),
        (
            "GET",
            format!("/openvidu/api/sessions/{session}/connection/con_Nope"),
            None,
        ),
        (
            "DELETE",
            format!("/openvidu/api/sessions/{session}/connection/con_Nope"),
            None,
        ),
        (
            "DELETE",
            format!("/openvidu/api/sessions/{session}/stream/str_CAM_Nope_{cid}"),
            None,
        ),
        ("GET", "/openvidu/api/no-such-endpoint".into(), None),
    ];
    for (method, path, body) in not_found {
        let r = server.rest(method, &path, body).await;
        assert_error_body(&r, 404);
    }
    // The reference server answers 400 (not 404) when the session of a connection/stream path is unknown.
    for (method, path) in [
        (
            "GET",
            format!("/openvidu/api/sessions/ses_Nope/connection/{cid}"),
        ),
        (
            "DELETE",
            format!("/openvidu/api/sessions/ses_Nope/connection/{cid}"),
        ),
        (
            "DELETE",
            "/openvidu/api/sessions/ses_Nope/stream/str_CAM_Nope_con_Nope".into(),
        ),
    ] {
        let r = server.rest(method, &path, None).await;
        assert_error_body(&r, 400);
    }
    // None of this touched the participant.
    rpc.ping().await;
    assert!(server.session_exists(&session).await);
    let c = server
        .rest(
            "GET",
            &format!("/openvidu/api/sessions/{session}/connection/{cid}"),
            None,
        )
        .await;
    assert_eq!(c.json()["status"], "active");
}
