//! The proxy's state and its listeners: connections forwarded with the faults in force.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::faults::Faults;
use super::{admin, pump};
use crate::limits::{Admission, ClientLimits};

/// The proxy's shared state: the faults in force, and a signal that resets connections.
#[derive(Debug)]
pub struct Proxy {
    pub(super) upstream: SocketAddr,
    pub(super) faults: RwLock<Faults>,
    /// Bumped when `reset` is switched on: every open connection closes with a reset.
    pub(super) resets: watch::Sender<u64>,
    /// Whether the listener should be open (`refuse` closes it).
    pub(super) listening: watch::Sender<bool>,
    /// A connection idle both ways this long is closed.
    pub(super) idle_timeout: Duration,
    pub(super) admission: Admission,
}

impl Proxy {
    pub fn new(upstream: SocketAddr) -> Arc<Self> {
        let limits = ClientLimits::default();
        Self::with_limits(upstream, limits.idle_timeout, limits.max_connections)
    }

    /// A proxy that closes connections idle for `idle_timeout` and holds at most
    /// `max_connections` client connections.
    pub fn with_limits(
        upstream: SocketAddr,
        idle_timeout: Duration,
        max_connections: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            upstream,
            faults: RwLock::new(Faults::default()),
            resets: watch::Sender::new(0),
            listening: watch::Sender::new(true),
            idle_timeout,
            admission: Admission::new(max_connections),
        })
    }

    pub fn faults(&self) -> Faults {
        *self.faults.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `faults` in force at once, for open connections too.
    pub fn set(&self, faults: Faults) {
        let before = std::mem::replace(
            &mut *self.faults.write().unwrap_or_else(|p| p.into_inner()),
            faults,
        );
        if faults.reset && !before.reset {
            self.resets.send_modify(|n| *n += 1);
        }
        self.listening.send_replace(!faults.refuse);
    }

    /// Accepts on `listener` (and, after a `refuse` ends, on the same address again) until
    /// the task is dropped.
    pub async fn run(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        let mut listener = Some(listener);
        let mut listening = self.listening.subscribe();
        loop {
            // The wanted state, read before waiting: a `refuse` may predate this task.
            let open = *listening.borrow_and_update();
            match (open, listener.is_some()) {
                (false, true) => listener = None, // closed: connects are refused
                (true, false) => listener = Some(TcpListener::bind(addr).await?),
                _ => {}
            }
            match &listener {
                Some(l) => {
                    tokio::select! {
                        accepted = l.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            // At the cap: closed at once.
                            let Some(permit) = self.admission.admit() else { continue };
                            let proxy = self.clone();
                            tokio::spawn(async move {
                                proxy.serve(client).await;
                                drop(permit);
                            });
                        }
                        changed = listening.changed() => if changed.is_err() { return Ok(()) },
                    }
                }
                None => {
                    if listening.changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    pub(super) async fn serve(self: Arc<Self>, client: TcpStream) {
        let _ = client.set_nodelay(true);
        if self.faults().reset {
            pump::reset(client);
            return;
        }
        let Ok(upstream) = TcpStream::connect(self.upstream).await else {
            pump::reset(client);
            return;
        };
        let _ = upstream.set_nodelay(true);
        pump::forward(self, client, upstream).await;
    }
}

/// Serves the proxy and its admin API on listeners the caller bound (and announces).
pub fn start(listener: TcpListener, admin: TcpListener, proxy: Arc<Proxy>) -> Arc<Proxy> {
    tokio::spawn(proxy.clone().run(listener));
    let app = admin::router(proxy.clone());
    tokio::spawn(async move { axum::serve(admin, app).await });
    proxy
}
