//! `report.html`: one self-contained file (no script, no network) with the tables and, per
//! run, inline SVG plots of throughput and latency second by second, the fault intervals
//! shaded and labelled, and each lost session, stale read or lost update marked where it
//! happened.

use std::fmt::Write;

use crate::compare::Comparison;
use crate::comparison::comparison;
use crate::kinds::{all_kind_rows, kind_header};
use crate::markup::escape;
use crate::render::{summary_header, summary_row, warnings};
use sessionbench_model::results::{Results, TargetResult};

/// Plot size in CSS pixels: fits a 1280 px window with the page's margins.
const WIDTH: f64 = 1160.0;
const PANEL: f64 = 150.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
/// Height of the lane above the panels where anomalies are marked.
const LANE: f64 = 22.0;
/// Above each panel: its series' names.
const TITLE: f64 = 18.0;
const GAP: f64 = 12.0;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:20px 40px;color:#222;max-width:1200px}\
table{border-collapse:collapse;margin:8px 0 16px;font-size:12px}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
td:first-child,th:first-child{text-align:left}\
th{background:#f3f3f3}\
.pass{color:#17752b}.fail{color:#b3261e}.unknown{color:#8a6d00}\
svg{display:block;margin:4px 0 18px}\
svg text{font:11px system-ui,sans-serif;fill:#444}\
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}\
.run{border-top:1px solid #ddd;margin-top:18px}";

/// The whole page. `suite`: the suite file's text, shown at the end; `baseline`: a
/// comparison with an earlier run, if one was made.
pub fn html(results: &Results, suite: Option<&str>, baseline: Option<&Comparison>) -> String {
    let verdict = results.verdict().name();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>sessionbench: {} — {verdict}</title><style>{STYLE}</style></head><body>\n",
        escape(&results.suite)
    );
    let _ = writeln!(
        out,
        "<h1>sessionbench: {} — <span class=\"{verdict}\">{verdict}</span></h1>\
         <p>Suite <code>{}</code>, seed {}.</p>",
        escape(&results.suite),
        escape(&results.source),
        results.seed
    );
    let missed = results.thresholds_missed();
    if !missed.is_empty() {
        let _ = writeln!(out, "<p class=\"fail\">Thresholds missed:</p><ul>");
        for m in &missed {
            let _ = writeln!(out, "<li>{}</li>", escape(m));
        }
        let _ = writeln!(out, "</ul>");
    }
    let rows: Vec<Vec<String>> = results.targets.iter().map(summary_row).collect();
    table(&mut out, &summary_header(), &rows);
    for w in warnings(results) {
        let _ = writeln!(
            out,
            "<p class=\"unknown\"><b>Warning:</b> {}</p>",
            escape(&w)
        );
    }
    let kinds = all_kind_rows(results);
    if !kinds.is_empty() {
        let _ = writeln!(out, "<h2>By request kind</h2>");
        table(&mut out, &kind_header(), &kinds);
    }
    if let Some((header, rows)) = comparison(results) {
        let _ = writeln!(out, "<h2>Strategy comparison</h2>");
        table(&mut out, &header, &rows);
    }
    if let Some(c) = baseline {
        let _ = writeln!(out, "<h2>Against the baseline</h2>");
        let header: Vec<String> = ["run", "metric", "base", "new", "change", "CI", "verdict"]
            .map(String::from)
            .to_vec();
        let rows: Vec<Vec<String>> = c
            .metrics
            .iter()
            .map(|m| {
                vec![
                    m.run.clone(),
                    m.metric.clone(),
                    format!("{:.2}", m.base),
                    format!("{:.2}", m.new),
                    format!("{:+.1}%", m.change * 100.0),
                    format!("{:+.1}% .. {:+.1}%", m.low * 100.0, m.high * 100.0),
                    m.verdict.name().into(),
                ]
            })
            .collect();
        table(&mut out, &header, &rows);
    }
    for t in &results.targets {
        run_section(&mut out, t);
    }
    if let Some(text) = suite {
        let _ = writeln!(out, "<h2>Suite</h2><pre>{}</pre>", escape(text));
    }
    out.push_str("</body></html>\n");
    out
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn run_section(out: &mut String, t: &TargetResult) {
    let v = t.verdict.name();
    let _ = writeln!(
        out,
        "<section class=\"run\"><h2>{} — <span class=\"{v}\">{v}</span></h2>",
        escape(&t.name)
    );
    for r in &t.reasons {
        let _ = writeln!(out, "<p>{}</p>", escape(r));
    }
    if let Some(d) = &t.driver {
        let class = if d.behind().is_some() {
            " class=\"unknown\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<p{class}>{}</p>",
            escape(&crate::details::driver_line(d))
        );
    }
    if t.timeline.is_empty() {
        let _ = writeln!(out, "<p>No operation was recorded.</p></section>");
        return;
    }
    plot(out, t);
    if !t.faults.is_empty() {
        let _ = writeln!(out, "<ul>");
        for f in &t.faults {
            let end = f
                .end_ms
                .map_or("the end".into(), |e| format!("{:.1} s", e / 1000.0));
            let _ = writeln!(
                out,
                "<li>{} {} from {:.1} s to {end}: {}{}</li>",
                escape(&f.kind),
                escape(&f.node),
                f.start_ms / 1000.0,
                escape(&f.lost_line()),
                f.updates_lost()
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    out.push_str("</section>\n");
}

/// A series to draw in a panel.
struct Series<'a> {
    name: &'a str,
    color: &'a str,
    points: Vec<(f64, f64)>,
}

/// Two panels sharing the time axis (operations per second; latency), faults shaded across
/// both, anomalies in a lane above.
fn plot(out: &mut String, t: &TargetResult) {
    let seconds = t.timeline.len() as f64;
    let height = LANE + 2.0 * (TITLE + PANEL) + GAP + 50.0;
    let x = |s: f64| LEFT + s / seconds * (WIDTH - LEFT - RIGHT);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{} over time\">",
        escape(&t.name)
    );
    out.push_str(
        "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"3\" height=\"6\" fill=\"#888\" \
         fill-opacity=\"0.25\"/></pattern></defs>\n",
    );
    let top = LANE;
    let second = LANE + TITLE + PANEL + GAP;
    let bottom = second + TITLE + PANEL;
    for f in &t.faults {
        let (a, b) = (
            f.start_ms / 1000.0,
            f.end_ms.map_or(seconds, |e| e / 1000.0),
        );
        let w = (x(b) - x(a)).max(2.0);
        let _ = writeln!(
            out,
            "<rect class=\"fault\" x=\"{:.1}\" y=\"{top}\" width=\"{w:.1}\" height=\"{:.1}\" \
             fill=\"#f2b134\" fill-opacity=\"0.18\"><title>{} {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} {}</text>",
            x(a),
            bottom - top,
            escape(&f.kind),
            escape(&f.node),
            x(a) + 3.0,
            top + TITLE + 12.0,
            escape(&f.kind),
            escape(&f.node)
        );
    }
    shade_seconds(out, t, &x, top, bottom);
    anomaly_marks(out, t, &x);
    let ops = [
        Series {
            name: "ok/s",
            color: "#1f6fb2",
            points: t
                .timeline
                .iter()
                .map(|s| (f64::from(s.t), s.ok as f64))
                .collect(),
        },
        Series {
            name: "errors/s",
            color: "#b3261e",
            points: t
                .timeline
                .iter()
                .map(|s| (f64::from(s.t), s.errors as f64))
                .collect(),
        },
    ];
    let latency = [
        Series {
            name: "p50 ms",
            color: "#2e8b57",
            points: points(t, |s| s.p50_ms),
        },
        Series {
            name: "p99 ms",
            color: "#8e44ad",
            points: points(t, |s| s.p99_ms),
        },
    ];
    panel(out, &ops, top, &x, seconds);
    panel(out, &latency, second, &x, seconds);
    axis_and_legend(out, &x, seconds, bottom);
    out.push_str("</svg>\n");
}

/// Shades the seconds the machine made late (what they show includes waits for a core) and
/// hatches those in which the driver fell behind (what they show is the harness).
fn shade_seconds(
    out: &mut String,
    t: &TargetResult,
    x: &dyn Fn(f64) -> f64,
    top: f64,
    bottom: f64,
) {
    for s in t.timeline.iter().filter(|s| s.machine_busy) {
        let a = f64::from(s.t);
        let _ = writeln!(
            out,
            "<rect class=\"machine-busy\" x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"#9ec5e8\" fill-opacity=\"0.35\"><title>machine busy: send lag p99 {} ms, \
             {}% of the driver's ready time waiting for a core, others used {}% of the \
             cores</title></rect>",
            x(a),
            (x(a + 1.0) - x(a)).max(1.0),
            bottom - top,
            s.send_lag_p99_ms.map_or("-".into(), |v| format!("{v:.2}")),
            s.cpu_wait_percent.map_or("-".into(), |v| format!("{v:.0}")),
            s.others_cpu_percent
                .map_or("-".into(), |v| format!("{v:.0}")),
        );
    }
    for s in t.timeline.iter().filter(|s| s.driver_saturated) {
        let a = f64::from(s.t);
        let _ = writeln!(
            out,
            "<rect class=\"saturated\" x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"url(#hatch)\"><title>driver saturated: send lag p99 {} ms, CPU {}%</title></rect>",
            x(a),
            (x(a + 1.0) - x(a)).max(1.0),
            bottom - top,
            s.send_lag_p99_ms.map_or("-".into(), |v| format!("{v:.2}")),
            s.driver_cpu_percent
                .map_or("-".into(), |v| format!("{v:.0}")),
        );
    }
}

/// One mark per second and kind, from every finding counted (not only those listed).
fn anomaly_marks(out: &mut String, t: &TargetResult, x: &dyn Fn(f64) -> f64) {
    for s in &t.timeline {
        let kinds = [
            (s.lost, "sessions lost", "#b3261e", -1.5),
            (s.stale, "stale reads", "#e07b00", -0.5),
            (s.lost_updates, "updates lost", "#1b7f79", 0.5),
            (s.other_findings, "other anomalies", "#7b3fa0", 1.5),
        ];
        for (count, what, color, offset) in kinds.into_iter().filter(|k| k.0 > 0) {
            let at = x(f64::from(s.t) + 0.5) + offset;
            let _ = writeln!(
                out,
                "<line class=\"anomaly\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"2\" y2=\"{:.1}\" \
                 stroke=\"{color}\" stroke-width=\"1\"><title>{count} {what} in second {}</title></line>",
                LANE - 4.0,
                s.t
            );
        }
    }
}

/// The time axis under the panels, and the legend.
fn axis_and_legend(out: &mut String, x: &dyn Fn(f64) -> f64, seconds: f64, bottom: f64) {
    let step = tick_step(seconds);
    let mut s = 0.0;
    while s <= seconds {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{s:.0}s</text>",
            x(s),
            bottom + 14.0
        );
        s += step;
    }
    let legend = [
        ("lost session", "#b3261e"),
        ("stale read", "#e07b00"),
        ("lost update", "#1b7f79"),
        ("other anomaly", "#7b3fa0"),
        ("fault", "#f2b134"),
        ("driver saturated", "#bbbbbb"),
        ("machine busy", "#9ec5e8"),
    ];
    let mut lx = LEFT;
    for (name, color) in legend {
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            bottom + 24.0,
            lx + 14.0,
            bottom + 33.0
        );
        lx += 110.0;
    }
}

fn points(
    t: &TargetResult,
    pick: impl Fn(&sessionbench_model::results::Second) -> Option<f64>,
) -> Vec<(f64, f64)> {
    t.timeline
        .iter()
        .filter_map(|s| Some((f64::from(s.t), pick(s)?)))
        .collect()
}

/// One panel at `at`: the series' names, then a frame, a y axis from zero to a round
/// maximum, and a line per series (each second's value drawn at the middle of the second).
fn panel(out: &mut String, series: &[Series<'_>], at: f64, x: &dyn Fn(f64) -> f64, seconds: f64) {
    let y0 = at + TITLE;
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let top = nice(max);
    let y = |v: f64| y0 + PANEL - v / top * PANEL;
    let _ = writeln!(
        out,
        "<rect x=\"{LEFT}\" y=\"{y0}\" width=\"{:.1}\" height=\"{PANEL}\" fill=\"none\" stroke=\"#bbb\"/>",
        x(seconds) - LEFT
    );
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>",
            LEFT - 4.0,
            y(v) + 4.0,
            label(v),
            x(seconds),
            y(v),
            y(v)
        );
    }
    for (i, s) in series.iter().enumerate() {
        if !s.points.is_empty() {
            let path: Vec<String> = s
                .points
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(t + 0.5), y(*v)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" \
                 points=\"{}\"><title>{}</title></polyline>",
                s.color,
                path.join(" "),
                s.name
            );
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:{};font-weight:600\">{}</text>",
            LEFT + 90.0 * i as f64,
            at + TITLE - 5.0,
            s.color,
            s.name
        );
    }
}

/// A round number at or above `v` (1, 2 or 5 times a power of ten), for an axis top.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn label(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Seconds between time-axis labels: about ten labels.
fn tick_step(seconds: f64) -> f64 {
    nice((seconds / 10.0).max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{results, run};
    use sessionbench_model::results::Violation;

    #[test]
    fn a_plot_per_run_with_faults_and_anomalies_and_the_suite() {
        let mut r = run(
            "sticky",
            "failure",
            Some("kill"),
            (27, 40, 13),
            (900.0, 4.0),
        );
        r.timeline[2].lost = 1;
        r.violations = vec![Violation {
            cause: None,
            kind: "session-lost".into(),
            session: "v3.1".into(),
            at_ms: 2_020.0,
            nodes: vec!["node2".into()],
            detail: "401".into(),
            story: Vec::new(),
            session_cookie: None,
        }];
        let page = html(&results(vec![r]), Some("[suite]\nname = \"s\" # <b>"), None);
        assert_eq!(page.matches("<svg").count(), 1);
        assert_eq!(page.matches("class=\"fault\"").count(), 1);
        assert_eq!(page.matches("class=\"anomaly\"").count(), 1);
        assert_eq!(page.matches("class=\"series\"").count(), 4);
        assert!(
            page.contains("# &lt;b&gt;</pre>"),
            "the suite, escaped: {page}"
        );
        assert!(!page.contains("<script"));
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(7.3), 10.0);
        assert_eq!(nice(130.0), 200.0);
        assert_eq!(nice(4_100.0), 5_000.0);
    }
}
