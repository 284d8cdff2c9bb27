//! What one client may hold of a server: how long it may take to send a request's headers or
//! its body, how long it may keep a connection idle, and how many connections a process
//! serves at once. nginx's client_header_timeout, client_body_timeout and keepalive_timeout
//! (60 s each by default) and its worker_connections. Without them a local process holds a
//! node or the balancer with connections that never finish a request.
//!
//! One watchdog per connection applies all three timeouts: the connection's reads say when
//! bytes arrived, the service says when a request is being handled and whether its body is
//! still coming. A connection past its timeout is dropped (closed) there and then.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::durations::{duration, show};

/// The flags every HTTP server here takes (`node`, `lb`); the proxy takes the idle timeout
/// and the cap.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct ClientLimits {
    /// Close a connection whose request headers are not all in this long after they began.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub header_timeout: Duration,
    /// Close a connection whose request body stalls this long (no byte arrives).
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub body_timeout: Duration,
    /// Close a connection idle this long between requests.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub idle_timeout: Duration,
    /// Connections served at once; more are closed as they arrive. Above the harness's
    /// largest number of virtual users, each of which holds one.
    #[arg(long, default_value_t = 65_536)]
    pub max_connections: usize,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 65_536,
        }
    }
}

impl ClientLimits {
    /// The flags, as `to_args` writes them.
    pub(crate) fn args(&self) -> [String; 8] {
        [
            "--header-timeout".into(),
            show(self.header_timeout),
            "--body-timeout".into(),
            show(self.body_timeout),
            "--idle-timeout".into(),
            show(self.idle_timeout),
            "--max-connections".into(),
            self.max_connections.to_string(),
        ]
    }

    /// The timeouts must be above zero, and so must the cap.
    pub fn check(&self) -> Result<(), String> {
        for (flag, d) in [
            ("--header-timeout", self.header_timeout),
            ("--body-timeout", self.body_timeout),
            ("--idle-timeout", self.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(format!("{flag} must be above zero"));
            }
        }
        if self.max_connections == 0 {
            return Err("--max-connections must be above zero".into());
        }
        Ok(())
    }
}

/// Admits connections up to the cap.
#[derive(Debug, Clone)]
pub struct Admission(Arc<Semaphore>);

impl Admission {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }

    /// A place for one more connection, held while it is open; `None` at the cap (then close
    /// the connection at once).
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

/// Where a connection stands, for its watchdog.
#[derive(Debug)]
struct Phase {
    /// Requests being handled.
    in_flight: usize,
    /// When the current wait began: the last request's end (idle), the first byte of the next
    /// (headers), or the body's last byte.
    since: Instant,
    /// Bytes of a next request arrived since the last one ended.
    heading: bool,
    /// A request's body is still to come.
    body_pending: bool,
}

#[derive(Debug, Clone)]
struct Watch(Arc<Mutex<Phase>>);

impl Watch {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Phase {
            in_flight: 0,
            since: Instant::now(),
            heading: false,
            body_pending: false,
        })))
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) {
        let mut p = self.phase();
        if p.in_flight == 0 && !p.heading {
            p.heading = true;
            p.since = Instant::now();
        } else if p.body_pending {
            p.since = Instant::now();
        }
    }

    fn begin(&self, body_pending: bool) {
        let mut p = self.phase();
        p.in_flight += 1;
        p.since = Instant::now();
        p.body_pending = body_pending;
    }

    fn end(&self) {
        let mut p = self.phase();
        p.in_flight = p.in_flight.saturating_sub(1);
        p.since = Instant::now();
        p.heading = false;
        p.body_pending = false;
    }

    fn body_done(&self) {
        self.phase().body_pending = false;
    }

    /// When the connection's current wait runs out, and what it waits for; `None` while a
    /// request is handled with its body in (the application's own time).
    fn deadline(&self, limits: &ClientLimits) -> Option<(Instant, &'static str)> {
        let p = self.phase();
        let (limit, what) = match (p.in_flight, p.heading, p.body_pending) {
            (0, false, _) => (limits.idle_timeout, "idle"),
            (0, true, _) => (limits.header_timeout, "headers"),
            (_, _, true) => (limits.body_timeout, "body"),
            _ => return None,
        };
        Some((p.since + limit, what))
    }
}

/// A connection's stream that tells the watchdog when bytes arrive.
struct Watched<S> {
    inner: S,
    watch: Watch,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that tells the watchdog when it is all in.
#[derive(Debug)]
pub struct WatchedBody {
    inner: Incoming,
    watch: Watch,
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_))))
            || self.inner.is_end_stream()
        {
            self.watch.body_done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves one HTTP/1.1 connection with `handle` under `limits` until the client is done, a
/// timeout drops it, or `stop` changes (then it finishes the request in hand and closes).
pub async fn serve_connection<F, Fut, B>(
    stream: TcpStream,
    limits: &ClientLimits,
    handle: F,
    mut stop: watch::Receiver<()>,
) where
    F: Fn(Request<WatchedBody>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Response<B>> + Send,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = stream.set_nodelay(true);
    let watch = Watch::new();
    let io = Watched {
        inner: stream,
        watch: watch.clone(),
    };
    let service_watch = watch.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let (handle, watch) = (handle.clone(), service_watch.clone());
        async move {
            watch.begin(!req.body().is_end_stream());
            let req = req.map(|inner| WatchedBody {
                inner,
                watch: watch.clone(),
            });
            let response = handle(req).await;
            watch.end();
            Ok::<_, Infallible>(response)
        }
    });
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    loop {
        let deadline = watch.deadline(limits);
        let wait = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                // Handled in the application's time: look again after a while.
                None => tokio::time::sleep(limits.body_timeout).await,
            }
        };
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stop.changed() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
                return;
            }
            () = wait => {
                // Dropping the connection closes it; only if the wait is still the same one.
                if watch.deadline(limits).is_some_and(|(at, _)| at <= Instant::now()) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_wait_has_its_own_timeout() {
        let limits = ClientLimits {
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(3),
            max_connections: 1,
        };
        let w = Watch::new();
        let start = Instant::now();
        assert_eq!(
            w.deadline(&limits),
            Some((start + Duration::from_secs(3), "idle"))
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        w.read();
        assert_eq!(w.deadline(&limits).map(|(_, what)| what), Some("headers"));
        w.begin(true);
        assert_eq!(w.deadline(&limits).map(|(_, what)| what), Some("body"));
        w.body_done();
        assert_eq!(w.deadline(&limits), None, "the application's own time");
        w.end();
        assert_eq!(w.deadline(&limits).map(|(_, what)| what), Some("idle"));
        let a = Admission::new(1);
        let held = a.admit();
        assert!(held.is_some() && a.admit().is_none());
        drop(held);
        assert!(a.admit().is_some());
    }
}
