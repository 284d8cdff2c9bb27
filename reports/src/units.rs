//! How figures are written in every report.

/// Milliseconds: two decimals, none from 100 up.
pub(crate) fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Sub-millisecond figures (a node's handling time) keep three decimals.
pub(crate) fn fine_ms(v: f64) -> String {
    if v < 1.0 { format!("{v:.3}") } else { ms(v) }
}
