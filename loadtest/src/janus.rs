//! Janus's VideoRoom plugin over the Janus WebSocket API (sub-protocol `janus-protocol`), in the shape
//! of [`crate::signal::Signal`]: each participant is a Janus session with one publisher handle (joined
//! as a publisher even when it only watches, so that it hears of new feeds) and one subscriber handle
//! per feed; Janus offers each subscription and the client answers with `start`.
//!
//! Janus replies to a plugin message with an `ack` and later an `event` carrying the same transaction;
//! events without a transaction (new publishers, `webrtcup`, `media`) are kept for [`JanusSignal::new_streams`].

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::signal::{JsonSocket, REPLY_TIMEOUT, StreamRef};

const PLUGIN: &str = "janus.plugin.videoroom";

pub struct JanusSignal {
    socket: JsonSocket,
    session: u64,
    handle: u64,
    room: u64,
    own_feed: u64,
    next_tx: u64,
    /// Feed id → the subscriber handle receiving it.
    subscriptions: HashMap<String, u64>,
    events: VecDeque<Value>,
}

impl JanusSignal {
    /// Creates a room for up to `publishers` publishers on a connection of its own; returns its id.
    pub async fn create_room(url: &str, publishers: usize) -> anyhow::Result<u64> {
        let mut s = JanusSignal::open(url).await?;
        let r = s
            .message(
                s.handle,
                json!({
                    "request": "create", "publishers": publishers.max(1), "videocodec": "vp8", "audiocodec": "opus",
                    "bitrate": 0, "fir_freq": 0, "notify_joining": false,
                }),
                None,
            )
            .await?;
        let data = &r["plugindata"]["data"];
        let room = data["room"]
            .as_u64()
            .with_context(|| format!("create room: {}", error_text(&r)))?;
        s.leave().await;
        Ok(room)
    }

    /// A new Janus session with a VideoRoom handle, joined to `room` as a (not yet sending) publisher.
    /// Returns the feeds already published there.
    pub async fn join(
        url: &str,
        room: u64,
        name: &str,
    ) -> anyhow::Result<(JanusSignal, Vec<StreamRef>)> {
        let mut s = JanusSignal::open(url).await?;
        s.room = room;
        let r = s
            .message(
                s.handle,
                json!({ "request": "join", "ptype": "publisher", "room": room, "display": name }),
                None,
            )
            .await?;
        let data = &r["plugindata"]["data"];
        if data["videoroom"] != "joined" {
            bail!("join: {}", error_text(&r));
        }
        s.own_feed = data["id"].as_u64().context("join answered no feed id")?;
        let existing = feeds_of(data);
        Ok((s, existing))
    }

    async fn open(url: &str) -> anyhow::Result<JanusSignal> {
        let socket = JsonSocket::open(url, Some("janus-protocol")).await?;
        let mut s = JanusSignal {
            socket,
            session: 0,
            handle: 0,
            room: 0,
            own_feed: 0,
            next_tx: 0,
            subscriptions: HashMap::new(),
            events: VecDeque::new(),
        };
        let r = s.call(json!({ "janus": "create" })).await?;
        s.session = r["data"]["id"]
            .as_u64()
            .with_context(|| format!("create session: {}", error_text(&r)))?;
        s.handle = s.attach().await?;
        Ok(s)
    }

    pub fn own_id(&self) -> String {
        self.own_feed.to_string()
    }

    async fn attach(&mut self) -> anyhow::Result<u64> {
        let r = self
            .call(json!({ "janus": "attach", "plugin": PLUGIN, "session_id": self.session }))
            .await?;
        r["data"]["id"]
            .as_u64()
            .with_context(|| format!("attach: {}", error_text(&r)))
    }

    /// Sends a request with a new transaction and returns the first reply that is not an `ack`.
    async fn call(&mut self, mut request: Value) -> anyhow::Result<Value> {
        let tx = format!("t{}", self.next_tx);
        self.next_tx += 1;
        request["transaction"] = json!(tx);
        self.socket.send(&request).await?;
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(v) = self.socket.recv(left).await? else {
                bail!("Janus: no reply within {REPLY_TIMEOUT:?}")
            };
            if v["transaction"] != json!(tx) {
                self.events.push_back(v);
                continue;
            }
            match v["janus"].as_str() {
                Some("ack") => continue,
                Some("error") => bail!("Janus: {}", error_text(&v)),
                _ => return Ok(v),
            }
        }
    }

    /// A plugin message on `handle`, with a JSEP when given; returns the plugin's reply or event.
    async fn message(
        &mut self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut m = json!({ "janus": "message", "session_id": self.session, "handle_id": handle, "body": body });
        if let Some(jsep) = jsep {
            m["jsep"] = jsep;
        }
        let r = self.call(m).await?;
        if r["plugindata"]["data"].get("error").is_some() {
            bail!("Janus VideoRoom: {}", error_text(&r));
        }
        Ok(r)
    }

    pub async fn publish(&mut self, offer: &str) -> anyhow::Result<String> {
        let jsep = json!({ "type": "offer", "sdp": offer, "trickle": false });
        let r = self
            .message(
                self.handle,
                json!({ "request": "publish", "audio": true, "video": true }),
                Some(jsep),
            )
            .await?;
        r["jsep"]["sdp"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("publish answered no SDP: {}", error_text(&r)))
    }

    pub async fn subscribe_offer(&mut self, stream: &StreamRef) -> anyhow::Result<String> {
        let handle = self.attach().await?;
        let feed: u64 = stream.id.parse().context("a Janus feed id is a number")?;
        let r = self
            .message(handle, json!({ "request": "join", "ptype": "subscriber", "room": self.room, "streams": [{ "feed": feed }] }), None)
            .await?;
        self.subscriptions.insert(stream.id.clone(), handle);
        r["jsep"]["sdp"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("subscribe answered no SDP: {}", error_text(&r)))
    }

    pub async fn subscribe_answer(
        &mut self,
        stream: &StreamRef,
        answer: &str,
    ) -> anyhow::Result<()> {
        let handle = *self
            .subscriptions
            .get(&stream.id)
            .context("no subscriber handle for this feed")?;
        let jsep = json!({ "type": "answer", "sdp": answer, "trickle": false });
        self.message(handle, json!({ "request": "start" }), Some(jsep))
            .await
            .map(drop)
    }

    pub async fn new_streams(&mut self, wait: Duration) -> anyhow::Result<Vec<StreamRef>> {
        if self.events.is_empty()
            && let Some(v) = self.socket.recv(wait).await?
        {
            self.events.push_back(v);
        }
        let mut found = Vec::new();
        while let Some(e) = self.events.pop_front() {
            if e["sender"].as_u64() == Some(self.handle) {
                found.extend(feeds_of(&e["plugindata"]["data"]));
            }
        }
        Ok(found)
    }

    /// Janus answers a keepalive with an `ack` only; it is not waited for (it lands among the events,
    /// which ignore it), so that a keepalive never holds up the participant.
    pub async fn keepalive(&mut self) -> anyhow::Result<()> {
        let tx = format!("t{}", self.next_tx);
        self.next_tx += 1;
        self.socket
            .send(&json!({ "janus": "keepalive", "session_id": self.session, "transaction": tx }))
            .await
    }

    pub async fn leave(&mut self) {
        if self.session != 0 {
            let tx = format!("t{}", self.next_tx);
            self.next_tx += 1;
            let _ = self
                .socket
                .send(&json!({ "janus": "destroy", "session_id": self.session, "transaction": tx }))
                .await;
        }
        self.socket.close().await;
    }
}

/// The feeds listed in a `joined` reply or a `publishers` event.
fn feeds_of(data: &Value) -> Vec<StreamRef> {
    data["publishers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_u64())
        .map(|id| StreamRef {
            id: id.to_string(),
            owner: id.to_string(),
        })
        .collect()
}

/// Janus's own words for an error reply (code and reason), or the reply itself.
fn error_text(v: &Value) -> String {
    if let Some(e) = v.get("error") {
        return format!("{} {}", e["code"], e["reason"].as_str().unwrap_or_default());
    }
    let d = &v["plugindata"]["data"];
    if d.get("error").is_some() {
        return format!(
            "{} {}",
            d["error_code"],
            d["error"].as_str().unwrap_or_default()
        );
    }
    v.to_string().chars().take(300).collect()
}
