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
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
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

/// Whether a request declares a body (`Content-Length`) over `limit`: it is answered 413
/// before any of the body is read, by [`too_large`].
pub fn declares_over(headers: &http::HeaderMap, limit: usize) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// `refusal` (a 413) closing its connection: the body it refused is still unread on it.
pub fn too_large<B>(mut refusal: Response<B>) -> Response<B> {
    refusal.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    refusal
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

/// Where a connection stands, for its watchdog. Every field is touched by one task (the
/// connection's), so relaxed atomics are all the ordering needed; they keep the request path
/// free of locks.
#[derive(Debug)]
struct Phase {
    /// When the connection opened: `since_us` counts from here.
    opened: Instant,
    /// Requests being handled.
    in_flight: AtomicU32,
    /// When the current wait began: the last request's end (idle), the first byte of the next
    /// (headers), or the body's last byte.
    since_us: AtomicU64,
    /// Bytes of a next request arrived since the last one ended.
    heading: AtomicBool,
    /// A request's body is still to come.
    body_pending: AtomicBool,
}

#[derive(Debug, Clone)]
struct Watch(Arc<Phase>);

impl Watch {
    fn new() -> Self {
        Self(Arc::new(Phase {
            opened: Instant::now(),
            in_flight: AtomicU32::new(0),
            since_us: AtomicU64::new(0),
            heading: AtomicBool::new(false),
            body_pending: AtomicBool::new(false),
        }))
    }

    fn restart_wait(&self) {
        let us = u64::try_from(self.0.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.0.since_us.store(us, Relaxed);
    }

    fn read(&self) {
        let p = &self.0;
        if p.in_flight.load(Relaxed) == 0 {
            if !p.heading.swap(true, Relaxed) {
                self.restart_wait();
            }
        } else if p.body_pending.load(Relaxed) {
            self.restart_wait();
        }
    }

    fn begin(&self, body_pending: bool) {
        self.0.in_flight.fetch_add(1, Relaxed);
        self.0.body_pending.store(body_pending, Relaxed);
        self.restart_wait();
    }

    fn end(&self) {
        let p = &self.0;
        let _ = p
            .in_flight
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
        p.heading.store(false, Relaxed);
        p.body_pending.store(false, Relaxed);
        self.restart_wait();
    }

    fn body_done(&self) {
        self.0.body_pending.store(false, Relaxed);
    }

    /// When the connection's current wait runs out; `None` while a request is handled with
    /// its body in (the application's own time).
    fn deadline(&self, limits: &ClientLimits) -> Option<Instant> {
        let p = &self.0;
        let limit = match (
            p.in_flight.load(Relaxed),
            p.heading.load(Relaxed),
            p.body_pending.load(Relaxed),
        ) {
            (0, false, _) => limits.idle_timeout,
            (0, true, _) => limits.header_timeout,
            (_, _, true) => limits.body_timeout,
            _ => return None,
        };
        Some(p.opened + Duration::from_micros(p.since_us.load(Relaxed)) + limit)
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
    let stopped = stop.changed();
    tokio::pin!(stopped);
    let first = watch
        .deadline(limits)
        .unwrap_or_else(|| Instant::now() + limits.body_timeout);
    let timer = tokio::time::sleep_until(first);
    tokio::pin!(timer);
    // The reads and the service change the wait within the connection's own poll, so the
    // deadline is looked at after each: one timer per connection, moved earlier when a
    // shorter wait begins (headers after an idle spell) and, when it fires before the wait
    // now current runs out, set to that wait's end. Waits that only move later (the next
    // request's idle spell) touch no timer.
    let end = std::future::poll_fn(|cx| {
        if connection.as_mut().poll(cx).is_ready() {
            return Poll::Ready(End::Done);
        }
        if stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(End::Stop);
        }
        loop {
            let due = watch.deadline(limits);
            if let Some(at) = due.filter(|at| *at < timer.deadline()) {
                timer.as_mut().reset(at);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            match due {
                Some(at) if at <= now => return Poll::Ready(End::TimedOut),
                Some(at) => timer.as_mut().reset(at),
                // Handled in the application's time: look again after a while.
                None => timer.as_mut().reset(now + limits.body_timeout),
            }
        }
    })
    .await;
    if matches!(end, End::Stop) {
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
    // Otherwise dropping the connection closes it.
}

/// Why a connection's service ended.
enum End {
    Done,
    Stop,
    TimedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_wait_has_its_own_timeout() {
        let second = Duration::from_secs(1);
        let limits = ClientLimits {
            header_timeout: second,
            body_timeout: 2 * second,
            idle_timeout: 3 * second,
            max_connections: 1,
        };
        let w = Watch::new();
        let start = Instant::now();
        assert_eq!(w.deadline(&limits), Some(start + 3 * second), "idle");
        tokio::time::advance(second / 2).await;
        w.read();
        let heading = start + second / 2 + second;
        assert_eq!(
            w.deadline(&limits),
            Some(heading),
            "headers, from their first byte"
        );
        tokio::time::advance(second / 4).await;
        w.read();
        assert_eq!(
            w.deadline(&limits),
            Some(heading),
            "more header bytes do not extend it"
        );
        w.begin(true);
        let begun = start + second / 2 + second / 4;
        assert_eq!(w.deadline(&limits), Some(begun + 2 * second), "body");
        tokio::time::advance(second / 4).await;
        w.read();
        assert_eq!(
            w.deadline(&limits),
            Some(begun + second / 4 + 2 * second),
            "body bytes do"
        );
        w.body_done();
        assert_eq!(w.deadline(&limits), None, "the application's own time");
        w.end();
        assert_eq!(
            w.deadline(&limits),
            Some(begun + second / 4 + 3 * second),
            "idle again"
        );
        let a = Admission::new(1);
        let held = a.admit();
        assert!(held.is_some() && a.admit().is_none());
        drop(held);
        assert!(a.admit().is_some());
    }
}
