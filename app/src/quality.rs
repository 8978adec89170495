//! How well a received video arrives, from the browser's own counters: what the "Poor connection" badge
//! on a tile goes by.

/// Running totals of a received video, as the browser counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Received {
    pub packets: f64,
    /// Packets never received (after retransmissions).
    pub lost: f64,
    /// Retransmissions asked for: packets that went missing, recovered or not.
    pub nacks: f64,
    /// Times the picture froze.
    pub freezes: f64,
}

impl Received {
    /// Whether the time between `earlier` and `self` looks like a poor connection: more than 3 % of
    /// the packets lost for good, or retransmissions asked for more than one in ten packets (the
    /// browser may ask more than once for one packet, hence the higher bar), or the picture froze more
    /// than once (once can be a busy receiver).
    pub fn poor_since(&self, earlier: &Received) -> bool {
        let packets = self.packets - earlier.packets;
        let lost = (self.lost - earlier.lost).max(0.0);
        let nacks = (self.nacks - earlier.nacks).max(0.0);
        let froze = self.freezes - earlier.freezes >= 2.0;
        let expected = packets + lost;
        froze || (expected >= 20.0 && (lost > 0.03 * expected || nacks > 0.1 * expected))
    }
}

#[cfg(test)]
mod tests {
    use super::Received;

    fn at(packets: f64, lost: f64, nacks: f64, freezes: f64) -> Received {
        Received {
            packets,
            lost,
            nacks,
            freezes,
        }
    }

    #[test]
    fn poor_when_packets_go_missing_or_the_picture_freezes() {
        let start = at(1000.0, 0.0, 0.0, 0.0);
        // 1 of 200 lost, 10 asked for again: fine.
        assert!(!at(1199.0, 1.0, 10.0, 0.0).poor_since(&start));
        // 30 of 200 asked for again, even if all recovered: poor.
        assert!(at(1200.0, 0.0, 30.0, 0.0).poor_since(&start));
        // 10 of 200 lost for good: poor.
        assert!(at(1190.0, 10.0, 0.0, 0.0).poor_since(&start));
        // Two freezes are poor whatever the packets say; one is not.
        assert!(at(1200.0, 0.0, 0.0, 2.0).poor_since(&start));
        assert!(!at(1200.0, 0.0, 0.0, 1.0).poor_since(&start));
        // Too few packets to judge (a still screen share): never poor on loss alone.
        assert!(!at(1005.0, 2.0, 2.0, 0.0).poor_since(&start));
        // Counters that went backwards (a new receiver) are not losses.
        assert!(!at(10.0, 0.0, 0.0, 0.0).poor_since(&at(1000.0, 50.0, 50.0, 0.0)));
    }
}
