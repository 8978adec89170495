//! A load generator for OpenVidu-compatible media servers (ours) and for Janus's VideoRoom: many
//! synthetic participants in one process, each a str0m peer connection per published or received
//! stream on its own loopback UDP socket, driven by tokio tasks on a few threads. Publishers send
//! synthetic VP8 (valid frame headers, keyframes at an interval and on request) and Opus at a set
//! rate; subscribers measure packets, loss, forwarding delay (the send time rides in every frame) and
//! the time from subscribe request to first keyframe.
//!
//! It does not own the servers: `scripts/bench.sh` starts them; the smoke test starts ours in-process.

pub mod app;
pub mod http;
pub mod janus;
pub mod media;
pub mod openvidu;
pub mod peer;
pub mod report;
pub mod scenario;
pub mod signal;

pub use peer::PublishSettings;
pub use report::RunReport;
pub use scenario::{RunConfig, Scenario, Target};
