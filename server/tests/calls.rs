//! Token management against the real embedded media server: get-token, remove-user, and what survives
//! a restart.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn get_token_gives_each_user_their_role() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let p1 = app.login("publisher1", "pass").await;
    let sub = app.login("subscriber", "pass").await;

    let a = app
        .post(
            "/api/get-token",
            json!({"call": "SessionA"}),
            Some(&p1),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["role"], "PUBLISHER");
    assert_eq!(a.json["call"], "SessionA");
    let token = a.json["token"].as_str().unwrap();
    let expected = format!("ws://{}?sessionId=SessionA&token=", app.running.addr());
    assert!(token.starts_with(&expected), "{token}");

    // Second user, same call: the session exists (409 inside), a new connection is made.
    let b = app
        .post(
            "/api/get-token",
            json!({"call": "SessionA"}),
            Some(&sub),
            &[],
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(b.json["role"], "SUBSCRIBER");
    assert_ne!(a.json["connection_id"], b.json["connection_id"]);

    // The media server holds both, each with the user and the role as server data.
    let session = app
        .running
        .state()
        .openvidu
        .session("SessionA")
        .await
        .unwrap()
        .expect("session exists");
    let data: Vec<serde_json::Value> = session
        .connections
        .content
        .iter()
        .filter_map(|c| serde_json::from_str(c.server_data.as_deref()?).ok())
        .collect();
    assert!(
        data.contains(&json!({"serverData": "publisher1", "role": "PUBLISHER"})),
        "{data:?}"
    );
    assert!(
        data.contains(&json!({"serverData": "subscriber", "role": "SUBSCRIBER"})),
        "{data:?}"
    );
    app.running.shutdown().await;
}

#[tokio::test]
async fn bad_call_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let p1 = app.login("publisher1", "pass").await;
    for call in ["", "with space", "../etc", "a/b", &"x".repeat(65)] {
        let a = app
            .post("/api/get-token", json!({"call": call}), Some(&p1), &[])
            .await;
        assert_eq!(a.status, 400, "{call:?}: {}", a.text);
    }
    app.running.shutdown().await;
}

#[tokio::test]
async fn remove_user_only_removes_ones_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let p1 = app.login("publisher1", "pass").await;
    let p2 = app.login("publisher2", "pass").await;
    let t1 = app
        .post("/api/get-token", json!({"call": "Room1"}), Some(&p1), &[])
        .await;
    let t2 = app
        .post("/api/get-token", json!({"call": "Room1"}), Some(&p2), &[])
        .await;
    let (c1, c2) = (
        t1.json["connection_id"].as_str().unwrap(),
        t2.json["connection_id"].as_str().unwrap(),
    );

    let theft = app
        .post(
            "/api/remove-user",
            json!({"call": "Room1", "connection_id": c1}),
            Some(&p2),
            &[],
        )
        .await;
    assert_eq!(theft.status, 403, "{}", theft.text);

    let own = app
        .post(
            "/api/remove-user",
            json!({"call": "Room1", "connection_id": c1}),
            Some(&p1),
            &[],
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    // Again: already gone, harmless.
    let again = app
        .post(
            "/api/remove-user",
            json!({"call": "Room1", "connection_id": c1}),
            Some(&p1),
            &[],
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    // Unknown call: harmless too.
    let none = app
        .post(
            "/api/remove-user",
            json!({"call": "NoSuchRoom", "connection_id": c1}),
            Some(&p1),
            &[],
        )
        .await;
    assert_eq!(none.status, 200, "{}", none.text);

    let ov = &app.running.state().openvidu;
    assert!(
        ov.session("Room1").await.unwrap().is_some(),
        "publisher2 is still in it"
    );
    let last = app
        .post(
            "/api/remove-user",
            json!({"call": "Room1", "connection_id": c2}),
            Some(&p2),
            &[],
        )
        .await;
    assert_eq!(last.status, 200);
    assert!(
        ov.session("Room1").await.unwrap().is_none(),
        "the empty call is closed"
    );
    app.running.shutdown().await;
}

#[tokio::test]
async fn a_closed_call_is_simply_created_again() {
    // No map of calls in the app: when the media server forgot a call, the next join recreates it.
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let p1 = app.login("publisher1", "pass").await;
    assert_eq!(
        app.post("/api/get-token", json!({"call": "Again"}), Some(&p1), &[])
            .await
            .status,
        200
    );
    assert!(
        app.running
            .state()
            .openvidu
            .delete_session("Again")
            .await
            .unwrap()
    );
    let a = app
        .post("/api/get-token", json!({"call": "Again"}), Some(&p1), &[])
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    app.running.shutdown().await;
}

#[tokio::test]
async fn a_restart_keeps_users_logged_in() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let cookie = app.login("publisher1", "pass").await;
    app.running.shutdown().await;

    let app = TestApp::start(dir.path()).await;
    let me = app.post("/api/me", json!({}), Some(&cookie), &[]).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"], "publisher1");
    // And the new media server (new secret, new state) hands out tokens at once.
    let t = app
        .post(
            "/api/get-token",
            json!({"call": "SessionA"}),
            Some(&cookie),
            &[],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    app.running.shutdown().await;
}

#[tokio::test]
async fn a_removed_user_is_logged_out() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let cookie = app.login("subscriber", "pass").await;
    assert!(
        app.running
            .state()
            .users
            .remove("subscriber")
            .await
            .unwrap()
    );
    assert_eq!(
        app.post("/api/me", json!({}), Some(&cookie), &[])
            .await
            .status,
        401
    );
    assert_eq!(
        app.post("/api/get-token", json!({"call": "S"}), Some(&cookie), &[])
            .await
            .status,
        401
    );
    app.running.shutdown().await;
}

#[tokio::test]
async fn media_server_unreachable_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(dir.path());
    settings.media = server::config::Media::External(app::backend::openvidu::OpenViduSettings {
        url: "http://127.0.0.1:1".into(),
        secret: app::backend::openvidu::Secret::new("x"),
        ca_pem: None,
        insecure_tls: false,
    });
    let app = TestApp::start_with(settings, common::small_throttle()).await;
    let cookie = app.login("publisher1", "pass").await;
    let a = app
        .post(
            "/api/get-token",
            json!({"call": "SessionA"}),
            Some(&cookie),
            &[],
        )
        .await;
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(a.json, json!("MediaServerUnavailable"));
    app.running.shutdown().await;
}

#[tokio::test]
async fn under_https_tokens_point_at_the_same_origin_over_wss() {
    let dir = tempfile::tempdir().unwrap();
    let (running, http) = common::start_https(dir.path()).await;
    let base = format!("https://{}", running.addr());
    let login = http
        .post(format!("{base}/api/login"))
        .json(&json!({"username": "publisher1", "password": "pass"}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let ticket: serde_json::Value = http
        .post(format!("{base}/api/get-token"))
        .header("cookie", cookie)
        .json(&json!({"call": "Secure"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = ticket["token"].as_str().unwrap();
    assert!(
        token.starts_with(&format!("wss://{}?sessionId=Secure&token=", running.addr())),
        "{token}"
    );
    running.shutdown().await;
}

/// `scripts/bench.sh` measures the app's get-token rate with the load client's
/// [`loadtest::app::token_rate`]; every token it counts must be one the app handed out, and the load it
/// makes must be a steady one (each user's unused tokens trimmed to the pending limit), not a pile-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmarks_token_rate_counts_tokens_the_app_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let users = ["publisher1", "subscriber"].map(String::from);
    let rate = loadtest::app::token_rate(
        app.running.addr(),
        &users,
        "pass",
        "RateCall",
        20,
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("the rate run completes");
    assert_eq!(
        (rate.tokens, rate.failed, rate.users),
        (20, 0, 2),
        "{rate:?}"
    );
    let connections = app.connections("RateCall").await;
    for user in &users {
        let pending = connections
            .iter()
            .filter(|c| c.is_pending() && c.owner().as_deref() == Some(user.as_str()))
            .count();
        assert_eq!(
            pending, 3,
            "{user}'s unused tokens past the newest three are withdrawn"
        );
    }

    // A wrong password is a clear error that does not repeat it.
    let err = loadtest::app::token_rate(
        app.running.addr(),
        &users,
        "not-the-password",
        "RateCall",
        1,
        std::time::Duration::from_secs(60),
    )
    .await
    .expect_err("the login is refused");
    let text = format!("{err:#}");
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
}
