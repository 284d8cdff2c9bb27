//! The structural pass: every misspelt key and wrong type in a suite, not just the first.
//!
//! First the sections, with each target and fault left as a table; then each of those as the
//! type its `strategy` or `kind` names, so a key that strategy or kind lacks is an unknown key
//! at its line. Each error is recorded where it is in the original file, its key removed from
//! a copy of the document, and the table read again: what remains is what the checks judge.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_path_to_error::Track;
use toml_edit::{Document, DocumentMut};

use super::errors::{SuiteError, first_line};
use super::join;
use crate::suite::locate::{self, Seg};
use crate::suite::raw::{Later, Read, ReadTagged, SuiteRaw, Tagged, Untyped, keys, misplaced};
use crate::suite::vars;

/// Most structural errors (unknown keys, wrong types) a file may report in one go.
const MAX_STRUCTURAL_ERRORS: usize = 50;

/// What the structural pass read, and what it found wrong.
#[derive(Default)]
pub(super) struct Structure {
    pub raw: SuiteRaw,
    pub errors: Vec<SuiteError>,
    /// The values whose variables could not be filled (reported): not judged again.
    pub unfilled: Vec<Vec<Seg>>,
}

/// Deserializes the suite, its variables filled from `vars` (`--var`) and the environment,
/// reporting every structural error rather than the first. A target or fault whose tag is
/// missing or unknown is `None` (and reported).
pub(super) fn deserialize_all(
    text: &str,
    file: &str,
    doc: &Document<&str>,
    vars: &BTreeMap<String, String>,
) -> Structure {
    // Syntax errors were reported already.
    let Ok(mut copy) = text.parse::<DocumentMut>() else {
        return Structure::default();
    };
    // Filled in the copy only: errors are still placed by the original's lines.
    let unfilled = vars::expand(&mut copy, vars);
    let mut pass = Pass {
        text,
        file,
        doc,
        copy,
        errors: Vec::new(),
        left: MAX_STRUCTURAL_ERRORS,
    };
    for (path, message) in &unfilled {
        pass.record(path, message.clone(), true);
    }
    let unfilled = unfilled.into_iter().map(|(path, _)| path).collect();
    let read = |de: Tracked<'_>| SuiteRaw::<Later, Later>::deserialize(de);
    let shape = pass.until_clean(&[], read, |_, message| message);
    let raw = match shape {
        Some(shape) => shape.typed(&mut pass),
        None => SuiteRaw::default(),
    };
    Structure {
        raw,
        errors: pass.errors,
        unfilled,
    }
}

/// A table's deserializer that notes the path it reached.
type Tracked<'t> = serde_path_to_error::Deserializer<'t, 't, toml_edit::de::Deserializer>;

struct Pass<'a> {
    text: &'a str,
    file: &'a str,
    doc: &'a Document<&'a str>,
    /// The document, less each key an error was reported at.
    copy: DocumentMut,
    errors: Vec<SuiteError>,
    /// Errors that may still be reported.
    left: usize,
}

impl ReadTagged for Pass<'_> {
    /// The table at `at` as the type its tag names; untyped (and reported) when the tag is
    /// missing or unknown, or an error cannot be taken out.
    fn read<T: Tagged>(&mut self, at: &[Seg]) -> Read<T> {
        let Some(table) = locate::table(&mut self.copy, at) else {
            self.record(at, format!("a {} is a table", T::WHAT), true);
            return Err(Untyped::default());
        };
        let string = |key: &str| table.get(key).and_then(|v| v.as_str()).map(String::from);
        let untyped = Untyped {
            name: string("name"),
            at: string("at"),
        };
        let tags = T::tags();
        let one_of = tags.join(", ");
        let (path, message, at_value) = match table.get(T::TAG).map(|t| t.as_str()) {
            Some(Some(tag)) if tags.contains(&tag) => (Vec::new(), tag.to_string(), false),
            None => (
                at.to_vec(),
                format!("a {} needs `{}`: one of {one_of}", T::WHAT, T::TAG),
                false,
            ),
            Some(Some(given)) => (
                join(at, T::TAG),
                format!("`{given}` is not one of: {one_of}"),
                false,
            ),
            Some(None) => (
                join(at, T::TAG),
                format!("expected a string, one of: {one_of}"),
                true,
            ),
        };
        if !path.is_empty() {
            // Not judged against any type; keys that no type has are misspelt whatever the tag.
            self.record(&path, message, at_value);
            self.no_tag_has::<T>(at, &table);
            return Err(untyped);
        }
        let tag = message;
        let read = |de: Tracked<'_>| T::from_tag(&tag, de);
        // A key another strategy or kind has is said to be that one's.
        let explain = |inner: &[Seg], message: String| match inner {
            [Seg::Key(k)] if message.starts_with("unknown field") => {
                misplaced::<T>(&tag, k).unwrap_or(message)
            }
            _ => message,
        };
        self.until_clean(at, read, explain).ok_or(untyped)
    }
}

impl Pass<'_> {
    /// The keys of a table whose tag is wrong that are wrong whatever the tag: misspelt ones.
    fn no_tag_has<T: Tagged>(&mut self, at: &[Seg], table: &toml_edit::Table) {
        let known: Vec<&str> = T::tags().into_iter().flat_map(keys::<T>).copied().collect();
        for (key, _) in table.iter().filter(|(k, _)| !known.contains(k)) {
            let message = format!("unknown field `{key}`: no {} has it", T::WHAT);
            self.record(&join(at, key), message, false);
        }
    }

    /// Reads the table at `at` in `copy` with `read` until it reads, recording each error at
    /// the path `read` reached (in words `explain` gives from the path inside the table) and
    /// taking its key out. `None` when an error cannot be taken out, or too many were found.
    fn until_clean<T>(
        &mut self,
        at: &[Seg],
        read: impl Fn(Tracked<'_>) -> Result<T, toml_edit::de::Error>,
        explain: impl Fn(&[Seg], String) -> String,
    ) -> Option<T> {
        while self.left > 0 {
            let table = locate::table(&mut self.copy, at)?;
            let mut track = Track::new();
            let de = toml_edit::de::Deserializer::from(DocumentMut::from(table));
            let error = match read(serde_path_to_error::Deserializer::new(de, &mut track)) {
                Ok(t) => return Some(t),
                Err(e) => e,
            };
            let inner = segments(&track.path());
            let message = first_line(error.message());
            // A misspelt key is fixed at the key; a wrong type or value at the value.
            let at_value = !message.starts_with("unknown field");
            let mut path = at.to_vec();
            path.extend(inner.iter().cloned());
            self.record(&path, explain(&inner, message), at_value);
            self.left -= 1;
            // A wrong element of an array is taken out with the array.
            while let Some(Seg::Index(_)) = path.last() {
                path.pop();
            }
            if path.len() <= at.len() || !locate::remove(&mut self.copy, &path) {
                return None;
            }
        }
        None
    }

    /// An error at `path`: at its value (a wrong type or value) or at its key (a key that
    /// does not belong).
    fn record(&mut self, path: &[Seg], message: String, at_value: bool) {
        let offset = if at_value {
            locate::value_offset(self.doc, path)
        } else {
            locate::offset(self.doc, path)
        };
        let (line, column) = locate::line_col(self.text, offset);
        self.errors.push(SuiteError {
            file: self.file.into(),
            line,
            column,
            key: locate::render(path),
            message,
        });
    }
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use crate::suite::raw::{FaultRaw, TargetRaw, keys};
    use sessionbench_model::plan::{FaultKind, Strategy};

    fn errors(text: &str) -> Vec<String> {
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        errors.iter().map(ToString::to_string).collect()
    }

    const SUITE: &str = "[suite]\nname = \"x\"\nduration = \"10s\"\n";

    #[test]
    fn a_misspelt_strategy_is_one_error_and_its_name_is_still_known() {
        let misspelt = "[[targets]]\nname = \"a\"\nstrategy = \"round-robn\"\nlb-policy = \"ip-hash\"\nnodez = 2\n";
        let text = format!(
            "{SUITE}\n{misspelt}\n[[targets]]\nname = \"b\"\nstrategy = \"sticky\"\nmodel = \"a\"\n\n[[scenarios]]\nname = \"s\"\ntargets = [\"a\"]\n"
        );
        assert_eq!(
            errors(&text),
            [
                "x.toml:7:1: `targets[0].strategy`: `round-robn` is not one of: round-robin, sticky, direct, delta, backup, redis, tomcat, external",
                "x.toml:9:1: `targets[0].nodez`: unknown field `nodez`: no target has it",
            ],
            "no error about keys the misspelt strategy may or may not have (only one no strategy has); `model` and a scenario may name it"
        );
        let twice =
            format!("{SUITE}\n{misspelt}\n[[targets]]\nname = \"a\"\nstrategy = \"direct\"\n");
        assert_eq!(
            errors(&twice)[2],
            "x.toml:12:1: `targets[1].name`: target name `a` is used twice"
        );
    }

    #[test]
    fn a_target_without_a_strategy_or_a_fault_without_a_kind_is_told_which_there_are() {
        let text = format!(
            "{SUITE}\n[[targets]]\nname = \"a\"\n\n[[faults]]\nat = \"20s\"\nnode = \"node1\"\n"
        );
        let shown = errors(&text);
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert!(
            shown[0].starts_with(
                "x.toml:5:1: `targets[0]`: a target needs `strategy`: one of round-robin, sticky,"
            ),
            "{}",
            shown[0]
        );
        assert!(
            shown[1]
                .starts_with("x.toml:8:1: `faults[0]`: a fault needs `kind`: one of kill, stop,"),
            "{}",
            shown[1]
        );
        // Its `at` is judged as any fault's.
        assert_eq!(
            shown[2],
            "x.toml:9:1: `faults[0].at`: 20s is not before the end of the load (10s)"
        );
    }

    #[test]
    fn a_key_of_another_strategy_or_kind_names_the_ones_that_have_it() {
        let text = format!(
            "{SUITE}\n[[targets]]\nname = \"a\"\nstrategy = \"sticky\"\nreplication = \"sync\"\nnodez = 3\n\n[[faults]]\nat = \"1s\"\nkind = \"restart\"\nnode = \"node1\"\nheal-after = \"1s\"\n"
        );
        let shown = errors(&text);
        assert_eq!(
            shown[0],
            "x.toml:8:1: `targets[0].replication`: `replication` is not a key of a \"sticky\" target: only \"delta\" and \"tomcat\" targets have it"
        );
        // A key no strategy has is serde's unknown field, with the keys this one has.
        assert!(
            shown[1].starts_with("x.toml:9:1: `targets[0].nodez`: unknown field `nodez`, expected one of `name`, `strategy`,"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with("x.toml:15:1: `faults[0].heal-after`: `heal-after` is not a key of a \"restart\" fault (it ends when the node is serving): only \"kill\""),
            "{}",
            shown[2]
        );
        assert_eq!(shown.len(), 3, "{shown:#?}");
    }

    /// What each strategy and kind takes, in one place a reviewer reads: a key added or
    /// dropped shows as a change of this snapshot.
    #[test]
    fn each_strategy_and_kind_has_the_keys_its_type_declares() {
        let mut listing = String::new();
        for tag in Strategy::names() {
            listing += &format!("target {tag}: {}\n", keys::<TargetRaw>(tag).join(" "));
        }
        for kind in FaultKind::ALL {
            let keys = keys::<FaultRaw>(kind.name());
            listing += &format!("fault {}: {}\n", kind.name(), keys.join(" "));
            assert_eq!(
                keys.contains(&"heal-after"),
                !kind.heals_itself(),
                "{kind:?}: a heal-after exactly where the fault lasts until healed"
            );
        }
        insta::assert_snapshot!(listing);
    }

    #[test]
    fn a_target_after_one_with_a_wrong_strategy_is_named_by_its_place_in_the_file() {
        let text = format!(
            "{SUITE}\n[[targets]]\nname = \"a\"\nstrategy = \"stiky\"\n\n[[targets]]\nname = \"b\"\nstrategy = \"sticky\"\nmodel = \"c\"\n"
        );
        assert_eq!(
            errors(&text)[1],
            "x.toml:12:1: `targets[1].model`: `c` is not another target of this suite"
        );
    }

    #[test]
    fn an_external_target_names_its_own_cookie() {
        let text = format!(
            "{SUITE}\n[[targets]]\nname = \"app\"\nstrategy = \"external\"\nurl = \"http://127.0.0.1:8080\"\ncookie = \"connect.sid\"\n"
        );
        let plan = parse(&text, "x.toml").expect("an application's cookie is its own to name");
        assert_eq!(plan.targets[0].cookie, "connect.sid");
    }

    #[test]
    fn a_wrong_element_of_an_array_is_reported_and_the_rest_of_its_table_judged() {
        let text = format!(
            "{SUITE}\n[[targets]]\nname = \"a\"\nstrategy = \"delta\"\n\n[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"node1\"], 3]\nheal-after = 5\n"
        );
        // The array goes with its wrong element, so the fault then names no node.
        assert_eq!(
            errors(&text),
            [
                "x.toml:9:1: `faults[0]`: a fault needs `node` (for example \"node2\")",
                "x.toml:12:10: `faults[0].groups[1]`: invalid type: integer `3`, expected a sequence",
                "x.toml:13:14: `faults[0].heal-after`: invalid type: integer `5`, expected a string",
            ]
        );
    }

    #[test]
    fn targets_and_faults_written_as_inline_tables_are_typed_too() {
        let text = format!(
            "targets = [{{ name = \"a\", strategy = \"delta\", codec = \"cbor\" }}]\nfaults = [{{ at = \"1s\", kind = \"latency\", node = \"node1\", latency = \"5ms\" }}]\n{SUITE}"
        );
        let plan = parse(&text, "x.toml").expect("valid");
        assert_eq!(plan.targets[0].codec.as_deref(), Some("cbor"));
        assert_eq!(
            plan.faults[0].latency,
            Some(std::time::Duration::from_millis(5))
        );
        // Each error at its own line of a multi-line array.
        let wrong = format!(
            "targets = [\n  {{ name = \"a\", strategy = \"sticky\" }},\n  {{ name = \"b\", strategy = \"direct\", lb = \"nginx\" }},\n  {{ name = \"c\", strategy = \"sticky\", nodes = 99 }},\n]\n{SUITE}"
        );
        assert_eq!(
            errors(&wrong),
            [
                "x.toml:3:38: `targets[1].lb`: `lb` is not a key of a \"direct\" target (one node, and no load balancer): only \"round-robin\", \"sticky\", \"delta\", \"backup\", \"redis\" and \"tomcat\" targets have it",
                "x.toml:4:38: `targets[2].nodes`: 99 nodes: a target has 1 to 64",
            ]
        );
    }
}
