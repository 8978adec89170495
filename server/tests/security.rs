//! Security behaviour over plain HTTP: cookie attributes, session id rotation, logout, throttling,
//! cross-site refusal, unauthenticated calls refused.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn login_sets_a_hardened_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let a = app
        .post(
            "/api/login",
            json!({"username": "publisher1", "password": "pass"}),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json, json!({"user": "publisher1", "role": "PUBLISHER"}));
    let cookie = a.set_cookie().unwrap();
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "idle timeout: {cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    app.running.shutdown().await;
}

#[tokio::test]
async fn https_cookie_is_secure_and_host_prefixed() {
    let dir = tempfile::tempdir().unwrap();
    let (running, http) = common::start_https(dir.path()).await;
    let res = http
        .post(format!("https://{}/api/login", running.addr()))
        .json(&json!({"username": "publisher1", "password": "pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    running.shutdown().await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let wrong = app
        .post(
            "/api/login",
            json!({"username": "publisher1", "password": "nope"}),
            None,
            &[],
        )
        .await;
    let unknown = app
        .post(
            "/api/login",
            json!({"username": "nobody", "password": "nope"}),
            None,
            &[],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.text, unknown.text);
    assert!(wrong.set_cookie().is_none() && unknown.set_cookie().is_none());
    app.running.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_calls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    for (path, body) in [
        ("/api/me", json!({})),
        ("/api/get-token", json!({"call": "SessionA"})),
        (
            "/api/remove-user",
            json!({"call": "SessionA", "connection_id": "con_X"}),
        ),
    ] {
        let a = app.post(path, body.clone(), None, &[]).await;
        assert_eq!(a.status, 401, "{path}: {}", a.text);
        let forged = app
            .post(path, body, Some("session=AAAAAAAAAAAAAAAAAAAAAA"), &[])
            .await;
        assert_eq!(
            forged.status, 401,
            "{path} with a made-up id: {}",
            forged.text
        );
    }
    app.running.shutdown().await;
}

#[tokio::test]
async fn session_id_rotates_at_login_and_dies_at_logout() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let first = app.login("publisher1", "pass").await;
    // Logging in again from the same browser (sending the old cookie) issues a new id...
    let a = app
        .post(
            "/api/login",
            json!({"username": "publisher2", "password": "pass"}),
            Some(&first),
            &[],
        )
        .await;
    assert_eq!(a.status, 200);
    let second = a.cookie().unwrap();
    assert_ne!(first, second);
    // ...and the old one no longer works.
    assert_eq!(
        app.post("/api/me", json!({}), Some(&first), &[])
            .await
            .status,
        401
    );
    let me = app.post("/api/me", json!({}), Some(&second), &[]).await;
    assert_eq!(me.json, json!({"user": "publisher2", "role": "PUBLISHER"}));

    let out = app.post("/api/logout", json!({}), Some(&second), &[]).await;
    assert_eq!(out.status, 200);
    let removal = out.set_cookie().unwrap();
    assert!(
        removal.contains("Max-Age=0") || removal.contains("Expires=Thu, 01 Jan 1970"),
        "{removal}"
    );
    assert_eq!(
        app.post("/api/me", json!({}), Some(&second), &[])
            .await
            .status,
        401
    );
    assert_eq!(
        app.post(
            "/api/get-token",
            json!({"call": "SessionA"}),
            Some(&second),
            &[]
        )
        .await
        .status,
        401
    );
    app.running.shutdown().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    for _ in 0..3 {
        let a = app
            .post(
                "/api/login",
                json!({"username": "publisher1", "password": "bad"}),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 401);
    }
    // Locked: even the right password waits, and spelling the name differently does not help.
    for name in ["publisher1", " PUBLISHER1 "] {
        let a = app
            .post(
                "/api/login",
                json!({"username": name, "password": "pass"}),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 429, "{name}: {}", a.text);
        let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
    }
    // Another account is not locked by this (the address limit is higher).
    app.login("publisher2", "pass").await;
    app.running.shutdown().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    // Six different names, one address: the body changes, the address limit holds.
    for i in 0..6 {
        let a = app
            .post(
                "/api/login",
                json!({"username": format!("guess{i}"), "password": "bad"}),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 401);
    }
    let a = app
        .post(
            "/api/login",
            json!({"username": "subscriber", "password": "pass"}),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, 429, "{}", a.text);
    assert!(a.headers.contains_key("retry-after"));
    app.running.shutdown().await;
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let body = json!({"username": "publisher1", "password": "pass"});
    let a = app
        .post(
            "/api/login",
            body.clone(),
            None,
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(a.status, 403);
    let a = app
        .post(
            "/api/login",
            body.clone(),
            None,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(a.status, 403);
    let a = app
        .post(
            "/api/login",
            body.clone(),
            None,
            &[("sec-fetch-site", "same-site")],
        )
        .await;
    assert_eq!(a.status, 403);

    // A logged-in victim's cookie does not help a cross-site request either.
    let cookie = app.login("publisher1", "pass").await;
    let a = app
        .post(
            "/api/get-token",
            json!({"call": "X"}),
            Some(&cookie),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(a.status, 403);
    let a = app
        .post(
            "/api/logout",
            json!({}),
            Some(&cookie),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        app.post("/api/me", json!({}), Some(&cookie), &[])
            .await
            .status,
        200,
        "still logged in"
    );

    // Same origin passes.
    let origin = app.base.clone();
    let a = app
        .post(
            "/api/login",
            body,
            None,
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(a.status, 200);
    app.running.shutdown().await;
}

#[tokio::test]
async fn pages_carry_security_headers_and_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let res = app.http.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
        "{csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the inline script carries the nonce: {html}"
    );
    assert!(html.contains("/js/openvidu-browser.min.js"), "{html}");
    app.running.shutdown().await;
}
