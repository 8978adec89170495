//! Hostile clients against the real server over its real HTTP API and the media server's WebSocket:
//! each test performs one attack, checks that it is refused, and that a well-behaved user is not
//! affected (issue 8, the app's half).

mod common;

use common::TestApp;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use testkit::basic_auth;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Runs the real `server` binary (a separate process, as an administrator would) and waits for it to
/// exit; one still running after [`common::WAIT`] is killed and fails the test.
fn server_command(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env_remove("OPENVIDU_URL")
        .env_remove("OPENVIDU_SECRET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    let deadline = std::time::Instant::now() + common::WAIT;
    while child
        .try_wait()
        .expect("waiting for the server binary")
        .is_none()
    {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "server {args:?} did not exit: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_a_400_with_our_message() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let cookie = app.login("publisher1", "pass").await;
    let cases: &[(&str, &str)] = &[
        ("/api/login", r#"{"user":"publisher1","pass":"pass"}"#),
        ("/api/login", r#"{"username":"publisher1"}"#),
        ("/api/login", r#"{"username":1,"password":[]}"#),
        ("/api/login", "not json"),
        ("/api/login", ""),
        ("/api/logout", "not json"),
        ("/api/me", "[1,2"),
        ("/api/get-token", r#"{"session":"SessionA"}"#),
        ("/api/get-token", r#"{"call":{"a":1}}"#),
        ("/api/remove-user", r#"{"call":"SessionA"}"#),
        (
            "/api/remove-user",
            r#"{"call":"SessionA","connection_id":7}"#,
        ),
    ];
    for (path, body) in cases {
        for cookie in [None, Some(cookie.as_str())] {
            let a = app.post_raw(path, body, cookie).await;
            assert_eq!(a.status, 400, "{path} {body}: {}", a.text);
            assert_eq!(a.json, json!("BadRequest"), "{path} {body}: {}", a.text);
            for internal in [
                "deserializ",
                "missing field",
                "server function",
                "invalid type",
            ] {
                assert!(!a.text.contains(internal), "{path} {body}: {}", a.text);
            }
        }
    }
    // Well-formed calls still work, for the same user.
    let me = app.post("/api/me", json!({}), Some(&cookie), &[]).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"], "publisher1");
    app.token(&cookie, "SessionA").await;
    app.login("publisher2", "pass").await;
    app.running.shutdown().await;
}

#[tokio::test]
async fn get_token_is_limited_per_user_per_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(dir.path());
    settings.tokens.per_minute = 5;
    let app = TestApp::start_with(settings, common::small_throttle()).await;
    let greedy = app.login("publisher1", "pass").await;
    let polite = app.login("publisher2", "pass").await;
    for i in 0..5 {
        app.token(&greedy, &format!("Call{i}")).await;
    }
    let a = app
        .post(
            "/api/get-token",
            json!({"call": "Call9"}),
            Some(&greedy),
            &[],
        )
        .await;
    assert_eq!(a.status, 429, "{}", a.text);
    assert!(a.json.get("TooManyRequests").is_some(), "{}", a.text);
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Refused before anything was made on the media server.
    assert!(app.connections("Call9").await.is_empty());
    // Another user is not limited by it.
    let t = app.token(&polite, "Call0").await;
    assert_eq!(t["role"], "PUBLISHER");
    app.running.shutdown().await;
}

#[tokio::test]
async fn unused_tokens_are_bounded_per_user_and_call() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let hoarder = app.login("publisher1", "pass").await;
    let other = app.login("publisher2", "pass").await;
    // One joined connection (it stays whatever follows) and another user's unused token.
    let joined = app.token(&hoarder, "Room").await;
    let mut ws = app.join(&joined, "Hoarder").await;
    let theirs = app.token(&other, "Room").await;
    let tickets: Vec<Value> = {
        let mut v = Vec::new();
        for _ in 0..6 {
            v.push(app.token(&hoarder, "Room").await);
        }
        v
    };
    let ids =
        |c: &[app::backend::openvidu::Connection], user: &str, pending: bool| -> Vec<String> {
            let mut ids: Vec<String> = c
                .iter()
                .filter(|c| c.owner().as_deref() == Some(user) && c.is_pending() == pending)
                .map(|c| c.connection_id.clone())
                .collect();
            ids.sort();
            ids
        };
    let now = app.connections("Room").await;
    let mut newest: Vec<String> = tickets[3..]
        .iter()
        .map(|t| t["connection_id"].as_str().unwrap().to_owned())
        .collect();
    newest.sort();
    assert_eq!(
        ids(&now, "publisher1", true),
        newest,
        "the 3 newest unused tokens are kept"
    );
    assert_eq!(
        ids(&now, "publisher1", false),
        [joined["connection_id"].as_str().unwrap()],
        "the joined connection stays"
    );
    assert_eq!(
        ids(&now, "publisher2", true),
        [theirs["connection_id"].as_str().unwrap()],
        "another user's token stays"
    );
    // A withdrawn token no longer joins; a kept one does, and so does the other user's.
    let mut late = app.ws().await;
    let token = tickets[0]["token"].as_str().unwrap();
    assert!(late.join(token, "Late").await.is_err());
    let _kept = app.join(&tickets[5], "Hoarder again").await;
    let _theirs = app.join(&theirs, "Other").await;
    ws.notification("participantJoined", |p| p["id"] == theirs["connection_id"])
        .await;

    // Asking many times at once leaves no more either: every request gets a token, the 3 newest
    // stay.
    let at_once: Vec<Value> =
        futures_util::future::join_all((0..8).map(|_| app.token(&hoarder, "Room"))).await;
    let now = app.connections("Room").await;
    let pending = ids(&now, "publisher1", true);
    assert_eq!(pending.len(), 3, "{pending:?}");
    assert!(
        pending
            .iter()
            .all(|id| at_once.iter().any(|t| t["connection_id"] == id.as_str())),
        "the kept ones are among the last asked for: {pending:?}"
    );
    app.running.shutdown().await;
}

#[tokio::test]
async fn failed_logins_from_one_address_do_not_lock_the_owner_out() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    // The owner has logged in from 127.0.0.1 before.
    let owner = app.login("publisher1", "pass").await;
    app.post("/api/logout", json!({}), Some(&owner), &[]).await;
    // An attacker guesses from 127.0.0.2, then from 127.0.0.3: each address is locked out of the
    // account after 3 failures (`small_throttle`), and 6 in all lock the account for new addresses.
    for attacker in [ip(2), ip(3)] {
        let client = TestApp::client_from(attacker);
        let mut statuses = Vec::new();
        for i in 0..6 {
            let body = json!({"username": "publisher1", "password": format!("guess{i}")});
            statuses.push(
                app.post_via(&client, "/api/login", body, None, &[])
                    .await
                    .status,
            );
        }
        assert_eq!(statuses, [401, 401, 401, 429, 429, 429], "{attacker}");
        // Even the right password waits, from there.
        let body = json!({"username": "publisher1", "password": "pass"});
        let a = app.post_via(&client, "/api/login", body, None, &[]).await;
        assert_eq!(a.status, 429, "{}", a.text);
        assert!(a.headers.contains_key("retry-after"));
    }
    // A third, new address is refused too: the account is under attack.
    let body = json!({"username": "publisher1", "password": "pass"});
    let a = app
        .post_via(&TestApp::client_from(ip(4)), "/api/login", body, None, &[])
        .await;
    assert_eq!(a.status, 429, "{}", a.text);
    // The owner, from where they logged in before, gets in at once.
    app.login("publisher1", "pass").await;
    // Nor are the attackers' addresses locked out of other accounts.
    let body = json!({"username": "publisher2", "password": "pass"});
    let a = app
        .post_via(&TestApp::client_from(ip(2)), "/api/login", body, None, &[])
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    app.running.shutdown().await;
}

#[tokio::test]
async fn removing_a_user_or_changing_a_role_ends_their_connections() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let data_dir = dir.path().to_str().unwrap();
    let gone = app.login("publisher1", "pass").await;
    let stays = app.login("publisher2", "pass").await;
    let watcher = app.login("subscriber", "pass").await;
    let t_gone = app.token(&gone, "Room").await;
    let mut ws_gone = app.join(&t_gone, "Gone").await;
    let spare = app.token(&gone, "Room").await;
    let t_stays = app.token(&stays, "Room").await;
    let mut ws_stays = app.join(&t_stays, "Stays").await;
    let t_watch = app.token(&watcher, "Room").await;
    let mut ws_watch = app.join(&t_watch, "Watcher").await;
    let gone_id = t_gone["connection_id"].as_str().unwrap().to_owned();

    // The administrator removes publisher1 with the CLI, another process on the same database.
    let out = server_command(&["user", "remove", "publisher1", "--data-dir", data_dir]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The live connection is evicted, the unused token withdrawn.
    ws_gone
        .notification("participantEvicted", |p| p["connectionId"] == gone_id)
        .await;
    ws_gone.wait_closed().await;
    app.wait_connections("Room", "publisher1 has no connection", |c| {
        c.iter().all(|c| c.owner().as_deref() != Some("publisher1"))
    })
    .await;
    // The others see them leave and stay in the call.
    ws_stays
        .notification("participantLeft", |p| p["connectionId"] == gone_id)
        .await;
    ws_watch
        .notification("participantLeft", |p| p["connectionId"] == gone_id)
        .await;
    // No reconnecting: not with either token, not with the old socket's RPC session (what
    // openvidu-browser presents after a lost socket), and no new token.
    for ticket in [&t_gone, &spare] {
        let mut again = app.ws().await;
        let token = ticket["token"].as_str().unwrap();
        assert!(again.join(token, "Gone").await.is_err());
    }
    let rpc_session = ws_gone
        .rpc_session
        .clone()
        .expect("joinRoom named its RPC session");
    let mut again = app.ws().await;
    let e = again
        .request("connect", json!({ "sessionId": rpc_session }))
        .await
        .expect_err("the evicted participant cannot come back");
    assert_eq!(e["code"], 40007, "{e}");
    let a = app
        .post("/api/get-token", json!({"call": "Room"}), Some(&gone), &[])
        .await;
    assert_eq!(a.status, 401, "{}", a.text);

    // publisher2 becomes a subscriber: their publishing connection ends, the next token is a
    // subscriber's. The subscriber is untouched throughout.
    let out = server_command(&[
        "user",
        "set-role",
        "publisher2",
        "--role",
        "SUBSCRIBER",
        "--data-dir",
        data_dir,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stays_id = t_stays["connection_id"].as_str().unwrap().to_owned();
    ws_stays
        .notification("participantEvicted", |p| p["connectionId"] == stays_id)
        .await;
    ws_watch
        .notification("participantLeft", |p| p["connectionId"] == stays_id)
        .await;
    let t = app.token(&stays, "Room").await;
    assert_eq!(t["role"], "SUBSCRIBER");
    let now = app.connections("Room").await;
    assert!(
        now.iter()
            .any(|c| c.connection_id == t_watch["connection_id"] && !c.is_pending()),
        "the subscriber is still in the call"
    );
    assert!(!ws_watch.closed);
    app.running.shutdown().await;
}

#[tokio::test]
async fn hsts_under_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let (running, http) = common::start_https(dir.path()).await;
    let res = http
        .get(format!("https://{}/", running.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"],
        server::HSTS,
        "HSTS under HTTPS"
    );
    running.shutdown().await;
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let res = app.http.get(format!("{}/", app.base)).send().await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_none());
    app.running.shutdown().await;
}

#[test]
fn unsafe_start_up_settings_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["http://10.1.2.3:4443", "S3CRET-VALUE"],
            "--openvidu-allow-http",
        ),
        // ws:// is no better: the OpenVidu client reads it as http://.
        (
            &["ws://10.1.2.3:4443", "S3CRET-VALUE"],
            "--openvidu-allow-http",
        ),
        // A password in the URL is refused, and never echoed.
        (
            &["https://admin:S3CRET-VALUE@10.1.2.3", "S3CRET-VALUE"],
            "must not carry a user name or password",
        ),
        (
            &["--media-reconnect-grace", "99999999999"],
            "--media-reconnect-grace must be 1 to 600 seconds",
        ),
        (
            &["--user-watch-interval", "0"],
            "--user-watch-interval must be 1 to 60 seconds",
        ),
    ];
    for (args, message) in cases {
        let all = [&["--listen", "127.0.0.1:0", "--data-dir", data][..], args].concat();
        let out = server_command(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must not start");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("S3CRET-VALUE"), "no secret in: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn the_media_rest_api_is_not_on_the_public_listener() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let auth = basic_auth(common::MEDIA_SECRET);
    for (method, path) in [
        ("GET", "/openvidu/api/sessions"),
        ("POST", "/openvidu/api/sessions"),
        ("GET", "/openvidu/api/config"),
        ("GET", "/openvidu/api"),
        ("DELETE", "/openvidu/api/sessions/Room"),
    ] {
        let res = app
            .http
            .request(method.parse().unwrap(), format!("{}{path}", app.base))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        // As for any path the site does not have (the site's catch-all answers other methods 405);
        // the REST API itself would have answered 200 to these credentials.
        assert!(
            matches!(res.status().as_u16(), 404 | 405),
            "{method} {path}: {}",
            res.status()
        );
    }
    // The WebSocket is still served there, and the app's own client still reaches the REST API.
    let cookie = app.login("publisher1", "pass").await;
    let ticket = app.token(&cookie, "Room").await;
    let _ws = app.join(&ticket, "Me").await;
    let sessions = app.running.state().openvidu.sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    app.running.shutdown().await;
}

#[tokio::test]
async fn the_embedded_media_servers_quotas_are_settings_and_say_full_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(dir.path());
    if let server::config::Media::Embedded { limits, .. } = &mut settings.media {
        limits.max_sessions = 1;
        limits.max_participants_per_session = 2;
    }
    let app = TestApp::start_with(settings, common::small_throttle()).await;
    let p1 = app.login("publisher1", "pass").await;
    let p2 = app.login("publisher2", "pass").await;
    let sub = app.login("subscriber", "pass").await;
    app.token(&p1, "Small").await;
    app.token(&p2, "Small").await;
    for (who, call) in [(&sub, "Small"), (&p1, "Another")] {
        let a = app
            .post("/api/get-token", json!({ "call": call }), Some(who), &[])
            .await;
        assert_eq!(a.status, 503, "{call}: {}", a.text);
        assert!(
            a.text.contains("MediaServerFull"),
            "the reason, for the page to say in words: {}",
            a.text
        );
    }
    // The call itself is unaffected: both of its connections are there.
    assert_eq!(app.connections("Small").await.len(), 2);
    app.running.shutdown().await;
}
