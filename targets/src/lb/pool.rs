//! Keep-alive connections to backends, one pool per worker thread.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderMap, Method};
use tokio::net::TcpStream;

use crate::http1::{Answer, Conn, ReadError};

/// Idle connections kept per backend; more than this many idle at once are closed.
const MAX_IDLE: usize = 512;

/// Why an exchange failed, split by whether the backend can have seen the request.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendError {
    /// No connection could be made: the request was certainly not sent.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The request was (or may have been) sent, but no usable answer came.
    #[error("exchange with {addr} failed: {source}")]
    Exchange {
        addr: SocketAddr,
        #[source]
        source: ReadError,
    },
}

/// What to send: borrowed, so a retry on another connection or backend costs no copy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outgoing<'a> {
    pub method: &'a Method,
    /// Origin form: `/path?query`.
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// Whether sending it twice is harmless; only then is a request that met a connection
    /// closing under it sent again on another one.
    pub idempotent: bool,
}

#[derive(Debug)]
pub(super) struct Pool {
    idle: Mutex<Vec<(SocketAddr, Vec<Conn>)>>,
    connect_timeout: Duration,
    /// Largest response body read; larger answers are an error (502).
    max_response: usize,
}

impl Pool {
    pub fn new(connect_timeout: Duration, max_response: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            connect_timeout,
            max_response,
        }
    }

    /// An idle connection that, as far as the reactor knows, the backend has not closed.
    fn take(&self, addr: SocketAddr) -> Option<Conn> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let list = &mut idle.iter_mut().find(|(a, _)| *a == addr)?.1;
        std::iter::from_fn(|| list.pop()).find(Conn::is_open)
    }

    fn give_back(&self, addr: SocketAddr, conn: Conn) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match idle.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, list)) if list.len() < MAX_IDLE => list.push(conn),
            Some(_) => {}
            None => idle.push((addr, vec![conn])),
        }
    }

    async fn connect(&self, addr: SocketAddr) -> Result<Conn, SendError> {
        let connect_error = |source| SendError::Connect { addr, source };
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| connect_error(std::io::ErrorKind::TimedOut.into()))?
            .map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        Ok(Conn::new(stream))
    }

    /// Sends `out` to `addr` and reads the whole answer, on an idle connection or a new one.
    pub async fn exchange(&self, addr: SocketAddr, out: Outgoing<'_>) -> Result<Answer, SendError> {
        while let Some(mut conn) = self.take(addr) {
            match self.round_trip(&mut conn, out).await {
                Ok(answer) => return Ok(self.keep(addr, conn, answer)),
                // The keep-alive race: the backend closed the idle connection as the request
                // went out. A new connection gets a clean answer.
                Err(ReadError::ClosedEarly) if out.idempotent => {}
                Err(ReadError::Io(e)) if out.idempotent && is_reset(&e) => {}
                Err(source) => return Err(SendError::Exchange { addr, source }),
            }
        }
        let mut conn = self.connect(addr).await?;
        match self.round_trip(&mut conn, out).await {
            Ok(answer) => Ok(self.keep(addr, conn, answer)),
            Err(source) => Err(SendError::Exchange { addr, source }),
        }
    }

    async fn round_trip(&self, conn: &mut Conn, out: Outgoing<'_>) -> Result<Answer, ReadError> {
        conn.send(out.method, out.path, out.headers, out.body)
            .await?;
        conn.receive(out.method, self.max_response).await
    }

    fn keep(&self, addr: SocketAddr, conn: Conn, answer: Answer) -> Answer {
        if answer.reusable {
            self.give_back(addr, conn);
        }
        answer
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    matches!(e.kind(), BrokenPipe | ConnectionReset | ConnectionAborted)
}
