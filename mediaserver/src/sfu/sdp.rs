//! Reads the media sections of a browser's SDP: kind, mid, direction and simulcast layers.
//!
//! str0m announces tracks (`Event::MediaAdded`) only once a peer is connected, but openvidu-browser
//! subscribes to a stream as soon as it is announced, often before its publisher's ICE completes. The
//! offer already says which tracks there will be, so forwarding is set up from it.

use str0m::media::{MediaKind, Mid, Rid};

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub kind: MediaKind,
    pub mid: Mid,
    /// The browser sends on this m-line.
    pub browser_sends: bool,
    /// The browser receives on this m-line.
    pub browser_receives: bool,
    /// Simulcast layers the browser sends, in the order it lists them.
    pub send_rids: Vec<Rid>,
}

/// A section being read: what has been seen of it so far.
struct Partial {
    kind: Option<MediaKind>,
    mid: Option<Mid>,
    direction: String,
    send_rids: Vec<Rid>,
}

impl Partial {
    fn finish(self) -> Option<Section> {
        let (browser_sends, browser_receives) = match self.direction.as_str() {
            "sendonly" => (true, false),
            "recvonly" => (false, true),
            "inactive" => (false, false),
            _ => (true, true),
        };
        Some(Section {
            kind: self.kind?,
            mid: self.mid?,
            browser_sends,
            browser_receives,
            send_rids: self.send_rids,
        })
    }
}

/// Longest SDP accepted: a browser's offer for one audio and one video track is 100 to 300 lines.
const MAX_LINES: usize = 2000;
/// Most simulcast layers of one track (openvidu-browser sends three).
const MAX_LAYERS: usize = 3;

/// Checks that `sdp` has the shape of one OpenVidu stream: at most one audio and one video m-line,
/// nothing else, each with its own mid, and at most three simulcast layers. Anything more only costs
/// the server (and every subscriber's answer) without serving a browser, so it is refused before str0m
/// parses it. The message is for the client.
pub fn check_shape(sdp: &str) -> Result<(), &'static str> {
    let (mut audio, mut video) = (0, 0);
    let mut mids: Vec<&str> = Vec::new();
    let mut rids = 0;
    for (n, line) in sdp.lines().map(str::trim).enumerate() {
        if n >= MAX_LINES {
            return Err("the SDP is too long");
        }
        if let Some(m) = line.strip_prefix("m=") {
            match m.split(' ').next() {
                Some("audio") => audio += 1,
                Some("video") => video += 1,
                _ => return Err("only audio and video media are accepted"),
            }
            if audio > 1 || video > 1 {
                return Err("at most one audio and one video track per stream");
            }
            rids = 0;
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            if mids.contains(&mid) {
                return Err("two media sections have the same mid");
            }
            mids.push(mid);
        } else if line.starts_with("a=rid:") {
            rids += 1;
            if rids > MAX_LAYERS {
                return Err("at most three simulcast layers");
            }
        } else if let Some(v) = line.strip_prefix("a=simulcast:") {
            let layers = v.split(' ').nth(1).unwrap_or("");
            if layers.split(';').count() > MAX_LAYERS {
                return Err("at most three simulcast layers");
            }
        }
    }
    Ok(())
}

/// The audio and video sections of `sdp`, in order; others (data channels) are skipped.
pub fn sections(sdp: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut current: Option<Partial> = None;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            out.extend(current.take().and_then(Partial::finish));
            let kind = match m.split(' ').next() {
                Some("audio") => Some(MediaKind::Audio),
                Some("video") => Some(MediaKind::Video),
                _ => None,
            };
            current = Some(Partial {
                kind,
                mid: None,
                direction: "sendrecv".into(),
                send_rids: Vec::new(),
            });
        } else if let Some(section) = current.as_mut() {
            if let Some(v) = line.strip_prefix("a=mid:") {
                if !v.is_empty() && v.len() <= 16 {
                    section.mid = Some(Mid::from(v));
                }
            } else if matches!(
                line,
                "a=sendonly" | "a=recvonly" | "a=sendrecv" | "a=inactive"
            ) {
                section.direction = line[2..].to_owned();
            } else if let Some(v) = line.strip_prefix("a=simulcast:send ") {
                // `r0;r1;r2`, alternatives separated by commas, `~` marks a paused layer.
                let layers = v.split(' ').next().unwrap_or("");
                section.send_rids = layers
                    .split(';')
                    .filter_map(|l| l.split(',').next())
                    .map(|r| r.trim_start_matches('~'))
                    .filter(|r| !r.is_empty() && r.len() <= 8)
                    .map(Rid::from)
                    .collect();
            }
        }
    }
    out.extend(current.and_then(Partial::finish));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rid:r0 send\r\na=rid:r1 send\r\n\
a=simulcast:send r0;~r1\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";

    #[test]
    fn reads_kinds_mids_directions_and_layers() {
        let s = sections(OFFER);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (
                s[0].kind,
                s[0].mid,
                s[0].browser_sends,
                s[0].browser_receives
            ),
            (MediaKind::Audio, Mid::from("0"), true, false)
        );
        assert_eq!(s[1].kind, MediaKind::Video);
        assert_eq!(s[1].send_rids, vec![Rid::from("r0"), Rid::from("r1")]);
    }

    #[test]
    fn a_browser_offer_has_an_acceptable_shape() {
        assert_eq!(
            check_shape(&OFFER.replace(
                "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n",
                ""
            )),
            Ok(())
        );
    }

    #[test]
    fn offers_beyond_one_stream_are_refused() {
        let audio = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\n";
        let video = |mid: &str| format!("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:{mid}\r\n");
        assert!(
            check_shape(&format!("{audio}{audio}")).is_err(),
            "two audio m-lines"
        );
        assert!(
            check_shape(&format!("{}{}", video("1"), video("2"))).is_err(),
            "two video m-lines"
        );
        assert!(
            check_shape(&format!("{audio}{}", video("a"))).is_err(),
            "a repeated mid"
        );
        assert!(check_shape(OFFER).is_err(), "a data channel");
        let four = format!(
            "{}a=rid:a send\r\na=rid:b send\r\na=rid:c send\r\na=rid:d send\r\n",
            video("1")
        );
        assert!(check_shape(&four).is_err(), "four simulcast layers");
        assert!(check_shape(&format!("{}a=simulcast:send a;b;c;d\r\n", video("1"))).is_err());
        assert!(
            check_shape(&"a=x\r\n".repeat(3000)).is_err(),
            "too many lines"
        );
    }

    #[test]
    fn garbage_gives_no_sections() {
        assert!(sections("").is_empty());
        assert!(sections("m=video\r\na=mid:\r\n").is_empty());
    }
}
