//! The last operations of each session, kept small (no text is made per operation), so that a
//! finding can be told with what led to it: statuses, nodes, cookies that changed, redirects.
//! Diagnosing a loss then needs no access log of the stack.

use std::collections::VecDeque;

use crate::history::{Op, OpKind, Outcome};

/// Operations a story keeps: the finding's and those before it.
const KEPT: usize = 8;

/// Node names, each kept once: a step holds its index.
#[derive(Debug, Default)]
pub(super) struct Nodes(Vec<String>);

impl Nodes {
    fn index(&mut self, node: Option<&str>) -> u16 {
        let Some(node) = node else {
            return u16::MAX;
        };
        if let Some(i) = self.0.iter().position(|n| n == node) {
            return u16::try_from(i).unwrap_or(u16::MAX);
        }
        self.0.push(node.to_string());
        u16::try_from(self.0.len() - 1).unwrap_or(u16::MAX)
    }

    fn name(&self, i: u16) -> Option<&str> {
        self.0.get(usize::from(i)).map(String::as_str)
    }
}

#[derive(Debug)]
struct Step {
    start_us: u64,
    kind: OpKind,
    status: Option<u16>,
    outcome: Outcome,
    node: u16,
    cookies_changed: bool,
    /// Only for the rare operation that has one: its error, or a redirect's target.
    note: Option<Box<str>>,
}

/// One session's last operations, and its cookie where the suite names it.
#[derive(Debug, Default)]
pub(super) struct Story {
    steps: VecDeque<Step>,
    pub cookie: Option<String>,
}

impl Story {
    pub fn see(&mut self, op: &Op, nodes: &mut Nodes) {
        if self.steps.len() == KEPT {
            self.steps.pop_front();
        }
        let note = match (&op.error, &op.location) {
            (Some(e), _) => Some(e.as_str().into()),
            (None, Some(to)) => Some(format!("to {to}").into()),
            (None, None) => None,
        };
        self.steps.push_back(Step {
            start_us: op.start_us,
            kind: op.kind,
            status: op.status,
            outcome: op.outcome,
            node: nodes.index(op.node.as_deref()),
            cookies_changed: op.cookies_changed,
            note,
        });
    }

    /// A line per operation kept: `6.002s read 401 on node3 (no-session)`.
    pub fn tell(&self, nodes: &Nodes) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| {
                let mut line = format!("{:.3}s {}", s.start_us as f64 / 1e6, s.kind.name());
                match s.status {
                    Some(status) => line.push_str(&format!(" {status}")),
                    None => line.push_str(&format!(" {}", s.outcome.name())),
                }
                if let Some(node) = nodes.name(s.node) {
                    line.push_str(&format!(" on {node}"));
                }
                if s.cookies_changed {
                    line.push_str(", cookies changed");
                }
                if let Some(note) = &s.note {
                    line.push_str(&format!(" ({note})"));
                }
                line
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_story_keeps_the_last_operations_with_their_nodes_cookies_and_notes() {
        let mut nodes = Nodes::default();
        let mut story = Story::default();
        let mut login = crate::history::test_read("s", (0, 1_000, 2_000), Outcome::Ok);
        login.kind = OpKind::Login;
        login.status = Some(303);
        login.node = Some("node2".into());
        login.cookies_changed = true;
        login.location = Some("/account".into());
        story.see(&login, &mut nodes);
        for i in 0..KEPT as u64 {
            let mut read = crate::history::test_read("s", (0, 10_000 * (i + 1), 0), Outcome::Ok);
            read.node = Some("node2".into());
            story.see(&read, &mut nodes);
        }
        let mut lost = crate::history::test_read("s", (0, 2_000_000, 0), Outcome::Fail);
        lost.status = Some(401);
        lost.node = Some("node3".into());
        lost.error = Some("no-session".into());
        story.see(&lost, &mut nodes);
        let told = story.tell(&nodes);
        assert_eq!(told.len(), KEPT);
        assert_eq!(told[KEPT - 1], "2.000s read 401 on node3 (no-session)");
        assert_eq!(told[0], "0.020s read 200 on node2");
        let mut fresh = Story::default();
        fresh.see(&login, &mut nodes);
        assert_eq!(
            fresh.tell(&nodes),
            ["0.001s login 303 on node2, cookies changed (to /account)"]
        );
    }
}
