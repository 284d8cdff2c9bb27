//! The table of each target's operations by request kind: a slow login apart from a fast
//! read, with the errors of each.

use crate::cells::{header, latency_cells, ops_cells};
use sessionbench_model::results::{Results, TargetResult};

pub(crate) fn kind_header() -> Vec<String> {
    header(&["target", "kind"], &["errors %"])
}

fn kind_rows(t: &TargetResult) -> Vec<Vec<String>> {
    t.by_kind
        .iter()
        .map(|k| {
            let mut row = vec![t.name.clone(), k.kind.clone()];
            row.extend(ops_cells(&k.ops));
            // A kind may be rare (a login every few seconds): a tenth shows it.
            row.push(format!("{:.1}", k.throughput_ops_per_s));
            row.extend(latency_cells(k.latency_ms.as_ref()));
            row.push(format!("{:.2}", k.error_rate()));
            row
        })
        .collect()
}

/// Every target's rows; empty for runs made before kinds were counted.
pub(crate) fn all_kind_rows(results: &Results) -> Vec<Vec<String>> {
    results.targets.iter().flat_map(kind_rows).collect()
}
