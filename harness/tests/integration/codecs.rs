//! `sessionbench codecs`: every format with every compression, on every shape, with sizes,
//! timings and the schema-evolution matrix, in each output format.

use std::process::Command;

fn codecs(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .arg("codecs")
        .args(args)
        .output()
        .expect("run sessionbench codecs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).to_string(), stderr)
}

#[test]
fn json_lists_every_format_per_shape_with_sizes_timings_and_the_evolution_matrix() {
    let (stdout, _) = codecs(&["--format", "json", "--samples", "3"]);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let shapes = report["shapes"].as_array().expect("shapes");
    let names: Vec<&str> = shapes.iter().filter_map(|s| s["shape"].as_str()).collect();
    assert_eq!(names, ["small", "medium", "large", "node"]);
    for shape in shapes {
        let results = shape["results"].as_array().expect("results");
        let mut formats: Vec<&str> = results
            .iter()
            .filter_map(|r| r["format"].as_str())
            .collect();
        formats.dedup();
        assert!(formats.len() >= 6, "{formats:?}");
        assert_eq!(
            results.len(),
            formats.len() * 3,
            "none, lz4 and zstd for each"
        );
        for r in results {
            let bytes = r["compressed-bytes"].as_u64().expect("size");
            let encode = r["encode-ns"]["median"].as_f64().expect("timing");
            let decode = r["decode-ns"]["median"].as_f64().expect("timing");
            assert!(bytes > 0 && encode > 0.0 && decode > 0.0, "{r}");
            assert!(r["encode-ns"]["p25"].as_f64() <= r["encode-ns"]["p75"].as_f64());
        }
    }
    // The large shape is large, the small one small (JSON sizes).
    let json_size = |i: usize| {
        shapes[i]["results"][0]["encoded-bytes"]
            .as_u64()
            .expect("size")
    };
    assert!((150..300).contains(&json_size(0)), "{}", json_size(0));
    assert!(
        (80_000..120_000).contains(&json_size(2)),
        "{}",
        json_size(2)
    );
    let evolution = report["evolution"].as_array().expect("evolution");
    assert_eq!(evolution.len(), 7);
    let protobuf = evolution
        .iter()
        .find(|e| e["format"] == "protobuf")
        .expect("protobuf row");
    assert_eq!(protobuf["field-renamed"]["new-reads-old"], true);
    let postcard = evolution
        .iter()
        .find(|e| e["format"] == "postcard")
        .expect("postcard row");
    assert_eq!(postcard["field-added"]["new-reads-old"], false);
}

#[test]
fn one_shape_as_markdown_and_table_and_bad_shapes_are_refused() {
    let (md, _) = codecs(&["--shape", "small", "--format", "md", "--samples", "3"]);
    assert!(md.contains("### small: a login"), "{md}");
    assert!(md.contains("| protobuf+zstd |"), "{md}");
    assert!(md.contains("### Schema evolution"), "{md}");
    assert!(!md.contains("### large"), "{md}");
    let (table, progress) = codecs(&["--shape", "node", "--samples", "3"]);
    assert!(
        table.contains("node: the reference node's session"),
        "{table}"
    );
    assert!(progress.contains("measuring 21/21"), "{progress}");

    let out = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .args(["codecs", "--shape", "huge"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown shape `huge` (expected small, medium, large, node or all)"),
        "{stderr}"
    );
}
