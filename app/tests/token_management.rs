//! The plain functions behind the server functions, called directly: a real SQLite file, the real
//! embedded media server on a loopback listener, no HTTP in between on the app's side.

use app::api::AppError;
use app::backend::openvidu::{OpenVidu, OpenViduSettings, Secret};
use app::backend::throttle::{Throttle, ThrottlePolicy};
use app::backend::users::Users;
use app::backend::{AppState, open_db};
use app::model::Role;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Fixture {
    state: AppState,
    media: mediaserver::MediaServer,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let users = Users::open(open_db(&dir.path().join("app.db")).await.unwrap())
        .await
        .unwrap();
    users.ensure_demo_users().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let media = mediaserver::MediaServer::bind(
        mediaserver::Config::new(mediaserver::Secret::new("test-secret")),
        url.clone(),
    )
    .await
    .unwrap();
    let router = media.router();
    tokio::spawn(async move { axum_serve(listener, router).await });

    let openvidu = OpenVidu::new(&OpenViduSettings {
        url,
        secret: Secret::new("test-secret"),
        ca_pem: None,
        insecure_tls: false,
    })
    .unwrap();
    let state = AppState {
        users,
        throttle: Arc::new(Throttle::new(ThrottlePolicy::default())),
        openvidu,
        tokens: Arc::new(app::backend::quota::TokenQuota::new(Default::default())),
    };
    Fixture {
        state,
        media,
        _dir: dir,
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    axum::serve(listener, router).await.unwrap();
}

#[tokio::test]
async fn login_checks_the_database() {
    let f = fixture().await;
    let me = f.state.login("publisher1", "pass", PEER).await.unwrap();
    assert_eq!((me.user.as_str(), me.role), ("publisher1", Role::Publisher));
    assert_eq!(
        f.state.login("publisher1", "nope", PEER).await,
        Err(AppError::BadCredentials)
    );
    assert_eq!(
        f.state.login("ghost", "pass", PEER).await,
        Err(AppError::BadCredentials)
    );
    f.media.shutdown().await;
}

#[tokio::test]
async fn tokens_carry_the_role_from_the_database() {
    let f = fixture().await;
    let t = f.state.get_token("subscriber", "Plain").await.unwrap();
    assert_eq!(t.role, Role::Subscriber);
    assert!(t.token.contains("sessionId=Plain"), "{t:?}");
    // A role change applies at the next token.
    f.state
        .users
        .upsert("subscriber", "pass", Role::Moderator)
        .await
        .unwrap();
    assert_eq!(
        f.state.get_token("subscriber", "Plain").await.unwrap().role,
        Role::Moderator
    );
    assert_eq!(
        f.state.get_token("subscriber", "no way").await.unwrap_err(),
        AppError::InvalidCallName
    );
    assert_eq!(
        f.state.get_token("ghost", "Plain").await.unwrap_err(),
        AppError::NotLoggedIn
    );
    f.media.shutdown().await;
}

#[tokio::test]
async fn remove_user_is_owner_only_and_idempotent() {
    let f = fixture().await;
    let a = f.state.get_token("publisher1", "Owned").await.unwrap();
    let b = f.state.get_token("publisher2", "Owned").await.unwrap();
    assert_eq!(
        f.state
            .remove_user("publisher2", "Owned", &a.connection_id)
            .await,
        Err(AppError::Forbidden)
    );
    assert_eq!(
        f.state
            .remove_user("publisher1", "Owned", &a.connection_id)
            .await,
        Ok(())
    );
    assert_eq!(
        f.state
            .remove_user("publisher1", "Owned", &a.connection_id)
            .await,
        Ok(())
    );
    assert_eq!(
        f.state
            .remove_user("publisher1", "Owned", "../../etc")
            .await,
        Ok(())
    );
    assert!(f.state.openvidu.session("Owned").await.unwrap().is_some());
    assert_eq!(
        f.state
            .remove_user("publisher2", "Owned", &b.connection_id)
            .await,
        Ok(())
    );
    assert!(f.state.openvidu.session("Owned").await.unwrap().is_none());
    f.media.shutdown().await;
}
