//! What a killed harness left behind: namespaces named `sessionbench-<tag>-…` and interfaces
//! named `sb<tag>…`, where the tag is a harness's pid in hex. Those of a pid that no longer
//! runs are removed (with any process still inside); a running harness's are left alone.

use std::collections::BTreeMap;

use super::NS_PREFIX;
use super::command::ip;

/// What a sweep did: the names it removed, and per harness still running (by pid) how many
/// namespaces and interfaces of its it kept.
#[derive(Debug, Default)]
pub struct Swept {
    pub removed: Vec<String>,
    pub kept: BTreeMap<u32, (usize, usize)>,
}

/// Removes every namespace and interface of harnesses that no longer run.
pub fn sweep() -> Swept {
    let mut swept = Swept::default();
    let namespaces = ip(&["netns", "list"]).unwrap_or_default();
    for name in namespaces
        .lines()
        .filter_map(|l| l.split_whitespace().next())
    {
        let Some(pid) = name
            .strip_prefix(NS_PREFIX)
            .and_then(|rest| harness(rest.split('-').next()?))
        else {
            continue;
        };
        if crate::topology::runs(pid) {
            swept.kept.entry(pid).or_default().0 += 1;
        } else {
            remove_netns(name);
            swept.removed.push(name.to_string());
        }
    }
    let links = ip(&["-o", "link", "show"]).unwrap_or_default();
    for name in links.lines().filter_map(link_name) {
        let ours = name.len() > 9 && matches!(name.as_bytes()[8], b'b' | b'v' | b'p');
        let Some(pid) = name
            .strip_prefix("sb")
            .and_then(|rest| harness(rest.get(..6)?))
            .filter(|_| ours)
        else {
            continue;
        };
        if crate::topology::runs(pid) {
            swept.kept.entry(pid).or_default().1 += 1;
        } else if ip(&["link", "del", name]).is_ok() {
            swept.removed.push(name.to_string());
        }
    }
    swept
}

/// `3: sb00a1b2v4@if2: <…>` → `sb00a1b2v4`.
fn link_name(line: &str) -> Option<&str> {
    let name = line.split(": ").nth(1)?;
    Some(name.split('@').next().unwrap_or(name))
}

/// The harness's pid that `tag` (six hex digits) names.
fn harness(tag: &str) -> Option<u32> {
    (tag.len() == 6)
        .then(|| u32::from_str_radix(tag, 16).ok())
        .flatten()
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
        assert_eq!(harness(&super::super::tag()), Some(std::process::id()));
        assert_eq!(harness("7fffff"), Some(0x7f_ffff));
        assert_eq!(harness("12"), None, "not a tag of ours");
        // This process runs; a pid past the kernel's limit never does.
        assert!(crate::topology::runs(std::process::id()));
        assert!(!crate::topology::runs(0x7f_ffff));
    }
}
