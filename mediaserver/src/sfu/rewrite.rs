//! What forwarding RTP packets as they are takes: one outgoing sequence per publisher track, whatever
//! simulcast layer feeds it, and each subscriber's own numbering of it.
//!
//! A publisher sends each simulcast layer as its own RTP stream, with its own SSRC, sequence
//! numbers, timestamps and (VP8) picture ids. Its subscribers receive one stream per track, so when
//! the forwarded layer changes, the new layer's numbers are shifted to carry on where the old
//! layer's stopped: [`Sequencer`], once per publisher track, shared by every subscriber. Each
//! subscriber then numbers the packets from its own start ([`SubscriberSeq`]): a browser that
//! starts receiving an hour into a call must see a sequence number below 65,536, since the SRTP
//! rollover counter is never signalled.

use std::time::Instant;

use str0m::format::{
    Codec, detect_h264_keyframe, detect_h264_nalu, detect_vp8_keyframe, detect_vp9_keyframe,
};
use str0m::rtp::{Ssrc, Vp8Descriptor, Vp8Patch};

/// The H.264 NAL unit type of a sequence parameter set.
const H264_SPS: u8 = 7;

/// Whether an RTP payload starts a keyframe of `codec`. Only the first packet of a keyframe
/// answers yes, which is where a subscriber can start decoding.
pub fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => detect_vp8_keyframe(payload),
        Codec::Vp9 => detect_vp9_keyframe(payload),
        // Browsers send the parameter sets (SPS, PPS) in their own packet just before the IDR
        // slice: a switch starts there, or the subscriber gets an IDR it cannot decode.
        Codec::H264 => detect_h264_nalu(payload, H264_SPS) || detect_h264_keyframe(payload),
        _ => false,
    }
}

/// Where one packet goes out, in the forwarded stream's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// Extended sequence number in the forwarded stream.
    pub seq: u64,
    pub timestamp: u32,
    /// The VP8 picture id and TL0PICIDX rewritten to follow on, after a layer switch.
    pub vp8_patch: Option<Vp8Patch>,
}

/// The numbering of the stream that is forwarded for one publisher track.
#[derive(Debug, Default, Clone)]
pub struct Sequencer {
    /// The SSRC forwarded now, and the first extended sequence number taken from it: earlier
    /// packets of it (reordered ones from before the switch) would overlap the previous layer's.
    source: Option<(Ssrc, u64)>,
    /// Added (wrapping) to the source's sequence numbers and timestamps.
    seq_shift: u64,
    ts_shift: u32,
    /// The highest sequence number and its timestamp sent out so far, and when.
    last: Option<(u64, u32, Instant)>,
    vp8: Vp8Shift,
}

#[derive(Debug, Default, Clone)]
struct Vp8Shift {
    /// Added to picture ids (15-bit) and TL0PICIDX; both zero until a switch needs them.
    picture_id: u16,
    tl0: u8,
    /// Whether the shifts are to be set from the next packet that has the field.
    rebase_picture_id: bool,
    rebase_tl0: bool,
    last_picture_id: Option<u16>,
    last_tl0: Option<u8>,
}

const PICTURE_ID_MASK: u16 = 0x7fff;

impl Sequencer {
    /// Numbers a packet of `ssrc` with the extended sequence number `seq` and RTP time `timestamp`,
    /// arriving at `now`. `clock_rate` is the codec's, for the timestamp gap at a switch; `vp8` is
    /// the packet's payload when it is VP8. A packet of a source other than the forwarded one
    /// switches to it: only call this for packets that are to be forwarded. `None` for a late packet
    /// from before the switch.
    pub fn forward(
        &mut self,
        ssrc: Ssrc,
        seq: u64,
        timestamp: u32,
        now: Instant,
        clock_rate: u32,
        vp8: Option<&[u8]>,
    ) -> Option<Forwarded> {
        match self.source {
            Some((current, first)) if current == ssrc => {
                if seq < first {
                    return None;
                }
            }
            _ => self.switch_to(ssrc, seq, timestamp, now, clock_rate),
        }
        let out_seq = seq.wrapping_add(self.seq_shift);
        let out_ts = timestamp.wrapping_add(self.ts_shift);
        match self.last {
            Some((last, _, _)) if out_seq <= last => {}
            _ => self.last = Some((out_seq, out_ts, now)),
        }
        let vp8_patch = vp8.and_then(|payload| self.vp8.patch(payload));
        Some(Forwarded {
            seq: out_seq,
            timestamp: out_ts,
            vp8_patch,
        })
    }

    fn switch_to(&mut self, ssrc: Ssrc, seq: u64, timestamp: u32, now: Instant, clock_rate: u32) {
        self.source = Some((ssrc, seq));
        let Some((last_seq, last_ts, at)) = self.last else {
            return;
        };
        self.seq_shift = last_seq.wrapping_add(1).wrapping_sub(seq);
        // The new layer's first frame is as far from the last one sent as the time between them.
        let gap = now.saturating_duration_since(at).as_micros() as u64 * u64::from(clock_rate)
            / 1_000_000;
        let gap = gap.clamp(1, u64::from(u32::MAX / 2)) as u32;
        self.ts_shift = last_ts.wrapping_add(gap).wrapping_sub(timestamp);
        self.vp8.rebase_picture_id = true;
        self.vp8.rebase_tl0 = true;
    }
}

impl Vp8Shift {
    fn patch(&mut self, payload: &[u8]) -> Option<Vp8Patch> {
        let descriptor = Vp8Descriptor::parse(payload).ok()?;
        let picture_id = descriptor.picture_id().map(|id| {
            if std::mem::take(&mut self.rebase_picture_id)
                && let Some(last) = self.last_picture_id
            {
                self.picture_id = last.wrapping_add(1).wrapping_sub(id) & PICTURE_ID_MASK;
            }
            let out = id.wrapping_add(self.picture_id) & PICTURE_ID_MASK;
            self.last_picture_id = Some(out);
            out
        });
        let tl0 = descriptor.tl0_pic_idx().map(|idx| {
            if std::mem::take(&mut self.rebase_tl0)
                && let Some(last) = self.last_tl0
            {
                self.tl0 = last.wrapping_add(1).wrapping_sub(idx);
            }
            let out = idx.wrapping_add(self.tl0);
            self.last_tl0 = Some(out);
            out
        });
        if self.picture_id == 0 && self.tl0 == 0 {
            return None;
        }
        let mut builder = descriptor.patch();
        // A 7-bit picture id cannot take every 15-bit value: such a stream goes unpatched.
        if let Some(id) = picture_id.filter(|_| self.picture_id != 0) {
            builder = builder.picture_id(id);
        }
        if let Some(idx) = tl0.filter(|_| self.tl0 != 0) {
            builder = builder.tl0_pic_idx(idx);
        }
        builder.build().ok()
    }
}

/// The largest forward jump a subscriber's sequence numbers make; past it they follow on instead.
const MAX_JUMP: u64 = 1 << 14;

/// A subscriber's numbering of one forwarded stream: from below 65,536 at its first packet, and
/// carrying on without a gap when its source changes (a publisher that renegotiated).
#[derive(Debug, Default, Clone)]
pub struct SubscriberSeq {
    /// Added (wrapping) to the forwarded sequence numbers; `None` until the first packet, or after
    /// [`SubscriberSeq::rebase`].
    shift: Option<u64>,
    last: Option<u64>,
}

impl SubscriberSeq {
    /// The subscriber's sequence number for the forwarded `seq`; `None` for a packet from before
    /// its start.
    pub fn number(&mut self, seq: u64) -> Option<u64> {
        let shift = *self.shift.get_or_insert_with(|| match self.last {
            Some(last) => last.wrapping_add(1).wrapping_sub(seq),
            None => (seq & !0xffff).wrapping_neg(),
        });
        let mut out = seq.wrapping_add(shift);
        // A packet older than the start wraps around to a huge number: dropped.
        if out >= 1 << 48 {
            return None;
        }
        // A jump of half the 16-bit space or more would make the browser guess the SRTP rollover
        // counter wrong and refuse everything after it (a publisher back after a very long cut, or
        // one numbering at random): the stream carries on from the last packet instead.
        if let Some(last) = self.last
            && out > last + MAX_JUMP
        {
            self.shift = Some(last.wrapping_add(1).wrapping_sub(seq));
            out = last + 1;
        }
        if self.last.is_none_or(|last| out > last) {
            self.last = Some(out);
        }
        Some(out)
    }

    /// The next packet comes from another forwarded stream: it follows on from the last one sent.
    pub fn rebase(&mut self) {
        self.shift = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A VP8 payload descriptor with a 15-bit picture id and a TL0PICIDX, then one payload byte.
    fn vp8(picture_id: u16, tl0: u8) -> Vec<u8> {
        vec![
            0x90,
            0xe0,
            0x80 | (picture_id >> 8) as u8,
            picture_id as u8,
            tl0,
            0x20,
            0x01,
        ]
    }

    #[test]
    fn a_layer_switch_carries_the_sequence_and_the_clock_on_without_a_gap() {
        let t0 = Instant::now();
        let mut s = Sequencer::default();
        let low = Ssrc::from(1);
        let high = Ssrc::from(2);
        for i in 0..3u64 {
            let f = s.forward(low, 100 + i, 9000 + i as u32 * 3000, t0, 90_000, None);
            assert_eq!(f.unwrap().seq, 100 + i);
        }
        // 33 ms later the high layer takes over, from its own numbering.
        let t1 = t0 + Duration::from_millis(33);
        let f = s.forward(high, 50_000, 7, t1, 90_000, None).unwrap();
        assert_eq!(f.seq, 103);
        assert_eq!(f.timestamp, 9000 + 2 * 3000 + 2970);
        let f = s.forward(high, 50_001, 3007, t1, 90_000, None).unwrap();
        assert_eq!(f.seq, 104);
        assert_eq!(f.timestamp, 9000 + 2 * 3000 + 2970 + 3000);
        // A late packet of the high layer from before the switch would overlap the low layer's.
        assert_eq!(s.forward(high, 49_999, 0, t1, 90_000, None), None);
    }

    #[test]
    fn vp8_picture_ids_follow_on_across_a_switch_and_are_untouched_without_one() {
        let t0 = Instant::now();
        let mut s = Sequencer::default();
        let a = vp8(500, 7);
        let f = s
            .forward(Ssrc::from(1), 10, 0, t0, 90_000, Some(&a))
            .unwrap();
        assert_eq!(f.vp8_patch, None, "nothing to rewrite before a switch");
        let b = vp8(20_000, 200);
        let f = s
            .forward(Ssrc::from(2), 900, 0, t0, 90_000, Some(&b))
            .unwrap();
        let patch = f.vp8_patch.expect("a switch rewrites the picture id");
        let rebuilt = Vp8Descriptor::parse(&b)
            .unwrap()
            .patch()
            .picture_id(501)
            .tl0_pic_idx(8)
            .build()
            .unwrap();
        assert_eq!(patch, rebuilt);
        // The picture id wraps at 15 bits; a TL0PICIDX that follows on already is left alone.
        let c = vp8(0x7fff, 255);
        let mut s = Sequencer::default();
        s.forward(Ssrc::from(1), 1, 0, t0, 90_000, Some(&c));
        let d = vp8(3, 0);
        let f = s
            .forward(Ssrc::from(2), 1, 0, t0, 90_000, Some(&d))
            .unwrap();
        let rebuilt = Vp8Descriptor::parse(&d)
            .unwrap()
            .patch()
            .picture_id(0)
            .build()
            .unwrap();
        assert_eq!(f.vp8_patch, Some(rebuilt));
    }

    #[test]
    fn a_subscriber_numbers_from_below_65536_and_follows_on_when_its_source_changes() {
        let mut n = SubscriberSeq::default();
        // Joined when the forwarded stream was past its third rollover.
        let start = 3 * 65_536 + 1_234;
        assert_eq!(n.number(start), Some(1_234));
        assert_eq!(n.number(start + 1), Some(1_235));
        // A retransmission from before the start is not the subscriber's.
        assert_eq!(n.number(start - 2_000), None);
        // The publisher renegotiated: a new forwarded stream, numbered from wherever it is.
        n.rebase();
        assert_eq!(n.number(17), Some(1_236));
        assert_eq!(n.number(18), Some(1_237));
        // A gap of a few hundred packets (a loss) stays a gap; one past half the 16-bit space
        // would break the browser's rollover counter, and carries on instead.
        assert_eq!(n.number(318), Some(1_537));
        assert_eq!(n.number(318 + 40_000), Some(1_538));
        assert_eq!(n.number(318 + 40_001), Some(1_539));
    }

    #[test]
    fn keyframes_are_recognised_by_their_first_packet() {
        // VP8: start of partition 0, then a payload header with P = 0.
        assert!(starts_keyframe(Codec::Vp8, &[0x10, 0x00]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x10, 0x01]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x00, 0x00]));
        // H.264: an IDR slice.
        assert!(starts_keyframe(Codec::H264, &[0x65, 0x88]));
        assert!(!starts_keyframe(Codec::H264, &[0x41, 0x88]));
        // H.264: a STAP-A (type 24) carrying an SPS (type 7, 2 bytes) and a PPS (type 8, 2 bytes).
        assert!(starts_keyframe(
            Codec::H264,
            &[0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce]
        ));
        assert!(!starts_keyframe(Codec::Opus, &[0x10, 0x00]));
        assert!(!starts_keyframe(Codec::Vp8, &[]));
    }
}
