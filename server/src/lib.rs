//! The app server: it opens the database, starts the embedded media server (or points at a real
//! OpenVidu), and serves the Leptos app, its server functions and, when embedded, the media server's
//! signaling on the same origin. `main.rs` only parses the command line and calls [`start`].

pub mod config;
pub mod tls;
pub mod users_cli;

use anyhow::Context;
use app::backend::openvidu::{OpenVidu, OpenViduSettings, Secret};
use app::backend::throttle::{Throttle, ThrottlePolicy};
use app::backend::users::Users;
use app::backend::{AppState, ConnectSources, open_db, origin, sessions};
use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use config::{Media, Settings, Tls};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

/// A running server.
pub struct Running {
    addr: SocketAddr,
    public_url: String,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    media: Option<mediaserver::MediaServer>,
    state: AppState,
}

impl Running {
    /// The address the listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The URL browsers use.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }
    /// The app's state (users, OpenVidu client), for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }
    /// Stops accepting, lets requests in flight finish, stops the media server.
    pub async fn shutdown(self) {
        for stop in self.stop {
            let _ = stop.send(());
        }
        if let Some(media) = self.media {
            media.shutdown().await;
        }
        for task in self.tasks {
            let _ = task.await;
        }
        self.state.close().await;
    }
}

/// The largest request body accepted (413 beyond): server-function arguments and the media server's
/// REST bodies are small.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

fn random_secret() -> String {
    let mut rng = rand::rng();
    (0..32)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect()
}

/// Starts serving as `settings` say; the throttling policy is a parameter so that tests can make it small.
pub async fn start(settings: Settings, throttle: ThrottlePolicy) -> anyhow::Result<Running> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data dir {}", settings.data_dir.display()))?;
    let db = open_db(&settings.data_dir.join("app.db")).await?;
    let users = Users::open(db.clone()).await?;
    if settings.demo {
        users.ensure_demo_users().await?;
        tracing::warn!(
            "demo mode: accounts publisher1, publisher2, subscriber and moderator exist with password \"pass\""
        );
    } else {
        // A data dir once used in demo mode must not keep accepting the demo password.
        let removed = users.remove_demo_users().await?;
        if !removed.is_empty() {
            tracing::warn!(
                "not in demo mode: removed the demo accounts left from an earlier demo run: {}",
                removed.join(", ")
            );
        }
    }

    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("listening on {}", settings.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let public_url = settings.public_url.clone().unwrap_or_else(|| {
        let host = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        format!("{scheme}://{host}")
    });

    let mut stop = Vec::new();
    let mut tasks = Vec::new();
    let (openvidu_settings, media) = match &settings.media {
        Media::External(ov) => {
            if ov.insecure_tls {
                tracing::warn!(
                    "!!! --openvidu-insecure-tls: the OpenVidu server's certificate is NOT verified. Development only. !!!"
                );
            }
            (ov.clone(), None)
        }
        Media::Embedded {
            udp,
            public_ip,
            secret,
        } => {
            let secret = secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_else(random_secret);
            let mut config = mediaserver::Config::new(mediaserver::Secret::new(secret.clone()));
            config.udp = *udp;
            config.public_ip = *public_ip;
            let media = mediaserver::MediaServer::bind(config, public_url.clone()).await?;
            // The REST client reaches the media server on an internal plain-HTTP loopback listener, so that
            // it needs no certificate whatever the public listener serves.
            let internal = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let internal_url = format!("http://{}", internal.local_addr()?);
            let (tx, rx) = oneshot::channel::<()>();
            let router = media.router();
            tasks.push(tokio::spawn(async move {
                let serve = axum::serve(internal, router).with_graceful_shutdown(async {
                    let _ = rx.await;
                });
                if let Err(e) = serve.await {
                    tracing::error!("internal media API listener: {e}");
                }
            }));
            stop.push(tx);
            tracing::info!(udp = %media.udp_addr(), "embedded media server started");
            let settings = OpenViduSettings {
                url: internal_url,
                secret: Secret::new(secret),
                ca_pem: None,
                insecure_tls: false,
            };
            (settings, Some(media))
        }
    };

    let state = AppState {
        users,
        throttle: Arc::new(Throttle::new(throttle)),
        openvidu: OpenVidu::new(&openvidu_settings)?,
    };
    let connect = match &settings.media {
        Media::Embedded { .. } => ConnectSources::default(),
        Media::External(ov) => ConnectSources(websocket_origin(&ov.url)),
    };
    let mut router = site_router(&settings, addr, state.clone(), connect);
    if let Some(media) = &media {
        router = router.merge(media.router());
    }
    let site = origin::Site::new(&public_url, addr, settings.tls.is_some());
    let router = router
        .layer(from_fn_with_state(site.clone(), origin::refuse_cross_site))
        .layer(from_fn(security_headers))
        .layer(sessions::layer(db, settings.tls.is_some()).await?)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(from_fn_with_state(site, origin::refuse_other_hosts))
        .layer(TraceLayer::new_for_http());
    let service = router.into_make_service_with_connect_info::<SocketAddr>();

    let (tx, rx) = oneshot::channel::<()>();
    stop.push(tx);
    match &settings.tls {
        None => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tasks.push(tokio::spawn(async move {
                let serve = axum::serve(listener, service).with_graceful_shutdown(async {
                    let _ = rx.await;
                });
                if let Err(e) = serve.await {
                    tracing::error!("listener: {e}");
                }
            }));
        }
        Some(tls) => {
            let rustls = match tls {
                Tls::Files { cert, key } => {
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?
                }
                Tls::SelfSigned => {
                    let (cert, key) = tls::self_signed(&settings.data_dir, &public_url)?;
                    axum_server::tls_rustls::RustlsConfig::from_pem(cert, key).await?
                }
            };
            let handle = axum_server::Handle::new();
            let server = axum_server::from_tcp_rustls(listener, rustls).handle(handle.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server.serve(service).await {
                    tracing::error!("listener: {e}");
                }
            }));
            tasks.push(tokio::spawn(async move {
                let _ = rx.await;
                handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            }));
        }
    }
    tracing::info!("serving on {public_url} (listening on {addr})");
    Ok(Running {
        addr,
        public_url,
        stop,
        tasks,
        media,
        state,
    })
}

/// The Leptos pages, the server functions, and the built files (pkg/, js/).
/// `https://host:port/path` → `wss://host:port`, the origin openvidu-browser opens its WebSocket on.
fn websocket_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    let ws = if scheme == "http" { "ws" } else { "wss" };
    format!("{ws}://{authority}")
}

fn site_router(settings: &Settings, addr: SocketAddr, state: AppState, connect: ConnectSources) -> Router {
    let env = std::env::var("LEPTOS_ENV")
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(leptos::config::Env::PROD);
    let options = LeptosOptions::builder()
        .output_name(std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "app".into()))
        .site_root(settings.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(env)
        .build();
    let routes = generate_route_list(app::App);
    let shell_options = options.clone();
    Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || {
                provide_context(state.clone());
                provide_context(connect.clone());
            },
            move || app::shell(shell_options.clone()),
        )
        .fallback_service(ServeDir::new(&settings.site_root))
        .with_state(options)
}

/// Headers every answer carries: no framing, no MIME sniffing, no referrer to other sites.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert("x-frame-options", http_value("DENY"));
    headers.insert("x-content-type-options", http_value("nosniff"));
    headers.insert("referrer-policy", http_value("same-origin"));
    res
}

fn http_value(v: &'static str) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_static(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn websocket_origins() {
        assert_eq!(super::websocket_origin("https://media.example.com/x/"), "wss://media.example.com");
        assert_eq!(super::websocket_origin("http://10.0.0.2:4443"), "ws://10.0.0.2:4443");
    }
}
