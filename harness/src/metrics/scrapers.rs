//! Who scrapes the metrics, and how often: at its end a run waits for the next scrape by the
//! scraper that has to see the final numbers (Prometheus), not for any GET of /metrics.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The longest a run waits, at its end, for a last scrape.
pub const LAST_SCRAPE_AT_MOST: Duration = Duration::from_secs(30);
/// Scrapes remembered per scraper, for its usual interval.
const SCRAPES_KEPT: usize = 8;
/// Scrapers told apart; a request from any further one is not remembered.
const SCRAPERS_KEPT: usize = 32;

/// Every scraper seen in the run, in the order they first came.
#[derive(Debug, Default)]
pub struct Scrapers(Vec<Scraper>);

/// One scraper, told apart by its `User-Agent`.
#[derive(Debug)]
struct Scraper {
    by: String,
    /// It sent `X-Prometheus-Scrape-Timeout-Seconds`, as Prometheus and the scrapers built on
    /// its code do; curl and browsers do not.
    prometheus: bool,
    /// Its scrapes over the whole run.
    count: u64,
    /// When its latest scrapes read the numbers (at most [`SCRAPES_KEPT`]).
    recent: VecDeque<Instant>,
}

/// Which scraper a run waits for at its end (an index into [`Scrapers`]), and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Awaited {
    scraper: usize,
    pub wait: Duration,
}

impl Scrapers {
    /// A scrape, given its request's head, that read the numbers at `at`.
    pub fn record(&mut self, head: &[u8], at: Instant) {
        let head = String::from_utf8_lossy(head);
        let by = header(&head, "user-agent").unwrap_or_default();
        let i = match self.0.iter().position(|s| s.by == by) {
            Some(i) => i,
            None if self.0.len() < SCRAPERS_KEPT => {
                self.0.push(Scraper {
                    by: by.to_string(),
                    prometheus: false,
                    count: 0,
                    recent: VecDeque::new(),
                });
                self.0.len() - 1
            }
            None => return,
        };
        let s = &mut self.0[i];
        s.prometheus |= header(&head, "x-prometheus-scrape-timeout-seconds").is_some();
        s.count += 1;
        s.recent.push_back(at);
        if s.recent.len() > SCRAPES_KEPT {
            s.recent.pop_front();
        }
    }

    /// The scraper to wait for: a Prometheus-style one before any other, then the one that
    /// scraped most, then the first to come (a `watch curl` polling faster than Prometheus
    /// still loses to it). The wait: two of its usual intervals (their median) and a
    /// second, at most [`LAST_SCRAPE_AT_MOST`]; that longest wait if it scraped once.
    /// Nothing scraped: none.
    pub fn awaited(&self) -> Option<Awaited> {
        let (scraper, s) = self
            .0
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, s)| (s.prometheus, s.count))?;
        let times: Vec<Instant> = s.recent.iter().copied().collect();
        let mut gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort();
        let wait = gaps.get(gaps.len() / 2).map_or(LAST_SCRAPE_AT_MOST, |i| {
            (*i * 2 + Duration::from_secs(1)).min(LAST_SCRAPE_AT_MOST)
        });
        Some(Awaited { scraper, wait })
    }

    /// Whether the awaited scraper has scraped after `end`.
    pub fn scraped_after(&self, awaited: Awaited, end: Instant) -> bool {
        self.0
            .get(awaited.scraper)
            .and_then(|s| s.recent.back())
            .is_some_and(|at| *at > end)
    }
}

/// The value of header `name` in a request's head (not past its blank line).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS: &str = "GET /metrics HTTP/1.1\r\nUser-Agent: Prometheus/2.42.0\r\nX-Prometheus-Scrape-Timeout-Seconds: 2\r\n\r\n";
    const CURL: &str = "GET /metrics HTTP/1.1\r\nuser-agent: curl/7.88.1\r\n\r\n";

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn the_end_waits_for_prometheus_not_for_a_curl_that_polls_faster() {
        let t = Instant::now();
        let mut scrapers = Scrapers::default();
        for ms in [0, 2_000, 4_000] {
            scrapers.record(PROMETHEUS.as_bytes(), at(t, ms));
        }
        // `watch -n 0.5 curl`: more scrapes than Prometheus, and more than are kept.
        for ms in (0..5_000).step_by(500) {
            scrapers.record(CURL.as_bytes(), at(t, 100 + ms));
        }
        let awaited = scrapers.awaited().expect("scraped");
        // Prometheus's 2 s, not the curl's 500 ms: twice that and a second.
        assert_eq!(awaited.wait, Duration::from_secs(5));
        let end = at(t, 5_000);
        scrapers.record(CURL.as_bytes(), at(t, 5_100));
        assert!(
            !scrapers.scraped_after(awaited, end),
            "a curl after the end"
        );
        scrapers.record(PROMETHEUS.as_bytes(), at(t, 6_000));
        assert!(scrapers.scraped_after(awaited, end));
    }

    #[test]
    fn without_a_prometheus_the_busiest_then_the_first_is_awaited() {
        let t = Instant::now();
        let agent = |name: &str| format!("GET /metrics HTTP/1.1\r\nUser-Agent: {name}\r\n\r\n");
        let mut scrapers = Scrapers::default();
        assert_eq!(scrapers.awaited(), None, "nothing scraped: no wait");
        scrapers.record(agent("scraper/1").as_bytes(), at(t, 0));
        scrapers.record(agent("curl/7.88.1").as_bytes(), at(t, 500));
        let tie = scrapers.awaited().expect("scraped");
        assert_eq!(
            tie.wait, LAST_SCRAPE_AT_MOST,
            "one scrape says nothing of the next"
        );
        scrapers.record(agent("curl/7.88.1").as_bytes(), at(t, 3_000));
        assert!(
            !scrapers.scraped_after(tie, at(t, 1_000)),
            "a tie: the first"
        );
        scrapers.record(agent("scraper/1").as_bytes(), at(t, 10_000));
        scrapers.record(agent("scraper/1").as_bytes(), at(t, 20_000));
        let busiest = scrapers.awaited().expect("scraped");
        assert_eq!(busiest.wait, Duration::from_secs(21));
        assert!(scrapers.scraped_after(busiest, at(t, 15_000)));
    }

    #[test]
    fn headers_are_read_up_to_the_blank_line_whatever_their_case() {
        let head = "GET /metrics HTTP/1.1\r\nHost: x\r\nuser-agent:  Prometheus/2.42.0 \r\n\r\nUser-Agent: body";
        assert_eq!(header(head, "User-Agent"), Some("Prometheus/2.42.0"));
        assert_eq!(
            header(
                "GET /metrics HTTP/1.1\r\n\r\nUser-Agent: body",
                "user-agent"
            ),
            None
        );
    }
}
