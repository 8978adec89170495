//! The SFU's I/O edge: each worker thread owns a UDP socket and an [`Sfu`] core, and takes commands
//! from signaling over a channel. Each command answers on its own one-shot channel. Nothing here
//! locks.

use std::net::SocketAddr;
use std::time::Instant;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, warn};

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
    /// Closes every peer of one session (see [`PeerId::session`]): what is left of a session whose
    /// signaling failed.
    CloseSession {
        session: u32,
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

/// The SFU workers: each one a thread with its own UDP socket and its own [`Sfu`] core, owning the
/// peer connections of the sessions placed on it. Sessions never share a worker's peers across
/// workers, so media never crosses threads and nothing is locked on the media path.
pub struct SfuPool {
    workers: Vec<Worker>,
}

struct Worker {
    handle: SfuHandle,
    /// Sessions placed on this worker now, for placing the next one.
    sessions: Arc<AtomicUsize>,
    local: SocketAddr,
}

/// A session's place on one worker: its handle on that worker's core. The place is given back (the
/// worker's session count goes down) when this is dropped.
pub struct Placement {
    pub sfu: SfuHandle,
    load: Arc<AtomicUsize>,
}

impl Drop for Placement {
    fn drop(&mut self) {
        self.load.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SfuPool {
    /// Binds one UDP socket per worker and starts the workers. With port 0 each worker takes a free
    /// port; with port P, worker i binds P + i. `public_ip` replaces the bound IP in candidates.
    pub fn spawn(
        bind: SocketAddr,
        public_ip: Option<std::net::IpAddr>,
        workers: usize,
    ) -> anyhow::Result<SfuPool> {
        anyhow::ensure!(workers >= 1, "at least one SFU worker is needed");
        let mut pool = SfuPool {
            workers: Vec::with_capacity(workers),
        };
        for index in 0..workers {
            let mut addr = bind;
            if bind.port() != 0 {
                let port = u16::try_from(usize::from(bind.port()) + index).map_err(|_| {
                    anyhow::anyhow!("--udp {bind} leaves no room for {workers} workers' ports")
                })?;
                addr.set_port(port);
            }
            pool.workers.push(spawn_worker(index, addr, public_ip)?);
        }
        Ok(pool)
    }

    /// Places a new session on the worker with the fewest sessions.
    pub fn place(&self) -> Placement {
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| w.sessions.load(Ordering::Relaxed))
            .expect("at least one worker");
        worker.sessions.fetch_add(1, Ordering::Relaxed);
        Placement {
            sfu: worker.handle.clone(),
            load: worker.sessions.clone(),
        }
    }

    /// The UDP addresses the workers are bound to, in worker order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.local).collect()
    }

    /// What all workers hold together.
    pub async fn stats(&self) -> SfuStats {
        let mut total = SfuStats::default();
        for w in &self.workers {
            let s = w.handle.stats().await.unwrap_or_default();
            total.peers += s.peers;
            total.addresses += s.addresses;
            total.dropped_datagrams += s.dropped_datagrams;
            total.candidates += s.candidates;
        }
        total
    }
}

fn spawn_worker(
    index: usize,
    bind: SocketAddr,
    public_ip: Option<std::net::IpAddr>,
) -> anyhow::Result<Worker> {
    let socket = std::net::UdpSocket::bind(bind)
        .with_context(|| format!("binding the media port {bind}"))?;
    socket.set_nonblocking(true)?;
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting an SFU worker's runtime")?;
    std::thread::Builder::new()
        .name(format!("sfu-{index}"))
        .spawn(move || {
            let work = std::panic::AssertUnwindSafe(|| {
                runtime.block_on(async move {
                    match UdpSocket::from_std(socket) {
                        Ok(socket) => run(socket, Sfu::new(local, candidate), rx).await,
                        Err(e) => error!("SFU worker {index} could not use its socket: {e}"),
                    }
                })
            });
            if std::panic::catch_unwind(work).is_err() {
                error!("SFU worker {index} stopped after a panic; its calls lost their media");
            }
        })
        .context("starting an SFU worker thread")?;
    Ok(Worker {
        handle: SfuHandle { tx },
        sessions: Arc::new(AtomicUsize::new(0)),
        local,
    })
}

/// Datagrams taken from the socket in one go once it is readable, before what they caused is sent:
/// under load, one wake-up (and one timer reset) serves many datagrams.
const RECEIVE_BATCH: usize = 64;

async fn run(socket: UdpSocket, mut sfu: Sfu, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut buf = vec![0u8; 2000];
    // One timer for the worker's life, moved to each new deadline.
    let sleep = tokio::time::sleep_until(sfu.next_timeout(Instant::now()).into());
    tokio::pin!(sleep);
    loop {
        sleep
            .as_mut()
            .reset(sfu.next_timeout(Instant::now()).into());
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => {
                    sfu.handle_receive(Instant::now(), source, &buf[..n]);
                    for _ in 1..RECEIVE_BATCH {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, source)) => sfu.handle_receive(Instant::now(), source, &buf[..n]),
                            Err(_) => break,
                        }
                    }
                }
                // ICMP errors from a vanished browser surface here; they are no reason to stop.
                Err(e) => debug!("UDP receive error: {e}"),
            },
            command = rx.recv() => match command {
                Some(command) => handle(&mut sfu, command),
                None => break,
            },
            _ = &mut sleep => sfu.handle_timeout(Instant::now()),
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
        Command::CloseSession { session } => {
            for peer in sfu.peer_ids() {
                if peer.session() == session {
                    sfu.close(peer);
                }
            }
        }
        Command::Stats { reply } => {
            let _ = reply.send(sfu.stats());
        }
    }
}
