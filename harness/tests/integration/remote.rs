//! A deployment as a user tests one: the shop over HTTPS (nginx terminating TLS with a
//! certificate made here), a CSRF-protected form login of two steps, on another "host": a
//! network namespace this test makes, reached at its own 10.x address as a remote target.
//! Traffic goes only to loopback and to that namespace, which is removed at the end.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

use super::external::kill_leftovers;
use super::templates::shop_script;
use crate::support::{Suite, fault, files_holding, json, sessionbench, target, tempdir};

/// A namespace with one veth pair to this one: `host` on this side, `addr` inside. Removed on
/// drop (with the pair: deleting the namespace deletes its end, and so both).
struct Netns {
    name: String,
    addr: Ipv4Addr,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("`ip` (iproute2) is installed: ci/setup installs it");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// A /30 in 10.213.0.0/16 that no interface of this machine uses: the route to it then
    /// leads only into the namespace.
    fn new() -> Self {
        let pid = std::process::id();
        let third = (pid % 250) as u8;
        let subnet = format!("10.213.{third}.0/30");
        let used = Command::new("ip")
            .args(["-o", "addr", "show", "to", &subnet])
            .output()
            .expect("ip");
        assert!(
            used.stdout.is_empty(),
            "{subnet} is in use on this machine: {}",
            String::from_utf8_lossy(&used.stdout)
        );
        let name = format!("sbt{pid}");
        let (outside, inside) = (format!("sbh{pid}"), format!("sbn{pid}"));
        let ns = Self {
            name: name.clone(),
            addr: Ipv4Addr::new(10, 213, third, 2),
        };
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", &inside,
        ]);
        ip(&["link", "set", &inside, "netns", &name]);
        ip(&[
            "addr",
            "add",
            &format!("10.213.{third}.1/30"),
            "dev",
            &outside,
        ]);
        ip(&["link", "set", &outside, "up"]);
        let exec = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        exec(&["addr", "add", &format!("{}/30", ns.addr), "dev", &inside]);
        exec(&["link", "set", &inside, "up"]);
        exec(&["link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A CA, and a server certificate it signed for `ip` (and the name `shop.test`).
struct Certs {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).expect("CA"), key)
}

fn server_params(ip: IpAddr) -> CertificateParams {
    let mut params = CertificateParams::new(vec!["shop.test".to_string()]).expect("params");
    params.subject_alt_names.push(SanType::IpAddress(ip));
    params
}

fn signed(ip: IpAddr) -> Certs {
    let (ca, ca_key) = ca("sessionbench test CA");
    let key = KeyPair::generate().expect("key");
    let cert = server_params(ip)
        .signed_by(&key, &ca, &ca_key)
        .expect("signed");
    Certs {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn self_signed(ip: IpAddr) -> Certs {
    let key = KeyPair::generate().expect("key");
    let cert = server_params(ip).self_signed(&key).expect("self-signed");
    Certs {
        ca_pem: String::new(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Writes the certificates under `dir/tls` (nginx's) and the CA as `dir/ca.pem`.
fn write_certs(dir: &Path, certs: &Certs) -> PathBuf {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("dir");
    std::fs::write(tls.join("cert.pem"), &certs.cert_pem).expect("cert");
    std::fs::write(tls.join("key.pem"), &certs.key_pem).expect("key");
    std::fs::write(dir.join("ca.pem"), &certs.ca_pem).expect("ca");
    tls
}

/// The shop behind HTTPS with its CSRF login of two steps, at `host:port`; `start_prefix`
/// runs the stack where it must (inside a namespace); `extra` adds target keys.
fn suite(
    host: &str,
    port: u16,
    start_prefix: &str,
    tls: &Path,
    ports: &str,
    extra: &str,
) -> String {
    let script = shop_script();
    format!(
        r#"
[suite]
name = "remote-https"
duration = "8s"
warm-up = "1s"

[workload]
virtual-users = 8
think-time = "50ms"
ops-per-session = 30

[workload.mix]
read = 5
write = 2
counter = 2
logout = 1

[[faults]]
at = "4s"
kind = "command"
node = "app2"
inject = 'kill -9 "$(cat "$SESSIONBENCH_DIR/app2.pid")"'

[[targets]]
name = "staging"
strategy = "external"
url = "https://{host}:{port}"
{extra}
start = 'SHOP_LISTEN={host} SHOP_TLS_DIR={tls} SHOP_CSRF=1 {start_prefix} sh {script} start {port} round-robin {ports} "$SESSIONBENCH_DIR/sessions"'
stop = 'sh {script} stop'
ready-url = "https://{host}:{port}/healthz"
timeout = "20s"
cookie = "SHOPSESSION"
served-by = {{ header = "X-Served-By" }}

[targets.logged-out]
redirect = "/login"

# Step 1: the login page, with its token (and the SHOPCSRF cookie, Path=/login, Secure).
[[targets.requests.login]]
method = "GET"
path = "/login"
extract = {{ csrf = {{ regex = 'name="csrf" value="([^"]+)"' }} }}

# Step 2: the form, with the token; the shop redirects to /account, followed.
[[targets.requests.login]]
method = "POST"
path = "/login"
form = {{ user = "{{user}}", csrf = "{{csrf}}" }}
follow-redirects = 1
user = {{ regex = 'Signed in as <b>([^<]+)</b>' }}

[targets.requests.read]
path = "/account"
user = {{ regex = 'Signed in as <b>([^<]+)</b>' }}
counter = {{ regex = '<span id="items">(\d+)</span>' }}
value = {{ regex = '<span id="note">([^<]+)</span>' }}

[targets.requests.write]
path = "/note"
form = {{ note = "{{value}}" }}

[targets.requests.counter]
path = "/cart/add"
counter = {{ pointer = "/cart/items" }}

[targets.requests.logout]
path = "/logout"

[targets.expect]
sessions-lost = "none"
max-stale-reads = 0
"#,
        tls = tls.display(),
        script = script.display(),
    )
}

fn run(dir: &Path, suite: &str) -> (Option<i32>, String) {
    let file = dir.join("suite.toml");
    std::fs::write(&file, suite).expect("suite");
    let out = sessionbench()
        .args(["run", "--quiet", "--force", "--out"])
        .arg(dir.join("run"))
        .arg(&file)
        .output()
        .expect("run");
    kill_leftovers(&dir.join("run"), &["staging"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The whole way: remote, HTTPS with a private CA, a two-step CSRF login, a kill of one of
/// two instances sharing their sessions: no session lost, no stale read. Without
/// `remote = true` the same suite is refused before anything starts.
#[test]
fn a_remote_https_deployment_with_a_csrf_login_keeps_sessions_through_a_kill() {
    let ns = Netns::new();
    let dir = tempdir("remote-https");
    std::fs::create_dir_all(&dir).expect("dir");
    let tls = write_certs(&dir, &signed(IpAddr::V4(ns.addr)));
    let host = ns.addr.to_string();
    let prefix = format!("ip netns exec {}", ns.name);
    let local = suite(
        &host,
        8443,
        &prefix,
        &tls,
        "18301 18302",
        "ca-file = \"ca.pem\"",
    );

    // Without `remote = true`: exit 2, the key named, nothing started.
    let (code, stderr) = run(&dir, &local);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`targets[0].url`"), "{stderr}");
    assert!(stderr.contains("`remote = true`"), "{stderr}");
    assert!(!dir.join("run/results.json").exists());

    let remote = suite(
        &host,
        8443,
        &prefix,
        &tls,
        "18301 18302",
        "remote = true\nca-file = \"ca.pem\"",
    );
    let (code, stderr) = run(&dir, &remote);
    let results = json(&dir.join("run/results.json"));
    assert_eq!(code, Some(0), "{stderr}\n{results}");
    let t = &results["targets"][0];
    // Two sessions a user at least (about 90 on an idle machine).
    assert!(t["sessions"]["started"].as_u64() > Some(16), "{t}");
    assert_eq!(t["sessions"]["lost"], 0, "{t}");
    assert_eq!(t["sessions"]["stale-reads"], 0, "{t}");
    assert!(t["faults"][0]["detail"].is_null(), "the kill ran: {t}");
    assert!(t.get("tls-unverified").is_none(), "{t}");
    // Both instances served, so the kill landed on one in use.
    let history = crate::support::history_text(&dir.join("run"));
    for app in ["app1", "app2"] {
        assert!(history.contains(&format!(r#""node":"{app}""#)), "{app}");
    }
    // The login is one operation of two requests: logins succeed, none failed on its token.
    assert!(history.contains(r#""kind":"login","#));
    assert!(!history.contains("login step"), "a login step failed");
    // plan.json records where the URL resolved.
    let plan = json(&dir.join("run/plan.json"));
    let external = &plan["targets"][0]["external"];
    assert_eq!(
        external["url"]["addr"],
        format!("{host}:8443"),
        "{external}"
    );
    assert_eq!(external["remote"], true);
}

/// A self-signed certificate is refused at the start, with why and what to do; with
/// `insecure-skip-verify` the run goes on and every report says the certificate was not
/// verified. A certificate from another CA than `ca-file`'s fails the same way, fast.
#[test]
fn self_signed_needs_insecure_skip_verify_and_a_wrong_ca_fails_with_a_tls_error() {
    let dir = tempdir("tls-trust");
    std::fs::create_dir_all(&dir).expect("dir");
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let tls = write_certs(&dir, &self_signed(loopback));
    let port = crate::support::free_port();
    let ports = format!(
        "{} {}",
        crate::support::free_port(),
        crate::support::free_port()
    );
    // A shorter run, the shop on loopback, with `extra` keys for TLS.
    let quick = |tls: &Path, extra: &str| {
        suite("127.0.0.1", port, "", tls, &ports, extra)
            .replace("duration = \"8s\"", "duration = \"3s\"")
            .replace("at = \"4s\"", "at = \"2s\"")
    };

    // The system's roots do not know it.
    let started = Instant::now();
    let (code, stderr) = run(&dir, &quick(&tls, ""));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("TLS handshake failed"), "{stderr}");
    assert!(stderr.contains("insecure-skip-verify"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30), "not a hang");

    let (code, stderr) = run(&dir, &quick(&tls, "insecure-skip-verify = true"));
    let results = json(&dir.join("run/results.json"));
    assert_eq!(code, Some(0), "{stderr}\n{results}");
    assert_eq!(results["targets"][0]["tls-unverified"], true);
    let warning = "TLS certificate was not verified";
    for report in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(dir.join("run").join(report)).expect(report);
        assert!(text.contains(warning), "{report}");
    }
    let junit = std::fs::read_to_string(dir.join("run/junit.xml")).expect("junit");
    assert!(junit.contains("certificate not verified"), "{junit}");

    // Signed by a CA, but `ca-file` is another one.
    let tls = write_certs(&dir, &signed(loopback));
    let (other, _) = ca("another CA");
    std::fs::write(dir.join("ca.pem"), other.pem()).expect("ca");
    let started = Instant::now();
    let (code, stderr) = run(&dir, &quick(&tls, "ca-file = \"ca.pem\""));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(stderr.contains("`ca-file`"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30), "not a hang");
}

/// A redis-server on loopback at `port` with `args` (persistence off), killed on drop; returns
/// once it accepts connections.
fn redis_server(port: u16, args: &[std::ffi::OsString]) -> Child {
    let redis = Command::new("redis-server")
        .args(args)
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed: ci/setup installs it");
    let child = Child(redis);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Kills the child on drop, so a failed assertion leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Redis the harness did not start, spoken to over TLS (`rediss://`, its CA in `ca-file`):
/// two nodes share sessions through it, and a kill of one costs none. Without the CA the
/// nodes cannot reach it and the run says so.
#[test]
fn a_redis_over_tls_keeps_the_sessions_of_a_killed_node() {
    let dir = tempdir("rediss");
    std::fs::create_dir_all(&dir).expect("dir");
    let certs = signed(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let tls = write_certs(&dir, &certs);
    let port = crate::support::free_port();
    let tls_port = port.to_string();
    let args: Vec<std::ffi::OsString> = vec![
        "--port".into(),
        "0".into(),
        "--tls-port".into(),
        tls_port.into(),
        "--tls-cert-file".into(),
        tls.join("cert.pem").into(),
        "--tls-key-file".into(),
        tls.join("key.pem").into(),
        "--tls-ca-cert-file".into(),
        dir.join("ca.pem").into(),
        "--tls-auth-clients".into(),
        "no".into(),
    ];
    let _redis = redis_server(port, &args);
    let suite = |ca: Option<&str>| {
        let url = format!("rediss://127.0.0.1:{port}");
        let mut store = target("tls-store", "redis")
            .nodes(2)
            .set("lb-policy", "round-robin")
            .set("redis", url.as_str())
            .expect("sessions-lost", "none");
        if let Some(ca) = ca {
            store = store.set("ca-file", ca);
        }
        Suite::new("rediss", "4s")
            .fault(fault("2s", "kill", "node2"))
            .target(store)
            .toml()
    };
    let (code, stderr) = run(&dir, &suite(Some("ca.pem")));
    let results = json(&dir.join("run/results.json"));
    assert_eq!(code, Some(0), "{stderr}\n{results}");
    let t = &results["targets"][0];
    assert_eq!(t["strategy"], "redis-external");
    // More sessions than users (8), about 35 on an idle machine.
    assert!(t["sessions"]["started"].as_u64() > Some(12), "{t}");
    assert_eq!(t["sessions"]["lost"], 0, "{t}");
    assert!(
        t["store-traffic"]["bytes-written"].as_u64() > Some(0),
        "sessions went through the TLS Redis: {t}"
    );

    // Without the CA the system's roots do not trust it: no login gets a session.
    let (code, stderr) = run(&dir, &suite(None));
    let results = json(&dir.join("run/results.json"));
    assert_eq!(code, Some(3), "{stderr}\n{results}");
    assert_eq!(results["targets"][0]["ops"]["ok"], 0, "{results}");

    // A CA that does not exist is named.
    let (code, stderr) = run(&dir, &suite(Some("missing.pem")));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`targets[0].ca-file`"), "{stderr}");
}

/// A command fault's script that prints the command line of the run's own processes: the
/// harness (the shell's parent) and everything under it. cat, not awk, reads the files: a
/// process that ends between the glob and the read is skipped, where awk would stop at it and
/// print nothing.
const EVERY_COMMAND_LINE: &str = r##"for p in $(cat /proc/[0-9]*/status 2>/dev/null | awk -v h="$PPID" '/^Pid:/ { pid = $2 }
    /^PPid:/ { up[pid] = $2 }
    END { print h; for (p in up) { q = p; while (q != "" && q > 1 && q != h) q = up[q]; if (q == h) print p } }'); do
  tr "\000" " " < "/proc/$p/cmdline"; echo
done 2>/dev/null; true
"##;

/// The secrets a run handles never reach a command line (any local user reads those) nor any
/// file of the run: the password of a Redis given by URL (from `redis-password-file`) and the
/// cluster secret of a delta target. A command fault lists the command line of every process
/// of the run mid-run: the harness and everything under it (other processes on the machine,
/// another test's among them, are not the run's to judge). A password inside the URL is refused, and the refusal does not print it.
#[test]
fn secrets_are_on_no_command_line_and_in_no_file_of_the_run() {
    let dir = tempdir("secrets");
    std::fs::create_dir_all(&dir).expect("dir");
    let password = "pw-7f3c9e1d5b";
    std::fs::write(dir.join("redis.pw"), format!("{password}\n")).expect("password file");
    let port = crate::support::free_port();
    let _redis = redis_server(
        port,
        &["--port", &port.to_string(), "--requirepass", password].map(Into::into),
    );
    let suite = |redis: &[(&str, &str)]| {
        let mut store = target("shared-store", "redis")
            .nodes(2)
            .set("lb-policy", "round-robin");
        for (key, value) in redis {
            store = store.set(key, *value);
        }
        let replicated = target("replicated", "delta")
            .nodes(2)
            .set("lb-policy", "round-robin")
            .set("replication", "sync")
            .set("cluster-encrypt", true);
        Suite::new("secrets", "3s")
            .users(6)
            .fault(fault("1500ms", "command", "everyone").set("inject", EVERY_COMMAND_LINE))
            .target(store)
            .target(replicated)
            .toml()
    };
    let (code, stderr) = run(
        &dir,
        &suite(&[
            ("redis", &format!("redis://127.0.0.1:{port}")),
            ("redis-password-file", "redis.pw"),
        ]),
    );
    let results = json(&dir.join("run/results.json"));
    assert_eq!(code, Some(0), "{stderr}\n{results}");
    for t in results["targets"].as_array().expect("targets") {
        assert!(t["sessions"]["started"].as_u64() > Some(10), "{t}");
        assert_eq!(t["sessions"]["lost"], 0, "{t}");
    }
    let commands: String = ["shared-store", "replicated"]
        .map(|t| {
            std::fs::read_to_string(dir.join(format!("run/logs/{t}-commands/commands.log")))
                .expect("commands.log")
        })
        .concat();
    assert!(
        commands.matches(" node --id ").count() >= 4,
        "the command lines were listed:\n{commands}"
    );
    assert!(!commands.contains("--cluster-secret"), "{commands}");
    assert_eq!(
        files_holding(&dir.join("run"), password.as_bytes()),
        Vec::<PathBuf>::new(),
        "these hold the password"
    );

    let (code, stderr) = run(
        &dir,
        &suite(&[("redis", &format!("redis://:{password}@127.0.0.1:{port}"))]),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("redis-password-file"), "{stderr}");
    assert!(!stderr.contains(password), "{stderr}");
}
