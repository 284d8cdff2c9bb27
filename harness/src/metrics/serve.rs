//! `--metrics-listen`: `/metrics` served on loopback while a run goes, and, at its end, a
//! short wait for the scrape that sees the final numbers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::scrapers::Scrapers;
use super::state::State;

/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The numbers and the times they were scraped, shared with the listener's tasks.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Who scraped the numbers, and when.
    scrapers: Mutex<Scrapers>,
}

/// A run's live metrics: fed by the recorder, served by a listener on the runtime.
#[derive(Debug, Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
}

/// Binds `addr` (loopback only, as everything the harness starts), before the run starts,
/// so a port taken fails at once.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--metrics-listen {addr}: the harness listens on loopback only (127.0.0.0/8 or ::1); scrape it from this machine, or forward the port"
        ));
    }
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("--metrics-listen {addr}: cannot listen: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
    Ok(listener)
}

impl Metrics {
    /// Serves `listener` on the current runtime, as long as it runs.
    pub fn serve(listener: std::net::TcpListener, suite: &str) -> std::io::Result<Self> {
        let listener = TcpListener::from_std(listener)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(suite)),
            scrapers: Mutex::new(Scrapers::default()),
        });
        let served = shared.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(answer(stream, served.clone()));
                    }
                    // Out of file descriptors, say: the metrics resume when it passes.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Ok(Self { shared })
    }

    /// The numbers, to update.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// At the run's end: waits for a scrape after now (the final numbers) by the scraper
    /// that has to see them ([`Scrapers::awaited`]: a `curl` at the end is not the
    /// Prometheus), for as long as its usual intervals say. Nothing scraped during the run:
    /// no wait. Says whether the final numbers were scraped.
    pub async fn last_scrape(&self, quiet: bool) -> bool {
        let now = Instant::now();
        let Some(awaited) = self.scrapers().awaited() else {
            return false;
        };
        let shown = humantime::format_duration(Duration::from_millis(
            u64::try_from(awaited.wait.as_millis()).unwrap_or(u64::MAX),
        ));
        if !quiet {
            eprintln!("sessionbench: waiting up to {shown} for the last scrape of the metrics");
        }
        while now.elapsed() < awaited.wait {
            if self.scrapers().scraped_after(awaited, now) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "sessionbench: no scrape of the metrics came within {shown} of the run's end: the last values scraped may be earlier ones than results.json's"
        );
        false
    }

    fn scrapers(&self) -> MutexGuard<'_, Scrapers> {
        self.shared
            .scrapers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One request: `GET /metrics` is answered with the exposition, anything else 404; the
/// connection is closed after it.
async fn answer(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let metrics = line.starts_with(b"GET /metrics ") || line.starts_with(b"GET /metrics?");
    // When the numbers were read: a scrape counts as the last one only if it read them
    // after the run's end.
    let rendered = Instant::now();
    let (status, body) = if metrics {
        let text = shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .text();
        ("200 OK", text)
    } else {
        (
            "404 Not Found",
            "sessionbench serves GET /metrics\n".to_string(),
        )
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(reply.as_bytes()).await.is_ok() && metrics {
        shared
            .scrapers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(&head, rendered);
    }
    let _ = stream.shutdown().await;
}
