//! OpenVidu 2 signaling as openvidu-browser 2.32 speaks it (see `shared/design/OPENVIDU-PROTOCOL.md`):
//! a token over REST, `ping` then `joinRoom` on `/openvidu`, `publishVideo` with the client's offer,
//! and server-offered subscriptions (`prepareReceiveVideoFrom`, then `receiveVideoFrom` with the answer),
//! which is what `joinRoom` announcing `mediaServer: "mediasoup"` makes the browser do.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::http::OpenViduRest;
use crate::signal::{JsonSocket, REPLY_TIMEOUT, StreamRef};

pub struct OpenViduSignal {
    socket: JsonSocket,
    next_id: u64,
    own_id: String,
    /// Notifications that arrived while waiting for a reply.
    notifications: VecDeque<Value>,
}

impl OpenViduSignal {
    /// Takes a token for `session` with `role`, opens the socket it points at and joins. Returns the
    /// streams already published in the session.
    pub async fn join(
        rest: &OpenViduRest,
        session: &str,
        role: &str,
        name: &str,
    ) -> anyhow::Result<(OpenViduSignal, Vec<StreamRef>)> {
        let token = rest.create_token(session, role).await?;
        let (base, _) = token.split_once('?').context("the token has no query")?;
        let url = format!("{base}/openvidu?sessionId={session}");
        let socket = JsonSocket::open(&url, None).await?;
        let mut s = OpenViduSignal {
            socket,
            next_id: 0,
            own_id: String::new(),
            notifications: VecDeque::new(),
        };
        s.request("ping", json!({ "interval": 5000 })).await?;
        let joined = s
            .request(
                "joinRoom",
                json!({
                    "token": token, "session": session, "platform": "loadtest", "sdkVersion": "2.32.2",
                    "metadata": json!({ "clientData": name }).to_string(), "secret": "", "recorder": false, "stt": false,
                }),
            )
            .await?;
        s.own_id = joined["id"]
            .as_str()
            .context("joinRoom answered no id")?
            .to_owned();
        let mut existing = Vec::new();
        for p in joined["value"].as_array().into_iter().flatten() {
            existing.extend(streams_of(p));
        }
        Ok((s, existing))
    }

    pub fn own_id(&self) -> &str {
        &self.own_id
    }

    async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.socket
            .send(&json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": id }))
            .await?;
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(v) = self.socket.recv(left).await? else {
                bail!("{method}: no reply within {REPLY_TIMEOUT:?}")
            };
            if v.get("method").is_some() {
                self.notifications.push_back(v);
                continue;
            }
            if v["id"] != json!(id) {
                continue;
            }
            if let Some(e) = v.get("error") {
                bail!(
                    "{method} failed: {} {}",
                    e["code"],
                    e["message"].as_str().unwrap_or_default()
                );
            }
            return Ok(v.get("result").cloned().unwrap_or(Value::Null));
        }
    }

    pub async fn publish(&mut self, offer: &str) -> anyhow::Result<String> {
        let r = self
            .request(
                "publishVideo",
                json!({
                    "sdpOffer": offer, "doLoopback": false, "hasAudio": true, "hasVideo": true,
                    "audioActive": true, "videoActive": true, "typeOfVideo": "CAMERA", "frameRate": 30,
                    "videoDimensions": "{\"width\":640,\"height\":480}",
                }),
            )
            .await?;
        r["sdpAnswer"]
            .as_str()
            .map(str::to_owned)
            .context("publishVideo answered no sdpAnswer")
    }

    pub async fn subscribe_offer(&mut self, stream: &StreamRef) -> anyhow::Result<String> {
        let r = self
            .request(
                "prepareReceiveVideoFrom",
                json!({ "sender": stream.id, "reconnect": false }),
            )
            .await?;
        r["sdpOffer"]
            .as_str()
            .map(str::to_owned)
            .context("prepareReceiveVideoFrom answered no sdpOffer")
    }

    pub async fn subscribe_answer(
        &mut self,
        stream: &StreamRef,
        answer: &str,
    ) -> anyhow::Result<()> {
        self.request(
            "receiveVideoFrom",
            json!({ "sender": stream.id, "sdpAnswer": answer }),
        )
        .await
        .map(drop)
    }

    pub async fn new_streams(&mut self, wait: Duration) -> anyhow::Result<Vec<StreamRef>> {
        if self.notifications.is_empty()
            && let Some(v) = self.socket.recv(wait).await?
            && v.get("method").is_some()
        {
            self.notifications.push_back(v);
        }
        let mut found = Vec::new();
        while let Some(n) = self.notifications.pop_front() {
            if n["method"] == "participantPublished" {
                found.extend(streams_of(&n["params"]));
            }
        }
        Ok(found)
    }

    pub async fn keepalive(&mut self) -> anyhow::Result<()> {
        self.request("ping", json!({})).await.map(drop)
    }

    pub async fn leave(&mut self) {
        let _ = self.request("leaveRoom", json!({})).await;
        self.socket.close().await;
    }
}

/// The streams of a participant entry (`joinRoom`'s `value[]`, `participantPublished`'s params).
fn streams_of(p: &Value) -> Vec<StreamRef> {
    let owner = p["id"].as_str().unwrap_or_default();
    p["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str())
        .map(|id| StreamRef {
            id: id.to_owned(),
            owner: owner.to_owned(),
        })
        .collect()
}
