//! A client of the OpenVidu 2 REST API (`/openvidu/api`, Basic `OPENVIDUAPP:<secret>`): the four calls
//! token management needs. It does not own any state about sessions: the media server is the source of
//! truth, asked each time.
//!
//! TLS is verified with the usual web roots; a private CA can be added, and only an explicit development
//! flag turns verification off, for this client alone.

use crate::model::Role;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Why a REST call failed. Carries no secret and no token.
#[derive(Debug, thiserror::Error)]
pub enum OpenViduError {
    #[error("the media server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the media server answered {0}")]
    Status(u16),
    #[error("the media server's answer is unreadable: {0}")]
    Protocol(String),
}

/// The OpenVidu secret: one type for every edge of the workspace.
pub use config_types::Secret;

/// How to reach the media server.
#[derive(Clone)]
pub struct OpenViduSettings {
    /// `http(s)://host[:port]`; any path is ignored, as openvidu-node-client does.
    pub url: String,
    pub secret: Secret,
    /// Extra PEM root certificate(s) to trust (a private CA).
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate. Development only; logged loudly at start-up.
    pub insecure_tls: bool,
}

#[derive(Clone)]
pub struct OpenVidu {
    base: String,
    authorization: String,
    http: reqwest::Client,
}

impl fmt::Debug for OpenVidu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenVidu")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The parts of a Connection object (protocol C.4.2) this app reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub server_data: Option<String>,
    /// `pending` (never joined) or `active`.
    #[serde(default)]
    pub status: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub created_at: Option<u64>,
}

impl Connection {
    /// Whether it was never joined (its token is still unused).
    pub fn is_pending(&self) -> bool {
        self.status.as_deref() == Some("pending")
    }

    /// The user the app made it for, if the app made it.
    pub fn owner(&self) -> Option<String> {
        let data = crate::model::ConnectionData::parse(self.server_data.as_deref()?)?;
        Some(data.user)
    }
}

/// The parts of a Session object (protocol C.4.1) this app reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub session_id: String,
    pub connections: Connections,
}

/// `GET /sessions` (protocol C.4.1 list).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    pub content: Vec<Session>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connections {
    pub number_of_elements: usize,
    pub content: Vec<Connection>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewSession<'a> {
    custom_session_id: &'a str,
}

#[derive(Serialize)]
struct NewConnection<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    role: Role,
    data: &'a str,
}

/// The result of creating a session: whether it is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

impl OpenVidu {
    pub fn new(settings: &OpenViduSettings) -> anyhow::Result<OpenVidu> {
        // reqwest is built without a default crypto provider; use aws-lc-rs, as the rest of the workspace.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let url = config_types::PublicUrl::parse(&settings.url)
            .map_err(|e| anyhow::anyhow!("the OpenVidu URL: {e}"))?;
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &settings.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                http = http.add_root_certificate(cert);
            }
        }
        if settings.insecure_tls {
            http = http.danger_accept_invalid_certs(true);
        }
        let credentials = format!("OPENVIDUAPP:{}", settings.secret.expose());
        Ok(OpenVidu {
            base: format!("{}/openvidu/api", url.origin()),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
            http: http.build()?,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .header("Authorization", &self.authorization)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, OpenViduError> {
        // The error text names the URL, which holds no secret.
        req.send()
            .await
            .map_err(|e| OpenViduError::Unreachable(e.without_url().to_string()))
    }

    /// `POST /sessions` with `customSessionId`; 409 means it exists already, which is fine.
    pub async fn create_session(&self, id: &str) -> Result<Created, OpenViduError> {
        let req = self
            .request(reqwest::Method::POST, "/sessions")
            .json(&NewSession {
                custom_session_id: id,
            });
        match self.send(req).await?.status().as_u16() {
            200 => Ok(Created::New),
            409 => Ok(Created::Existing),
            s => Err(OpenViduError::Status(s)),
        }
    }

    /// `POST /sessions/{id}/connection`. `Ok(None)`: no such session (it closed meanwhile).
    pub async fn create_connection(
        &self,
        session: &str,
        role: Role,
        data: &str,
    ) -> Result<Option<Connection>, OpenViduError> {
        let body = NewConnection {
            kind: "WEBRTC",
            role,
            data,
        };
        let req = self
            .request(
                reqwest::Method::POST,
                &format!("/sessions/{session}/connection"),
            )
            .json(&body);
        json_or_none(self.send(req).await?).await
    }

    /// `GET /sessions/{id}?pendingConnections=true`. `Ok(None)`: no such session.
    pub async fn session(&self, id: &str) -> Result<Option<Session>, OpenViduError> {
        let req = self.request(
            reqwest::Method::GET,
            &format!("/sessions/{id}?pendingConnections=true"),
        );
        json_or_none(self.send(req).await?).await
    }

    /// `GET /sessions?pendingConnections=true`: every session with all its connections.
    pub async fn sessions(&self) -> Result<Vec<Session>, OpenViduError> {
        let req = self.request(reqwest::Method::GET, "/sessions?pendingConnections=true");
        let list: Option<SessionList> = json_or_none(self.send(req).await?).await?;
        Ok(list.map(|l| l.content).unwrap_or_default())
    }

    /// `DELETE /sessions/{id}/connection/{cid}`; whether it was there.
    pub async fn delete_connection(
        &self,
        session: &str,
        connection: &str,
    ) -> Result<bool, OpenViduError> {
        let req = self.request(
            reqwest::Method::DELETE,
            &format!("/sessions/{session}/connection/{connection}"),
        );
        match self.send(req).await?.status().as_u16() {
            204 => Ok(true),
            400 | 404 => Ok(false),
            s => Err(OpenViduError::Status(s)),
        }
    }

    /// `DELETE /sessions/{id}`; whether it was there.
    pub async fn delete_session(&self, id: &str) -> Result<bool, OpenViduError> {
        let req = self.request(reqwest::Method::DELETE, &format!("/sessions/{id}"));
        match self.send(req).await?.status().as_u16() {
            204 => Ok(true),
            404 => Ok(false),
            s => Err(OpenViduError::Status(s)),
        }
    }
}

/// 200: the JSON body; 404: `None` (no such session); anything else an error.
async fn json_or_none<T: serde::de::DeserializeOwned>(
    res: reqwest::Response,
) -> Result<Option<T>, OpenViduError> {
    match res.status().as_u16() {
        200 => res
            .json()
            .await
            .map(Some)
            .map_err(|e| OpenViduError::Protocol(e.without_url().to_string())),
        404 => Ok(None),
        s => Err(OpenViduError::Status(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> OpenViduSettings {
        OpenViduSettings {
            url: url.into(),
            secret: Secret::new("s3cr3t"),
            ca_pem: None,
            insecure_tls: false,
        }
    }

    #[test]
    fn base_keeps_only_scheme_and_authority() {
        let ov = OpenVidu::new(&settings("https://media.example.com:4443/ignored/path/")).unwrap();
        assert_eq!(ov.base, "https://media.example.com:4443/openvidu/api");
        assert!(OpenVidu::new(&settings("ftp://x")).is_err());
        assert!(OpenVidu::new(&settings("not a url")).is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let ov = OpenVidu::new(&settings("http://127.0.0.1:1")).unwrap();
        let printed = format!("{ov:?}");
        assert!(
            !printed.contains("s3cr3t") && !printed.contains("Basic"),
            "{printed}"
        );
    }

    #[tokio::test]
    async fn unreachable_is_reported_as_such() {
        // Port 1 on loopback: nothing listens there.
        let ov = OpenVidu::new(&settings("http://127.0.0.1:1")).unwrap();
        assert!(matches!(
            ov.create_session("x").await,
            Err(OpenViduError::Unreachable(_))
        ));
    }
}
