//! What the workspace's tests share, in one place: the OpenVidu Basic credentials, a capture of
//! everything logged with a search for secrets in it, and the configuration of an in-process media
//! server on loopback. Only tests depend on this crate.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use tracing_subscriber::fmt::MakeWriter;

/// `Authorization: Basic` for the OpenVidu REST API (`OPENVIDUAPP:<secret>`).
pub fn basic_auth(secret: &str) -> String {
    let credentials = format!("OPENVIDUAPP:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// A media server configuration for tests: HTTP and UDP on 127.0.0.1 with ports the kernel picks,
/// everything else as shipped.
pub fn loopback_media_config(secret: &str) -> mediaserver::Config {
    let mut config = mediaserver::Config::new(mediaserver::Secret::new(secret));
    config.listen = "127.0.0.1:0".parse().expect("an address");
    config.udp = "127.0.0.1:0".parse().expect("an address");
    config
}

/// Everything a test binary logs, through every crate and at every level, kept in memory.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// The process-wide subscriber at TRACE, with span fields, installed on first use: one per test
    /// binary, shared by its tests.
    pub fn global() -> &'static LogCapture {
        static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = LogCapture::default();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(capture.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other subscriber in this test binary");
            capture
        })
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer()).into_owned()
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> LogCapture {
        self.clone()
    }
}

/// Values that must never appear in a log, each with a name for the failure message.
#[derive(Default)]
pub struct Secrets(Vec<(String, String)>);

impl Secrets {
    pub fn add(&mut self, what: impl Into<String>, value: impl Into<String>) {
        let value = value.into();
        assert!(
            value.len() >= 8,
            "too short to search for meaningfully: {value:?}"
        );
        self.0.push((what.into(), value));
    }

    /// An OpenVidu secret, and the Basic credentials and header made from it.
    pub fn add_openvidu_secret(&mut self, secret: &str) {
        self.add("the secret", secret);
        let header = basic_auth(secret);
        self.add(
            "the Basic credentials",
            header.trim_start_matches("Basic ").to_owned(),
        );
        self.add("the Authorization header", header);
    }

    /// Fails the test, naming each leak and the line it is on.
    pub fn assert_absent_from(&self, logs: &str) {
        let leaks: Vec<String> = self
            .0
            .iter()
            .filter(|(_, v)| logs.contains(v.as_str()))
            .map(|(what, v)| {
                let line = logs
                    .lines()
                    .find(|l| l.contains(v.as_str()))
                    .unwrap_or_default();
                format!("{what} ({v}) appears in: {line}")
            })
            .collect();
        assert!(
            leaks.is_empty(),
            "secrets in the logs:\n{}",
            leaks.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_the_reference_encoding() {
        // OPENVIDUAPP:MY_SECRET, as the OpenVidu documentation's curl examples send it.
        assert_eq!(
            basic_auth("MY_SECRET"),
            "Basic T1BFTlZJRFVBUFA6TVlfU0VDUkVU"
        );
    }

    #[test]
    #[should_panic(expected = "the secret (hunter2-hunter2) appears in: a line hunter2-hunter2")]
    fn a_leak_is_named_with_its_line() {
        let mut secrets = Secrets::default();
        secrets.add_openvidu_secret("hunter2-hunter2");
        secrets.assert_absent_from("clean\na line hunter2-hunter2\n");
    }
}
