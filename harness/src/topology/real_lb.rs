//! Real load balancers in front of the reference nodes: nginx, HAProxy and Apache httpd, each started by
//! the harness from a configuration it writes into the run's log directory, listening on a
//! loopback port of its own, as one foreground process (so a kill or a restart is one
//! signal and nothing outlives the run).

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::Path;

use super::process::{Process, StartError};
use super::store::{free_port, prepare_dir};
use crate::plan::LbKind;

/// Where Debian, and Red Hat-like systems, keep Apache httpd's modules.
const APACHE_MODULES: [&str; 3] = [
    "/usr/lib/apache2/modules",
    "/usr/lib64/httpd/modules",
    "/usr/lib/httpd/modules",
];

/// What a real load balancer is told.
pub struct RealLb<'a> {
    pub kind: LbKind,
    /// The suite's policy name (validated for `kind`).
    pub policy: &'a str,
    pub cookie: &'a str,
    /// Node name and where the balancer reaches it (a fault proxy, with network faults).
    pub backends: &'a [(String, SocketAddr)],
}

impl RealLb<'_> {
    /// Writes the configuration and starts the balancer; ready once its port accepts.
    pub async fn start(&self, target: &str, logs: &Path) -> Result<Process, StartError> {
        let name = self.kind.name();
        // Absolute: nginx reads relative paths from its prefix, not from here.
        let dir = std::path::absolute(prepare_dir(target, name, logs)?).map_err(|source| {
            StartError::Spawn {
                name: name.into(),
                source,
            }
        })?;
        let port = free_port().map_err(|source| StartError::Spawn {
            name: name.into(),
            source,
        })?;
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let (file, text, program, args) = match self.kind {
            LbKind::Nginx => {
                let conf = dir.join("nginx.conf");
                let args = vec![
                    "-p".to_string(),
                    dir.display().to_string(),
                    "-c".into(),
                    conf.display().to_string(),
                ];
                (conf, self.nginx(listen, &dir), "nginx", args)
            }
            LbKind::Haproxy => {
                let conf = dir.join("haproxy.cfg");
                let args = vec!["-db".to_string(), "-f".into(), conf.display().to_string()];
                (conf, self.haproxy(listen), "haproxy", args)
            }
            LbKind::Apache => {
                let conf = dir.join("httpd.conf");
                let args = vec![
                    "-X".to_string(),
                    "-d".into(),
                    dir.display().to_string(),
                    "-f".into(),
                    conf.display().to_string(),
                ];
                (conf, self.apache(listen, &dir)?, "apache2", args)
            }
            LbKind::Reference => unreachable!("the reference LB is `sessionbench lb`"),
        };
        std::fs::write(&file, text).map_err(|source| StartError::Spawn {
            name: name.into(),
            source,
        })?;
        let log = logs.join(format!("{target}-{name}.log"));
        Process::start_program("lb", program, &args, listen, &log).await
    }

    /// nginx as one process (no master, no workers: a SIGKILL leaves nothing behind), its
    /// files under `dir`. Passive health checks: a failed backend is skipped for 2 s, and a
    /// request that could not reach one is tried on the next (as nginx does by default for
    /// connect errors and timeouts).
    fn nginx(&self, listen: SocketAddr, dir: &Path) -> String {
        let balance = match self.policy {
            "ip-hash" => "ip_hash;".to_string(),
            "least-conn" => "least_conn;".to_string(),
            "cookie-hash" => format!("hash $cookie_{} consistent;", self.cookie),
            _ => String::new(),
        };
        let mut servers = String::new();
        for (name, addr) in self.backends {
            let _ = writeln!(
                servers,
                "        server {addr} max_fails=1 fail_timeout=2s; # {name}"
            );
        }
        let d = dir.display();
        format!(
            "# Written by sessionbench for one run: policy {policy}.
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream nodes {{
        {balance}
{servers}        keepalive 64;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://nodes;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_connect_timeout 1s;
            proxy_read_timeout 5s;
        }}
    }}
}}
",
            policy = self.policy
        )
    }

    /// Apache httpd as one process (`-X`: no parent, no children, so a SIGKILL leaves nothing
    /// behind), with only the modules it needs, its files under `dir` and none of the
    /// system's configuration. mod_proxy_balancer: a member that failed a connection is
    /// skipped for 2 s (`retry`), and a sticky request whose member is down goes to another
    /// one (its failover, on by default). Run as root, it serves as `nobody`.
    fn apache(&self, listen: SocketAddr, dir: &Path) -> Result<String, StartError> {
        let modules = APACHE_MODULES
            .iter()
            .map(Path::new)
            .find(|d| d.join("mod_proxy_balancer.so").exists())
            .ok_or_else(|| StartError::Missing {
                program: format!(
                    "apache2's modules (mod_proxy_balancer.so in {})",
                    APACHE_MODULES.join(" or ")
                ),
            })?;
        let (method, sticky) = match self.policy {
            "least-conn" => ("bybusyness", String::new()),
            "cookie-route" => (
                "byrequests",
                format!(
                    " stickysession={}|{}",
                    self.cookie,
                    self.cookie.to_ascii_lowercase()
                ),
            ),
            _ => ("byrequests", String::new()),
        };
        let mut members = String::new();
        for (name, addr) in self.backends {
            let _ = writeln!(
                members,
                "    BalancerMember \"http://{addr}\" route={name} retry=2 connectiontimeout=1 timeout=5"
            );
        }
        let user = if nix::unistd::geteuid().is_root() {
            "User nobody\nGroup nogroup\n"
        } else {
            ""
        };
        let (d, m) = (dir.display(), modules.display());
        Ok(format!(
            "# Written by sessionbench for one run: policy {policy}.
ServerRoot \"{d}\"
ServerName localhost
Listen {listen}
PidFile {d}/httpd.pid
DefaultRuntimeDir {d}
ErrorLog {d}/error.log
LogLevel warn
{user}LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule slotmem_shm_module {m}/mod_slotmem_shm.so
LoadModule proxy_module {m}/mod_proxy.so
LoadModule proxy_http_module {m}/mod_proxy_http.so
LoadModule proxy_balancer_module {m}/mod_proxy_balancer.so
LoadModule lbmethod_{method}_module {m}/mod_lbmethod_{method}.so
ThreadLimit 256
ThreadsPerChild 256
MaxRequestWorkers 256
KeepAliveTimeout 30
<Proxy \"balancer://nodes\">
{members}    ProxySet lbmethod={method}{sticky}
</Proxy>
ProxyPreserveHost On
ProxyPass \"/\" \"balancer://nodes/\"
",
            policy = self.policy
        ))
    }

    /// HAProxy in the foreground. `cookie-insert`: it inserts its own cookie naming the server
    /// and, with `option redispatch`, sends a request whose server is down to another one
    /// (the session then lives or dies by the nodes' store). `ip-hash`: `balance source`.
    /// Active health checks every 500 ms.
    fn haproxy(&self, listen: SocketAddr) -> String {
        let (balance, cookie) = match self.policy {
            "ip-hash" => ("balance source", String::new()),
            "least-conn" => ("balance leastconn", String::new()),
            "cookie-insert" => (
                "balance roundrobin",
                "    cookie SERVERID insert indirect nocache\n".to_string(),
            ),
            _ => ("balance roundrobin", String::new()),
        };
        let mut servers = String::new();
        for (name, addr) in self.backends {
            let sticky = if cookie.is_empty() {
                String::new()
            } else {
                format!(" cookie {name}")
            };
            let _ = writeln!(
                servers,
                "    server {name} {addr} check inter 500ms fall 2 rise 1{sticky}"
            );
        }
        format!(
            "# Written by sessionbench for one run: policy {policy}.
global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 5s
    option redispatch
    retries 2
frontend web
    bind {listen}
    default_backend nodes
backend nodes
    {balance}
    option httpchk GET /healthz
{cookie}{servers}",
            policy = self.policy
        )
    }
}
