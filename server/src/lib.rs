//! The app server: it opens the database, starts the embedded media server (or points at a real
//! OpenVidu), and serves the Leptos app, its server functions and, when embedded, the media server's
//! signaling on the same origin. `main.rs` only parses the command line and calls [`start`].

pub mod assets;
pub mod config;
pub mod tls;
pub mod users_cli;

use anyhow::Context;
use app::backend::openvidu::{OpenVidu, OpenViduSettings, Secret};
use app::backend::quota::TokenQuota;
use app::backend::throttle::{Throttle, ThrottlePolicy};
use app::backend::users::Users;
use app::backend::{AppState, ConnectSources, Db, open_db, origin, revocation, sessions};
use app::model::AppError;
use assets::SiteAssets;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use config::{LiveReload, Media, Settings, Tls};
use config_types::PublicUrl;
use leptos::prelude::*;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
use leptos_axum::{LeptosRoutes, generate_route_list};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tower_http::compression::Compression;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

/// A running server.
pub struct Running {
    addr: SocketAddr,
    public_url: String,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The user-change watch ([`app::backend::revocation`]), aborted at shutdown.
    watch: tokio::task::JoinHandle<()>,
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
        self.watch.abort();
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
///
/// The steps: open the users and the database, bind the public listener, start (or point at) the media
/// server, build the app's state and router, then serve.
pub async fn start(settings: Settings, throttle: ThrottlePolicy) -> anyhow::Result<Running> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (db, users) = open_users(&settings).await?;
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("listening on {}", settings.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let public_url = public_url(&settings, addr);

    let mut stop = Vec::new();
    let mut tasks = Vec::new();
    let (openvidu_settings, media) =
        media_server(&settings, &public_url, &mut stop, &mut tasks).await?;
    let state = AppState {
        users,
        throttle: Arc::new(Throttle::new(throttle)),
        openvidu: OpenVidu::new(&openvidu_settings)?,
        tokens: Arc::new(TokenQuota::new(settings.tokens.clone())),
    };
    let watch = tokio::spawn(revocation::watch(state.clone(), settings.user_watch));
    let router = app_router(
        &settings,
        addr,
        &public_url,
        state.clone(),
        media.as_ref(),
        db,
    )
    .await?;

    let (tx, rx) = oneshot::channel::<()>();
    stop.push(tx);
    tasks.push(serve(&settings, &public_url, listener, router, rx).await?);
    tracing::info!("serving on {public_url} (listening on {addr})");
    Ok(Running {
        addr,
        public_url: public_url.to_string(),
        stop,
        tasks,
        watch,
        media,
        state,
    })
}

/// Step 1: the data dir, the database, the users (demo accounts made or removed as settings say).
async fn open_users(settings: &Settings) -> anyhow::Result<(Db, Users)> {
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
    Ok((db, users))
}

/// The URL browsers use: `--public-url`, else the listener's own address (loopback for 0.0.0.0).
fn public_url(settings: &Settings, addr: SocketAddr) -> PublicUrl {
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    settings.public_url.clone().unwrap_or_else(|| {
        let host = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        PublicUrl::parse(&format!("{scheme}://{host}")).expect("a socket address makes a valid URL")
    })
}

/// Step 2: the media server. External: checked settings, with loud warnings for what weakens them.
/// Embedded: started in-process, its REST API on an internal plain-HTTP loopback listener (so that the
/// app's client needs no certificate whatever the public listener serves).
async fn media_server(
    settings: &Settings,
    public_url: &PublicUrl,
    stop: &mut Vec<oneshot::Sender<()>>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<(OpenViduSettings, Option<mediaserver::MediaServer>)> {
    match &settings.media {
        Media::External(ov) => {
            if ov.insecure_tls {
                tracing::warn!(
                    "!!! --openvidu-insecure-tls: the OpenVidu server's certificate is NOT verified. Development only. !!!"
                );
            }
            if let Ok(url) = PublicUrl::parse(&ov.url)
                && config::in_clear_to_another_machine(&url)
            {
                tracing::warn!(
                    "!!! --openvidu-allow-http: the OpenVidu secret and every token cross the network IN CLEAR to {}. !!!",
                    url.authority()
                );
            }
            Ok((ov.clone(), None))
        }
        Media::Embedded {
            udp,
            api_listen,
            public_ip,
            secret,
            reconnect_grace,
            unused_session_timeout,
            pending_connection_ttl,
            limits,
        } => {
            let secret = secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_else(random_secret);
            let mut config = mediaserver::Config::new(mediaserver::Secret::new(secret.clone()));
            config.udp = *udp;
            config.public_ip = *public_ip;
            config.reconnect_grace = *reconnect_grace;
            config.unused_session_timeout = *unused_session_timeout;
            config.pending_connection_ttl = *pending_connection_ttl;
            config.limits = *limits;
            let media = mediaserver::MediaServer::bind(config, public_url.origin()).await?;
            let internal = tokio::net::TcpListener::bind(*api_listen)
                .await
                .with_context(|| format!("--media-api-listen {api_listen}"))?;
            let internal_url = format!("http://{}", internal.local_addr()?);
            tracing::info!("the embedded media server's REST API is on {internal_url}");
            let (tx, rx) = oneshot::channel::<()>();
            let router = media.rest_router();
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
            Ok((settings, Some(media)))
        }
    }
}

/// Step 3: the public router: the site and server functions, the media server's WebSocket when
/// embedded (never its REST API), and the layers every request passes (outermost last): trace, Host
/// check, body limit, login session, security headers, server-function error status, cross-site check.
async fn app_router(
    settings: &Settings,
    addr: SocketAddr,
    public_url: &PublicUrl,
    state: AppState,
    media: Option<&mediaserver::MediaServer>,
    db: Db,
) -> anyhow::Result<Router> {
    let mut connect = match &settings.media {
        Media::Embedded { .. } => Vec::new(),
        Media::External(ov) => PublicUrl::parse(&ov.url)
            .map(|u| vec![u.websocket_origin()])
            .unwrap_or_default(),
    };
    if let Some(reload) = &settings.live_reload {
        connect.push(live_reload_source(public_url, reload));
    }
    let connect = ConnectSources(connect.join(" "));
    let mut router = site_router(settings, addr, state, connect)?;
    if let Some(media) = media {
        // Only the WebSocket is for browsers; the REST API stays on the internal listener.
        router = router.merge(media.websocket_router());
    }
    let https = settings.tls.is_some();
    let site = origin::Site::new(public_url, addr, https);
    Ok(router
        .layer(from_fn_with_state(site.clone(), origin::refuse_cross_site))
        .layer(from_fn(server_fn_status))
        .layer(from_fn_with_state(https, security_headers))
        .layer(sessions::layer(db, https).await?)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(from_fn_with_state(site, origin::refuse_other_hosts))
        .layer(TraceLayer::new_for_http()))
}

/// Step 4: serve `router` on `listener`, plain or TLS, until `stop` fires.
async fn serve(
    settings: &Settings,
    public_url: &PublicUrl,
    listener: std::net::TcpListener,
    router: Router,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let Some(tls) = &settings.tls else {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        return Ok(tokio::spawn(async move {
            let serve = axum::serve(listener, service).with_graceful_shutdown(async {
                let _ = stop.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("listener: {e}");
            }
        }));
    };
    let rustls = match tls {
        Tls::Files { cert, key } => {
            axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?
        }
        Tls::SelfSigned => {
            let (cert, key) = tls::self_signed(&settings.data_dir, public_url)?;
            axum_server::tls_rustls::RustlsConfig::from_pem(cert, key).await?
        }
    };
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, rustls).handle(handle.clone());
    Ok(tokio::spawn(async move {
        let served = tokio::spawn(async move {
            if let Err(e) = server.serve(service).await {
                tracing::error!("listener: {e}");
            }
        });
        let _ = stop.await;
        handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        let _ = served.await;
    }))
}

/// Where the page of `cargo leptos watch` opens its live-reload socket: the page's own host (as its
/// script does), the reload port.
fn live_reload_source(public_url: &PublicUrl, reload: &LiveReload) -> String {
    let scheme = if reload.secure || public_url.is_secure() {
        "wss"
    } else {
        "ws"
    };
    let host = public_url.host();
    if host.contains(':') {
        format!("{scheme}://[{host}]:{}", reload.port)
    } else {
        format!("{scheme}://{host}:{}", reload.port)
    }
}

/// The Leptos pages, the server functions, and the built files (pkg/, js/): these compressed, the
/// content-hashed ones cached for good ([`assets`]).
fn site_router(
    settings: &Settings,
    addr: SocketAddr,
    state: AppState,
    connect: ConnectSources,
) -> anyhow::Result<Router> {
    let env = std::env::var("LEPTOS_ENV")
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(leptos::config::Env::PROD);
    // Under cargo-leptos (it sets LEPTOS_OUTPUT_NAME) the site is its layout, without a manifest; a
    // manifest left there by scripts/build-app.sh would name older files.
    let assets = match std::env::var("LEPTOS_OUTPUT_NAME") {
        Ok(name) => SiteAssets {
            output_name: name,
            ..SiteAssets::unhashed()
        },
        Err(_) => SiteAssets::load(&settings.site_root)?,
    };
    let reload = settings.live_reload.clone();
    let options = LeptosOptions::builder()
        .output_name(assets.output_name.clone())
        .site_root(settings.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(env)
        .reload_port(reload.as_ref().map_or(3001, |r| u32::from(r.port)))
        .reload_ws_protocol(if reload.is_some_and(|r| r.secure) {
            leptos::config::ReloadWSProtocol::WSS
        } else {
            leptos::config::ReloadWSProtocol::WS
        })
        .build();
    let routes = generate_route_list(app::App);
    let shell_options = options.clone();
    let links = assets.links.clone();
    let files = Compression::new(
        ServeDir::new(&settings.site_root).not_found_service(axum::routing::any(not_found)),
    );
    Ok(Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || {
                provide_context(state.clone());
                provide_context(connect.clone());
            },
            move || app::shell(shell_options.clone(), links.clone()),
        )
        .fallback_service(files)
        .with_state(options)
        .layer(from_fn_with_state(assets.hashed, assets::cache_control)))
}

/// What a URL that is neither a page nor a file gets: a sentence and the way back, not an empty body.
async fn not_found() -> (axum::http::StatusCode, axum::response::Html<&'static str>) {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::response::Html(NOT_FOUND_PAGE),
    )
}

const NOT_FOUND_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Not found — Video calls</title></head>\
<body><main><h1>There is no such page</h1><p>Nothing is at this address. A call's link looks like \
<code>/call/name-of-the-call</code>.</p><p><a href=\"/\">Go to the start page</a></p></main></body></html>\n";

/// Headers every answer carries: no framing, no MIME sniffing, no referrer to other sites; under HTTPS,
/// HSTS (a year), so that a browser that came once never tries plain HTTP again.
async fn security_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert("x-frame-options", http_value("DENY"));
    headers.insert("x-content-type-options", http_value("nosniff"));
    headers.insert("referrer-policy", http_value("same-origin"));
    if https {
        headers.insert("strict-transport-security", http_value(HSTS));
    }
    res
}

/// The `Strict-Transport-Security` value under HTTPS. No `includeSubDomains`: the app cannot know
/// what else runs under its domain.
pub const HSTS: &str = "max-age=31536000";

/// A server function that fails before its body runs (a body of the wrong shape, not JSON) answers
/// 500 from the framework, with our [`AppError`] as its body: give it that error's status (and
/// `Retry-After`), so that a client error is a 4xx. Errors the body returns already have their status.
async fn server_fn_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // Our errors serialize to a few dozen bytes.
    let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let error: AppError = serde_json::from_slice(&bytes).unwrap_or(AppError::Internal);
    parts.status = axum::http::StatusCode::from_u16(error.status())
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(secs) = error.retry_after_secs() {
        parts
            .headers
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    let body = serde_json::to_vec(&error).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn http_value(v: &'static str) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_static(v)
}
