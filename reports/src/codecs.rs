//! What `sessionbench codecs` measured, and its renderers: one table per session shape
//! (sizes, encode and decode time per codec) and the schema-evolution matrix.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use tabled::settings::Style;

use crate::render::{build, md_table};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CodecReport {
    /// Timed batches per measurement (after a warm-up).
    pub samples: u32,
    /// Whether the binary was optimised; debug-build timings mean little.
    pub optimized: bool,
    pub shapes: Vec<ShapeReport>,
    /// The login shape's next versions: a field added, removed, renamed.
    pub evolution: Vec<EvolutionRow>,
    /// The node's own deploy (schema 2 adds a field to every attribute).
    pub node_schema_2: Vec<NodeDeployRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ShapeReport {
    pub shape: String,
    pub description: String,
    pub results: Vec<CodecResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CodecResult {
    /// `format[+compression]`.
    pub codec: String,
    pub format: String,
    pub compression: String,
    /// Bytes after serialization alone.
    pub encoded_bytes: usize,
    /// Bytes stored or sent (after compression; equal to `encoded_bytes` without it).
    pub compressed_bytes: usize,
    /// Serialize (and compress), per session.
    pub encode_ns: Timing,
    /// Decompress (and deserialize), per session.
    pub decode_ns: Timing,
}

/// Nanoseconds per session over the samples: the median and the quartiles around it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Timing {
    pub median: f64,
    pub p25: f64,
    pub p75: f64,
}

/// Can each side of a deploy read what the other wrote (every shared field intact)?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Compatibility {
    pub new_reads_old: bool,
    pub old_reads_new: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EvolutionRow {
    pub format: String,
    pub field_added: Compatibility,
    pub field_removed: Compatibility,
    pub field_renamed: Compatibility,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeDeployRow {
    pub format: String,
    #[serde(flatten)]
    pub compatibility: Compatibility,
}

fn shape_header() -> Vec<String> {
    [
        "codec",
        "encoded B",
        "stored B",
        "encode ns (p25-p75)",
        "decode ns (p25-p75)",
    ]
    .map(String::from)
    .to_vec()
}

fn ns(t: &Timing) -> String {
    format!("{:.0} ({:.0}-{:.0})", t.median, t.p25, t.p75)
}

fn shape_rows(s: &ShapeReport) -> Vec<Vec<String>> {
    s.results
        .iter()
        .map(|r| {
            vec![
                r.codec.clone(),
                r.encoded_bytes.to_string(),
                r.compressed_bytes.to_string(),
                ns(&r.encode_ns),
                ns(&r.decode_ns),
            ]
        })
        .collect()
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn evolution_header() -> Vec<String> {
    [
        "format",
        "added: new reads old",
        "added: old reads new",
        "removed: new reads old",
        "removed: old reads new",
        "renamed: new reads old",
        "renamed: old reads new",
        "node v2: new reads old",
        "node v2: old reads new",
    ]
    .map(String::from)
    .to_vec()
}

fn evolution_rows(r: &CodecReport) -> Vec<Vec<String>> {
    r.evolution
        .iter()
        .map(|e| {
            let node = r
                .node_schema_2
                .iter()
                .find(|n| n.format == e.format)
                .map(|n| n.compatibility);
            let mut row = vec![e.format.clone()];
            for c in [e.field_added, e.field_removed, e.field_renamed] {
                row.extend([yes(c.new_reads_old), yes(c.old_reads_new)]);
            }
            match node {
                Some(c) => row.extend([yes(c.new_reads_old), yes(c.old_reads_new)]),
                None => row.extend(["-".into(), "-".into()]),
            }
            row
        })
        .collect()
}

fn caveat(r: &CodecReport) -> &'static str {
    if r.optimized {
        ""
    } else {
        "(debug build: timings are not representative; use a release build)\n"
    }
}

/// Tables for a terminal.
pub fn codecs_table(r: &CodecReport) -> String {
    let mut out = String::from(caveat(r));
    for s in &r.shapes {
        let _ = writeln!(out, "{}: {}", s.shape, s.description);
        let mut t = build(shape_header(), shape_rows(s)).build();
        t.with(Style::rounded());
        let _ = writeln!(out, "{t}\n");
    }
    let _ = writeln!(
        out,
        "schema evolution (login shape; node: schema 2 adds an attribute field)"
    );
    let mut t = build(evolution_header(), evolution_rows(r)).build();
    t.with(Style::rounded());
    let _ = writeln!(out, "{t}");
    out
}

/// Markdown, for a pull request or a document.
pub fn codecs_markdown(r: &CodecReport) -> String {
    let mut out = String::from("## sessionbench codecs\n\n");
    out.push_str(caveat(r));
    let _ = writeln!(
        out,
        "Nanoseconds per session: median of {} timed batches, quartiles in brackets.\n",
        r.samples
    );
    for s in &r.shapes {
        let _ = writeln!(out, "### {}: {}\n", s.shape, s.description);
        md_table(&mut out, shape_header(), shape_rows(s));
        out.push('\n');
    }
    let _ = writeln!(out, "### Schema evolution\n");
    md_table(&mut out, evolution_header(), evolution_rows(r));
    out
}
