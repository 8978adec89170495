//! The SFU's I/O edge: one task owns the UDP socket and the [`Sfu`] core, and takes commands from
//! signaling over a channel. Each command answers on its own one-shot channel. Nothing here locks.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::{PeerId, Sfu, SfuError, SfuStats, VideoCodec};

pub type Reply<T> = oneshot::Sender<Result<T, SfuError>>;

pub enum Command {
    Publish {
        peer: PeerId,
        offer: String,
        codec: Option<VideoCodec>,
        reply: Reply<String>,
    },
    OfferSubscription {
        peer: PeerId,
        source: PeerId,
        stream_id: String,
        reply: Reply<String>,
    },
    AcceptAnswer {
        peer: PeerId,
        answer: String,
        reply: Reply<()>,
    },
    AcceptSubscriptionOffer {
        peer: PeerId,
        source: PeerId,
        offer: String,
        reply: Reply<String>,
    },
    MoveSubscribers {
        from: PeerId,
        to: PeerId,
    },
    AddCandidate {
        peer: PeerId,
        candidate: String,
    },
    Close {
        peer: PeerId,
    },
    Stats {
        reply: oneshot::Sender<SfuStats>,
    },
}

/// Signaling's handle on the SFU task. The channel is unbounded so that no command is ever dropped
/// (a lost `Close` would leak a peer): only the hub sends, one RPC or REST call at a time, and a
/// client's candidates are capped per peer by the core.
#[derive(Clone)]
pub struct SfuHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl SfuHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, SfuError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| SfuError::Stopped)?;
        rx.await.map_err(|_| SfuError::Stopped)?
    }

    pub async fn publish(
        &self,
        peer: PeerId,
        offer: String,
        codec: Option<VideoCodec>,
    ) -> Result<String, SfuError> {
        self.ask(|reply| Command::Publish {
            peer,
            offer,
            codec,
            reply,
        })
        .await
    }
    pub async fn offer_subscription(
        &self,
        peer: PeerId,
        source: PeerId,
        stream_id: String,
    ) -> Result<String, SfuError> {
        self.ask(|reply| Command::OfferSubscription {
            peer,
            source,
            stream_id,
            reply,
        })
        .await
    }
    pub async fn accept_answer(&self, peer: PeerId, answer: String) -> Result<(), SfuError> {
        self.ask(|reply| Command::AcceptAnswer {
            peer,
            answer,
            reply,
        })
        .await
    }
    pub async fn accept_subscription_offer(
        &self,
        peer: PeerId,
        source: PeerId,
        offer: String,
    ) -> Result<String, SfuError> {
        self.ask(|reply| Command::AcceptSubscriptionOffer {
            peer,
            source,
            offer,
            reply,
        })
        .await
    }
    /// What the SFU holds (peer connections, addresses) and has dropped.
    pub async fn stats(&self) -> Option<SfuStats> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Stats { reply }).ok()?;
        rx.await.ok()
    }

    /// Commands without an answer.
    pub fn send(&self, command: Command) {
        if self.tx.send(command).is_err() {
            warn!("the SFU task has stopped; command dropped");
        }
    }
}

/// Binds the UDP socket and spawns the SFU task. `public_ip` replaces the bound IP in candidates.
pub async fn spawn(
    bind: SocketAddr,
    public_ip: Option<std::net::IpAddr>,
) -> anyhow::Result<(SfuHandle, SocketAddr)> {
    let socket = UdpSocket::bind(bind).await?;
    let local = socket.local_addr()?;
    let candidate_ip = match public_ip {
        Some(ip) => ip,
        None if local.ip().is_unspecified() => {
            anyhow::bail!(
                "--udp binds {local}, which is no address a browser can reach: give --public-ip"
            )
        }
        None => local.ip(),
    };
    let candidate = SocketAddr::new(candidate_ip, local.port());
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(socket, Sfu::new(local, candidate), rx));
    tokio::spawn(async move {
        if let Err(e) = task.await {
            tracing::error!("the SFU task stopped: {e}");
        }
    });
    Ok((SfuHandle { tx }, local))
}

async fn run(socket: UdpSocket, mut sfu: Sfu, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut buf = vec![0u8; 2000];
    loop {
        let deadline = sfu.next_timeout(Instant::now());
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => sfu.handle_receive(Instant::now(), source, &buf[..n]),
                // ICMP errors from a vanished browser surface here; they are no reason to stop.
                Err(e) => debug!("UDP receive error: {e}"),
            },
            command = rx.recv() => match command {
                Some(command) => handle(&mut sfu, command),
                None => break,
            },
            _ = tokio::time::sleep_until(deadline.into()) => sfu.handle_timeout(Instant::now()),
        }
        while let Some(t) = sfu.poll_transmit() {
            if let Err(e) = socket.try_send_to(&t.contents, t.destination) {
                debug!("UDP send to {} failed: {e}", t.destination);
            }
        }
    }
    debug!("SFU task stopped");
}

fn handle(sfu: &mut Sfu, command: Command) {
    let now = Instant::now();
    match command {
        Command::Publish {
            peer,
            offer,
            codec,
            reply,
        } => {
            let _ = reply.send(sfu.publish_with_codec(now, peer, &offer, codec));
        }
        Command::OfferSubscription {
            peer,
            source,
            stream_id,
            reply,
        } => {
            let _ = reply.send(sfu.offer_subscription(now, peer, source, &stream_id));
        }
        Command::AcceptAnswer {
            peer,
            answer,
            reply,
        } => {
            let _ = reply.send(sfu.accept_answer(now, peer, &answer));
        }
        Command::AcceptSubscriptionOffer {
            peer,
            source,
            offer,
            reply,
        } => {
            let _ = reply.send(sfu.accept_subscription_offer(now, peer, source, &offer));
        }
        Command::MoveSubscribers { from, to } => sfu.move_subscribers(now, from, to),
        Command::AddCandidate { peer, candidate } => sfu.add_remote_candidate(peer, &candidate),
        Command::Close { peer } => sfu.close(peer),
        Command::Stats { reply } => {
            let _ = reply.send(sfu.stats());
        }
    }
}
