//! Secrets a process is given (the cluster secret, a Redis password). Never on the command
//! line, which any local user reads in /proc/PID/cmdline: in the environment (only the
//! owner reads /proc/PID/environ) or in a file. `Debug` never shows one.

use std::path::Path;

/// Where the harness puts a node's cluster secret, and where a node started by hand looks.
pub const CLUSTER_SECRET_ENV: &str = "SESSIONBENCH_CLUSTER_SECRET";
/// The same for the password of a Redis given by URL.
pub const REDIS_PASSWORD_ENV: &str = "SESSIONBENCH_REDIS_PASSWORD";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// From `file` (its first line) when given, else from the environment variable `env`;
    /// `None` when neither holds one. `flag` names the file's option in the error.
    pub fn load(file: Option<&Path>, env: &str, flag: &str) -> Result<Option<Self>, String> {
        match file {
            Some(file) => Self::from_file(file, flag).map(Some),
            None => Ok(Self::from_env(env)),
        }
    }

    /// A warning when group or others may read or change `file`, as ssh gives for a private
    /// key (it refuses one). Only warned: Kubernetes and Docker mount secrets readable by all
    /// by default, where the container is the boundary.
    pub fn exposed(file: &Path, what: &str) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).ok()?.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "{what} {}: group or others may read or change it (mode {:o}); `chmod 600` it unless a container is the boundary",
                file.display(),
                mode & 0o777
            )
        })
    }

    /// The first line of `file`, which must hold one; `what` names the file in errors.
    pub fn from_file(file: &Path, what: &str) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("{what} {}: {e}", file.display()))?;
        let value = text.lines().next().unwrap_or_default().trim_end();
        if value.is_empty() {
            return Err(format!("{what} {}: the file is empty", file.display()));
        }
        Ok(Self::new(value))
    }

    /// The environment variable `name`, if set and not empty.
    pub fn from_env(name: &str) -> Option<Self> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Self::new)
    }
}

/// A secret a suite names in a request or a command: `${secret:NAME}`, the value of
/// environment variable NAME. The suite, the plan and every report keep the reference; the
/// value is put in only where a request is sent (`protocol`'s templates) or a command runs
/// (as the shell's own `${NAME}`, from the environment it inherits), so it is never written
/// to a file of the run or given as a process's argument.
pub const REFERENCE: &str = "secret:";

/// The `${secret:NAME}` references in `text`: each one's byte range and NAME.
pub fn references(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let open = format!("${{{REFERENCE}");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(&open).map(|i| from + i) {
        let name_at = i + open.len();
        let Some(end) = text[name_at..].find('}').map(|e| name_at + e) else {
            break;
        };
        found.push((i..end + 1, &text[name_at..end]));
        from = end + 1;
    }
    found
}

/// Whether `name` can name an environment variable: letters, digits and `_`, not starting
/// with a digit.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The values of every secret this process has read through a reference: what the output
/// of any command it runs is cleaned of, whichever command printed it.
static READ: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The secret `${secret:NAME}` stands for, or why there is none.
pub fn referenced(name: &str) -> Result<Secret, String> {
    if !is_variable_name(name) {
        return Err(format!(
            "`${{secret:{name}}}`: `{name}` is not a variable name"
        ));
    }
    let secret = Secret::from_env(name).ok_or_else(|| {
        format!(
            "secret `{name}` is not set in the environment (a secret comes only from there: \
             `--var` would show it in the process list)"
        )
    })?;
    let mut read = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !read.iter().any(|v| v == secret.expose()) {
        read.push(secret.expose().to_string());
    }
    Ok(secret)
}

/// `text` with the value of every secret read so far shown as `***`.
pub fn redact(text: &str) -> String {
    let read = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    read.iter()
        .filter(|v| !v.is_empty())
        .fold(text.to_string(), |text, v| text.replace(v.as_str(), "***"))
}

/// `url` with any password in it replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_string()
            };
            format!("{scheme}://{shown}{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

/// Whether `url` carries a password (or a lone user that Redis would take as one).
pub fn url_has_password(url: &str) -> bool {
    redact_url(url) != url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_others_may_read_is_named() {
        use std::os::unix::fs::PermissionsExt;
        let file = std::env::temp_dir().join(format!("sessionbench-secret-{}", std::process::id()));
        std::fs::write(&file, "s3cret\n").expect("write");
        for (mode, warned) in [
            (0o600, false),
            (0o400, false),
            (0o640, true),
            (0o444, true),
            (0o602, true),
        ] {
            std::fs::set_permissions(&file, PermissionsExt::from_mode(mode)).expect("chmod");
            let warning = Secret::exposed(&file, "--cluster-secret-file");
            assert_eq!(warning.is_some(), warned, "mode {mode:o}: {warning:?}");
            if let Some(w) = warning {
                assert!(
                    w.contains(&format!("(mode {mode:o}); `chmod 600` it")),
                    "{w}"
                );
            }
            assert_eq!(
                Secret::from_file(&file, "x").expect("read").expose(),
                "s3cret"
            );
        }
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn secret_references_are_found_with_their_names() {
        let text = "a ${secret:PW} b ${secret:T_2}${NOT} ${secret:open";
        let found: Vec<(&str, &str)> = references(text)
            .into_iter()
            .map(|(r, name)| (&text[r], name))
            .collect();
        assert_eq!(
            found,
            [("${secret:PW}", "PW"), ("${secret:T_2}", "T_2")],
            "an unclosed one is not a reference"
        );
        assert!(is_variable_name("_A1") && !is_variable_name("1A") && !is_variable_name("a-b"));
        assert!(
            referenced("a-b")
                .expect_err("bad name")
                .contains("not a variable name")
        );
        let unset = "SESSIONBENCH_TEST_SECRET_NEVER_SET";
        assert!(
            referenced(unset)
                .expect_err("unset")
                .contains("not set in the environment")
        );
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("rediss://app:hunter2@db.example:6380/0"),
            "rediss://app:***@db.example:6380/0"
        );
        assert_eq!(
            redact_url("redis://:hunter2@127.0.0.1:6379"),
            "redis://:***@127.0.0.1:6379"
        );
        assert_eq!(redact_url("redis://hunter2@h:1"), "redis://***@h:1");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert!(url_has_password("redis://:x@h"));
        assert!(!url_has_password("redis://h:1/2"));
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }

    #[test]
    fn a_secret_comes_from_its_file_or_the_environment() {
        let dir = std::env::temp_dir().join(format!("secret-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2\n").expect("write");
        let got = Secret::load(Some(&file), "SESSIONBENCH_TEST_UNSET_VARIABLE", "--x-file");
        assert_eq!(got, Ok(Some(Secret::new("hunter2"))));
        std::fs::write(&file, "\n").expect("write");
        assert!(
            Secret::load(Some(&file), "UNUSED", "--x-file").is_err_and(|e| e.contains("empty"))
        );
        assert_eq!(
            Secret::load(None, "SESSIONBENCH_TEST_UNSET_VARIABLE", "--x-file"),
            Ok(None)
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
