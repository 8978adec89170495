//! Passwords, tokens, cookies and the OpenVidu secret never reach a log line: everything logged (at
//! every level, every crate) during logins, token requests and removals is captured and searched.

mod common;

use common::TestApp;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(dir.path());
    let media_secret = "MEDIA-SECRET-a7f3e9c1d5";
    if let server::config::Media::Embedded { secret, .. } = &mut settings.media {
        *secret = Some(app::backend::openvidu::Secret::new(media_secret));
    }
    let app = TestApp::start_with(settings, common::small_throttle()).await;
    let password = "S3cret-pass-phrase-42";
    app.running
        .state()
        .users
        .upsert("alice", password, app::model::Role::Publisher)
        .await
        .unwrap();

    let bad = app
        .post(
            "/api/login",
            json!({"username": "alice", "password": "wrong-pw-9d8c7b"}),
            None,
            &[],
        )
        .await;
    assert_eq!(bad.status, 401);
    let cookie = app.login("alice", password).await;
    let ticket = app
        .post(
            "/api/get-token",
            json!({"call": "LogCheck"}),
            Some(&cookie),
            &[],
        )
        .await;
    assert_eq!(ticket.status, 200, "{}", ticket.text);
    let token = ticket.json["token"].as_str().unwrap().to_owned();
    let token_id = token.split("token=").nth(1).unwrap().to_owned();
    let cid = ticket.json["connection_id"].as_str().unwrap().to_owned();
    let removed = app
        .post(
            "/api/remove-user",
            json!({"call": "LogCheck", "connection_id": cid}),
            Some(&cookie),
            &[],
        )
        .await;
    assert_eq!(removed.status, 200);
    app.post("/api/logout", json!({}), Some(&cookie), &[]).await;
    app.running.shutdown().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("token issued"), "the log was captured");
    let cookie_value = cookie.split_once('=').unwrap().1;
    for (what, secret) in [
        ("password", password),
        ("wrong password", "wrong-pw-9d8c7b"),
        ("token", token_id.as_str()),
        ("cookie", cookie_value),
        ("media secret", media_secret),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log");
    }
    let basic = base64_of(&format!("OPENVIDUAPP:{media_secret}"));
    assert!(
        !log.contains(&basic),
        "the Basic credentials are in the log"
    );
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
