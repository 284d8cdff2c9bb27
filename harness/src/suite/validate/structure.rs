//! The structural pass: every misspelt key and wrong type in a suite, not just the first.
//!
//! First the sections, with each target and fault left as a table; then each of those as the
//! type its `strategy` or `kind` names, so a key that strategy or kind lacks is an unknown key
//! at its line. Each error is recorded where it is in the original file, its key removed from
//! a copy of the document, and the table read again: what remains is what the checks judge.

use serde::Deserialize;
use serde_path_to_error::Track;
use toml_edit::{Document, DocumentMut};

use super::errors::{SuiteError, first_line};
use super::join;
use crate::suite::locate::{self, Seg};
use crate::suite::raw::{Later, Read, ReadTagged, SuiteRaw, Tagged, Untyped, misplaced};

/// Most structural errors (unknown keys, wrong types) a file may report in one go.
const MAX_STRUCTURAL_ERRORS: usize = 50;

/// Deserializes the suite, reporting every structural error rather than the first. A target
/// or fault whose tag is missing or unknown is `None` (and reported).
pub(super) fn deserialize_all(
    text: &str,
    file: &str,
    doc: &Document<&str>,
) -> (SuiteRaw, Vec<SuiteError>) {
    // Syntax errors were reported already.
    let Ok(copy) = text.parse::<DocumentMut>() else {
        return (SuiteRaw::default(), Vec::new());
    };
    let mut pass = Pass {
        text,
        file,
        doc,
        copy,
        errors: Vec::new(),
        left: MAX_STRUCTURAL_ERRORS,
    };
    let read = |de: Tracked<'_>| SuiteRaw::<Later, Later>::deserialize(de);
    let shape = pass.until_clean(&[], read, |_, message| message);
    let Some(shape) = shape else {
        return (SuiteRaw::default(), pass.errors);
    };
    let raw = shape.typed(&mut pass);
    (raw, pass.errors)
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
        let table = locate::table(&mut self.copy, at).unwrap_or_default();
        let string = |key: &str| table.get(key).and_then(|v| v.as_str()).map(String::from);
        let untyped = Untyped {
            name: string("name"),
            at: string("at"),
        };
        let tags = T::tags();
        let tag = match table.get(T::TAG).map(|t| t.as_str()) {
            None => {
                let message = format!(
                    "a {} needs `{}`: one of {}",
                    T::WHAT,
                    T::TAG,
                    tags.join(", ")
                );
                self.record(at, message, false);
                return Err(untyped);
            }
            Some(Some(tag)) if tags.contains(&tag) => tag.to_string(),
            Some(given) => {
                let given = given.map_or_else(|| "it".into(), |g| format!("`{g}`"));
                let message = format!("{given} is not one of: {}", tags.join(", "));
                self.record(&join(at, T::TAG), message, false);
                return Err(untyped);
            }
        };
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
            if path.len() == at.len() || !locate::remove(&mut self.copy, &path) {
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
    use crate::plan::{FaultKind, Strategy};
    use crate::suite::raw::{FaultRaw, TargetRaw, keys};

    fn errors(text: &str) -> Vec<String> {
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        errors.iter().map(ToString::to_string).collect()
    }

    const SUITE: &str = "[suite]\nname = \"x\"\nduration = \"10s\"\n";

    #[test]
    fn a_misspelt_strategy_is_one_error_and_its_name_is_still_known() {
        let misspelt =
            "[[targets]]\nname = \"a\"\nstrategy = \"round-robn\"\nlb-policy = \"ip-hash\"\n";
        let text = format!(
            "{SUITE}\n{misspelt}\n[[targets]]\nname = \"b\"\nstrategy = \"sticky\"\nmodel = \"a\"\n\n[[scenarios]]\nname = \"s\"\ntargets = [\"a\"]\n"
        );
        assert_eq!(
            errors(&text),
            [
                "x.toml:7:1: `targets[0].strategy`: `round-robn` is not one of: round-robin, sticky, direct, delta, backup, redis, tomcat, external"
            ],
            "no error about keys the misspelt strategy may or may not have; `model` and a scenario may name it"
        );
        let twice =
            format!("{SUITE}\n{misspelt}\n[[targets]]\nname = \"a\"\nstrategy = \"direct\"\n");
        assert_eq!(
            errors(&twice)[1],
            "x.toml:11:1: `targets[1].name`: target name `a` is used twice"
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

    #[test]
    fn each_strategy_and_kind_has_the_keys_its_type_declares() {
        let external = keys::<TargetRaw>("external");
        assert!(external.contains(&"url") && external.contains(&"requests"));
        assert!(!external.contains(&"nodes") && !external.contains(&"codec"));
        let direct = keys::<TargetRaw>("direct");
        assert!(direct.contains(&"nodes") && !direct.contains(&"lb-policy"));
        for tag in Strategy::names() {
            assert!(
                keys::<TargetRaw>(tag).contains(&"name"),
                "{tag} has the keys every target has"
            );
        }
        for kind in FaultKind::ALL {
            let keys = keys::<FaultRaw>(kind.name());
            assert!(keys.contains(&"at") && keys.contains(&"kind"), "{kind:?}");
            assert_eq!(
                keys.contains(&"heal-after"),
                !kind.heals_itself(),
                "{kind:?}: a heal-after exactly where the fault lasts until healed"
            );
        }
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
        let wrong = format!(
            "targets = [{{ name = \"a\", strategy = \"direct\", lb = \"nginx\" }}]\n{SUITE}"
        );
        let shown = errors(&wrong);
        assert!(
            shown[0].starts_with("x.toml:1:")
                && shown[0].contains("`lb` is not a key of a \"direct\" target"),
            "{shown:#?}"
        );
    }
}
