//! Partitions as nftables rules: a cut drops, on arrival in each receiving namespace, every
//! packet from the sending processes. Dropped, not refused: the sender's connections hang and
//! time out as in a real split, on every protocol. A split into groups is a cut each way
//! between every two groups.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Packets from the processes `from` to the processes `to` are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub from: Vec<String>,
    pub to: Vec<String>,
}

impl Cut {
    /// Nothing crosses between any two of `groups`; processes in none are untouched.
    pub fn groups(groups: &[Vec<String>]) -> Vec<Self> {
        let mut cuts = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    cuts.push(Self {
                        from: a.clone(),
                        to: b.clone(),
                    });
                }
            }
        }
        cuts
    }
}

/// The table a namespace's rules live in, and what removes it.
const TABLE: &str = "inet sessionbench";
pub const DELETE: &str = "table inet sessionbench\ndelete table inet sessionbench\n";

/// Each receiving process's table (by name) for the cuts `cuts`, in one nft transaction that
/// replaces whatever the table held.
pub fn tables(cuts: &[&Cut], addr: impl Fn(&String) -> Option<Ipv4Addr>) -> Vec<(String, String)> {
    let mut dropped: BTreeMap<&String, Vec<Ipv4Addr>> = BTreeMap::new();
    for cut in cuts {
        for to in &cut.to {
            let from = dropped.entry(to).or_default();
            from.extend(cut.from.iter().filter(|f| *f != to).filter_map(&addr));
            from.sort_unstable();
            from.dedup();
        }
    }
    dropped
        .into_iter()
        .filter(|(_, from)| !from.is_empty())
        .map(|(to, from)| {
            let set: Vec<String> = from.iter().map(Ipv4Addr::to_string).collect();
            let table = format!(
                "table {TABLE}\ndelete table {TABLE}\ntable {TABLE} {{\n  chain input {{\n    \
                 type filter hook input priority 0; policy accept;\n    \
                 ip saddr {{ {} }} drop\n  }}\n}}\n",
                set.join(", ")
            );
            (to.clone(), table)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn groups_cut_each_way_and_leave_the_unlisted_alone() {
        let cuts = Cut::groups(&[names(&["node1"]), names(&["node2", "redis"])]);
        assert_eq!(cuts.len(), 2);
        let ips: BTreeMap<String, Ipv4Addr> = [("node1", 2), ("node2", 3), ("redis", 4), ("lb", 5)]
            .into_iter()
            .map(|(n, h)| (n.to_string(), Ipv4Addr::new(10, 213, 7, h)))
            .collect();
        let all: Vec<&Cut> = cuts.iter().collect();
        let t = tables(&all, |n| ips.get(n).copied());
        let ruled: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(ruled, ["node1", "node2", "redis"], "the LB has no rules");
        assert!(
            t[0].1.contains("ip saddr { 10.213.7.3, 10.213.7.4 } drop"),
            "{}",
            t[0].1
        );
        assert!(
            t[1].1.contains("ip saddr { 10.213.7.2 } drop"),
            "{}",
            t[1].1
        );
        // One transaction replaces what the table held.
        assert!(
            t[0].1
                .starts_with("table inet sessionbench\ndelete table inet sessionbench\n")
        );
    }

    #[test]
    fn a_one_way_cut_rules_only_the_receivers() {
        let cut = Cut {
            from: names(&["redis"]),
            to: names(&["redis-replica"]),
        };
        let t = tables(&[&cut], |n| {
            Some(Ipv4Addr::new(10, 213, 7, if n == "redis" { 2 } else { 3 }))
        });
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].0, "redis-replica");
    }
}
