//! Each test gets its own server on a random loopback port, its own SQLite file and its own embedded
//! media server: the real thing, reached over HTTP with reqwest, and over the media server's WebSocket
//! with a small JSON-RPC client ([`Ws`]). The one home of the server tests' helpers.
#![allow(dead_code)]

use app::backend::throttle::ThrottlePolicy;
use futures_util::{SinkExt, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use server::config::{Media, Settings};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for something it expects (then it fails).
pub const WAIT: Duration = Duration::from_secs(15);

/// The embedded media server's REST secret in tests (to call its API directly, as a tool would).
pub const MEDIA_SECRET: &str = "test-media-secret";

pub struct TestApp {
    pub running: server::Running,
    pub base: String,
    pub http: reqwest::Client,
}

pub fn settings(data_dir: &Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        public_url: None,
        data_dir: data_dir.to_owned(),
        demo: true,
        media: Media::Embedded {
            udp: "127.0.0.1:0".parse().unwrap(),
            api_listen: "127.0.0.1:0".parse().unwrap(),
            public_ip: None,
            secret: Some(app::backend::openvidu::Secret::new(MEDIA_SECRET)),
            reconnect_grace: Duration::from_secs(15),
            unused_session_timeout: Duration::from_secs(3600),
            pending_connection_ttl: Duration::from_secs(120),
            limits: mediaserver::Limits::default(),
        },
        site_root: data_dir.join("site"),
        tokens: app::backend::quota::TokenPolicy::default(),
        user_watch: Duration::from_secs(1),
        live_reload: None,
    }
}

pub fn small_throttle() -> ThrottlePolicy {
    ThrottlePolicy {
        per_account: 3,
        per_account_total: 6,
        trusted_for: Duration::from_secs(3600),
        per_address: 6,
        window: Duration::from_secs(600),
        lockout: Duration::from_secs(60),
        max_lockout: Duration::from_secs(600),
    }
}

impl TestApp {
    pub async fn start(data_dir: &Path) -> TestApp {
        TestApp::start_with(settings(data_dir), small_throttle()).await
    }

    pub async fn start_with(settings: Settings, throttle: ThrottlePolicy) -> TestApp {
        let running = server::start(settings, throttle)
            .await
            .expect("server starts");
        let base = format!("http://{}", running.addr());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            running,
            base,
            http,
        }
    }

    /// A client whose connections come from `ip` (any 127.x.y.z address reaches the loopback
    /// listener), to act as another client address.
    pub fn client_from(ip: IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(ip)
            .build()
            .unwrap()
    }

    /// POSTs JSON to `path` with an optional session cookie and extra headers.
    pub async fn post(
        &self,
        path: &str,
        body: Value,
        cookie: Option<&str>,
        extra: &[(&'static str, &str)],
    ) -> Answer {
        self.post_via(&self.http, path, body, cookie, extra).await
    }

    /// POSTs a raw body (whatever its shape) as JSON to `path`.
    pub async fn post_raw(&self, path: &str, body: &str, cookie: Option<&str>) -> Answer {
        let mut req = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        Answer::read(req.send().await.unwrap()).await
    }

    /// As [`TestApp::post`], through `client` (e.g. one from [`TestApp::client_from`]).
    pub async fn post_via(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Value,
        cookie: Option<&str>,
        extra: &[(&'static str, &str)],
    ) -> Answer {
        let mut headers = HeaderMap::new();
        if let Some(c) = cookie {
            headers.insert("cookie", HeaderValue::from_str(c).unwrap());
        }
        for (k, v) in extra {
            headers.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        let res = client
            .post(format!("{}{}", self.base, path))
            .headers(headers)
            .json(&body)
            .send()
            .await
            .unwrap();
        Answer::read(res).await
    }

    /// A token for `call` (asserting it is given).
    pub async fn token(&self, cookie: &str, call: &str) -> Value {
        let a = self
            .post(
                "/api/get-token",
                serde_json::json!({ "call": call }),
                Some(cookie),
                &[],
            )
            .await;
        assert_eq!(a.status, 200, "get-token: {}", a.text);
        a.json
    }

    /// The connections of `call` on the media server (pending ones too), as the app's own REST client
    /// sees them.
    pub async fn connections(&self, call: &str) -> Vec<app::backend::openvidu::Connection> {
        let session = self.running.state().openvidu.session(call).await.unwrap();
        session.map(|s| s.connections.content).unwrap_or_default()
    }

    /// Waits (up to [`WAIT`]) until `check` holds for `call`'s connections.
    pub async fn wait_connections(
        &self,
        call: &str,
        what: &str,
        check: impl Fn(&[app::backend::openvidu::Connection]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if check(&self.connections(call).await) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens the media server's WebSocket on the app's own origin.
    pub async fn ws(&self) -> Ws {
        Ws::connect(&format!("ws://{}/openvidu", self.running.addr())).await
    }

    /// A new socket joined to the call of `ticket` (a get-token answer).
    pub async fn join(&self, ticket: &Value, nickname: &str) -> Ws {
        let mut ws = self.ws().await;
        let token = ticket["token"].as_str().unwrap();
        ws.join(token, nickname).await.expect("joinRoom succeeds");
        ws
    }

    /// Logs in; the `name=value` session cookie.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let a = self
            .post(
                "/api/login",
                serde_json::json!({"username": user, "password": password}),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 200, "login of {user}: {}", a.text);
        a.cookie().expect("a session cookie")
    }
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub async fn read(res: reqwest::Response) -> Answer {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
    }
    /// The `name=value` part of Set-Cookie.
    pub fn cookie(&self) -> Option<String> {
        Some(self.set_cookie()?.split(';').next()?.trim().to_owned())
    }
}

/// The app under HTTPS with a generated self-signed certificate, and a client that accepts it.
pub async fn start_https(data_dir: &Path) -> (server::Running, reqwest::Client) {
    let mut settings = settings(data_dir);
    settings.tls = Some(server::config::Tls::SelfSigned);
    let running = server::start(settings, small_throttle()).await.unwrap();
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    (running, http)
}

/// A JSON-RPC 2.0 client of the media server's WebSocket, as openvidu-browser speaks it (only what the
/// tests need). Notifications read while waiting for a reply are kept in `notifications`.
pub struct Ws {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    pub notifications: Vec<Value>,
    pub closed: bool,
    /// The `sessionId` of the `joinRoom` result: what openvidu-browser's `connect` presents after a
    /// lost socket.
    pub rpc_session: Option<String>,
}

impl Ws {
    pub async fn connect(url: &str) -> Ws {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket opens");
        Ws {
            socket,
            next_id: 0,
            notifications: Vec::new(),
            closed: false,
            rpc_session: None,
        }
    }

    /// The next JSON message, `None` once the socket is closed; fails the test after [`WAIT`].
    async fn read(&mut self) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a WebSocket message in time");
            match next {
                Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    self.closed = true;
                    return None;
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends a request; its `result`, or its `error` object.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let frame =
            serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        if self
            .socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            self.closed = true;
            return Err(Value::Null);
        }
        loop {
            let Some(v) = self.read().await else {
                return Err(Value::Null);
            };
            if v.get("method").is_some() {
                self.notifications.push(v);
            } else if v["id"] == id {
                return match v.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    pub async fn join(&mut self, token: &str, nickname: &str) -> Result<Value, Value> {
        let session = token
            .split_once("sessionId=")
            .and_then(|(_, rest)| rest.split('&').next())
            .unwrap_or_default()
            .to_owned();
        let metadata = serde_json::json!({ "clientData": nickname }).to_string();
        let result = self
            .request(
                "joinRoom",
                serde_json::json!({
                    "token": token, "session": session, "platform": "server tests", "sdkVersion": "2.32.2",
                    "metadata": metadata, "secret": "", "recorder": false,
                }),
            )
            .await?;
        self.rpc_session = result["sessionId"].as_str().map(str::to_owned);
        Ok(result)
    }

    /// Waits for a notification `method` whose params satisfy `matches` (kept ones first).
    pub async fn notification(&mut self, method: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let hit = |v: &Value| v["method"] == method && matches(&v["params"]);
        if let Some(i) = self.notifications.iter().position(hit) {
            return self.notifications.remove(i);
        }
        loop {
            let v = self
                .read()
                .await
                .unwrap_or_else(|| panic!("closed before {method}"));
            if hit(&v) {
                return v;
            }
            self.notifications.push(v);
        }
    }

    /// Reads until the server closes the socket (fails the test after [`WAIT`]).
    pub async fn wait_closed(&mut self) {
        while let Some(v) = self.read().await {
            self.notifications.push(v);
        }
    }
}
