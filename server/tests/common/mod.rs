//! Each test gets its own server on a random loopback port, its own SQLite file and its own embedded
//! media server: the real thing, reached over HTTP with reqwest.
#![allow(dead_code)]

use app::backend::throttle::ThrottlePolicy;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use server::config::{Media, Settings};
use std::path::Path;
use std::time::Duration;

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
            public_ip: None,
            secret: None,
        },
        site_root: data_dir.join("site"),
    }
}

pub fn small_throttle() -> ThrottlePolicy {
    ThrottlePolicy {
        per_account: 3,
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

    /// POSTs JSON to `path` with an optional session cookie and extra headers.
    pub async fn post(
        &self,
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
        let res = self
            .http
            .post(format!("{}{}", self.base, path))
            .headers(headers)
            .json(&body)
            .send()
            .await
            .unwrap();
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
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    (running, http)
}
