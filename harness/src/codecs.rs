//! Times every codec on every session shape, and works out the schema-evolution matrix.
//!
//! Each measurement warms up, then times `samples` batches; a batch repeats the operation
//! enough times to last about half a millisecond, so the clock's resolution does not matter.
//! Figures are nanoseconds per session: the median batch and its quartiles.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sessionbench_reports::{
    CodecReport, CodecResult, Compatibility, EvolutionRow, NodeDeployRow, ShapeReport, Timing,
};
use sessionbench_targets::codec::shapes::{
    self, LoginV2Added, LoginV2Removed, LoginV2Renamed, LoginVersion,
};
use sessionbench_targets::codec::{Codec, Format, FormatCodec, Schema, SessionCodec, Wire};

/// The shapes, by the names `--shape` takes.
pub const SHAPES: [&str; 4] = ["small", "medium", "large", "node"];

const BATCH: Duration = Duration::from_micros(500);
const WARM_UP: Duration = Duration::from_millis(10);

fn describe(shape: &str) -> &'static str {
    match shape {
        "small" => "a login: user id, name, roles, locale, CSRF token (about 200 B as JSON)",
        "medium" => "a shopping cart of 20 items (about 2.5 KB as JSON)",
        "large" => "360 cached search results (about 95 KB as JSON)",
        _ => "the reference node's session: user, counter, three attributes (schema 1)",
    }
}

/// Measures `shapes` (names from [`SHAPES`]) with every codec.
pub fn measure(shapes: &[&str], samples: u32, mut progress: impl FnMut(&str)) -> CodecReport {
    let shapes = shapes
        .iter()
        .map(|&shape| {
            let results = FormatCodec::all()
                .into_iter()
                .map(|codec| {
                    progress(&format!("{shape} {codec}"));
                    match shape {
                        "small" => typed(&shapes::login(1), codec, samples),
                        "medium" => typed(&shapes::cart(1), codec, samples),
                        "large" => typed(&shapes::cached(1), codec, samples),
                        _ => node(codec, samples),
                    }
                })
                .collect();
            ShapeReport {
                shape: shape.to_string(),
                description: describe(shape).to_string(),
                results,
            }
        })
        .collect();
    CodecReport {
        samples,
        optimized: !cfg!(debug_assertions),
        shapes,
        evolution: Format::ALL.iter().map(|&f| evolution_row(f)).collect(),
        node_schema_2: Format::ALL.iter().map(|&f| node_deploy(f)).collect(),
    }
}

fn typed<T: Wire>(value: &T, codec: FormatCodec, samples: u32) -> CodecResult {
    let encoded = codec.uncompressed().encode(value).expect("shapes encode");
    let stored = codec.encode(value).expect("shapes encode");
    result(
        codec,
        encoded.len(),
        &stored,
        samples,
        || codec.encode(value).expect("shapes encode"),
        |b| Codec::<T>::decode(&codec, b).is_ok(),
    )
}

fn node(codec: FormatCodec, samples: u32) -> CodecResult {
    let session = shapes::node_session(1);
    let sessions = SessionCodec::new(codec, Schema::V1);
    let encoded = SessionCodec::new(codec.uncompressed(), Schema::V1).encode_session(&session);
    let stored = sessions.encode_session(&session);
    result(
        codec,
        encoded.len(),
        &stored,
        samples,
        || sessions.encode_session(&session),
        |b| sessions.decode_session(b).is_ok(),
    )
}

fn result(
    codec: FormatCodec,
    encoded_bytes: usize,
    stored: &[u8],
    samples: u32,
    encode: impl Fn() -> Vec<u8>,
    decode: impl Fn(&[u8]) -> bool,
) -> CodecResult {
    assert!(decode(stored), "{codec} decodes what it encoded");
    CodecResult {
        codec: codec.to_string(),
        format: codec.format.to_string(),
        compression: codec.compression.to_string(),
        encoded_bytes,
        compressed_bytes: stored.len(),
        encode_ns: time(samples, || {
            black_box(encode());
        }),
        decode_ns: time(samples, || {
            black_box(decode(black_box(stored)));
        }),
    }
}

/// Nanoseconds per call of `op`: warm-up, then `samples` batches.
fn time(samples: u32, op: impl Fn()) -> Timing {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < WARM_UP || calls < 3 {
        op();
        calls += 1;
    }
    let per_call = start.elapsed() / calls;
    let batch = (BATCH.as_nanos() / per_call.as_nanos().max(1)).clamp(1, 1 << 20) as u32;
    let mut per_op: Vec<f64> = (0..samples.max(1))
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                op();
            }
            t.elapsed().as_nanos() as f64 / f64::from(batch)
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    let at = |q: f64| per_op[((per_op.len() - 1) as f64 * q).round() as usize];
    Timing {
        median: at(0.5),
        p25: at(0.25),
        p75: at(0.75),
    }
}

fn compatibility<V: LoginVersion>(codec: FormatCodec) -> Compatibility {
    let e = shapes::evolution::<V>(codec);
    Compatibility {
        new_reads_old: e.new_reads_old,
        old_reads_new: e.old_reads_new,
    }
}

fn evolution_row(format: Format) -> EvolutionRow {
    let codec = FormatCodec::new(format, sessionbench_targets::codec::Compression::None);
    EvolutionRow {
        format: format.to_string(),
        field_added: compatibility::<LoginV2Added>(codec),
        field_removed: compatibility::<LoginV2Removed>(codec),
        field_renamed: compatibility::<LoginV2Renamed>(codec),
    }
}

/// Whether nodes on schema 1 and 2 can read each other's sessions in this format.
fn node_deploy(format: Format) -> NodeDeployRow {
    let codec = FormatCodec::new(format, sessionbench_targets::codec::Compression::None);
    let (v1, v2) = (
        SessionCodec::new(codec, Schema::V1),
        SessionCodec::new(codec, Schema::V2),
    );
    let s = shapes::node_session(1);
    NodeDeployRow {
        format: format.to_string(),
        compatibility: Compatibility {
            new_reads_old: v2
                .decode_session(&v1.encode_session(&s))
                .is_ok_and(|x| x == s),
            old_reads_new: v1
                .decode_session(&v2.encode_session(&s))
                .is_ok_and(|x| x == s),
        },
    }
}
