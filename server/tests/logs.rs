//! Passwords, tokens, cookies and the OpenVidu secret never reach a log line: everything logged (at
//! every level, every crate) during logins, token requests and removals is captured and searched.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let capture = testkit::LogCapture::global();

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

    let log = capture.text();
    assert!(log.contains("token issued"), "the log was captured");
    let mut secrets = testkit::Secrets::default();
    secrets.add("the password", password);
    secrets.add("the wrong password", "wrong-pw-9d8c7b");
    secrets.add("the token key", token_id);
    secrets.add("the token URL", token);
    secrets.add("the session cookie", cookie.split_once('=').unwrap().1);
    secrets.add_openvidu_secret(media_secret);
    secrets.assert_absent_from(&log);
}
