//! Whether a process still runs, by its pid: what tells a running harness's leftovers from a
//! killed one's.

/// Whether process `pid` still runs: it exists and is neither a zombie nor dead (`/proc/PID/stat`'s
/// state). A SIGKILLed harness stays a zombie until its parent reaps it, and in a container
/// whose PID 1 never reaps, it stays one: it holds nothing, and what it made is left over.
pub fn runs(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state …`: the name may hold spaces and parentheses, the state follows the
    // last `)`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, None | Some("Z" | "X" | "x"))
}
