//! `sessionbench k8s SUITE --workers N --image IMAGE`: the manifests that run a suite's load
//! from N pods, on the engine that is already there: the suite as a ConfigMap, an Indexed Job
//! whose pod I runs `run --shard I/N` (I from its completion index) with one `--start-at` for
//! all, and, given a volume they share, a Job that merges their run directories.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;

use super::exit::{CliError, ExitCode};

/// Prints Kubernetes manifests that run SUITE as N shards (an Indexed Job) and merge them.
/// Apply them with `kubectl apply -f -`; every target must be external (`run --shard` says why).
#[derive(Debug, Args)]
pub struct K8sArgs {
    /// Suite file (TOML); it goes into a ConfigMap as it is.
    suite: PathBuf,
    /// How many shards (pods) drive the load.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    workers: u32,
    /// The worker image: sessionbench on PATH as its entry point (the repository's
    /// Dockerfile builds one).
    #[arg(long)]
    image: String,
    /// A PersistentVolumeClaim every pod mounts at /results (ReadWriteMany): each shard
    /// writes /results/shard-<I>, and a merge Job writes /results/merged once all are done.
    /// Without one the shards write to their pods' own disk, and there is no merge Job.
    #[arg(long, value_name = "PVC")]
    results_claim: Option<String>,
    /// When the shards start: an RFC 3339 time, or +DURATION from now (default +2m: time
    /// to apply the manifests and pull the image). Printed as an absolute time.
    #[arg(long, value_name = "TIME", value_parser = crate::shards::parse_start_at)]
    start_at: Option<SystemTime>,
    /// Pass --allow-remote to the shards: targets in the cluster are not on loopback.
    #[arg(long)]
    allow_remote: bool,
    /// The Kubernetes namespace (default: the one kubectl uses).
    #[arg(long)]
    namespace: Option<String>,
}

pub fn run(a: K8sArgs) -> Result<ExitCode, CliError> {
    // The names in its URLs are the cluster's, not this machine's.
    let options = crate::suite::Options {
        allow_remote: a.allow_remote,
        unresolved: true,
        ..Default::default()
    };
    let plan = super::run::plan_with(Some(&a.suite), false, options)?;
    super::run::refuse_own_targets(&plan)?;
    let text = std::fs::read_to_string(&a.suite)
        .map_err(CliError::io(format!("cannot read {}", a.suite.display())))?;
    let start_at = a
        .start_at
        .unwrap_or_else(|| SystemTime::now() + std::time::Duration::from_secs(120));
    say!("{}", manifests(&a, &plan.name, &text, start_at));
    Ok(ExitCode::Ok)
}

/// A YAML string: JSON's double-quoted form is YAML's too.
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A Kubernetes name of the suite's: lowercase alphanumerics and `-`, at most 50 characters
/// (room for `-merge` and the index a Job's pods add).
fn name_of(suite: &str) -> String {
    let mut name = format!(
        "sessionbench-{}",
        sessionbench_common::names::slug(suite, '-').trim_matches('-')
    );
    name.truncate(50);
    name.trim_end_matches('-').to_string()
}

fn manifests(a: &K8sArgs, suite: &str, text: &str, start_at: SystemTime) -> String {
    let name = name_of(suite);
    let n = a.workers;
    let at = humantime::format_rfc3339_seconds(start_at);
    let namespace = a
        .namespace
        .as_deref()
        .map_or(String::new(), |ns| format!("\n  namespace: {}", q(ns)));
    let labels = format!(
        "\n    app.kubernetes.io/name: sessionbench\n    app.kubernetes.io/instance: {}",
        q(&name)
    );
    let mut out = format!(
        "# sessionbench: suite `{suite}` as {n} shards starting at {at}, each pod shard I of {n}\n\
         # (its completion index). Apply before that time: kubectl apply -f <this file>.\n"
    );
    let _ = write!(
        out,
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{namespace}\n  labels:{labels}\ndata:\n  suite.toml: |\n"
    );
    for line in text.lines() {
        let _ = writeln!(out, "    {line}");
    }
    let args: Vec<String> = shard_args(a, &at.to_string())
        .iter()
        .map(|s| q(s))
        .collect();
    let results = a.results_claim.as_deref().map_or_else(
        || "emptyDir: {}".to_string(),
        |claim| {
            format!(
                "persistentVolumeClaim:\n            claimName: {}",
                q(claim)
            )
        },
    );
    let image = q(&a.image);
    let spec = format!(
        "  completionMode: Indexed\n  completions: {n}\n  parallelism: {n}\n  \
         # A shard that fails is not run again: it would start after the others.\n"
    );
    let pod = format!(
        r#"      containers:
        - name: shard
          image: {image}
          args: [{args}]
          env:
            - name: SHARD
              valueFrom:
                fieldRef:
                  fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"
          volumeMounts:
            - name: suite
              mountPath: /suite
              readOnly: true
            - name: results
              mountPath: /results
      volumes:
        - name: suite
          configMap:
            name: {name}
        - name: results
          {results}
"#,
        args = args.join(", "),
    );
    out.push_str(&job(
        "",
        &format!("{name}{namespace}"),
        &labels,
        &spec,
        &pod,
    ));
    if a.results_claim.is_some() {
        out.push_str(&merge_job(&name, &namespace, &labels, &image, &results, n));
    } else {
        let _ = writeln!(
            out,
            "# Without --results-claim each shard's run stays in its pod: copy /results/shard-<I> out\n\
             # of each (kubectl cp) and run `sessionbench merge merged shard-0 … shard-{}`.",
            n - 1
        );
    }
    out
}

/// Each shard's arguments: its index from the pod's completion index, the agreed start, its
/// own run directory.
fn shard_args(a: &K8sArgs, at: &str) -> Vec<String> {
    let n = a.workers;
    let mut args = vec![
        "run".to_string(),
        "/suite/suite.toml".into(),
        "--shard".into(),
        format!("$(SHARD)/{n}"),
        "--start-at".into(),
        at.to_string(),
        "--out".into(),
        "/results/shard-$(SHARD)".into(),
        // A Job applied again replaces its shards' earlier runs.
        "--force".into(),
        "--quiet".into(),
    ];
    if a.allow_remote {
        args.push("--allow-remote".into());
    }
    args
}

/// The Job that waits for every shard's results on the claim, then merges them.
fn merge_job(
    name: &str,
    namespace: &str,
    labels: &str,
    image: &str,
    results: &str,
    n: u32,
) -> String {
    let dirs: Vec<String> = (0..n).map(|i| format!("/results/shard-{i}")).collect();
    let wait = format!(
        "for d in {}; do until [ -f \"$d/results.json\" ]; do sleep 5; done; done; exec sessionbench merge --force /results/merged {}",
        dirs.join(" "),
        dirs.join(" ")
    );
    let pod = format!(
        r#"      containers:
        - name: merge
          image: {image}
          command: ["sh", "-c", {wait}]
          volumeMounts:
            - name: results
              mountPath: /results
      volumes:
        - name: results
          {results}
"#,
        wait = q(&wait),
    );
    job(
        "# The merge: waits for every shard's results, then writes /results/merged.\n",
        &format!("{name}-merge{namespace}"),
        labels,
        "",
        &pod,
    )
}

/// A Job: `comment` above it, `metadata` its name (and namespace line), `spec` the lines
/// before its `backoffLimit` (0: a failed pod is not run again), `pod` its containers and
/// volumes.
fn job(comment: &str, metadata: &str, labels: &str, spec: &str, pod: &str) -> String {
    format!(
        "---\n{comment}apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {metadata}\n  labels:{labels}\n\
         spec:\n{spec}  backoffLimit: 0\n  template:\n    metadata:\n      labels:{pod_labels}\n    \
         spec:\n      restartPolicy: Never\n{pod}",
        pod_labels = labels.replace("\n    ", "\n        "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kubernetes_names() {
        assert_eq!(name_of("Smoke Test_1"), "sessionbench-smoke-test-1");
        assert!(name_of(&"x".repeat(80)).len() <= 50);
    }
}
