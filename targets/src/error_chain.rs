//! One line from an error and its causes, for JSON `detail` fields and logs.

/// `"a: b: c"`: the error, then each `source()` in turn, so a person sees the root cause.
pub fn render(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
