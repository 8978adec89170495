//! The JSON-RPC signaling WebSocket at `/openvidu`: framing, the typed protocol and the per-socket
//! task. Decisions about sessions are the hub's.

pub mod protocol;
pub mod ws;
