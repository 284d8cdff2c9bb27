//! JSON Schemas of the contract's files, generated from the very types that write and read
//! them, so they cannot drift apart: `docs/schema/` publishes them and `sessionbench schema`
//! prints them, for a user's own tools that read a run.

use schemars::{JsonSchema, Schema};

use crate::{history, plan, results};

/// A file of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `plan.json`: the validated suite a run executed.
    Plan,
    /// One record of a history (a line of `history export`'s JSON lines).
    History,
    /// `results.json`: what a run measured and concluded.
    Results,
}

impl Contract {
    pub const ALL: [Self; 3] = [Self::Plan, Self::History, Self::Results];

    pub fn name(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::History => "history",
            Self::Results => "results",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Its file under `docs/schema/`.
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.name())
    }

    /// The format version the schema describes: a reader checks a file's own
    /// `format-version` against it.
    pub fn format_version(self) -> u32 {
        match self {
            Self::Plan => plan::FORMAT_VERSION,
            Self::History => history::FORMAT_VERSION,
            Self::Results => results::FORMAT_VERSION,
        }
    }

    /// The schema, titled with the file and its format version.
    pub fn schema(self) -> Schema {
        let (mut schema, what) = match self {
            Self::Plan => (generate::<plan::Plan>(), "plan.json"),
            Self::History => (
                generate::<history::Record>(),
                "a history record (a line of `sessionbench history export`)",
            ),
            Self::Results => (generate::<results::Results>(), "results.json"),
        };
        schema.insert(
            "title".into(),
            format!(
                "sessionbench {what}, format version {}",
                self.format_version()
            )
            .into(),
        );
        schema
    }

    /// The schema as `docs/schema/` holds it: pretty JSON and a final newline.
    pub fn text(self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema())
            .unwrap_or_else(|e| unreachable!("a schema is JSON: {e}"));
        text.push('\n');
        text
    }
}

fn generate<T: JsonSchema>() -> Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// `docs/schema/` is what the types generate: a changed type without its schema fails
    /// here (`SB_UPDATE_SCHEMAS=1` writes them).
    #[test]
    fn the_published_schemas_are_the_types_own() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schema");
        let update = std::env::var_os("SB_UPDATE_SCHEMAS").is_some();
        let mut stale = Vec::new();
        for contract in Contract::ALL {
            let path = dir.join(contract.file_name());
            let text = contract.text();
            if update {
                std::fs::create_dir_all(&dir).expect("docs/schema");
                std::fs::write(&path, &text).expect("write schema");
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "{stale:?} differ from the types: run the model's tests with SB_UPDATE_SCHEMAS=1 \
             and review the change (a new field may need a new format version)"
        );
    }

    #[test]
    fn a_schema_names_its_file_and_version_and_knows_each_field() {
        let results = Contract::Results.schema();
        let title = results
            .get("title")
            .and_then(|t| t.as_str())
            .expect("title");
        assert_eq!(title, "sessionbench results.json, format version 1");
        let props = results.get("properties").expect("properties");
        for key in ["format-version", "suite", "targets", "warm-up-ms"] {
            assert!(props.get(key).is_some(), "{key}");
        }
        // The custom millisecond fields are numbers, not the `Duration` serde would guess.
        let plan = Contract::Plan.schema();
        let duration = &plan.get("properties").expect("properties")["duration-ms"];
        assert_eq!(duration["type"], "integer", "{duration}");
        assert_eq!(Contract::from_name("history"), Some(Contract::History));
    }
}
