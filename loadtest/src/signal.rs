//! What a synthetic participant needs from a server's signaling, whichever server it is: join a room,
//! publish (the client offers), subscribe (the server offers, the client answers), hear of new streams,
//! keep the session alive, leave. [`crate::openvidu`] and [`crate::janus`] speak it.

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::janus::JanusSignal;
use crate::openvidu::OpenViduSignal;

/// How long a reply to one request may take (openvidu-browser gives up after 10 s too).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A published stream as a subscriber names it: OpenVidu's streamId, or Janus's feed id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRef {
    pub id: String,
    /// The publishing participant (connectionId or feed id).
    pub owner: String,
}

/// The signaling of one participant.
pub enum Signal {
    OpenVidu(OpenViduSignal),
    Janus(JanusSignal),
}

impl Signal {
    /// Publishes: sends the offer, returns the server's answer.
    pub async fn publish(&mut self, offer: &str) -> anyhow::Result<String> {
        match self {
            Signal::OpenVidu(s) => s.publish(offer).await,
            Signal::Janus(s) => s.publish(offer).await,
        }
    }
    /// Asks to subscribe to `stream`; returns the server's offer.
    pub async fn subscribe_offer(&mut self, stream: &StreamRef) -> anyhow::Result<String> {
        match self {
            Signal::OpenVidu(s) => s.subscribe_offer(stream).await,
            Signal::Janus(s) => s.subscribe_offer(stream).await,
        }
    }
    /// Completes a subscription with the client's answer.
    pub async fn subscribe_answer(
        &mut self,
        stream: &StreamRef,
        answer: &str,
    ) -> anyhow::Result<()> {
        match self {
            Signal::OpenVidu(s) => s.subscribe_answer(stream, answer).await,
            Signal::Janus(s) => s.subscribe_answer(stream, answer).await,
        }
    }
    /// Streams published since the last call (waits at most `wait`).
    pub async fn new_streams(&mut self, wait: Duration) -> anyhow::Result<Vec<StreamRef>> {
        match self {
            Signal::OpenVidu(s) => s.new_streams(wait).await,
            Signal::Janus(s) => s.new_streams(wait).await,
        }
    }
    /// What keeps the session alive (a ping, a keepalive).
    pub async fn keepalive(&mut self) -> anyhow::Result<()> {
        match self {
            Signal::OpenVidu(s) => s.keepalive().await,
            Signal::Janus(s) => s.keepalive().await,
        }
    }
    /// Leaves the room and closes the socket.
    pub async fn leave(&mut self) {
        match self {
            Signal::OpenVidu(s) => s.leave().await,
            Signal::Janus(s) => s.leave().await,
        }
    }
    /// Whether the server's own ID for this participant is `owner` (so it does not subscribe to itself).
    pub fn is_me(&self, owner: &str) -> bool {
        match self {
            Signal::OpenVidu(s) => s.own_id() == owner,
            Signal::Janus(s) => s.own_id() == owner,
        }
    }
}

/// A WebSocket carrying one JSON object per text frame.
pub struct JsonSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    closed: bool,
}

impl JsonSocket {
    /// Opens `url`, asking for `protocol` as the WebSocket sub-protocol when given.
    pub async fn open(url: &str, protocol: Option<&str>) -> anyhow::Result<JsonSocket> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().context("a WebSocket URL")?;
        if let Some(p) = protocol {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                p.parse().context("a sub-protocol name")?,
            );
        }
        let (ws, _) =
            tokio::time::timeout(REPLY_TIMEOUT, tokio_tungstenite::connect_async(request))
                .await
                .context("no WebSocket handshake in time")?
                .context("the WebSocket handshake failed")?;
        Ok(JsonSocket { ws, closed: false })
    }

    pub async fn send(&mut self, v: &Value) -> anyhow::Result<()> {
        self.ws
            .send(Message::text(v.to_string()))
            .await
            .context("sending on the WebSocket")
    }

    /// The next JSON message; `None` when `wait` passes first. An error once the socket is closed.
    /// Cancel-safe: nothing is lost if the future is dropped.
    pub async fn recv(&mut self, wait: Duration) -> anyhow::Result<Option<Value>> {
        if self.closed {
            bail!("the server closed the WebSocket");
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(next) => next,
            };
            match next {
                Some(Ok(Message::Text(t))) => match serde_json::from_str(&t) {
                    Ok(v) => return Ok(Some(v)),
                    Err(_) => bail!("the server sent a frame that is not JSON"),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    self.closed = true;
                    bail!("the server closed the WebSocket");
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(&mut self) {
        if !self.closed {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
            self.closed = true;
        }
    }
}
