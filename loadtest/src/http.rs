//! The OpenVidu REST calls a participant needs (create a session, create a connection for a token),
//! over plain HTTP/1.1 on loopback: one request per TCP connection, as `Connection: close`. The API needs
//! no more, and this keeps an HTTP client stack out of the load generator.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one REST call may take.
const REST_TIMEOUT: Duration = Duration::from_secs(10);
/// Replies larger than this are refused (a session listing of a big load is well below).
const MAX_REPLY: usize = 4 << 20;

/// The REST API of an OpenVidu-compatible server, authenticated as `OPENVIDUAPP:<secret>`.
#[derive(Clone)]
pub struct OpenViduRest {
    addr: SocketAddr,
    authorization: String,
}

impl OpenViduRest {
    pub fn new(addr: SocketAddr, secret: &str) -> OpenViduRest {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("OPENVIDUAPP:{secret}"));
        OpenViduRest {
            addr,
            authorization: format!("Basic {basic}"),
        }
    }

    /// `POST /openvidu/api/sessions`; returns the session id.
    pub async fn create_session(&self) -> anyhow::Result<String> {
        let v = self.post("/openvidu/api/sessions", &json!({})).await?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .context("the session has no id")
    }

    /// `POST /openvidu/api/sessions/{id}/connection`; returns the token.
    pub async fn create_token(&self, session: &str, role: &str) -> anyhow::Result<String> {
        let v = self
            .post(
                &format!("/openvidu/api/sessions/{session}/connection"),
                &json!({ "role": role }),
            )
            .await?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .context("the connection has no token")
    }

    /// `GET` of any API path (e.g. `/openvidu/api/sessions`); the JSON reply.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.request("GET", path, None).await
    }

    /// `DELETE` of any API path (e.g. a connection, to revoke it).
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.request("DELETE", path, None).await.map(drop)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.request("POST", path, Some(body)).await
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let reply = exchange(
            self.addr,
            method,
            path,
            &[("Authorization", self.authorization.as_str())],
            &body,
        )
        .await?;
        if reply.status == 204 {
            return Ok(Value::Null);
        }
        if reply.status != 200 {
            // The body of an error reply names no secret; it is short and says what went wrong.
            bail!("{method} {path} answered {}", reply.summary());
        }
        serde_json::from_slice(&reply.body)
            .with_context(|| format!("{method} {path}: the reply is not JSON"))
    }
}

/// An HTTP/1.1 reply: status, header lines and body (de-chunked).
#[derive(Debug, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The values of header `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status and the start of the body, for an error message.
    pub fn summary(&self) -> String {
        let text: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect();
        format!("{}: {text}", self.status)
    }
}

/// One request on its own TCP connection (`Connection: close`), JSON body, within [`REST_TIMEOUT`].
/// `headers` go out as given; none of them shows in an error.
pub(crate) async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<Reply> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(MAX_REPLY as u64)
            .read_to_end(&mut raw)
            .await?;
        std::io::Result::Ok(raw)
    };
    let raw = tokio::time::timeout(REST_TIMEOUT, exchange)
        .await
        .with_context(|| format!("{method} {path}: no reply within {REST_TIMEOUT:?}"))?
        .with_context(|| format!("{method} {path}"))?;
    parse_response(&raw).with_context(|| format!("{method} {path}: unparseable reply"))
}

/// An HTTP/1.1 response (plain or chunked).
fn parse_response(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = &raw[split + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&data[..line_end])
            .ok()?
            .split(';')
            .next()?
            .trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// What [`connection_rate`] measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestRate {
    pub connections: usize,
    pub failed: usize,
    pub seconds: f64,
    pub per_second: f64,
}

/// Connections per session in [`connection_rate`]: within the participants a session may have (100 by
/// default on ours), so that the rate measured is of connections created, not of quota refusals.
const RATE_CONNECTIONS_PER_SESSION: usize = 50;

/// Creates `count` connections (tokens), [`RATE_CONNECTIONS_PER_SESSION`] per new session,
/// `concurrency` requests at a time, and measures how many the server creates per second (the
/// sessions are made before the clock starts). Bounded by `count` and by `limit` in time.
pub async fn connection_rate(
    rest: &OpenViduRest,
    count: usize,
    concurrency: usize,
    limit: Duration,
) -> anyhow::Result<RestRate> {
    let mut sessions = Vec::new();
    for _ in 0..count.div_ceil(RATE_CONNECTIONS_PER_SESSION) {
        sessions.push(rest.create_session().await?);
    }
    let sessions = std::sync::Arc::new(sessions);
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (rest, sessions, next) = (rest.clone(), sessions.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0usize, 0usize);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let session = &sessions[i / RATE_CONNECTIONS_PER_SESSION];
                match tokio::time::timeout_at(deadline, rest.create_token(session, "PUBLISHER"))
                    .await
                {
                    Ok(Ok(_)) => ok += 1,
                    Ok(Err(_)) => failed += 1,
                    Err(_) => break,
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        let (o, f) = w.await.context("a REST worker panicked")?;
        ok += o;
        failed += f;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(RestRate {
        connections: ok,
        failed,
        seconds,
        per_second: ok as f64 / seconds.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_and_chunked_replies_parse() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: id=1; Path=/\r\n\r\n{}";
        let reply = super::parse_response(plain).unwrap();
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, b"{}".as_slice())
        );
        assert_eq!(
            reply.header_values("set-cookie").collect::<Vec<_>>(),
            ["id=1; Path=/"]
        );
        let chunked =
            b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let reply = super::parse_response(chunked).unwrap();
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (409, b"{}".as_slice())
        );
        assert_eq!(super::parse_response(b"garbage"), None);
    }
}
