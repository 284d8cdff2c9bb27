//! Which backend gets a request: the balancing policies and their stickiness rules.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::backends::Backend;

/// How the balancer spreads requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Every request to the next backend: the session inconsistency problem itself.
    RoundRobin,
    /// The backend with the fewest requests in flight.
    LeastConn,
    /// A hash of the client's whole IP address, taken modulo the backend list as nginx's
    /// `ip_hash` does: adding or removing a backend remaps most clients.
    IpHash,
    /// The `.<node>` suffix of the session id names the backend (Tomcat jvmRoute, httpd
    /// `stickysession`).
    CookieRoute,
    /// The balancer's own affinity cookie names the backend (HAProxy
    /// `cookie SERVERID insert indirect nocache`).
    CookieInsert,
}

impl Policy {
    pub const NAMES: [&'static str; 5] = [
        "round-robin",
        "least-conn",
        "ip-hash",
        "cookie-route",
        "cookie-insert",
    ];

    fn name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round-robin",
            Self::LeastConn => "least-conn",
            Self::IpHash => "ip-hash",
            Self::CookieRoute => "cookie-route",
            Self::CookieInsert => "cookie-insert",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown policy name.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "unknown policy `{0}` (expected one of: round-robin, least-conn, ip-hash, cookie-route, cookie-insert)"
)]
pub struct UnknownPolicy(String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::RoundRobin,
            Self::LeastConn,
            Self::IpHash,
            Self::CookieRoute,
            Self::CookieInsert,
        ]
        .into_iter()
        .find(|p| p.name() == s)
        .ok_or_else(|| UnknownPolicy(s.into()))
    }
}

/// The outcome of choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    /// Send it to `backends[index]`; `redispatched` when that is not the backend the request
    /// is bound to (its own is down), or when a retry goes to another backend.
    Backend { index: usize, redispatched: bool },
    /// The request is bound to `backends[index]`, which is down, and redispatch is off.
    StickyDown { index: usize },
    /// Nothing left to try.
    NoBackend,
}

/// What a policy needs to know about one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    pub client: IpAddr,
    /// The backend name the request's cookie binds it to (route suffix or affinity cookie).
    pub bound_to: Option<&'a str>,
}

/// nginx gives up rehashing after this many tries and falls back to round robin.
const REHASH_TRIES: usize = 20;

/// Chooses backends; holds the round-robin position.
#[derive(Debug)]
pub(super) struct Chooser {
    policy: Policy,
    redispatch: bool,
    next: AtomicUsize,
}

impl Chooser {
    pub fn new(policy: Policy, redispatch: bool) -> Self {
        Self {
            policy,
            redispatch,
            next: AtomicUsize::new(0),
        }
    }

    /// Picks a backend for `target`, skipping those in `tried` (earlier attempts of this request).
    pub fn choose(&self, backends: &[Arc<Backend>], target: Target<'_>, tried: &[usize]) -> Pick {
        let n = backends.len();
        if n == 0 {
            return Pick::NoBackend;
        }
        let usable = |i: usize| backends[i].is_up() && !tried.contains(&i);
        let preferred = match self.policy {
            Policy::IpHash => Some(ip_hash_backend(target.client, n)),
            Policy::CookieRoute | Policy::CookieInsert => target
                .bound_to
                .and_then(|name| backends.iter().position(|b| b.name == name)),
            Policy::RoundRobin | Policy::LeastConn => None,
        };
        let retrying = !tried.is_empty();
        if let Some(index) = preferred {
            // With every backend marked down the marks may be stale (a check that ran before
            // the nodes listened), and the session lives on its own: that one is tried first.
            let all_down = || backends.iter().all(|b| !b.is_up());
            if usable(index) || (!tried.contains(&index) && all_down()) {
                // Its own backend, even on a retry: the binding holds.
                return Pick::Backend {
                    index,
                    redispatched: false,
                };
            }
            if !self.redispatch {
                return Pick::StickyDown { index };
            }
        }
        let redispatched = retrying || preferred.is_some();
        if self.policy == Policy::IpHash {
            // nginx: rehash, so a client whose server is down keeps going to one other server.
            let mut h = ip_hash(target.client);
            for _ in 0..REHASH_TRIES {
                h = mix64(h);
                if usable(index(h, n)) {
                    return Pick::Backend {
                        index: index(h, n),
                        redispatched,
                    };
                }
            }
        }
        let balanced = if self.policy == Policy::LeastConn {
            self.least_conn(backends, &usable)
        } else {
            self.round_robin(n, &usable)
        };
        // With every backend marked down, try them anyway (nginx does): marks can be stale.
        let any_untried = |i: usize| !tried.contains(&i);
        match balanced.or_else(|| self.round_robin(n, &any_untried)) {
            Some(index) => Pick::Backend {
                index,
                redispatched,
            },
            None => Pick::NoBackend,
        }
    }

    fn round_robin(&self, n: usize, ok: &dyn Fn(usize) -> bool) -> Option<usize> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|k| (start + k) % n).find(|&i| ok(i))
    }

    fn least_conn(&self, backends: &[Arc<Backend>], ok: &dyn Fn(usize) -> bool) -> Option<usize> {
        // Rotate the starting point so ties do not all land on the first backend.
        let n = backends.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| ok(i))
            .min_by_key(|&i| backends[i].inflight.load(Ordering::Relaxed))
    }
}

/// The backend (by position, of `n`) that `ip-hash` sends `client` to while all are up: what
/// a test needs to know which clients a change in `n` remaps.
pub fn ip_hash_backend(client: IpAddr, n: usize) -> usize {
    index(ip_hash(client), n)
}

fn index(hash: u64, n: usize) -> usize {
    usize::try_from(hash % n as u64).expect("an index below n fits usize")
}

/// Hashes the whole address. nginx hashes only the first three IPv4 octets, which is why the
/// load's clients vary those (`127.A.B.1`, docs/processes.md).
fn ip_hash(ip: IpAddr) -> u64 {
    let bits = match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u64::from(u32::from(v4)),
            None => {
                let b = u128::from(v6);
                (b >> 64) as u64 ^ b as u64
            }
        },
    };
    mix64(bits)
}

/// splitmix64's finaliser: spreads nearby addresses (127.0.0.1, 127.0.0.2, …) evenly.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use super::*;
    use crate::lb::backends::Backends;
    use crate::names::NamedAddr;

    fn backends(n: u16) -> Arc<[Arc<Backend>]> {
        let specs: Vec<_> = (1..=n)
            .map(|i| NamedAddr {
                name: format!("node{i}"),
                addr: SocketAddr::from(([127, 0, 0, 1], i)),
            })
            .collect();
        Backends::new(&specs).snapshot()
    }

    fn client(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | i))
    }

    fn pick(c: &Chooser, b: &[Arc<Backend>], target: Target<'_>) -> usize {
        match c.choose(b, target, &[]) {
            Pick::Backend { index, .. } => index,
            other => panic!("expected a backend, got {other:?}"),
        }
    }

    #[test]
    fn policy_names_round_trip() {
        for name in Policy::NAMES {
            assert_eq!(name.parse::<Policy>().expect("known").to_string(), name);
        }
        assert!("sticky".parse::<Policy>().is_err());
    }

    #[test]
    fn round_robin_spreads_and_skips_down_backends() {
        let b = backends(3);
        let c = Chooser::new(Policy::RoundRobin, true);
        let t = Target {
            client: client(1),
            bound_to: None,
        };
        let picks: Vec<_> = (0..6).map(|_| pick(&c, &b, t)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        b[1].failed_request();
        assert!((0..6).all(|_| pick(&c, &b, t) != 1));
    }

    #[test]
    fn ip_hash_is_stable_and_rehashes_to_one_other_backend() {
        let b = backends(3);
        let c = Chooser::new(Policy::IpHash, true);
        let t = Target {
            client: client(0x0001_0203),
            bound_to: None,
        };
        let first = pick(&c, &b, t);
        assert!((0..20).all(|_| pick(&c, &b, t) == first));
        b[first].failed_request();
        let second = pick(&c, &b, t);
        assert_ne!(second, first);
        assert!(
            (0..20).all(|_| pick(&c, &b, t) == second),
            "the fallback is stable too"
        );
        assert_eq!(
            c.choose(&b, t, &[]),
            Pick::Backend {
                index: second,
                redispatched: true
            }
        );
    }

    #[test]
    fn cookie_binding_wins_and_no_redispatch_refuses() {
        let b = backends(3);
        let sticky = Chooser::new(Policy::CookieRoute, true);
        let strict = Chooser::new(Policy::CookieInsert, false);
        let t = Target {
            client: client(1),
            bound_to: Some("node3"),
        };
        assert!((0..5).all(|_| pick(&sticky, &b, t) == 2 && pick(&strict, &b, t) == 2));
        b[2].failed_request();
        assert_eq!(strict.choose(&b, t, &[]), Pick::StickyDown { index: 2 });
        assert!(matches!(
            sticky.choose(&b, t, &[]),
            Pick::Backend {
                index: 0 | 1,
                redispatched: true
            }
        ));
        let unknown = Target {
            client: client(1),
            bound_to: Some("node9"),
        };
        assert!(matches!(
            strict.choose(&b, unknown, &[]),
            Pick::Backend {
                redispatched: false,
                ..
            }
        ));
    }

    #[test]
    fn least_conn_prefers_the_idle_backend() {
        let b = backends(3);
        b[0].inflight.store(5, Ordering::Relaxed);
        b[2].inflight.store(3, Ordering::Relaxed);
        let c = Chooser::new(Policy::LeastConn, true);
        let t = Target {
            client: client(1),
            bound_to: None,
        };
        assert!((0..5).all(|_| pick(&c, &b, t) == 1));
    }

    #[test]
    fn retries_skip_tried_backends_until_none_is_left() {
        let b = backends(2);
        let c = Chooser::new(Policy::RoundRobin, true);
        let t = Target {
            client: client(1),
            bound_to: None,
        };
        assert!(matches!(
            c.choose(&b, t, &[0]),
            Pick::Backend {
                index: 1,
                redispatched: true
            }
        ));
        assert_eq!(c.choose(&b, t, &[0, 1]), Pick::NoBackend);
        b[0].failed_request();
        b[1].failed_request();
        assert!(
            matches!(c.choose(&b, t, &[]), Pick::Backend { .. }),
            "all down: try anyway"
        );
    }

    #[test]
    fn with_every_backend_marked_down_a_bound_request_tries_its_own_first() {
        // Marks can be stale (a start-up check that ran before the nodes listened): the
        // session lives on the backend it is bound to, so that is the one to try.
        let b = backends(3);
        for redispatch in [true, false] {
            let c = Chooser::new(Policy::CookieRoute, redispatch);
            for backend in b.iter() {
                backend.failed_request();
            }
            let t = Target {
                client: client(1),
                bound_to: Some("node2"),
            };
            assert!(
                (0..6).all(|_| pick(&c, &b, t) == 1),
                "redispatch {redispatch}: bound to node2"
            );
            // Once tried, the others, or none without redispatch.
            let then = c.choose(&b, t, &[1]);
            if redispatch {
                assert!(
                    matches!(then, Pick::Backend { index, .. } if index != 1),
                    "{then:?}"
                );
            } else {
                assert_eq!(then, Pick::StickyDown { index: 1 });
            }
            // A retry (its first try went elsewhere while node2 was marked down) that finds
            // every mark down goes back to node2: its own backend, not a redispatch.
            assert_eq!(
                c.choose(&b, t, &[0]),
                Pick::Backend {
                    index: 1,
                    redispatched: false
                },
                "redispatch {redispatch}"
            );
        }
    }
}
