//! Test suites built from the few values a test cares about: the usual header (a 500 ms
//! warm-up, 8 virtual users, 50 ms think time), then targets and faults, each a table of the
//! keys the test names. One place writes the TOML, so a test reads as what it varies.

use std::path::PathBuf;

use serde_json::Value;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use super::run_suite;

/// A suite a test runs.
pub struct Suite {
    name: String,
    doc: DocumentMut,
}

impl Suite {
    /// `name`, with `duration` of load after the usual header.
    pub fn new(name: &str, duration: &str) -> Self {
        let suite = Self {
            name: name.into(),
            doc: DocumentMut::new(),
        };
        suite
            .set(&["suite"], "name", name)
            .set(&["suite"], "duration", duration)
            .set(&["suite"], "warm-up", "500ms")
            .set(&["workload"], "virtual-users", 8)
            .set(&["workload"], "think-time", "50ms")
    }

    /// Sets `key` of the table at `section` (`["workload"]`, `["workload", "mix"]`), written
    /// as a `[section]` of its own, as a person writes it.
    pub fn set(mut self, section: &[&str], key: &str, v: impl Into<Toml>) -> Self {
        let mut table = self.doc.as_table_mut();
        for s in section {
            let item = table.entry(s).or_insert(Item::Table(Table::new()));
            table = item.as_table_mut().expect("a table");
        }
        table[key] = Item::Value(v.into().0);
        self
    }

    pub fn users(self, n: i32) -> Self {
        self.set(&["workload"], "virtual-users", n)
    }

    /// `[workload.mix]` with no logouts.
    pub fn mix(self, read: i32, write: i32, counter: i32) -> Self {
        let mix = ["workload", "mix"];
        self.set(&mix, "read", read)
            .set(&mix, "write", write)
            .set(&mix, "counter", counter)
    }

    pub fn target(self, t: Keys) -> Self {
        self.push("targets", t)
    }

    pub fn fault(self, f: Keys) -> Self {
        self.push("faults", f)
    }

    fn push(mut self, list: &str, keys: Keys) -> Self {
        let item = self
            .doc
            .entry(list)
            .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
        item.as_array_of_tables_mut()
            .expect("an array of tables")
            .push(keys.0);
        self
    }

    pub fn toml(&self) -> String {
        self.doc.to_string()
    }

    /// Runs it to its end: the exit code, results.json and the run directory.
    pub fn run(&self) -> (Option<i32>, Value, PathBuf) {
        run_suite(&self.name, &self.toml())
    }
}

/// A value a test writes: a string, a number (a literal is an `i32`) or a boolean.
pub struct Toml(toml_edit::Value);

impl From<&str> for Toml {
    fn from(v: &str) -> Self {
        Self(v.into())
    }
}

impl From<i32> for Toml {
    fn from(v: i32) -> Self {
        Self(i64::from(v).into())
    }
}

impl From<bool> for Toml {
    fn from(v: bool) -> Self {
        Self(v.into())
    }
}

impl From<f64> for Toml {
    fn from(v: f64) -> Self {
        Self(v.into())
    }
}

/// An inline table of strings: `form = { user = "{user}" }`.
pub fn inline(pairs: &[(&str, &str)]) -> Toml {
    let mut table = toml_edit::InlineTable::new();
    for (k, v) in pairs {
        table.insert(*k, (*v).into());
    }
    Toml(table.into())
}

/// A `[[targets]]` or `[[faults]]` table: the keys a test gives, in its order.
pub struct Keys(Table);

/// A target named `name` of `strategy`.
pub fn target(name: &str, strategy: &str) -> Keys {
    Keys(Table::new())
        .set("name", name)
        .set("strategy", strategy)
}

/// A fault of `kind` on `node` at `at`.
pub fn fault(at: &str, kind: &str, node: &str) -> Keys {
    tier_fault(at, kind).set("node", node)
}

/// A fault of `kind` on the whole tier (`lb-restart`, `rolling-restart`) at `at`.
pub fn tier_fault(at: &str, kind: &str) -> Keys {
    Keys(Table::new()).set("at", at).set("kind", kind)
}

impl Keys {
    pub fn set(mut self, key: &str, v: impl Into<Toml>) -> Self {
        self.0[key] = Item::Value(v.into().0);
        self
    }

    pub fn nodes(self, n: i32) -> Self {
        self.set("nodes", n)
    }

    pub fn heal_after(self, d: &str) -> Self {
        self.set("heal-after", d)
    }

    /// A key of the target's `[targets.expect]`.
    pub fn expect(self, key: &str, v: impl Into<Toml>) -> Self {
        self.at(&["expect"], key, v)
    }

    /// Sets `key` in the sub-table at `path` (`["requests", "login"]` for
    /// `[targets.requests.login]`).
    pub fn at(mut self, path: &[&str], key: &str, v: impl Into<Toml>) -> Self {
        let mut table = &mut self.0;
        for p in path {
            let item = table.entry(p).or_insert(Item::Table(Table::new()));
            table = item.as_table_mut().expect("a table");
        }
        table[key] = Item::Value(v.into().0);
        self
    }
}

/// Three nodes sharing a standalone Redis, read-heavy, that must lose nothing.
pub fn redis_three_nodes(name: &str, duration: &str) -> Suite {
    let redis = target("redis", "redis").nodes(3);
    Suite::new(name, duration).mix(70, 20, 10).target(
        redis
            .expect("sessions-lost", "none")
            .expect("max-stale-reads", 0),
    )
}

#[test]
fn a_built_suite_is_the_toml_a_test_would_write() {
    let suite = Suite::new("x", "9s")
        .users(6)
        .mix(70, 20, 10)
        .set(&["workload"], "ops-per-session", 7)
        .target(
            target("s", "sticky")
                .nodes(2)
                .expect("sessions-lost", "some")
                .at(&["thresholds"], "p99-latency", "300ms"),
        )
        .fault(fault("2s", "kill", "node1").heal_after("1s"))
        .fault(tier_fault("5s", "lb-restart"));
    let text = suite.toml();
    assert!(
        text.starts_with("[suite]\nname = \"x\"\n") && text.contains("\n[workload.mix]\n"),
        "written as a person writes it:\n{text}"
    );
    let plan = sessionbench::suite::parse(&text, "x.toml").expect("valid");
    assert_eq!(
        (plan.duration.as_secs(), plan.warm_up.as_millis()),
        (9, 500)
    );
    assert_eq!(
        plan.workload.model,
        sessionbench_model::plan::LoadModel::Closed { virtual_users: 6 }
    );
    let mix = plan.workload.mix;
    assert_eq!(
        (mix.read, mix.write, mix.counter, mix.logout),
        (70, 20, 10, 0)
    );
    assert_eq!(plan.workload.ops_per_session, 7);
    let t = &plan.targets[0];
    assert_eq!((t.name.as_str(), t.nodes), ("s", 2));
    assert_eq!(
        t.expect.sessions_lost,
        sessionbench_model::plan::LossExpectation::Some
    );
    assert!(t.thresholds.p99_latency.is_some(), "{:?}", t.thresholds);
    let f = &plan.faults;
    assert_eq!(
        (f[0].at.as_secs(), f[0].kind.name(), f[0].node.as_str()),
        (2, "kill", "node1")
    );
    assert_eq!(f[0].heal_after, Some(std::time::Duration::from_secs(1)));
    assert_eq!((f[1].kind.name(), f[1].node.as_str()), ("lb-restart", "lb"));
    let app = target("app", "external").at(
        &["requests", "login"],
        "form",
        inline(&[("user", "{user}")]),
    );
    let text = Suite::new("y", "1s").target(app).toml();
    assert!(
        text.contains("[targets.requests.login]\nform = { user = \"{user}\" }\n"),
        "{text}"
    );
}
