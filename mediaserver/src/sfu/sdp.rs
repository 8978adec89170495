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
        Some(Section { kind: self.kind?, mid: self.mid?, browser_sends, browser_receives, send_rids: self.send_rids })
    }
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
            current = Some(Partial { kind, mid: None, direction: "sendrecv".into(), send_rids: Vec::new() });
        } else if let Some(section) = current.as_mut() {
            if let Some(v) = line.strip_prefix("a=mid:") {
                if !v.is_empty() && v.len() <= 16 {
                    section.mid = Some(Mid::from(v));
                }
            } else if matches!(line, "a=sendonly" | "a=recvonly" | "a=sendrecv" | "a=inactive") {
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
        assert_eq!((s[0].kind, s[0].mid, s[0].browser_sends, s[0].browser_receives), (MediaKind::Audio, Mid::from("0"), true, false));
        assert_eq!(s[1].kind, MediaKind::Video);
        assert_eq!(s[1].send_rids, vec![Rid::from("r0"), Rid::from("r1")]);
    }

    #[test]
    fn garbage_gives_no_sections() {
        assert!(sections("").is_empty());
        assert!(sections("m=video\r\na=mid:\r\n").is_empty());
    }
}
