//! Results to render in tests: runs of a scenario suite with round numbers.

use sessionbench_model::results::{
    Continuity, CpuPercent, Driver, FaultWindow, Latency, Ops, Results, RunOf, Second, SendLag,
    Sessions, StoreTraffic, TargetResult, Verdict,
};

/// A run of `target` in `scenario`, with a fault of `kind` (and then `kept`: kept, at
/// risk, moved) or none; `speed`: throughput and p99. Its timeline has eight seconds.
pub fn run(
    target: &str,
    scenario: &str,
    kind: Option<&str>,
    kept: (u64, u64, u64),
    speed: (f64, f64),
) -> TargetResult {
    let (kept, at_risk, moved) = kept;
    let (ops_per_s, p99) = speed;
    TargetResult {
        name: format!("{target}/{scenario}"),
        run_of: Some(RunOf {
            target: target.into(),
            scenario: scenario.into(),
        }),
        strategy: if target == "redis" {
            "redis-cluster"
        } else {
            "sticky"
        }
        .into(),
        model: None,
        parallel: 1,
        lb_policy: Some("cookie-route".into()),
        balancer: None,
        codec: None,
        processes: if target == "redis" { 10 } else { 4 },
        verdict: Verdict::Pass,
        checks_verdict: None,
        checks: vec![],
        reasons: vec![],
        expectations: vec![],
        thresholds: vec![],
        sessions: Sessions {
            started: 100,
            stale_reads: u64::from(target == "redis"),
            ..Sessions::default()
        },
        ops: Ops {
            total: 1_000,
            ok: 1_000,
            fail: 0,
            indeterminate: 0,
        },
        throughput_ops_per_s: ops_per_s,
        by_kind: vec![],
        latency_ms: Some(Latency {
            p50: 1.0,
            p90: 2.0,
            p99,
            p999: 9.0,
            max: 20.0,
        }),
        phases: vec![],
        timeline: (0..8)
            .map(|t| Second {
                t,
                ok: (ops_per_s as u64).saturating_sub(u64::from(t % 3)),
                errors: u64::from(t == 2 && kind.is_some()),
                p50_ms: Some(1.0 + f64::from(t % 2) / 10.0),
                p99_ms: Some(p99 + f64::from(t % 3) / 10.0),
                ..Second::default()
            })
            .collect(),
        faults: kind
            .map(|k| FaultWindow {
                kind: k.into(),
                node: "node2".into(),
                start_ms: 2_000.0,
                end_ms: Some(4_000.0),
                detail: None,
                sessions_lost_after: at_risk - kept,
                lost_per_s_before: None,
                sessions_lost_beyond: None,
                updates_lost_after: 0,
                recovery: None,
                failed: false,
                may_fail: false,
            })
            .into_iter()
            .collect(),
        continuity: kind.map(|_| Continuity {
            from_ms: 2_000.0,
            at_risk,
            kept,
            moved,
        }),
        replication: None,
        store_traffic: (target == "redis").then_some(StoreTraffic {
            bytes_written: 200_000,
            bytes_read: 300_000,
            ops: 1_000,
            bytes_per_op: 500.0,
        }),
        sessions_undecodable: 0,
        unchecked: Vec::new(),
        violations: vec![],
        violations_not_listed: 0,
        tls_unverified: false,
        interrupted: false,
        driver: None,
        server_latency_ms: None,
        resources: None,
        windows: Vec::new(),
    }
}

/// A suite's results holding `targets`.
pub fn results(targets: Vec<TargetResult>) -> Results {
    Results {
        format_version: sessionbench_model::results::FORMAT_VERSION,
        suite: "s".into(),
        source: "s.toml".into(),
        seed: 1,
        targets,
        reference: None,
        warm_up_ms: 1_000.0,
    }
}

/// The driver of a run, late (send lag p99 1.8 ms) when `saturated`.
pub fn driver(saturated: bool) -> Driver {
    let p99 = if saturated { 1.8 } else { 0.07 };
    Driver {
        send_lag_ms: SendLag {
            p50: 0.02,
            p99,
            max: 31.0,
        },
        cpu_percent: Some(CpuPercent {
            mean: 41.0,
            max: 63.5,
        }),
        cores: 2,
        cpu_us_per_op: Some(14.2),
        late_ops: if saturated { 35 } else { 0 },
        sessions_turned_away: 0,
        send_lag_limit_ms: 1.0,
        cpu_limit_percent: 90.0,
        cpu_wait_percent: Some(CpuPercent {
            mean: 3.0,
            max: if saturated { 9.5 } else { 4.0 },
        }),
        cpu_wait_limit_percent: 25.0,
        others_cpu_percent: Some(CpuPercent {
            mean: 18.0,
            max: 30.5,
        }),
        saturated,
        machine_busy: false,
        checks_behind: None,
        reasons: if saturated {
            vec![format!(
                "operations started late: send lag p99 {p99:.2} ms, over the 1 ms limit"
            )]
        } else {
            Vec::new()
        },
    }
}
