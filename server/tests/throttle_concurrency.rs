//! Many logins at once, over HTTP against the real server: the throttle admits and counts each attempt
//! in one step, so a burst cannot get more guesses than the limit (`common::small_throttle`: 3 per
//! account, 6 per address). Every answer is either a checked guess (401) or a refusal (429 with
//! Retry-After: throttled, or password hashing busy); how many of each depends on timing only within
//! the limit.

mod common;

use common::TestApp;
use serde_json::json;
use std::sync::Arc;

/// `n` wrong-password logins sent together, `name(i)` as the user name; the statuses.
async fn burst(app: &Arc<TestApp>, n: usize, name: fn(usize) -> String) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let app = app.clone();
        tasks.spawn(async move {
            let a = app
                .post(
                    "/api/login",
                    json!({"username": name(i), "password": "wrong"}),
                    None,
                    &[],
                )
                .await;
            if a.status == 429 {
                let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(retry >= 1, "{retry}");
            }
            a.status
        });
    }
    tasks.join_all().await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_for_one_account_gets_no_more_than_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(TestApp::start(dir.path()).await);
    let statuses = burst(&app, 40, |_| "publisher1".to_owned()).await;
    let checked = count(&statuses, 401);
    assert!((1..=3).contains(&checked), "{statuses:?}");
    assert_eq!(checked + count(&statuses, 429), 40, "{statuses:?}");
    if checked == 3 {
        // All three guesses failed: the account is locked, even for the right password.
        let a = app
            .post(
                "/api/login",
                json!({"username": "publisher1", "password": "pass"}),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 429, "{}", a.text);
    }
    // Another account is not affected.
    app.login("publisher2", "pass").await;
    let app = Arc::into_inner(app).expect("no task holds the app");
    app.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_from_one_address_gets_no_more_than_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(TestApp::start(dir.path()).await);
    // Unknown names, each different: only the address limit applies, and they look like wrong
    // passwords.
    let statuses = burst(&app, 40, |i| format!("nobody{i}")).await;
    let checked = count(&statuses, 401);
    assert!((1..=6).contains(&checked), "{statuses:?}");
    assert_eq!(checked + count(&statuses, 429), 40, "{statuses:?}");
    let app = Arc::into_inner(app).expect("no task holds the app");
    app.running.shutdown().await;
}
