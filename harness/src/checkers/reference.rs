//! A brute-force reference for lost increments, to hold the online count to: every way a
//! small history of whole-session increments and reads can have interleaved is tried, and the
//! fewest acknowledged increments lost in any that explains every answer is the most any
//! checker may report. The online count (`naive::increments_lost`) must never exceed it
//! (it would report a loss the history does not prove), and on histories without overlap it
//! must find it.
//!
//! The model is a whole-session save on a store whose copies may lag: an increment loads the
//! session at one moment of its request and saves what it loaded plus itself at a later
//! moment, making a new version; a load or a read sees any version made by then (a replica
//! behind sees an older one); an acknowledged increment's answer shows what it saved. An
//! increment of unknown outcome may apply at any moment after it started, or never. An
//! acknowledged increment is lost when it was saved before the last answer's moment and the
//! version that answer shows does not hold it, as `naive.rs` counts it.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::naive::increments_lost;
use super::record::Increment;

/// An increment: its request's span, whether it was acknowledged, and (if so) what its answer
/// showed.
#[derive(Debug, Clone, Copy)]
struct Inc {
    start: u64,
    end: u64,
    acked: bool,
    shown: u64,
}

/// A read: its span and what it showed.
#[derive(Debug, Clone, Copy)]
struct Read {
    start: u64,
    end: u64,
    shown: u64,
}

#[derive(Debug, Clone)]
struct History {
    /// The counter before anything (the login showed it).
    initial: u64,
    incs: Vec<Inc>,
    reads: Vec<Read>,
}

/// One moment of the interleaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    /// Increment `k` reads the counter.
    Load(usize),
    /// Increment `k` writes what it read plus one.
    Save(usize),
    Read(usize),
}

/// The answer the count is judged at: the one that started last.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Last {
    Inc(usize),
    Read(usize),
}

impl History {
    fn last(&self) -> Last {
        let inc = self
            .incs
            .iter()
            .enumerate()
            .filter(|(_, i)| i.acked)
            .max_by_key(|(_, i)| i.start);
        let read = self.reads.iter().enumerate().max_by_key(|(_, r)| r.start);
        match (inc, read) {
            (Some((k, i)), Some((_, r))) if i.start >= r.start => Last::Inc(k),
            (_, Some((j, _))) => Last::Read(j),
            (Some((k, _)), None) => Last::Inc(k),
            (None, None) => unreachable!("histories have a read"),
        }
    }

    /// What the online checker counts on this history.
    fn online(&self) -> u64 {
        let increments: Vec<Increment> = self
            .incs
            .iter()
            .map(|i| Increment {
                start: i.start,
                end: i.end,
                acked: i.acked,
                shown: i.acked.then_some(i.shown),
            })
            .collect();
        // Every answer that showed the counter: the login's, the reads', the increments'.
        let mut answers: Vec<(u64, u64, u64)> = vec![(0, 1, self.initial)];
        answers.extend(self.reads.iter().map(|r| (r.start, r.end, r.shown)));
        answers.extend(
            self.incs
                .iter()
                .filter(|i| i.acked)
                .map(|i| (i.start, i.end, i.shown)),
        );
        let last = answers.iter().max_by_key(|a| a.0).copied().expect("login");
        let bases: Vec<(u64, u64)> = answers.iter().map(|a| (a.1, a.2)).collect();
        increments_lost(&increments, &bases, (last.0, last.1), last.2).map_or(0, |(lost, ..)| lost)
    }

    /// The fewest acknowledged increments lost in any interleaving that explains every
    /// answer; `None` if none does.
    fn fewest_lost(&self) -> Option<u64> {
        let unknown: Vec<usize> = (0..self.incs.len())
            .filter(|&k| !self.incs[k].acked)
            .collect();
        let mut best = None;
        // Each increment of unknown outcome applied or not.
        for mask in 0..(1u32 << unknown.len()) {
            let applied: Vec<bool> = (0..self.incs.len())
                .map(|k| {
                    self.incs[k].acked
                        || unknown
                            .iter()
                            .position(|&u| u == k)
                            .is_some_and(|i| mask & (1 << i) != 0)
                })
                .collect();
            let mut search = Search {
                h: self,
                applied: &applied,
                last: self.last(),
                best: None,
            };
            let start = State {
                versions: vec![BTreeSet::new()],
                loaded: vec![None; self.incs.len()],
                ..State::default()
            };
            search.go(&start, &mut Vec::new(), 1);
            best = match (best, search.best) {
                (Some(a), Some(b)) => Some(u64::min(a, b)),
                (a, b) => a.or(b),
            };
        }
        best
    }
}

struct Search<'a> {
    h: &'a History,
    applied: &'a [bool],
    last: Last,
    best: Option<u64>,
}

/// Where an interleaving stands: the versions saved so far (the first is the initial one),
/// the version each increment loaded, and the increments saved.
#[derive(Debug, Clone, Default)]
struct State {
    versions: Vec<BTreeSet<usize>>,
    loaded: Vec<Option<BTreeSet<usize>>>,
    saved: BTreeSet<usize>,
    /// The acknowledged increments the last answer's version lacks, once it is placed.
    lost: Option<u64>,
}

impl Search<'_> {
    /// Every next point that can follow (the last at moment `t`), and every version it can
    /// see, depth first.
    fn go(&mut self, state: &State, placed: &mut Vec<Point>, t: u64) {
        let mut candidates = Vec::new();
        for (k, inc) in self.h.incs.iter().enumerate() {
            if !self.applied[k] {
                continue;
            }
            // An unknown outcome may land any time after it started.
            let end = if inc.acked { inc.end } else { u64::MAX };
            if !placed.contains(&Point::Load(k)) {
                candidates.push((Point::Load(k), inc.start, end));
            } else if !placed.contains(&Point::Save(k)) {
                candidates.push((Point::Save(k), inc.start, end));
            }
        }
        for (j, r) in self.h.reads.iter().enumerate() {
            if !placed.contains(&Point::Read(j)) {
                candidates.push((Point::Read(j), r.start, r.end));
            }
        }
        if candidates.is_empty() {
            let lost = state.lost.unwrap_or(0);
            self.best = Some(self.best.map_or(lost, |b| b.min(lost)));
            return;
        }
        for (point, from, until) in candidates {
            // The earliest moment this point can have after the last one.
            let at = (t + 1).max(from);
            if at > until {
                continue;
            }
            placed.push(point);
            for next in self.step(state, point) {
                self.go(&next, placed, at);
            }
            placed.pop();
        }
    }

    /// The states `point` can lead to: one per version a load or read can see, none if no
    /// version explains an answer.
    fn step(&self, state: &State, point: Point) -> Vec<State> {
        let value = |set: &BTreeSet<usize>| self.h.initial + set.len() as u64;
        match point {
            Point::Load(k) => state
                .versions
                .iter()
                .map(|v| {
                    let mut next = state.clone();
                    next.loaded[k] = Some(v.clone());
                    next
                })
                .collect(),
            Point::Save(k) => {
                let mut version = state.loaded[k].clone().unwrap_or_default();
                version.insert(k);
                let inc = self.h.incs[k];
                if inc.acked && value(&version) != inc.shown {
                    return Vec::new();
                }
                let mut next = state.clone();
                next.saved.insert(k);
                if self.last == Last::Inc(k) {
                    next.lost = Some(self.lacks(&version, &next.saved));
                }
                next.versions.push(version);
                vec![next]
            }
            Point::Read(j) => state
                .versions
                .iter()
                .filter(|v| value(v) == self.h.reads[j].shown)
                .map(|v| {
                    let mut next = state.clone();
                    if self.last == Last::Read(j) {
                        next.lost = Some(self.lacks(v, &state.saved));
                    }
                    next
                })
                .collect(),
        }
    }

    /// Acknowledged increments saved by now that `version` does not hold.
    fn lacks(&self, version: &BTreeSet<usize>, saved: &BTreeSet<usize>) -> u64 {
        saved
            .iter()
            .filter(|k| self.h.incs[**k].acked && !version.contains(k))
            .count() as u64
    }
}

/// A history made by playing a random interleaving: every answer is one it could give.
fn history() -> impl Strategy<Value = History> {
    let inc = (
        2u64..30,
        1u64..12,
        prop::bool::weighted(0.8),
        0u64..8,
        0u64..8,
        0usize..3,
        0u8..3,
    );
    let read = (2u64..40, 1u64..8, 0usize..3);
    (
        0u64..3,
        prop::collection::vec(inc, 1..=3),
        prop::collection::vec(read, 1..=2),
        prop::bool::ANY,
    )
        .prop_map(|(initial, incs, reads, delta)| play(initial, &incs, &reads, delta))
}

/// Plays increments and reads: each increment loads at `start + 5a` and saves at
/// `start + 5b` (kept in its span and in that order; with `delta`, as an increment added
/// where the counter is stored, it loads when it saves), a read reads at its middle. A load
/// or a read sees the version `stale` before the latest (a replica behind), or the first.
/// An increment of unknown outcome lands in its span (`fate` 0), after it (1: its save comes
/// `5b` past its end), or never (2).
fn play(
    initial: u64,
    incs: &[(u64, u64, bool, u64, u64, usize, u8)],
    reads: &[(u64, u64, usize)],
    delta: bool,
) -> History {
    // (moment, what: 0 load, 1 save, 2 read, which, how stale)
    let mut events: Vec<(u64, u8, usize, usize)> = Vec::new();
    let mut spans = Vec::new();
    for (k, &(start, len, acked, a, b, stale, fate)) in incs.iter().enumerate() {
        let (start, end) = (start * 10, start * 10 + len * 10);
        spans.push((start, end, acked));
        let fate = if acked { 0 } else { fate };
        if fate == 2 {
            continue;
        }
        let save = if fate == 1 {
            end + b * 5 + 1
        } else {
            (start + b * 5).min(end - 1)
        };
        let load = if delta {
            save
        } else {
            (start + a * 5).min(save)
        };
        let stale = if delta { 0 } else { stale };
        events.push((load * 4 + 1, 0, k, stale));
        events.push((save * 4 + 2, 1, k, 0));
    }
    for (j, &(start, len, stale)) in reads.iter().enumerate() {
        events.push(((start * 10 + len * 5) * 4 + 3, 2, j, stale));
    }
    events.sort();
    let mut versions = vec![initial];
    let see = |versions: &[u64], stale: usize| {
        versions[versions.len() - 1 - stale.min(versions.len() - 1)]
    };
    let mut loaded = vec![0u64; incs.len()];
    let mut shown = vec![0u64; incs.len()];
    let mut read_shown = vec![0u64; reads.len()];
    for &(_, what, i, stale) in &events {
        match what {
            0 => loaded[i] = see(&versions, stale),
            1 => {
                shown[i] = loaded[i] + 1;
                versions.push(shown[i]);
            }
            _ => read_shown[i] = see(&versions, stale),
        }
    }
    History {
        initial,
        incs: spans
            .iter()
            .zip(&shown)
            .map(|(&(start, end, acked), &shown)| Inc {
                start,
                end,
                acked,
                shown,
            })
            .collect(),
        reads: reads
            .iter()
            .zip(&read_shown)
            .map(|(&(start, len, _), &shown)| Read {
                start: start * 10,
                end: start * 10 + len * 10,
                shown,
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The online count never reports more lost increments than the history proves.
    #[test]
    fn the_online_count_never_exceeds_what_the_history_proves(h in history()) {
        let proven = h.fewest_lost();
        prop_assert!(proven.is_some(), "the played history has an explanation: {h:?}");
        let online = h.online();
        prop_assert!(online <= proven.unwrap_or(0), "online {online}, proven {proven:?}: {h:?}");
    }
}

/// Increments one after another, a read after each: what is lost is known exactly, and the
/// online count finds it.
#[test]
fn without_overlap_the_online_count_is_exact() {
    // Three increments one after another; the third loaded the first version (a replica
    // behind) and saved 1 over the 2 before it; a read shows 1: two are lost.
    let h = History {
        initial: 0,
        incs: vec![
            Inc {
                start: 10,
                end: 20,
                acked: true,
                shown: 1,
            },
            Inc {
                start: 30,
                end: 40,
                acked: true,
                shown: 2,
            },
            Inc {
                start: 50,
                end: 60,
                acked: true,
                shown: 1,
            },
        ],
        reads: vec![Read {
            start: 70,
            end: 80,
            shown: 1,
        }],
    };
    assert_eq!(h.fewest_lost(), Some(2));
    assert_eq!(h.online(), 2);
    // Nothing lost.
    let h = History {
        initial: 0,
        incs: vec![Inc {
            start: 10,
            end: 20,
            acked: true,
            shown: 1,
        }],
        reads: vec![Read {
            start: 30,
            end: 40,
            shown: 1,
        }],
    };
    assert_eq!((h.fewest_lost(), h.online()), (Some(0), 0));
}
