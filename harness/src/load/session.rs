//! One session: a login, a seeded mix of operations on a schedule, and either a logout
//! followed by a probe with the old cookie or a final read of what the stack kept. Every
//! operation becomes one history record with its intended start, actual start, end and
//! outcome.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hyper::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{Client, Endpoint, SendFailure};
use crate::history::{NO_SESSION, Op, OpKind, Outcome, Record};
use crate::protocol::{Call, Protocol, Reading, Reply, Step};
use sessionbench_model::plan::{Mix, Workload};

/// What every virtual user of one target shares.
#[derive(Debug)]
pub struct LoadContext {
    pub target: String,
    /// Where users connect, and how (TLS, host, forwarded addresses).
    pub endpoint: Arc<Endpoint>,
    /// How operations become requests, and answers outcomes.
    pub protocol: Protocol,
    pub workload: Workload,
    pub seed: u64,
    /// Time 0 of the target's records.
    pub t0: Instant,
    /// No operation starts at or after this.
    pub deadline: Instant,
    /// A sharded run's share: only the users (or arrivals) it owns are driven here.
    pub shard: Option<sessionbench_model::plan::Shard>,
    pub events: mpsc::UnboundedSender<Record>,
    /// Open model: arrivals turned away at `max-sessions-in-flight` (never started).
    pub turned_away: AtomicU64,
}

impl LoadContext {
    /// Microseconds from the target's time 0, as records give them.
    pub fn us(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.t0).as_micros()).unwrap_or(u64::MAX)
    }
}

/// One session from login to its end, then the record that says it ended. Returns whether
/// the login succeeded, and its slowest operation.
pub(super) async fn run_session(
    ctx: &LoadContext,
    session: String,
    user: u64,
    start: Instant,
) -> (bool, Duration) {
    let mut client = Client::for_user(ctx.endpoint.clone(), user);
    // A page's other connections, each with the user's cookies (the same source address).
    let mut helpers: Vec<Client> = (1..ctx.workload.parallel)
        .map(|_| Client::for_user(ctx.endpoint.clone(), user))
        .collect();
    let mut s = Session {
        ctx,
        name: &session,
        client: &mut client,
        ready: start,
        extracted: Vec::new(),
        slowest: Duration::ZERO,
    };
    let established = s.run(start, &mut helpers).await;
    let slowest = s.slowest;
    let _ = ctx.events.send(Record::SessionEnd {
        target: ctx.target.clone(),
        session,
        at_us: ctx.us(Instant::now()),
    });
    (established, slowest)
}

impl Session<'_> {
    /// Login, then the operations; whether the login succeeded. With `helpers` (the
    /// workload's `parallel` above 1), a step may send several operations at once.
    async fn run(&mut self, start: Instant, helpers: &mut [Client]) -> bool {
        let ctx = self.ctx;
        let session = self.name;
        let mut rng = StdRng::seed_from_u64(ctx.seed ^ fnv(session));
        let login = self.op(OpKind::Login, 0, None, start).await;
        if login.outcome != Outcome::Ok {
            return false;
        }
        let think = ctx.workload.think_time;
        let jitter = ctx.workload.think_time_jitter;
        let mut due = start;
        let mut next_idle = start + ctx.workload.idle.map_or(Duration::ZERO, |i| i.every);
        // An operation answered 503 is tried again (as a user retries after an error page) and
        // does not use up the session's operations, so a session outlives a store outage and
        // shows whether the store kept it. The deadline bounds the retries.
        let (mut completed, mut k) = (0, 0);
        while completed < ctx.workload.ops_per_session {
            k += 1;
            // The schedule, not the previous answer, decides when an operation should start, so
            // a slow answer shows in the next operations' latency (coordinated omission). Without
            // think time an operation is due when the previous one ended: what the driver spends
            // in between is counted, not hidden.
            let mut intended = if think.is_zero() {
                self.ready
            } else {
                due += think.mul_f64(1.0 + jitter * rng.random_range(-1.0..=1.0));
                due
            };
            // The user steps away: the pause is not latency, so the schedule moves with it.
            if let Some(idle) = ctx.workload.idle {
                if intended >= next_idle {
                    intended += idle.pause;
                    due = intended;
                    next_idle = intended + idle.every;
                }
            }
            if intended >= ctx.deadline {
                break;
            }
            crate::timer::sleep_until(intended).await;
            // How many go at this step: 1 to `parallel` (no draw at all without helpers, so
            // a suite's seeded sessions stay as they were).
            let at_once = if helpers.is_empty() {
                0
            } else {
                rng.random_range(0..=helpers.len())
            };
            if at_once > 0 {
                let mut kinds: Vec<OpKind> = (0..=at_once)
                    .map(|_| pick(&mut rng, ctx.workload.mix))
                    .collect();
                // A logout goes alone, as the user's last click.
                kinds.retain(|k| *k != OpKind::Logout);
                if kinds.len() > 1 {
                    let ops: Vec<Planned> = kinds
                        .into_iter()
                        .map(|kind| {
                            k += 1;
                            let write = (kind == OpKind::Write)
                                .then(|| new_write(ctx, session, &mut rng, k));
                            (kind, k, write)
                        })
                        .collect();
                    let done = self.at_once(ops, intended, helpers).await;
                    if done.iter().any(|d| d.error.as_deref() == Some(NO_SESSION)) {
                        return true;
                    }
                    completed += done.iter().filter(|d| !d.unavailable).count() as u32;
                    continue;
                }
            }
            let done = match pick(&mut rng, ctx.workload.mix) {
                OpKind::Write => {
                    let write = new_write(ctx, session, &mut rng, k);
                    self.op(OpKind::Write, k, Some(write), intended).await
                }
                OpKind::Logout => {
                    let cookies = self.client.jar();
                    let out = self.op(OpKind::Logout, k, None, intended).await;
                    if out.unavailable {
                        out // Tried again, as any refused operation.
                    } else {
                        if out.outcome == Outcome::Ok {
                            // A stolen or stale copy of the cookie must not work any more.
                            self.client.set_jar(cookies);
                            self.op(OpKind::Probe, k, None, Instant::now()).await;
                        }
                        return true;
                    }
                }
                kind => self.op(kind, k, None, intended).await,
            };
            if done.error.as_deref() == Some(NO_SESSION) {
                return true; // Lost: the user would log in again, as a new session.
            }
            if !done.unavailable {
                completed += 1;
            }
        }
        // What the stack kept of the last step, which no answer of the mix shows: one more
        // read, a check rather than load, where writes or increments could be lost. It comes
        // a think time after the last answer, as the user's next click would (sooner, it
        // would judge replication still under way).
        let pause = think.mul_f64(1.0 + jitter * rng.random_range(-1.0..=1.0));
        let at = due.max(self.ready) + pause;
        let mix = ctx.workload.mix;
        let used_up = completed >= ctx.workload.ops_per_session;
        if used_up && mix.write + mix.counter > 0 && at < ctx.deadline {
            crate::timer::sleep_until(at).await;
            self.op(OpKind::FinalRead, k + 1, None, at).await;
        }
        true
    }
}

struct Session<'a> {
    ctx: &'a LoadContext,
    name: &'a str,
    client: &'a mut Client,
    /// When the previous operation ended: no operation of the session can start earlier.
    ready: Instant,
    /// What the login steps extracted (a CSRF token…), by name index.
    extracted: Vec<String>,
    /// The slowest operation so far (login included).
    slowest: Duration,
}

/// An operation due at a step: its kind, sequence number, and a write's attribute and id.
type Planned = (OpKind, u32, Option<(String, String)>);

impl Session<'_> {
    /// Sends `ops` at once, the first on the user's own connection and each other on one of
    /// `helpers`, every one with the user's cookies as they are now; a cookie an answer sets
    /// is the user's afterwards.
    async fn at_once(
        &mut self,
        ops: Vec<Planned>,
        intended: Instant,
        helpers: &mut [Client],
    ) -> Vec<Done> {
        // Only the helpers this step uses get the user's cookies.
        let helpers = &mut helpers[..ops.len().saturating_sub(1)];
        let jar = self.client.jar();
        let before: Vec<u64> = helpers
            .iter_mut()
            .map(|h| {
                h.set_jar(jar.clone());
                h.jar_changes()
            })
            .collect();
        let own_before = self.client.jar_changes();
        let ctx = self.ctx;
        let name = self.name;
        let mut sessions: Vec<Session<'_>> = std::iter::once(&mut *self.client)
            .chain(helpers.iter_mut())
            .map(|client| Session {
                ctx,
                name,
                client,
                ready: intended,
                extracted: Vec::new(),
                slowest: Duration::ZERO,
            })
            .collect();
        let futures: Vec<_> = sessions
            .iter_mut()
            .zip(ops)
            .map(|(s, (kind, seq, write))| s.op(kind, seq, write, intended))
            .collect();
        let done = super::join::join_all(futures).await;
        let (ready, slowest) = sessions
            .iter()
            .fold((intended, Duration::ZERO), |(r, w), s| {
                (r.max(s.ready), w.max(s.slowest))
            });
        drop(sessions);
        self.ready = ready;
        self.slowest = self.slowest.max(slowest);
        if self.client.jar_changes() == own_before {
            if let Some(changed) = helpers
                .iter()
                .zip(&before)
                .rev()
                .find(|(h, b)| h.jar_changes() != **b)
            {
                self.client.set_jar(changed.0.jar());
            }
        }
        done
    }
}

/// Why an operation's requests got no answer to read.
enum Unanswered {
    Send(SendFailure),
    /// They could not go on: an earlier login step failed or lacked what it extracts, or a
    /// redirect left the target. `(outcome, error)`.
    Stopped(Outcome, String),
}

struct Done {
    outcome: Outcome,
    error: Option<String>,
    /// Answered 503: the tier could not serve it right now and nothing was applied.
    unavailable: bool,
}

impl Session<'_> {
    async fn op(
        &mut self,
        kind: OpKind,
        seq: u32,
        write: Option<(String, String)>,
        intended: Instant,
    ) -> Done {
        let ctx = self.ctx;
        let changes_before = self.client.jar_changes();
        let start = Instant::now();
        let write_ref = write.as_ref().map(|(a, w)| (a.as_str(), w.as_str()));
        // Every request of the operation (a login's steps, redirects) within one timeout.
        let sent = tokio::time::timeout(
            ctx.workload.request_timeout,
            self.requests(kind, seq, write_ref),
        )
        .await;
        let end = Instant::now();
        self.ready = end;
        self.slowest = self.slowest.max(end - start);
        let mut location = None;
        let (status, reading) = match sent {
            Err(_elapsed) => {
                self.client.disconnect();
                (None, unanswered(Outcome::Indeterminate, "timeout"))
            }
            Ok(Err(Unanswered::Send(failure))) => (
                None,
                match failure {
                    SendFailure::Connect => unanswered(Outcome::Fail, "connect"),
                    SendFailure::Tls(why) => unanswered(Outcome::Fail, &format!("tls: {why}")),
                    SendFailure::NotSent => unanswered(Outcome::Fail, "not-sent"),
                    SendFailure::Broken => unanswered(Outcome::Indeterminate, "connection-broken"),
                },
            ),
            Ok(Err(Unanswered::Stopped(outcome, error))) => (None, unanswered(outcome, &error)),
            Ok(Ok(reply)) => {
                if reply.status.is_redirection() {
                    location = reply
                        .headers
                        .get(hyper::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .map(str::to_string);
                }
                let client = &*self.client;
                let reading = ctx.protocol.read(kind, &reply, &|name| {
                    client.cookie(name).map(str::to_string)
                });
                (Some(reply.status.as_u16()), reading)
            }
        };
        let (attr, write) = write.unzip();
        let record = Op {
            target: ctx.target.clone(),
            session: self.name.to_string(),
            kind,
            attr,
            write,
            intended_us: ctx.us(intended),
            start_us: ctx.us(start),
            end_us: ctx.us(end),
            status,
            node: reading.node,
            outcome: reading.outcome,
            error: reading.error.clone(),
            view: reading.view,
            cookies_changed: self.client.jar_changes() != changes_before,
            location,
        };
        // The session cookie as the answer left it, for findings to name.
        let cookie = (record.cookies_changed)
            .then(|| ctx.protocol.session_cookie())
            .flatten()
            .map(|name| self.client.cookie(name).map(|v| format!("{name}={v}")));
        let at_us = record.end_us;
        // The receiver outlives every load task; a send can only fail during teardown.
        let _ = ctx.events.send(Record::Op(record));
        if let Some(value) = cookie {
            let _ = ctx.events.send(Record::SessionCookie {
                target: ctx.target.clone(),
                session: self.name.to_string(),
                at_us,
                value,
            });
        }
        let unavailable = status == Some(StatusCode::SERVICE_UNAVAILABLE.as_u16());
        Done {
            outcome: reading.outcome,
            error: reading.error,
            unavailable,
        }
    }

    /// Sends the operation's requests and returns the answer to read: for a login of several
    /// steps, each step's in turn (keeping what it extracts), then the last one's.
    async fn requests(
        &mut self,
        kind: OpKind,
        seq: u32,
        write: Option<(&str, &str)>,
    ) -> Result<Reply, Unanswered> {
        let protocol = &self.ctx.protocol;
        let parts = if kind == OpKind::Login {
            self.extracted.clear();
            protocol.login_steps()
        } else {
            1
        };
        let mut part = 0;
        loop {
            let call = protocol.call(&Step {
                kind,
                user: self.name,
                seq,
                write,
                part,
                extracted: &self.extracted,
            });
            let reply = self
                .send_following(call, protocol.follow_redirects(kind, part))
                .await?;
            if part + 1 == parts {
                return Ok(reply);
            }
            // An earlier step: it must have worked, and shown what later steps need.
            let step = |why: String| format!("login step {}: {why}", part + 1);
            let outcome = crate::protocol::outcome_of(reply.status);
            if outcome != Outcome::Ok && !reply.status.is_redirection() {
                let error = step(format!("http-{}", reply.status.as_u16()));
                return Err(Unanswered::Stopped(outcome, error));
            }
            let client = &*self.client;
            protocol
                .extract(
                    part,
                    &reply,
                    &|name| client.cookie(name).map(str::to_string),
                    &mut self.extracted,
                )
                .map_err(|why| Unanswered::Stopped(Outcome::Fail, step(why)))?;
            part += 1;
        }
    }

    /// Sends `call`, then follows up to `redirects` redirects on the target's own host (a
    /// redirect elsewhere is an error: traffic goes only where the suite said).
    async fn send_following(&mut self, call: Call, redirects: u32) -> Result<Reply, Unanswered> {
        let mut call = call;
        let mut left = redirects;
        loop {
            let reply = self.client.call(&call).await.map_err(Unanswered::Send)?;
            if left == 0 || !reply.status.is_redirection() {
                return Ok(reply);
            }
            let Some(location) = reply
                .headers
                .get(hyper::header::LOCATION)
                .and_then(|l| l.to_str().ok())
            else {
                return Ok(reply);
            };
            left -= 1;
            let path = self
                .ctx
                .endpoint
                .local_path(location, &call.path)
                .map_err(|why| Unanswered::Stopped(Outcome::Fail, why))?;
            // 307 and 308 repeat the request; the others turn it into a GET.
            let keep = matches!(reply.status.as_u16(), 307 | 308);
            call = if keep {
                Call {
                    path: path.into(),
                    ..call
                }
            } else {
                Call::new(hyper::Method::GET, path)
            };
        }
    }
}

/// An operation that got no answer.
fn unanswered(outcome: Outcome, error: &str) -> Reading {
    Reading {
        outcome,
        error: Some(error.to_string()),
        node: None,
        view: None,
    }
}

/// Write number `k` of `session`: the attribute it sets, drawn from the workload's, and its
/// id, unique in the run.
fn new_write(ctx: &LoadContext, session: &str, rng: &mut StdRng, k: u32) -> (String, String) {
    let attr = ctx
        .protocol
        .write_attr(ctx.workload.attributes, |n| rng.random_range(0..n));
    (attr, format!("{session}:{k}"))
}

fn pick(rng: &mut StdRng, mix: Mix) -> OpKind {
    let total = mix.read + mix.write + mix.counter + mix.logout;
    let mut x = rng.random_range(0..total.max(1));
    for (weight, kind) in [
        (mix.read, OpKind::Read),
        (mix.write, OpKind::Write),
        (mix.counter, OpKind::Counter),
        (mix.logout, OpKind::Logout),
    ] {
        if x < weight {
            return kind;
        }
        x -= weight;
    }
    OpKind::Read
}

/// FNV-1a: a stable per-session seed from its name (std's hasher may change between releases).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
