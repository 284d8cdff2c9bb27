//! The workload: the load model, think time, operations per session and the mix.

use super::{Validator, join};
use crate::suite::locate::Seg;
use crate::suite::raw::{IdleRaw, MixRaw, WorkloadRaw};
use sessionbench_model::plan::{Idle, LoadModel, Mix, Workload};

/// Users (or sessions in flight) one run may have: each has a source address of its own on
/// loopback, 127.A.B.1, and there are 254 × 250 of them.
const MAX_USERS: u32 = 63_500;
const USERS_WHY: &str = "each user has a loopback source address of its own, and there are 63,500; for more, run shards";
/// New sessions per second in the open model.
const MAX_ARRIVAL_RATE: f64 = 100_000.0;

impl Validator<'_> {
    /// `w` at `base`, each missing key from `d`.
    pub(super) fn workload(&mut self, base: &[Seg], w: WorkloadRaw, d: WorkloadRaw) -> Workload {
        let model_name = w.model.or(d.model).unwrap_or_default();
        let model = match self.one_of(&join(base, "model"), &model_name, &["closed", "open"]) {
            Some("open") => {
                let rate = w.arrival_rate.or(d.arrival_rate).unwrap_or(0.0);
                if !(rate.is_finite() && rate > 0.0) {
                    self.err(
                        &join(base, "arrival-rate"),
                        "the arrival rate must be a positive number of sessions per second",
                    );
                } else if rate > MAX_ARRIVAL_RATE {
                    self.err(
                        &join(base, "arrival-rate"),
                        format!(
                            "{rate} sessions per second: at most {MAX_ARRIVAL_RATE} (one driver process makes about 80,000 requests a second)"
                        ),
                    );
                }
                let max = w
                    .max_sessions_in_flight
                    .or(d.max_sessions_in_flight)
                    .unwrap_or(0);
                if max == 0 {
                    self.err(&join(base, "max-sessions-in-flight"), "must be at least 1");
                } else if max > MAX_USERS {
                    self.err(
                        &join(base, "max-sessions-in-flight"),
                        format!("{max}: at most {MAX_USERS} ({USERS_WHY})"),
                    );
                }
                LoadModel::Open {
                    arrival_rate: rate,
                    max_sessions_in_flight: max,
                }
            }
            _ => {
                let users = w.virtual_users.or(d.virtual_users).unwrap_or(0);
                if users == 0 {
                    self.err(
                        &join(base, "virtual-users"),
                        "a closed-loop workload needs at least 1 virtual user",
                    );
                } else if users > MAX_USERS {
                    self.err(
                        &join(base, "virtual-users"),
                        format!("{users} users: at most {MAX_USERS} ({USERS_WHY})"),
                    );
                }
                LoadModel::Closed {
                    virtual_users: users,
                }
            }
        };
        let think_time = self
            .duration(&join(base, "think-time"), w.think_time, d.think_time)
            .unwrap_or_default();
        let think_time_jitter = w.think_time_jitter.or(d.think_time_jitter).unwrap_or(0.0);
        if !(0.0..=1.0).contains(&think_time_jitter) {
            self.err(
                &join(base, "think-time-jitter"),
                format!("{think_time_jitter} is not a fraction from 0 to 1"),
            );
        }
        let ops_per_session = w.ops_per_session.or(d.ops_per_session).unwrap_or(0);
        if ops_per_session == 0 {
            self.err(&join(base, "ops-per-session"), "must be at least 1");
        }
        let request_timeout = self.duration(
            &join(base, "request-timeout"),
            w.request_timeout,
            d.request_timeout,
        );
        let request_timeout = self.positive(
            &join(base, "request-timeout"),
            request_timeout,
            "the request timeout",
        );
        let mix = self.mix(
            &join(base, "mix"),
            w.mix.unwrap_or_default(),
            d.mix.unwrap_or_default(),
        );
        let idle = w.idle.or(d.idle).map(|i| self.idle(&join(base, "idle"), i));
        let parallel = w.parallel.or(d.parallel).unwrap_or(1);
        if !(1..=16).contains(&parallel) {
            self.err(
                &join(base, "parallel"),
                format!("{parallel} is not 1 to 16"),
            );
        }
        let attributes = w.attributes.or(d.attributes).unwrap_or(4);
        if !(1..=64).contains(&attributes) {
            self.err(
                &join(base, "attributes"),
                format!("{attributes} is not 1 to 64"),
            );
        }
        Workload {
            model,
            think_time,
            think_time_jitter,
            ops_per_session,
            request_timeout,
            parallel,
            attributes,
            mix,
            idle: idle.flatten(),
        }
    }

    /// `idle = { every = "…", for = "…" }`: both are needed, and above zero.
    fn idle(&mut self, path: &[Seg], i: IdleRaw) -> Option<Idle> {
        let mut part = |key: &str, text: Option<String>| {
            let at = join(path, key);
            if text.is_none() {
                self.err(
                    &at,
                    format!("`idle` needs `{key}`: idle = {{ every = \"30s\", for = \"10s\" }}"),
                );
                return None;
            }
            let d = self.duration(&at, text, None);
            Some(self.positive(&at, d, key))
        };
        let every = part("every", i.every);
        let pause = part("for", i.pause);
        Some(Idle {
            every: every?,
            pause: pause?,
        })
    }

    pub(super) fn mix(&mut self, path: &[Seg], m: MixRaw, d: MixRaw) -> Mix {
        // A mix given in the file replaces the default one whole: unnamed weights are 0.
        let given =
            m.read.is_some() || m.write.is_some() || m.counter.is_some() || m.logout.is_some();
        let pick = |v: Option<u32>, dv: Option<u32>| {
            if given {
                v.unwrap_or(0)
            } else {
                dv.unwrap_or(0)
            }
        };
        let mix = Mix {
            read: pick(m.read, d.read),
            write: pick(m.write, d.write),
            counter: pick(m.counter, d.counter),
            logout: pick(m.logout, d.logout),
        };
        if mix.read + mix.write + mix.counter + mix.logout == 0 {
            self.err(path, "at least one operation needs a weight above zero");
        }
        mix
    }
}
