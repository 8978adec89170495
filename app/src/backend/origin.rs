//! Two checks on every request's addressing.
//!
//! * [`refuse_other_hosts`]: the `Host` must name this site (its public URL's authority, the listen
//!   address, and on loopback `localhost`/`127.0.0.1`/`[::1]` with the port). Anything else is
//!   refused with 421, so that a DNS-rebinding page (same-origin with a name that resolves to us) gets
//!   nothing.
//! * [`refuse_cross_site`]: refuses cross-site requests to state-changing endpoints (every
//!   non-GET/HEAD/OPTIONS request under `/api`). Browsers send `Sec-Fetch-Site`; older ones at least
//!   `Origin`, which must then be one of this site's origins (from the configuration, never from the
//!   request's own `Host`). A request with neither comes from a non-browser client, which holds no
//!   victim's cookie, and passes.

use crate::model::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use config_types::PublicUrl;
use http::{Method, StatusCode, header};
use std::net::SocketAddr;

/// This site's origins (`scheme://authority`, lower-case), as configured.
#[derive(Debug, Clone)]
pub struct Site {
    origins: Vec<String>,
}

impl Site {
    /// From the public URL browsers use, the bound address and whether the listener serves TLS.
    pub fn new(public_url: &PublicUrl, listen: SocketAddr, tls: bool) -> Site {
        let mut site = Site {
            origins: Vec::new(),
        };
        let scheme = if public_url.is_secure() {
            "https"
        } else {
            "http"
        };
        // `example.com` and `example.com:443` are one origin for https: the authority leaves out a
        // default port, and the explicit form is allowed too.
        site.add(scheme, &public_url.authority());
        let host = if public_url.host().contains(':') {
            format!("[{}]", public_url.host())
        } else {
            public_url.host().to_owned()
        };
        site.add(scheme, &format!("{host}:{}", public_url.port()));
        let local = if tls { "https" } else { "http" };
        site.add(local, &listen.to_string());
        let ip = listen.ip();
        if ip.is_loopback() || ip.is_unspecified() {
            let p = listen.port();
            for host in [
                format!("127.0.0.1:{p}"),
                format!("localhost:{p}"),
                format!("[::1]:{p}"),
            ] {
                site.add(local, &host);
            }
        }
        site
    }

    fn add(&mut self, scheme: &str, authority: &str) {
        let origin = format!("{scheme}://{authority}");
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
    }

    /// Whether `host` (a `Host` header or URI authority) names this site.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.origins
            .iter()
            .filter_map(|o| o.split_once("://"))
            .any(|(_, authority)| authority.eq_ignore_ascii_case(host))
    }

    /// Whether `origin` (an `Origin` header) is one of this site's origins.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// Whether the request may proceed, from its method and headers.
pub fn allowed(site: &Site, method: &Method, headers: &http::HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(fetch_site) = headers.get("sec-fetch-site") {
        return matches!(fetch_site.to_str(), Ok("same-origin") | Ok("none"));
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|o| site.origin_allowed(o)),
    }
}

/// axum middleware (`from_fn_with_state`); it only looks at paths under `/api/` (not `/openvidu/api`,
/// which takes no cookie).
pub async fn refuse_cross_site(State(site): State<Site>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") || allowed(&site, req.method(), req.headers()) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "refused a cross-site request");
    let body = serde_json::to_string(&AppError::CrossSite).unwrap_or_default();
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

/// The host a request names: its `Host` header, else (HTTP/2) its URI's authority.
fn request_host(req: &Request) -> Option<&str> {
    match req.headers().get(header::HOST) {
        Some(h) => h.to_str().ok(),
        None => req.uri().authority().map(|a| a.as_str()),
    }
}

/// axum middleware (`from_fn_with_state`): 421 for a request whose host is not this site's.
pub async fn refuse_other_hosts(State(site): State<Site>, req: Request, next: Next) -> Response {
    if request_host(&req).is_some_and(|h| site.host_allowed(h)) {
        return next.run(req).await;
    }
    tracing::warn!(host = ?request_host(&req), "refused a request for another host");
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::CONTENT_TYPE, "text/plain")],
        "unknown host\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn site() -> Site {
        Site::new(
            &PublicUrl::parse("http://127.0.0.1:5000").unwrap(),
            "127.0.0.1:5000".parse().unwrap(),
            false,
        )
    }

    #[test]
    fn hosts() {
        let s = site();
        for ok in [
            "127.0.0.1:5000",
            "localhost:5000",
            "LOCALHOST:5000",
            "[::1]:5000",
        ] {
            assert!(s.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:5000",
            "127.0.0.1:5001",
            "localhost",
            "",
        ] {
            assert!(!s.host_allowed(bad), "{bad}");
        }
        let s = Site::new(
            &PublicUrl::parse("https://Meet.Example.com/").unwrap(),
            "0.0.0.0:8443".parse().unwrap(),
            true,
        );
        for ok in [
            "meet.example.com",
            "meet.example.com:443",
            "127.0.0.1:8443",
            "0.0.0.0:8443",
        ] {
            assert!(s.host_allowed(ok), "{ok}");
        }
        assert!(!s.host_allowed("evil.example:8443"));
        assert!(s.origin_allowed("https://meet.example.com"));
        assert!(!s.origin_allowed("http://meet.example.com"));
        let s = Site::new(
            &PublicUrl::parse("http://10.0.0.5:5000").unwrap(),
            "10.0.0.5:5000".parse().unwrap(),
            false,
        );
        assert!(s.host_allowed("10.0.0.5:5000"));
        assert!(!s.host_allowed("localhost:5000"), "not on loopback");
    }

    #[test]
    fn decisions() {
        let site = site();
        let allowed = |m: &Method, h: &HeaderMap| allowed(&site, m, h);
        let post = Method::POST;
        assert!(allowed(
            &Method::GET,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(allowed(&post, &headers(&[])));
        assert!(allowed(
            &post,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(!allowed(
            &post,
            &headers(&[("sec-fetch-site", "same-site")])
        ));
        assert!(!allowed(
            &post,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(allowed(
            &post,
            &headers(&[
                ("origin", "http://127.0.0.1:5000"),
                ("host", "127.0.0.1:5000")
            ])
        ));
        assert!(!allowed(
            &post,
            &headers(&[
                ("origin", "http://evil.example"),
                ("host", "127.0.0.1:5000")
            ])
        ));
        assert!(!allowed(
            &post,
            &headers(&[("origin", "null"), ("host", "127.0.0.1:5000")])
        ));
        // The Origin is compared with the configured site, not with the request's own Host.
        assert!(!allowed(
            &post,
            &headers(&[("origin", "http://evil.example"), ("host", "evil.example")])
        ));
        // Sec-Fetch-Site wins over a matching Origin.
        assert!(!allowed(
            &post,
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:5000"),
                ("host", "127.0.0.1:5000")
            ])
        ));
    }
}
