//! Identifiers in the shapes the reference server uses (`ses_`, `con_`, `tok_`, `str_`). Clients treat
//! them as opaque, but the shapes make logs and REST output look familiar to OpenVidu users.

use rand::Rng;
use rand::distr::{Alphanumeric, Uniform};

/// One upper-case letter followed by `rest` alphanumerics.
fn upper_then_alnum(rest: usize) -> String {
    let mut rng = rand::rng();
    let first = rng.sample(Uniform::new_inclusive(b'A', b'Z').expect("valid range")) as char;
    let mut s = String::with_capacity(rest + 1);
    s.push(first);
    s.extend((0..rest).map(|_| rng.sample(Alphanumeric) as char));
    s
}

pub fn session_id() -> String {
    format!("ses_{}", upper_then_alnum(9))
}

pub fn connection_id() -> String {
    format!("con_{}", upper_then_alnum(9))
}

/// The secret part of a token: 16 characters, 15 of them random alphanumerics (about 89 bits).
pub fn token_key() -> String {
    format!("tok_{}", upper_then_alnum(15))
}

/// The id of the RPC session a socket belongs to, which a browser presents again when it reconnects.
pub fn rpc_session_id() -> String {
    upper_then_alnum(25)
}

/// `str_<CAM|SCR|CUS|MIC>_<4 chars>_<connectionId>`, as the reference server builds it.
pub fn stream_id(type_of_video: Option<&str>, connection_id: &str) -> String {
    let kind = match type_of_video {
        Some(t) if t.len() >= 3 && t.is_ascii() => t[..3].to_ascii_uppercase(),
        _ => "MIC".to_owned(),
    };
    format!("str_{kind}_{}_{connection_id}", upper_then_alnum(3))
}

/// `[A-Za-z0-9_-]+`, the rule for custom session ids.
pub fn is_valid_custom_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_reference_shapes() {
        let s = session_id();
        assert!(s.starts_with("ses_") && s.len() == 14);
        assert!(s.as_bytes()[4].is_ascii_uppercase());
        let c = connection_id();
        assert!(c.starts_with("con_") && c.len() == 14);
        assert_eq!(token_key().len(), 20);
        let st = stream_id(Some("CAMERA"), &c);
        assert!(st.starts_with("str_CAM_") && st.ends_with(&c));
        assert!(stream_id(None, &c).starts_with("str_MIC_"));
    }

    #[test]
    fn custom_session_ids_are_checked() {
        assert!(is_valid_custom_session_id("My_Call-1"));
        assert!(!is_valid_custom_session_id(""));
        assert!(!is_valid_custom_session_id("a b"));
        assert!(!is_valid_custom_session_id("<script>"));
    }
}
