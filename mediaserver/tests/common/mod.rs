//! What the integration tests share: a real server per test on random ports, a small REST client
//! (raw HTTP/1.1 over a TcpStream: the API needs no more) and a typed JSON-RPC client over
//! tokio-tungstenite that speaks to `/openvidu` as openvidu-browser does.
//!
//! Nothing here sleeps to synchronise: every wait is for a condition (a reply, a notification, a
//! REST state) under a deadline, and a missed deadline fails the test with what was seen.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use mediaserver::{Config, Handle};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};
use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected event may take. Generous: CI machines are slow and shared.
pub const WAIT: Duration = Duration::from_secs(10);

/// What the browser sends as `sdkVersion`.
pub const SDK_VERSION: &str = "2.32.2";

pub fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// A server under test: in-process (with its [`Handle`]) or a child process reached by address.
pub struct TestServer {
    pub handle: Option<Handle>,
    pub addr: SocketAddr,
    pub secret: String,
}

/// A server on 127.0.0.1 with random ports, a random secret and a 1 s reconnection grace.
pub async fn spawn_server() -> TestServer {
    spawn_server_with(|_| {}).await
}

/// Like [`spawn_server`], with a chance to change the configuration first.
pub async fn spawn_server_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
    let secret = format!("sec-{}", random_string(24));
    let mut config = testkit::loopback_media_config(&secret);
    config.reconnect_grace = Duration::from_secs(1);
    adjust(&mut config);
    let handle = mediaserver::start(config).await.expect("the server starts");
    let addr = handle.http_addr();
    TestServer {
        handle: Some(handle),
        addr,
        secret,
    }
}

impl TestServer {
    /// What tokens point at: the listener's own URL unless configured otherwise.
    pub fn public_url(&self) -> String {
        match &self.handle {
            Some(h) => h.public_url().to_owned(),
            None => format!("http://{}", self.addr),
        }
    }

    /// The `Authorization` header value the node client sends.
    pub fn basic_auth(&self) -> String {
        basic_auth(&self.secret)
    }

    /// A REST call with the right credentials; `body` is sent as JSON when given.
    pub async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        let body = body.map(|b| b.to_string());
        let ct = body.as_ref().map(|_| "application/json");
        http(
            self.addr,
            method,
            path,
            Some(&self.basic_auth()),
            ct,
            body.as_deref().unwrap_or("").as_bytes(),
        )
        .await
    }

    /// `POST /openvidu/api/sessions` with default properties; returns the session id.
    pub async fn create_session(&self) -> String {
        let r = self
            .rest("POST", "/openvidu/api/sessions", Some(json!({})))
            .await;
        assert_eq!(r.status, 200, "create session: {}", r.text());
        r.json()["id"].as_str().expect("session id").to_owned()
    }

    /// `POST /openvidu/api/sessions/{id}/connection`; returns (connectionId, token).
    pub async fn create_connection(&self, session: &str, role: &str) -> (String, String) {
        let r = self
            .rest(
                "POST",
                &format!("/openvidu/api/sessions/{session}/connection"),
                Some(json!({ "role": role, "data": "" })),
            )
            .await;
        assert_eq!(r.status, 200, "create connection: {}", r.text());
        let v = r.json();
        (
            v["connectionId"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn token(&self, session: &str, role: &str) -> String {
        self.create_connection(session, role).await.1
    }

    /// Whether `GET /openvidu/api/sessions/{id}` finds the session.
    pub async fn session_exists(&self, session: &str) -> bool {
        let r = self
            .rest("GET", &format!("/openvidu/api/sessions/{session}"), None)
            .await;
        match r.status {
            200 => true,
            404 => false,
            s => panic!("GET session answered {s}: {}", r.text()),
        }
    }

    /// Waits (under [`WAIT`]) until the session is gone over REST.
    pub async fn wait_session_gone(&self, session: &str) {
        let deadline = Instant::now() + WAIT;
        while self.session_exists(session).await {
            assert!(
                Instant::now() < deadline,
                "session {session} still exists after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await; // polling interval, not a synchronisation
        }
    }

    /// A socket to `/openvidu?sessionId=<session>`, as openvidu-browser opens it.
    pub async fn open_socket(&self, session: &str) -> Rpc {
        Rpc::open(&format!("ws://{}/openvidu?sessionId={session}", self.addr)).await
    }

    /// Opens the socket a token points at.
    pub async fn connect(&self, token: &str) -> Rpc {
        let session = token_param(token, "sessionId").expect("the token names its session");
        // The browser connects to the token's host; for these tests that is always this server.
        assert!(
            token.starts_with(&format!("ws://{}", self.addr)),
            "token {token} points elsewhere"
        );
        self.open_socket(&session).await
    }

    /// A new participant with `role`: connection, socket, `joinRoom`. Returns the client and the result.
    pub async fn join(&self, session: &str, role: &str, metadata: &str) -> (Rpc, Value) {
        let token = self.token(session, role).await;
        let mut rpc = self.connect(&token).await;
        let result = rpc.join(&token, metadata).await.expect("joinRoom succeeds");
        (rpc, result)
    }
}

pub use testkit::basic_auth;

/// An error body in the reference server's shape, with a message a person can act on.
pub fn assert_error_body(r: &HttpResponse, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    let body = r.json();
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message says what is wrong: {body}"
    );
    assert!(
        body["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/openvidu/api")),
        "{body}"
    );
}

/// A query parameter of a token URL.
pub fn token_param(token: &str, key: &str) -> Option<String> {
    let query = token.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> HttpResponse {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = authorization {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        std::io::Result::Ok(raw)
    };
    let raw = tokio::time::timeout(WAIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no response within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "{method} {path}: unparseable response {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC client
// ---------------------------------------------------------------------------------------------

/// The `error` object of a JSON-RPC reply.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcErrorObj {
    pub code: i64,
    pub message: String,
}

impl RpcErrorObj {
    fn from_json(e: &Value) -> RpcErrorObj {
        RpcErrorObj {
            code: e["code"]
                .as_i64()
                .unwrap_or_else(|| panic!("error without an integer code: {e}")),
            message: e["message"].as_str().unwrap_or_default().to_owned(),
        }
    }
}

/// A WebSocket to `/openvidu`: requests are matched to replies by id; notifications that arrive in
/// between are kept, in order, for [`Rpc::next_notification`].
pub struct Rpc {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    notifications: VecDeque<Value>,
    /// Replies that matched no request of ours (e.g. `"id": null` for an unparseable frame).
    stray_replies: VecDeque<Value>,
    /// The close frame, once the server closed the socket.
    pub closed: Option<Option<CloseFrame>>,
    /// The `sessionId` of the `joinRoom` result, for `connect` after a socket loss.
    pub rpc_session: Option<String>,
    /// Every notification received, consumed or not, in order: what the participant has heard.
    heard: Vec<Value>,
}

impl Rpc {
    pub async fn open(url: &str) -> Rpc {
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::connect_async_with_config(url, None, true),
        )
        .await
        .unwrap_or_else(|_| panic!("WebSocket {url}: no handshake within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("WebSocket {url}: {e}"));
        Rpc {
            ws,
            next_id: 0,
            notifications: VecDeque::new(),
            stray_replies: VecDeque::new(),
            closed: None,
            rpc_session: None,
            heard: Vec::new(),
        }
    }

    /// Like [`Rpc::open`] over a socket with a tiny receive buffer: a client that stops reading
    /// stalls the server's writes to it almost at once.
    pub async fn open_with_small_receive_buffer(addr: SocketAddr, url: &str) -> Rpc {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(addr).await.expect("TCP connect");
        stream.set_nodelay(true).unwrap();
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)),
        )
        .await
        .unwrap_or_else(|_| panic!("WebSocket {url}: no handshake within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("WebSocket {url}: {e}"));
        Rpc {
            ws,
            next_id: 0,
            notifications: VecDeque::new(),
            stray_replies: VecDeque::new(),
            closed: None,
            rpc_session: None,
            heard: Vec::new(),
        }
    }

    /// Reads whatever arrives until the socket has been quiet for `quiet` or is closed; returns the
    /// notifications received (for a client that stopped reading and now catches up).
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut all: Vec<Value> = self.notifications.drain(..).collect();
        while let Ok(Some(v)) = tokio::time::timeout(quiet, self.read()).await {
            if v.get("method").is_some() {
                all.push(v);
            }
        }
        all
    }

    /// Sends one text frame as is.
    pub async fn send_raw(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::text(text.into()))
            .await
            .expect("sending a frame");
    }

    /// Sends one binary frame.
    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.ws
            .send(Message::binary(data))
            .await
            .expect("sending a frame");
    }

    /// Sends a request without waiting for the reply; false once the socket is gone (a flooder's
    /// last sends may find it closed).
    pub async fn try_send_request(&mut self, method: &str, params: Value) -> bool {
        let id = self.next_id;
        self.next_id += 1;
        let text =
            json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": id }).to_string();
        self.ws.send(Message::text(text)).await.is_ok()
    }

    /// Takes in whatever has already arrived, without waiting: a client that floods must still read,
    /// or both ends end up blocked on full buffers.
    /// How many replies were read but not yet asked for.
    pub fn buffered_replies(&self) -> usize {
        self.stray_replies.len()
    }

    pub fn read_ready(&mut self) {
        use futures_util::FutureExt;
        while let Some(Some(v)) = self.read().now_or_never() {
            if v.get("method").is_some() {
                self.notifications.push_back(v);
            } else {
                self.stray_replies.push_back(v);
            }
        }
    }

    /// Reads as a slow client does, pausing after each message, until the socket is closed or quiet for
    /// `quiet`; returns the notifications read. The pause is the behaviour under test, not a wait.
    pub async fn read_slowly(&mut self, pause: Duration, quiet: Duration) -> Vec<Value> {
        let mut all: Vec<Value> = self.notifications.drain(..).collect();
        while let Ok(Some(v)) = tokio::time::timeout(quiet, self.read()).await {
            if v.get("method").is_some() {
                all.push(v);
            }
            tokio::time::sleep(pause).await;
        }
        all
    }

    /// Sends a request and returns its id, without waiting for the reply.
    pub async fn send_request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send_raw(
            json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": id }).to_string(),
        )
        .await;
        id
    }

    /// The next JSON message, or `None` once the socket is closed.
    async fn read(&mut self) -> Option<Value> {
        if self.closed.is_some() {
            return None;
        }
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t)
                        .unwrap_or_else(|e| panic!("server sent non-JSON ({e}): {t}"));
                    assert_eq!(
                        v["jsonrpc"], "2.0",
                        "every server message carries jsonrpc 2.0: {v}"
                    );
                    if v.get("method").is_some() {
                        self.heard.push(v.clone());
                    }
                    return Some(v);
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = Some(frame);
                    return None;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    self.closed = Some(None);
                    return None;
                }
            }
        }
    }

    /// Reads until `done` accepts a message, sorting everything else into the buffers.
    async fn read_until(&mut self, what: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.read()).await;
            let Ok(next) = next else {
                panic!(
                    "{what}: nothing within {WAIT:?}; pending notifications: {:?}",
                    self.notifications
                )
            };
            let Some(v) = next else {
                panic!(
                    "{what}: the socket was closed ({:?}); pending notifications: {:?}",
                    self.closed, self.notifications
                )
            };
            if done(&v) {
                return v;
            }
            if v.get("method").is_some() {
                self.notifications.push_back(v);
            } else {
                self.stray_replies.push_back(v);
            }
        }
    }

    /// Waits for the reply to request `id`.
    pub async fn reply(&mut self, id: u64) -> Result<Value, RpcErrorObj> {
        let v = self
            .read_until(&format!("reply to request {id}"), |v| {
                v.get("method").is_none() && v["id"] == json!(id)
            })
            .await;
        parse_reply(&v)
    }

    /// A request and its reply.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, RpcErrorObj> {
        let id = self.send_request(method, params).await;
        self.reply(id).await
    }

    /// The next reply that matched none of our requests (e.g. to an unparseable frame).
    pub async fn next_stray_reply(&mut self) -> Value {
        if let Some(v) = self.stray_replies.pop_front() {
            return v;
        }
        self.read_until("a reply", |v| v.get("method").is_none())
            .await
    }

    /// The params of the next `method` notification (earlier ones of other methods stay buffered).
    pub async fn next_notification(&mut self, method: &str) -> Value {
        if let Some(i) = self
            .notifications
            .iter()
            .position(|n| n["method"] == method)
        {
            return self.notifications.remove(i).unwrap()["params"].clone();
        }
        let v = self
            .read_until(&format!("notification {method}"), |v| v["method"] == method)
            .await;
        v["params"].clone()
    }

    /// The next `method` notification whose params satisfy `pred`; others of that method are dropped.
    pub async fn next_notification_where(
        &mut self,
        method: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        loop {
            let p = self.next_notification(method).await;
            if pred(&p) {
                return p;
            }
        }
    }

    /// Notifications received so far and not consumed, in order.
    pub fn buffered(&self) -> &VecDeque<Value> {
        &self.notifications
    }

    /// Whether a `method` notification about connection `cid` (its `id` or `connectionId`) has been
    /// received, consumed or not.
    pub fn has_heard(&self, method: &str, cid: &str) -> bool {
        self.heard.iter().any(|n| {
            n["method"] == method
                && (n["params"]["id"] == cid || n["params"]["connectionId"] == cid)
        })
    }

    /// Whether a `method` notification has been received and not consumed.
    pub fn has_buffered(&self, method: &str) -> bool {
        self.notifications.iter().any(|n| n["method"] == method)
    }

    /// `joinRoom` with the params openvidu-browser 2.32 sends.
    pub async fn join(&mut self, token: &str, metadata: &str) -> Result<Value, RpcErrorObj> {
        let session = token_param(token, "sessionId").unwrap_or_default();
        let result = self
            .request(
                "joinRoom",
                json!({
                    "token": token, "session": session, "platform": "Rust test client", "sdkVersion": SDK_VERSION,
                    "metadata": metadata, "secret": "", "recorder": false, "stt": false,
                }),
            )
            .await?;
        self.rpc_session = result["sessionId"].as_str().map(str::to_owned);
        Ok(result)
    }

    /// A ping that tolerates whatever else arrives first: true once answered, false if the server
    /// closed the socket instead. Not answering at all within [`WAIT`] fails the test.
    pub async fn try_ping(&mut self) -> bool {
        let id = self.next_id;
        if !self.try_send_request("ping", json!({})).await {
            return false;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.read()).await {
                Err(_) => panic!("no answer to a ping within {WAIT:?}"),
                Ok(None) => return false,
                Ok(Some(v)) if v.get("method").is_none() && v["id"] == json!(id) => return true,
                Ok(Some(v)) if v.get("method").is_some() => self.notifications.push_back(v),
                Ok(Some(_)) => {}
            }
        }
    }

    /// `ping` with the first-ping params: proves the socket is served.
    pub async fn ping(&mut self) {
        let r = self
            .request("ping", json!({ "interval": 5000 }))
            .await
            .expect("ping answered");
        assert_eq!(r["value"], "pong");
    }

    /// Reads until the server closes the socket; returns the close frame, if it sent one.
    pub async fn wait_closed(&mut self) -> Option<CloseFrame> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.closed.is_none() {
            match tokio::time::timeout_at(deadline, self.read()).await {
                Ok(Some(v)) if v.get("method").is_some() => self.notifications.push_back(v),
                Ok(Some(v)) => self.stray_replies.push_back(v),
                Ok(None) => {}
                Err(_) => panic!("the server did not close the socket within {WAIT:?}"),
            }
        }
        self.closed.clone().flatten()
    }

    /// Drops the TCP connection without a close handshake, as a crashed browser or lost network does.
    pub fn drop_abruptly(self) {
        let Rpc { ws, .. } = self;
        let stream = ws.into_inner();
        drop(stream);
    }

    /// Closes the socket with a normal close handshake (no `leaveRoom`).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

fn parse_reply(v: &Value) -> Result<Value, RpcErrorObj> {
    match (v.get("result"), v.get("error")) {
        (Some(r), None) => Ok(r.clone()),
        (None, Some(e)) => Err(RpcErrorObj::from_json(e)),
        _ => panic!("a reply must carry exactly one of result and error: {v}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Media: SDP from a real WebRTC stack (str0m), in the roles the browser plays
// ---------------------------------------------------------------------------------------------

/// A send-only offer with one audio and one video m-line, as a publishing browser makes.
pub fn publisher_offer() -> (Rtc, SdpPendingOffer, String) {
    let mut rtc = Rtc::builder().build(Instant::now());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = change.apply().expect("an offer with two m-lines");
    let sdp = offer.to_sdp_string();
    (rtc, pending, sdp)
}

/// Checks that `answer` is SDP a WebRTC stack accepts for `pending`.
pub fn accept_answer(rtc: &mut Rtc, pending: SdpPendingOffer, answer: &str) {
    let answer = SdpAnswer::from_sdp_string(answer).expect("the server's answer parses as SDP");
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .expect("the server's answer fits our offer");
}

/// A subscribing browser's answer to a server offer.
pub fn answer_offer(offer: &str) -> (Rtc, String) {
    let mut rtc = Rtc::builder().build(Instant::now());
    let offer = SdpOffer::from_sdp_string(offer).expect("the server's offer parses as SDP");
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .expect("a WebRTC stack accepts the server's offer");
    (rtc, answer.to_sdp_string())
}

/// `publishVideo` with a real offer and the params openvidu-browser sends for a camera.
pub async fn publish(rpc: &mut Rpc) -> Value {
    let (mut rtc, pending, offer) = publisher_offer();
    let result = rpc
        .request(
            "publishVideo",
            json!({
                "sdpOffer": offer, "doLoopback": false, "hasAudio": true, "hasVideo": true,
                "audioActive": true, "videoActive": true, "typeOfVideo": "CAMERA", "frameRate": 30,
                "videoDimensions": "{\"width\":640,\"height\":480}",
            }),
        )
        .await
        .expect("publishVideo succeeds");
    accept_answer(
        &mut rtc,
        pending,
        result["sdpAnswer"].as_str().expect("sdpAnswer is a string"),
    );
    result
}

/// Sends `sendMessage` to everyone from `rpc` and returns the data used, to serve as a barrier:
/// whatever a participant was sent before it, it has received when this arrives.
pub async fn broadcast_marker(rpc: &mut Rpc) -> String {
    let data = format!("marker-{}", random_string(8));
    let message = json!({ "to": [], "data": data, "type": "signal:marker" }).to_string();
    rpc.request("sendMessage", json!({ "message": message }))
        .await
        .expect("sendMessage succeeds");
    data
}

/// Waits for the marker `data` (see [`broadcast_marker`]).
pub async fn wait_marker(rpc: &mut Rpc, data: &str) {
    rpc.next_notification_where("sendMessage", |p| p["data"] == data)
        .await;
}

/// A server-offered subscription of `viewer` to `stream`, answered by a real WebRTC stack.
pub async fn subscribe(viewer: &mut Rpc, stream: &str) -> Rtc {
    let offer = viewer
        .request("prepareReceiveVideoFrom", json!({ "sender": stream }))
        .await
        .expect("prepareReceiveVideoFrom succeeds");
    let (rtc, answer) = answer_offer(offer["sdpOffer"].as_str().expect("sdpOffer is a string"));
    viewer
        .request(
            "receiveVideoFrom",
            json!({ "sender": stream, "sdpAnswer": answer }),
        )
        .await
        .expect("receiveVideoFrom succeeds");
    rtc
}
