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
    /// Whether the time between `earlier` and `self` looks like a poor connection: more than 5 % of
    /// the packets went missing (lost or asked for again), or the picture froze.
    pub fn poor_since(&self, earlier: &Received) -> bool {
        let packets = self.packets - earlier.packets;
        let missing = (self.lost - earlier.lost).max(0.0) + (self.nacks - earlier.nacks).max(0.0);
        let froze = self.freezes > earlier.freezes;
        froze || (packets + missing >= 20.0 && missing > 0.05 * (packets + missing))
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
        // 1 of 200 missing: fine.
        assert!(!at(1199.0, 1.0, 0.0, 0.0).poor_since(&start));
        // 20 of 200 asked for again, even if all recovered: poor.
        assert!(at(1200.0, 0.0, 20.0, 0.0).poor_since(&start));
        assert!(at(1180.0, 20.0, 0.0, 0.0).poor_since(&start));
        // A freeze is poor whatever the packets say.
        assert!(at(1200.0, 0.0, 0.0, 1.0).poor_since(&start));
        // Too few packets to judge (a still screen share): never poor on loss alone.
        assert!(!at(1005.0, 2.0, 2.0, 0.0).poor_since(&start));
        // Counters that went backwards (a new receiver) are not losses.
        assert!(!at(10.0, 0.0, 0.0, 0.0).poor_since(&at(1000.0, 50.0, 50.0, 0.0)));
    }
}
