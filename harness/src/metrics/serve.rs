//! `--metrics-listen`: `/metrics` served on loopback while a run goes, and, at its end, a
//! short wait for the scrape that sees the final numbers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::state::State;

/// The longest a run waits, at its end, for a last scrape.
const LAST_SCRAPE_AT_MOST: Duration = Duration::from_secs(30);
/// Scrapes remembered, for their usual interval.
const SCRAPES_KEPT: usize = 8;
/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The numbers and the times they were scraped, shared with the listener's tasks.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The latest scrapes (at most [`SCRAPES_KEPT`]): how often they come, and whether one
    /// came after the end.
    scrapes: Mutex<Vec<Scrape>>,
}

/// When a scrape read the numbers, and who asked (its `User-Agent`).
#[derive(Debug, Clone)]
struct Scrape {
    at: Instant,
    by: String,
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
            scrapes: Mutex::new(Vec::new()),
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

    /// At the run's end: waits for a scrape after now (the final numbers) by the scraper that
    /// scraped most during the run, as long as two of its usual intervals between scrapes
    /// (their median) and a second, at most [`LAST_SCRAPE_AT_MOST`]: a `curl` at the end is
    /// not the Prometheus that has to see the final numbers. Nothing scraped during the run:
    /// no wait. Says whether the final numbers were scraped.
    pub async fn last_scrape(&self, quiet: bool) -> bool {
        let now = Instant::now();
        let Some((by, wait)) = regular(&self.scrapes()) else {
            return false;
        };
        let shown = humantime::format_duration(Duration::from_millis(
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        ));
        if !quiet {
            eprintln!("sessionbench: waiting up to {shown} for the last scrape of the metrics");
        }
        while now.elapsed() < wait {
            if self.scrapes().iter().any(|s| s.at > now && s.by == by) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "sessionbench: no scrape of the metrics came within {shown} of the run's end: the last values scraped may be earlier ones than results.json's"
        );
        false
    }

    fn scrapes(&self) -> MutexGuard<'_, Vec<Scrape>> {
        self.shared
            .scrapes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The scraper that scraped most (by `User-Agent`; on a tie, the first), and how long to wait
/// for its next scrape: two of its usual intervals (their median) and a second; the longest
/// wait if it scraped once.
fn regular(scrapes: &[Scrape]) -> Option<(String, Duration)> {
    // On a tie, the one that came first: the Prometheus that scraped before a curl did.
    let count = |s: &Scrape| scrapes.iter().filter(|o| o.by == s.by).count();
    let busiest = scrapes.iter().rev().max_by_key(|s| count(s))?;
    let times: Vec<Instant> = scrapes
        .iter()
        .filter(|s| s.by == busiest.by)
        .map(|s| s.at)
        .collect();
    let mut gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    let wait = gaps.get(gaps.len() / 2).map_or(LAST_SCRAPE_AT_MOST, |i| {
        (*i * 2 + Duration::from_secs(1)).min(LAST_SCRAPE_AT_MOST)
    });
    Some((busiest.by.clone(), wait))
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
    let by = user_agent(&head);
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
        let mut s = shared
            .scrapes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.push(Scrape { at: rendered, by });
        if s.len() > SCRAPES_KEPT {
            s.remove(0);
        }
    }
    let _ = stream.shutdown().await;
}

/// A request's `User-Agent` (empty if none): who scraped.
fn user_agent(head: &[u8]) -> String {
    String::from_utf8_lossy(head)
        .split("\r\n")
        .skip(1)
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("user-agent")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(start: Instant, ms: u64, by: &str) -> Scrape {
        Scrape {
            at: start + Duration::from_millis(ms),
            by: by.into(),
        }
    }

    #[test]
    fn the_wait_is_for_the_scraper_that_scraped_most_and_set_by_its_interval() {
        let t = Instant::now();
        let prometheus = "Prometheus/2.42.0";
        let scrapes = [
            scrape(t, 0, prometheus),
            scrape(t, 2_000, prometheus),
            scrape(t, 2_300, "curl/7.88.1"),
            scrape(t, 3_900, "curl/7.88.1"),
            scrape(t, 4_000, prometheus),
        ];
        // Prometheus's 2 s, not the gaps around the curls: twice that and a second.
        assert_eq!(
            regular(&scrapes),
            Some((prometheus.to_string(), Duration::from_secs(5)))
        );
        assert_eq!(
            regular(&[scrape(t, 0, prometheus), scrape(t, 500, "curl/7.88.1")]).map(|r| r.0),
            Some(prometheus.to_string()),
            "a tie: the first"
        );
        assert_eq!(regular(&[]), None, "nothing scraped: no wait");
        assert_eq!(
            regular(&[scrape(t, 0, prometheus)]),
            Some((prometheus.to_string(), LAST_SCRAPE_AT_MOST)),
            "one scrape says nothing of the next"
        );
    }

    #[test]
    fn the_scraper_is_named_by_its_user_agent() {
        let head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nuser-agent:  Prometheus/2.42.0 \r\n\r\n";
        assert_eq!(user_agent(head), "Prometheus/2.42.0");
        assert_eq!(user_agent(b"GET /metrics HTTP/1.0\r\n\r\n"), "");
    }
}
