//! The two facts every edge of the workspace configures and none may get wrong on its own: a public URL
//! (checked once, at start-up, then asked for its origin, WebSocket origin, host or port) and a secret
//! that cannot reach a log line. The app, its server and the media server all use these.

use std::fmt;
use std::net::IpAddr;

/// A secret (the OpenVidu secret). It neither `Debug`-prints nor serializes, so it cannot reach a log
/// line or an answer.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for comparing and for building an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An `http(s)://host[:port]` URL (a path, query or fragment is ignored, as browsers and
/// openvidu-node-client ignore it for what is asked of it here). `ws://` and `wss://` are read as
/// `http://` and `https://`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicUrl {
    secure: bool,
    /// Lower-case; an IPv6 address without its brackets.
    host: String,
    ipv6: bool,
    /// Given, and not the scheme's default.
    explicit_port: Option<u16>,
}

/// Why a URL was refused; the message is for the person who configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(&'static str);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for UrlError {}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<PublicUrl, UrlError> {
        let url = url::Url::parse(text.trim())
            .map_err(|_| UrlError("not a URL: it must look like https://host[:port]"))?;
        let secure = match url.scheme() {
            "https" | "wss" => true,
            "http" | "ws" => false,
            _ => return Err(UrlError("the URL must start with http:// or https://")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError("the URL must not carry a user name or password"));
        }
        let (host, ipv6) = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => (d.to_ascii_lowercase(), false),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), false),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), true),
            _ => return Err(UrlError("the URL has no host")),
        };
        let default = if secure { 443 } else { 80 };
        let explicit_port = url.port().filter(|p| *p != default);
        Ok(PublicUrl {
            secure,
            host,
            ipv6,
            explicit_port,
        })
    }

    /// `https` (or `wss`).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host name or address, without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, given or the scheme's default.
    pub fn port(&self) -> u16 {
        self.explicit_port
            .unwrap_or(if self.secure { 443 } else { 80 })
    }

    /// `host[:port]` as a browser writes it in a `Host` header or an origin: no default port.
    pub fn authority(&self) -> String {
        let host = if self.ipv6 {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.explicit_port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }

    /// `http(s)://authority`.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.secure { "https" } else { "http" },
            self.authority()
        )
    }

    /// `ws(s)://authority`, where openvidu-browser opens its WebSocket.
    pub fn websocket_origin(&self) -> String {
        format!(
            "{}://{}",
            if self.secure { "wss" } else { "ws" },
            self.authority()
        )
    }

    /// `localhost` or a loopback address: this machine.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin())
    }
}

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicUrl({})", self.origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scheme_host_and_port_and_ignores_the_path() {
        let u = PublicUrl::parse("https://Media.Example.com:4443/x/?y#z").unwrap();
        assert_eq!(
            (u.is_secure(), u.host(), u.port()),
            (true, "media.example.com", 4443)
        );
        assert_eq!(u.origin(), "https://media.example.com:4443");
        assert_eq!(u.websocket_origin(), "wss://media.example.com:4443");
        let u = PublicUrl::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(u.websocket_origin(), "ws://127.0.0.1:5000");
        assert!(u.is_loopback());
    }

    #[test]
    fn default_ports_are_left_out_and_ipv6_keeps_its_brackets() {
        let u = PublicUrl::parse("https://meet.example.com:443/").unwrap();
        assert_eq!(
            (u.authority(), u.port()),
            ("meet.example.com".to_owned(), 443)
        );
        assert_eq!(PublicUrl::parse("wss://h:443").unwrap().authority(), "h");
        let u = PublicUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!((u.host(), u.authority()), ("::1", "[::1]:8080".to_owned()));
        assert!(u.is_loopback());
        assert!(!PublicUrl::parse("https://10.0.0.5").unwrap().is_loopback());
    }

    #[test]
    fn refuses_what_is_not_an_http_url() {
        for bad in [
            "127.0.0.1:5000",
            "ftp://x",
            "https://",
            "https://user:pw@host",
            "not a url",
            "",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_secret_never_prints() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }
}
