//! What a killed harness left behind: namespaces named `sessionbench-<tag>-…` and interfaces
//! named `sb<tag>…`, where the tag is a harness's pid in hex. Those of a pid that no longer
//! runs are removed (with any process still inside); a running harness's are left alone.

use super::NS_PREFIX;
use super::command::ip;

/// Removes every namespace and interface of harnesses that no longer run; returns their names.
pub fn sweep() -> Vec<String> {
    let mut removed = Vec::new();
    let namespaces = ip(&["netns", "list"]).unwrap_or_default();
    for name in namespaces
        .lines()
        .filter_map(|l| l.split_whitespace().next())
    {
        let tag = name
            .strip_prefix(NS_PREFIX)
            .and_then(|rest| rest.split('-').next());
        if tag.is_some_and(orphaned) {
            remove_netns(name);
            removed.push(name.to_string());
        }
    }
    let links = ip(&["-o", "link", "show"]).unwrap_or_default();
    for name in links.lines().filter_map(link_name) {
        let tag = name.strip_prefix("sb").and_then(|rest| rest.get(..6));
        let ours = name.len() > 9 && matches!(name.as_bytes()[8], b'b' | b'v' | b'p');
        if ours && tag.is_some_and(orphaned) && ip(&["link", "del", name]).is_ok() {
            removed.push(name.to_string());
        }
    }
    removed
}

/// `3: sb00a1b2v4@if2: <…>` → `sb00a1b2v4`.
fn link_name(line: &str) -> Option<&str> {
    let name = line.split(": ").nth(1)?;
    Some(name.split('@').next().unwrap_or(name))
}

/// Whether `tag` (a pid in hex) names a harness that no longer runs.
fn orphaned(tag: &str) -> bool {
    if tag.len() != 6 {
        return false;
    }
    match u32::from_str_radix(tag, 16) {
        Ok(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

/// Kills what still runs in namespace `ns` (a process that outlived its harness), then
/// deletes it.
pub fn remove_netns(ns: &str) {
    if let Ok(pids) = ip(&["netns", "pids", ns]) {
        for pid in pids.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _ = ip(&["netns", "del", ns]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags_are_read_as_written() {
        assert_eq!(
            link_name("7: sb00a1b2v4@if2: <BROADCAST> mtu 1500"),
            Some("sb00a1b2v4")
        );
        assert_eq!(link_name("5: sb00a1b2b0: <BROADCAST>"), Some("sb00a1b2b0"));
        // This process runs; a pid past the kernel's limit never does.
        assert!(!orphaned(&super::super::tag()));
        assert!(orphaned("7fffff"));
        assert!(!orphaned("12"), "not a tag of ours");
    }
}
