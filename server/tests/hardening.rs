//! The review's fixes, end to end: demo accounts outside demo mode, login sessions of removed users
//! or changed passwords, request body size, the Host check.

mod common;

use app::model::Role;
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn demo_accounts_are_removed_outside_demo_mode() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let cookie = app.login("publisher1", "pass").await;
    // An admin gave publisher2 a real password: that account is theirs now and stays.
    app.running
        .state()
        .users
        .upsert("publisher2", "a real secret", Role::Publisher)
        .await
        .unwrap();
    app.running.shutdown().await;

    let mut settings = common::settings(dir.path());
    settings.demo = false;
    let app = TestApp::start_with(settings, common::small_throttle()).await;
    for user in ["publisher1", "subscriber"] {
        let a = app
            .post(
                "/api/login",
                json!({"username": user, "password": "pass"}),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 401, "{user}: {}", a.text);
    }
    assert_eq!(
        app.post("/api/me", json!({}), Some(&cookie), &[])
            .await
            .status,
        401,
        "the demo user's old login is gone too"
    );
    app.login("publisher2", "a real secret").await;
    let names: Vec<String> = app
        .running
        .state()
        .users
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["publisher2"]);
    app.running.shutdown().await;
}

#[tokio::test]
async fn password_change_and_removal_end_login_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let users = &app.running.state().users;
    users
        .upsert("alice", "first", Role::Publisher)
        .await
        .unwrap();
    let old = app.login("alice", "first").await;
    let other = app.login("publisher1", "pass").await;
    let me = |cookie: String| {
        let app = &app;
        async move {
            app.post("/api/me", json!({}), Some(&cookie), &[])
                .await
                .status
        }
    };
    assert_eq!(me(old.clone()).await, 200);

    users
        .upsert("alice", "second", Role::Publisher)
        .await
        .unwrap();
    assert_eq!(
        me(old.clone()).await,
        401,
        "a password change ends old logins"
    );
    assert_eq!(me(other.clone()).await, 200, "other users stay logged in");

    let newer = app.login("alice", "second").await;
    assert!(users.remove("alice").await.unwrap());
    users
        .upsert("alice", "third", Role::Moderator)
        .await
        .unwrap();
    assert_eq!(
        me(newer).await,
        401,
        "a re-created user does not inherit the old user's cookie"
    );
    assert_eq!(me(other).await, 200);
    app.running.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let big = "x".repeat(1024 * 1024);
    let a = app
        .post(
            "/api/login",
            json!({"username": "publisher1", "password": big}),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    // The server keeps serving.
    app.login("publisher1", "pass").await;
    app.running.shutdown().await;
}

#[tokio::test]
async fn other_hosts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let port = app.running.addr().port();
    let login = json!({"username": "publisher1", "password": "pass"});
    for host in [
        "evil.example",
        &format!("evil.example:{port}"),
        "127.0.0.1:1",
    ] {
        let a = app
            .post("/api/login", login.clone(), None, &[("host", host)])
            .await;
        assert_eq!(a.status, 421, "{host}: {}", a.text);
        assert!(a.set_cookie().is_none());
        let page = app
            .http
            .get(format!("{}/", app.base))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 421, "{host}");
    }
    // The loopback names of this listener work.
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let a = app
            .post("/api/login", login.clone(), None, &[("host", &host)])
            .await;
        assert_eq!(a.status, 200, "{host}: {}", a.text);
    }
    // An Origin is compared with the configured site, not with the request's Host.
    let origin = format!("http://localhost:{port}");
    let a = app
        .post(
            "/api/login",
            login.clone(),
            None,
            &[("host", &format!("localhost:{port}")), ("origin", &origin)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    app.running.shutdown().await;
}

#[tokio::test]
async fn a_public_url_names_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(dir.path());
    settings.public_url = Some(config_types::PublicUrl::parse("https://meet.example.com").unwrap());
    let app = TestApp::start_with(settings, common::small_throttle()).await;
    let login = json!({"username": "publisher1", "password": "pass"});
    let a = app
        .post(
            "/api/login",
            login.clone(),
            None,
            &[("host", "meet.example.com")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = app
        .post(
            "/api/login",
            login.clone(),
            None,
            &[("host", "other.example.com")],
        )
        .await;
    assert_eq!(a.status, 421);
    // Origin fallback (no Sec-Fetch-Site): the public origin passes, its http:// twin does not.
    let a = app
        .post(
            "/api/login",
            login.clone(),
            None,
            &[
                ("host", "meet.example.com"),
                ("origin", "https://meet.example.com"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = app
        .post(
            "/api/login",
            login,
            None,
            &[
                ("host", "meet.example.com"),
                ("origin", "http://meet.example.com"),
            ],
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.text);
    app.running.shutdown().await;
}
