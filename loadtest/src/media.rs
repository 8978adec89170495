//! Synthetic media: VP8 frames that a depacketiser and a keyframe detector take for real ones, and
//! Opus packets. Every video frame ends with a measurement trailer (magic, frame number, send time),
//! which a forwarding server carries untouched in the payload, so that the receiver can count losses
//! and forwarding delay without a side channel.

use std::time::{SystemTime, UNIX_EPOCH};

/// Marks the trailer, so that a frame from anything else is not mistaken for one of ours.
const MAGIC: [u8; 4] = *b"LdT1";
/// magic + frame number (u32) + send time in µs since the Unix epoch (u64).
pub const TRAILER_LEN: usize = 16;
/// The VP8 frame header a keyframe needs: frame tag (3), start code (3), width and height (2 + 2).
const KEYFRAME_HEADER_LEN: usize = 10;

/// Microseconds since the Unix epoch: the clock shared by the sending and receiving side of one
/// machine (both are in this process, or on the same host).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A VP8 frame of `size` bytes (at least header + trailer). A keyframe starts with a frame tag whose
/// P bit is 0, the start code `9d 01 2a` and a 640x480 size; an interframe with a tag whose P bit is 1.
/// The first-partition size in the tag stays within the frame. The rest is filler, then the trailer.
pub fn vp8_frame(keyframe: bool, frame_number: u32, size: usize, send_micros: u64) -> Vec<u8> {
    let size = size.max(KEYFRAME_HEADER_LEN + TRAILER_LEN);
    let mut f = vec![0u8; size];
    let first_partition = ((size - KEYFRAME_HEADER_LEN - TRAILER_LEN) as u32).min(0x7_FFFF);
    // Frame tag: bit 0 = P (0 = key), bits 1-3 version 0, bit 4 show_frame, bits 5-23 partition size.
    let tag = (if keyframe { 0 } else { 1 }) | (1 << 4) | (first_partition << 5);
    f[..3].copy_from_slice(&tag.to_le_bytes()[..3]);
    if keyframe {
        f[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
        f[6..8].copy_from_slice(&640u16.to_le_bytes());
        f[8..10].copy_from_slice(&480u16.to_le_bytes());
    }
    // Filler that does not look like a start code everywhere; its content is irrelevant.
    for (i, b) in f[KEYFRAME_HEADER_LEN..size - TRAILER_LEN]
        .iter_mut()
        .enumerate()
    {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    write_trailer(&mut f[size - TRAILER_LEN..], frame_number, send_micros);
    f
}

fn write_trailer(t: &mut [u8], frame_number: u32, send_micros: u64) {
    t[..4].copy_from_slice(&MAGIC);
    t[4..8].copy_from_slice(&frame_number.to_be_bytes());
    t[8..16].copy_from_slice(&send_micros.to_be_bytes());
}

/// The trailer of a received frame: (frame number, send time in µs).
pub fn read_trailer(frame: &[u8]) -> Option<(u32, u64)> {
    let t = frame.get(frame.len().checked_sub(TRAILER_LEN)?..)?;
    if t[..4] != MAGIC {
        return None;
    }
    let number = u32::from_be_bytes(t[4..8].try_into().ok()?);
    let sent = u64::from_be_bytes(t[8..16].try_into().ok()?);
    Some((number, sent))
}

/// The end of the VP8 frame being received, packet by packet (RTP payloads as they come, no
/// depacketiser): the frame's trailer, read at its last packet, may straddle the last two packets.
#[derive(Debug, Default)]
pub struct FrameTail {
    timestamp: Option<u32>,
    bytes: [u8; TRAILER_LEN],
    len: usize,
}

impl FrameTail {
    /// Adds the payload of one packet of the frame with RTP time `timestamp` (a VP8 payload
    /// descriptor, then frame data); at the frame's `last` packet, returns its trailer.
    pub fn push(&mut self, timestamp: u32, payload: &[u8], last: bool) -> Option<(u32, u64)> {
        if self.timestamp != Some(timestamp) {
            self.timestamp = Some(timestamp);
            self.len = 0;
        }
        if let Some(data) = vp8_descriptor_len(payload).and_then(|n| payload.get(n..)) {
            let take = data.len().min(TRAILER_LEN);
            let keep = (TRAILER_LEN - take).min(self.len);
            self.bytes.copy_within(self.len - keep..self.len, 0);
            self.bytes[keep..keep + take].copy_from_slice(&data[data.len() - take..]);
            self.len = keep + take;
        }
        if !last {
            return None;
        }
        self.timestamp = None;
        read_trailer(&self.bytes[..self.len])
    }
}

/// The length of a VP8 RTP payload descriptor (RFC 7741 4.2).
fn vp8_descriptor_len(payload: &[u8]) -> Option<usize> {
    let first = *payload.first()?;
    if first & 0x80 == 0 {
        return Some(1);
    }
    let extension = *payload.get(1)?;
    let mut len = 2;
    if extension & 0x80 != 0 {
        len += if *payload.get(2)? & 0x80 != 0 { 2 } else { 1 };
    }
    if extension & 0x40 != 0 {
        len += 1;
    }
    if extension & 0x30 != 0 {
        len += 1;
    }
    (len <= payload.len()).then_some(len)
}

/// Whether a VP8 frame is a keyframe (P bit of the frame tag clear).
pub fn vp8_is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 1 == 0)
}

/// One 20 ms Opus packet: TOC byte for CELT full-band 20 ms, mono, one frame; then filler.
pub fn opus_packet(size: usize) -> Vec<u8> {
    let mut p = vec![0x55u8; size.max(2)];
    p[0] = 31 << 3;
    p
}

/// Video frame sizes that give `bitrate_bps` at `fps`: (interframe, keyframe). A keyframe is four
/// interframes, as a camera's roughly is at low motion.
pub fn frame_sizes(bitrate_bps: u32, fps: u32, keyframe_interval_frames: u32) -> (usize, usize) {
    let per_second = (bitrate_bps / 8) as f64;
    let fps = fps.max(1) as f64;
    let k = keyframe_interval_frames.max(1) as f64;
    // n frames per interval, one of them 4x: per_frame * (k - 1 + 4) / k = bytes per frame on average.
    let delta = per_second / fps * k / (k + 3.0);
    let delta = (delta as usize).max(KEYFRAME_HEADER_LEN + TRAILER_LEN);
    (delta, delta * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_carries_its_number_and_send_time_and_says_what_it_is() {
        let key = vp8_frame(true, 7, 1000, 123_456_789);
        assert_eq!(key.len(), 1000);
        assert!(vp8_is_keyframe(&key));
        assert_eq!(&key[3..6], &[0x9d, 0x01, 0x2a]);
        assert_eq!(read_trailer(&key), Some((7, 123_456_789)));
        let delta = vp8_frame(false, 8, 10, 5);
        assert!(!vp8_is_keyframe(&delta));
        assert_eq!(
            delta.len(),
            KEYFRAME_HEADER_LEN + TRAILER_LEN,
            "never smaller than header and trailer"
        );
        assert_eq!(read_trailer(&delta), Some((8, 5)));
        assert_eq!(read_trailer(b"short"), None);
        assert_eq!(read_trailer(&[0u8; 64]), None, "no magic, no trailer");
    }

    #[test]
    fn the_trailer_is_read_from_the_last_packets_even_when_it_straddles_two() {
        let frame = vp8_frame(false, 42, 1_000, 777);
        // Packets with a 4-byte descriptor (X, I with a 15-bit picture id), the last one holding
        // only 5 bytes of the 16-byte trailer.
        let cuts = [0, 600, 995, 1_000];
        let mut tail = FrameTail::default();
        let mut got = None;
        for w in cuts.windows(2) {
            let mut payload = vec![0x90, 0x80, 0x81, 0x23];
            payload.extend_from_slice(&frame[w[0]..w[1]]);
            got = tail.push(9_000, &payload, w[1] == frame.len());
        }
        assert_eq!(got, Some((42, 777)));
        // A one-byte descriptor and the whole frame in one packet.
        let mut payload = vec![0x10];
        payload.extend_from_slice(&frame);
        assert_eq!(tail.push(12_000, &payload, true), Some((42, 777)));
        // A frame whose first packets were lost: what is left is no trailer.
        assert_eq!(tail.push(15_000, &[0x00, 1, 2, 3], true), None);
    }

    #[test]
    fn frame_sizes_add_up_to_the_bitrate() {
        let (delta, key) = frame_sizes(480_000, 30, 60);
        let bytes_per_interval = delta * 59 + key;
        let bitrate = bytes_per_interval as f64 * 8.0 / 2.0;
        assert!((bitrate - 480_000.0).abs() / 480_000.0 < 0.02, "{bitrate}");
    }
}
