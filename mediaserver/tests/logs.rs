//! Secrets never reach a log line (STYLE.md "Errors, config, logs"): not the OpenVidu secret, not the
//! Basic credentials built from it, not a token (neither the `tok_…` key nor the whole URL), not
//! the rpc session id that lets a socket take over a participant. Modelled on str0m `tests/pii.rs`.
//!
//! Two views: the library's own `tracing` events at TRACE, captured in-process; and the shipped
//! binary at `RUST_LOG=trace`, which also forwards the `log` records of its dependencies.

mod common;

use std::process::Stdio;

use common::*;
use serde_json::json;
use testkit::{LogCapture, Secrets};

/// A token must not be logged: neither its URL nor its key.
fn add_token(secrets: &mut Secrets, token: &str) {
    secrets.add("a token URL", token);
    let key = token_param(token, "token").expect("the token has a token= part");
    assert!(key.starts_with("tok_"), "{token}");
    secrets.add("a token key", key);
}

/// Runs the flows that handle every kind of credential, good and bad, and returns what must not be
/// logged.
async fn exercise(server: &TestServer) -> Secrets {
    let mut secrets = Secrets::default();
    secrets.add_openvidu_secret(&server.secret);

    // REST with the right secret, and with wrong ones (a mistyped password is still a password).
    let session = server.create_session().await;
    let wrong = format!("{}-typo", server.secret);
    secrets.add_openvidu_secret(&wrong);
    let r = http(
        server.addr,
        "GET",
        "/openvidu/api/sessions",
        Some(&basic_auth(&wrong)),
        None,
        b"",
    )
    .await;
    assert_eq!(r.status, 401);
    let r = http(
        server.addr,
        "GET",
        "/openvidu/api/sessions",
        Some("Basic bm90LWEtdmFsaWQtcGFpcg=="),
        None,
        b"",
    )
    .await;
    assert_eq!(r.status, 401);

    // Tokens: used, reused, revoked, never used, and tokens from the deprecated token API.
    let (_, alice_token) = server.create_connection(&session, "MODERATOR").await;
    let (_, bob_token) = server.create_connection(&session, "PUBLISHER").await;
    let (revoked_id, revoked_token) = server.create_connection(&session, "SUBSCRIBER").await;
    let (_, unused_token) = server.create_connection(&session, "PUBLISHER").await;
    let t = server
        .rest(
            "POST",
            "/openvidu/api/tokens",
            Some(json!({ "session": session, "role": "PUBLISHER" })),
        )
        .await;
    assert_eq!(t.status, 200);
    let api_token = t.json()["token"].as_str().unwrap().to_owned();
    for token in [
        &alice_token,
        &bob_token,
        &revoked_token,
        &unused_token,
        &api_token,
    ] {
        add_token(&mut secrets, token);
    }

    let mut alice = server.connect(&alice_token).await;
    alice
        .join(&alice_token, "alice")
        .await
        .expect("alice joins");
    secrets.add("an rpc session id", alice.rpc_session.clone().unwrap());
    // The whole token as the socket URL's query, as a careless client might open it.
    let mut bob = Rpc::open(&format!(
        "ws://{}/openvidu?sessionId={session}&token={}",
        server.addr,
        token_param(&bob_token, "token").unwrap()
    ))
    .await;
    let b = bob.join(&bob_token, "bob").await.expect("bob joins");
    secrets.add("an rpc session id", bob.rpc_session.clone().unwrap());
    let mut again = server.connect(&alice_token).await;
    assert_eq!(
        again.join(&alice_token, "").await.unwrap_err().code,
        401,
        "a used token"
    );
    let forged = format!("{}x", token_param(&unused_token, "token").unwrap());
    let forged_url = unused_token.replace(&token_param(&unused_token, "token").unwrap(), &forged);
    secrets.add("a forged token", forged.clone());
    assert_eq!(
        again.join(&forged_url, "").await.unwrap_err().code,
        401,
        "a forged token"
    );
    let elsewhere = api_token.replace(&session, "ses_Elsewhere");
    assert_eq!(
        again.join(&elsewhere, "").await.unwrap_err().code,
        401,
        "a token for an unknown session"
    );
    let r = server
        .rest(
            "DELETE",
            &format!("/openvidu/api/sessions/{session}/connection/{revoked_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        again.join(&revoked_token, "").await.unwrap_err().code,
        401,
        "a revoked token"
    );

    // Bad input on a joined socket, carrying a token where it does not belong.
    bob.send_raw(format!(
        "{{\"id\":77,\"method\":\"joinRoom\",\"params\":{{\"token\":\"{api_token}\""
    ))
    .await;
    bob.next_stray_reply().await;
    let e = bob
        .request(
            "joinRoom",
            json!({ "token": api_token, "session": session }),
        )
        .await
        .unwrap_err();
    assert!(e.code != 0);
    let e = bob
        .request(
            "noSuchMethod",
            json!({ "token": api_token, "secret": server.secret }),
        )
        .await
        .unwrap_err();
    assert!(e.code != 0);
    let e = bob
        .request(
            "sendMessage",
            json!({ "message": "{\"to\":[\"con_Nobody\"]}" }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, 601);

    // Media and signals.
    publish(&mut bob).await;
    alice.next_notification("participantPublished").await;
    let message = json!({ "to": [], "data": "hi", "type": "signal:chat" }).to_string();
    bob.request("sendMessage", json!({ "message": message }))
        .await
        .unwrap();

    // Reconnection with the rpc session id, and with a bogus one.
    let rpc_session = bob.rpc_session.clone().unwrap();
    bob.drop_abruptly();
    let mut bob = server.open_socket(&session).await;
    bob.request(
        "connect",
        json!({ "sessionId": rpc_session, "reconnect": true }),
    )
    .await
    .expect("reconnects");
    let bogus = format!("{rpc_session}-bogus");
    let mut other = server.open_socket(&session).await;
    assert_eq!(
        other
            .request("connect", json!({ "sessionId": bogus }))
            .await
            .unwrap_err()
            .code,
        40007
    );

    // Moderation and teardown.
    alice
        .request("forceDisconnect", json!({ "connectionId": b["id"] }))
        .await
        .expect("forceDisconnect");
    bob.next_notification("participantEvicted").await;
    alice.request("leaveRoom", json!({})).await.unwrap();
    server.wait_session_gone(&session).await;
    secrets
}

#[tokio::test]
async fn the_servers_own_trace_logs_hold_no_secrets_or_tokens() {
    let capture = LogCapture::global();
    let server = spawn_server().await;
    let secrets = exercise(&server).await;
    if let Some(handle) = server.handle {
        handle.shutdown().await;
    }
    let logs = capture.text();
    assert!(
        logs.contains("participant joined"),
        "the server's events were captured:\n{logs}"
    );
    assert!(logs.lines().count() > 10, "{logs}");
    secrets.assert_absent_from(&logs);
}

/// The `mediaserver` binary's output at `RUST_LOG=trace`: the library's events plus whatever its
/// dependencies log (the binary forwards `log` records to its subscriber).
#[tokio::test]
async fn the_binary_at_trace_level_logs_no_secrets_or_tokens() {
    let secret = format!("bin-{}", random_string(24));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mediaserver"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--reconnect-grace",
            "1",
        ])
        .env("OPENVIDU_SECRET", &secret)
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mediaserver binary starts");

    // Both streams are read to the end on their own threads; stdout also reports the bound address,
    // which the server logs once it listens.
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<std::net::SocketAddr>();
    let stdout = child.stdout.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut addr_tx = Some(addr_tx);
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on http://").nth(1)
                && let Ok(addr) = rest.trim().parse()
                && let Some(tx) = addr_tx.take()
            {
                let _ = tx.send(addr);
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut all);
        all
    });
    let addr = match tokio::time::timeout(WAIT, addr_rx).await {
        Ok(Ok(addr)) => addr,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server never said where it listens:\n{}{}",
                out_thread.join().unwrap(),
                err_thread.join().unwrap()
            );
        }
    };

    let server = TestServer {
        handle: None,
        addr,
        secret,
    };
    let secrets = exercise(&server).await;

    child.kill().expect("stopping the server");
    child.wait().expect("the server stopped");
    let logs = format!(
        "{}{}",
        out_thread.join().unwrap(),
        err_thread.join().unwrap()
    );
    assert!(
        logs.contains("participant joined"),
        "the server logged at all:\n{logs}"
    );
    secrets.assert_absent_from(&logs);
}

/// A client hammering a quota fills no log: the refusals of one cause are logged once (then at most
/// once a minute, with their count), while each request is still refused.
#[tokio::test]
async fn refusals_over_a_quota_are_logged_once_not_per_request() {
    let capture = LogCapture::global();
    let server = spawn_server_with(|c| {
        c.limits.max_sessions = 1;
        c.limits.max_participants_per_session = 1;
    })
    .await;
    let session = server.create_session().await;
    let path = format!("/openvidu/api/sessions/{session}/connection");
    server.create_connection(&session, "PUBLISHER").await;
    for _ in 0..20 {
        let r = server
            .rest("POST", "/openvidu/api/sessions", Some(json!({})))
            .await;
        assert_eq!(r.status, 429, "past the quota: {}", r.text());
        let r = server.rest("POST", &path, Some(json!({}))).await;
        assert_eq!(r.status, 429, "past the quota: {}", r.text());
    }
    // Anyone may open sockets and abuse them: floods and oversized frames are counted, not logged
    // one by one either.
    for _ in 0..5 {
        let mut flooder = server.open_socket(&session).await;
        for _ in 0..1500 {
            if !flooder.try_send_request("echo", json!({})).await {
                break;
            }
        }
        flooder.wait_closed().await;
        let mut big = server.open_socket(&session).await;
        big.send_raw("x".repeat(65 * 1024)).await;
        big.wait_closed().await;
    }
    let crowded = spawn_server_with(|c| c.limits.max_sockets_per_address = 1).await;
    let _held = crowded.open_socket("any").await;
    for _ in 0..20 {
        let mut refused = crowded.open_socket("any").await;
        refused.wait_closed().await;
    }

    let logs = capture.text();
    for cause in [
        "sessions",
        "participants per session",
        "request rate",
        "oversized frames",
        "sockets per address",
    ] {
        let lines = logs
            .lines()
            .filter(|l| {
                l.contains("refusing requests over a quota")
                    && l.contains(&format!("cause=\"{cause}\""))
            })
            .count();
        assert_eq!(lines, 1, "many refusals for {cause}, one line:\n{logs}");
    }
}
