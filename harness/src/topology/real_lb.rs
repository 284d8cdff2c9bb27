//! Real load balancers in front of the reference nodes: nginx, HAProxy and Apache httpd, each started by
//! the harness from a configuration it writes into the run's log directory, listening on a
//! loopback port of its own, as one foreground process (so a kill or a restart is one
//! signal and nothing outlives the run).

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::balancer_manager::{self, GROWTH};
use super::process::{Process, StartError};
use super::store::{free_port, prepare_dir};
use sessionbench_model::plan::LbKind;

/// Where Debian, and Red Hat-like systems, keep Apache httpd's modules.
const APACHE_MODULES: [&str; 3] = [
    "/usr/lib/apache2/modules",
    "/usr/lib64/httpd/modules",
    "/usr/lib/httpd/modules",
];

/// One member of a real balancer: a node and where the balancer reaches it (a fault proxy,
/// with network faults); a member removed by a scale-in stays listed, disabled.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub addr: SocketAddr,
    pub enabled: bool,
}

/// A real load balancer: what it is told, and where its configuration and admin port are
/// once started (a restart runs the configuration as the last scale-out or -in left it).
#[derive(Debug)]
pub struct RealLb {
    pub kind: LbKind,
    /// The suite's policy name (validated for `kind`).
    pub policy: String,
    pub cookie: String,
    pub members: Vec<Member>,
    /// Where Apache's balancer-manager listens: a port of its own, so no client reaches it.
    admin: Option<SocketAddr>,
    /// The directory the balancer works in, once started.
    work: Option<PathBuf>,
    /// The configuration files, once written: the one the balancer reads, and for Apache a
    /// copy in the run directory to read after the run.
    confs: Vec<PathBuf>,
    /// Apache's own directory outside the run (removed when this is dropped): it runs as
    /// `nobody`, who may not reach the run directory.
    private: Option<PathBuf>,
}

/// Who Apache runs as when the harness is root: it is started as that user rather than left
/// to drop root itself, since a process that changes its user loses the kernel's promise to
/// kill it with the harness.
const APACHE_USER: &str = "nobody";

/// Apache's private directories are `<temp>/sessionbench-apache-<harness pid>-<port>`.
const PRIVATE_PREFIX: &str = "sessionbench-apache-";

/// Removes the private directories of harnesses no longer running (a SIGKILLed harness
/// cannot remove its own); returns those it removed and those it kept.
pub fn sweep_private_dirs() -> PrivateDirs {
    let mut swept = PrivateDirs::default();
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return swept;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PRIVATE_PREFIX))
            .and_then(|rest| rest.split('-').next()?.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path().display().to_string();
        if super::runs(pid) {
            swept.kept.push((pid, path));
        } else if std::fs::remove_dir_all(entry.path()).is_ok() {
            swept.removed.push(path);
        }
    }
    swept
}

/// What [`sweep_private_dirs`] removed (a killed run's) and kept (with the pid of the run
/// that still runs and owns it).
#[derive(Debug, Default)]
pub struct PrivateDirs {
    pub removed: Vec<String>,
    pub kept: Vec<(u32, String)>,
}

impl Drop for RealLb {
    fn drop(&mut self) {
        if let Some(private) = &self.private {
            let _ = std::fs::remove_dir_all(private);
        }
    }
}

impl RealLb {
    pub fn new(
        kind: LbKind,
        policy: &str,
        cookie: &str,
        backends: &[(String, SocketAddr)],
    ) -> Self {
        let members = backends
            .iter()
            .map(|(name, addr)| Member {
                name: name.clone(),
                addr: *addr,
                enabled: true,
            })
            .collect();
        Self {
            kind,
            policy: policy.into(),
            cookie: cookie.into(),
            members,
            admin: None,
            work: None,
            confs: Vec::new(),
            private: None,
        }
    }

    /// Writes the configuration and starts the balancer; ready once its port accepts.
    pub async fn start(&mut self, target: &str, logs: &Path) -> Result<Process, StartError> {
        let name = self.kind.name();
        let spawn_error = |source| StartError::Spawn {
            name: name.into(),
            source,
        };
        // Absolute: nginx reads relative paths from its prefix, not from here.
        let dir = std::path::absolute(prepare_dir(target, name, logs)?).map_err(spawn_error)?;
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port().map_err(spawn_error)?));
        let log = logs.join(format!("{target}-{name}.log"));
        let mut user = None;
        let (work, program, args) = match self.kind {
            LbKind::Nginx => {
                let conf = dir.join("nginx.conf");
                let args = vec![
                    "-p".to_string(),
                    dir.display().to_string(),
                    "-c".into(),
                    conf.display().to_string(),
                ];
                self.confs = vec![conf];
                (dir, "nginx", args)
            }
            LbKind::Haproxy => {
                let conf = dir.join("haproxy.cfg");
                let args = vec!["-db".to_string(), "-f".into(), conf.display().to_string()];
                self.confs = vec![conf];
                (dir, "haproxy", args)
            }
            LbKind::Apache => {
                self.admin = Some(SocketAddr::from((
                    [127, 0, 0, 1],
                    free_port().map_err(spawn_error)?,
                )));
                let _ = sweep_private_dirs();
                let private = std::env::temp_dir().join(format!(
                    "{PRIVATE_PREFIX}{}-{}",
                    std::process::id(),
                    listen.port()
                ));
                let _ = std::fs::remove_dir_all(&private);
                std::fs::create_dir(&private).map_err(spawn_error)?;
                self.private = Some(private.clone());
                // Its error log is its stderr: the run's log file, which it may then write.
                std::fs::File::create(&log).map_err(spawn_error)?;
                if nix::unistd::geteuid().is_root() {
                    let nobody = nix::unistd::User::from_name(APACHE_USER)
                        .ok()
                        .flatten()
                        .ok_or_else(|| StartError::Missing {
                            program: format!("the user `{APACHE_USER}` (Apache runs as it)"),
                        })?;
                    for path in [&private, &log] {
                        std::os::unix::fs::chown(
                            path,
                            Some(nobody.uid.as_raw()),
                            Some(nobody.gid.as_raw()),
                        )
                        .map_err(spawn_error)?;
                    }
                    user = Some(APACHE_USER);
                }
                let conf = private.join("httpd.conf");
                let mut args = vec![
                    "-X".to_string(),
                    "-d".into(),
                    private.display().to_string(),
                    "-f".into(),
                    conf.display().to_string(),
                ];
                // Its command line names the run, as every other process's does (so
                // `pgrep -f RUN_DIR` finds it).
                let run = dir.display().to_string();
                if !run.contains('"') {
                    args.extend(["-C".into(), format!("Define SESSIONBENCH_RUN \"{run}\"")]);
                }
                self.confs = vec![conf, dir.join("httpd.conf")];
                (private, "apache2", args)
            }
            LbKind::Reference => unreachable!("the reference LB is `sessionbench lb`"),
        };
        self.work = Some(work);
        self.write_conf(listen)?;
        Process::start_program_as("lb", user, program, &args, listen, &log, None).await
    }

    /// The configuration for the members as they are now.
    fn render(&self, listen: SocketAddr, dir: &Path) -> Result<String, StartError> {
        Ok(match self.kind {
            LbKind::Nginx => self.nginx(listen, dir),
            LbKind::Haproxy => self.haproxy(listen),
            _ => self.apache(listen, dir)?,
        })
    }

    /// Scale-out: Apache gains member `name` through its balancer-manager, and its
    /// configuration lists it for a restart. The other real balancers cannot (validation
    /// refuses `add-node` for them).
    pub async fn add(
        &mut self,
        name: &str,
        addr: SocketAddr,
        listen: SocketAddr,
    ) -> Result<(), StartError> {
        let admin = self.manager()?;
        if let Some(m) = self.members.iter_mut().find(|m| m.name == name) {
            m.addr = addr;
            m.enabled = true;
        } else {
            self.members.push(Member {
                name: name.into(),
                addr,
                enabled: true,
            });
        }
        self.write_conf(listen)?;
        balancer_manager::add(admin, addr, name).await
    }

    /// Scale-in (`enabled` false) and its undoing: Apache stops or starts choosing the
    /// member (requests in flight finish), and its configuration says so for a restart.
    pub async fn set_enabled(
        &mut self,
        name: &str,
        enabled: bool,
        listen: SocketAddr,
    ) -> Result<(), StartError> {
        let admin = self.manager()?;
        let Some(m) = self.members.iter_mut().find(|m| m.name == name) else {
            return Err(StartError::Admin {
                detail: format!("Apache has no member `{name}`"),
            });
        };
        m.enabled = enabled;
        let addr = m.addr;
        self.write_conf(listen)?;
        balancer_manager::set_enabled(admin, addr, enabled).await
    }

    fn manager(&self) -> Result<SocketAddr, StartError> {
        self.admin.ok_or_else(|| StartError::Admin {
            detail: format!(
                "{} has no admin API the harness can change backends through",
                self.kind.name()
            ),
        })
    }

    /// Writes the configuration for the members as they are now (read again on a restart).
    fn write_conf(&self, listen: SocketAddr) -> Result<(), StartError> {
        let Some(work) = &self.work else {
            return Ok(());
        };
        let text = self.render(listen, work)?;
        for conf in &self.confs {
            std::fs::write(conf, &text).map_err(|source| StartError::Spawn {
                name: self.kind.name().into(),
                source,
            })?;
        }
        Ok(())
    }

    /// nginx as one process (no master, no workers: a SIGKILL leaves nothing behind), its
    /// files under `dir`. Passive health checks: a failed backend is skipped for 2 s, and a
    /// request that could not reach one is tried on the next (as nginx does by default for
    /// connect errors and timeouts).
    fn nginx(&self, listen: SocketAddr, dir: &Path) -> String {
        let balance = match self.policy.as_str() {
            "ip-hash" => "ip_hash;".to_string(),
            "least-conn" => "least_conn;".to_string(),
            "cookie-hash" => format!("hash $cookie_{} consistent;", self.cookie),
            _ => String::new(),
        };
        let mut servers = String::new();
        for Member {
            name,
            addr,
            enabled,
        } in &self.members
        {
            let down = if *enabled { "" } else { " down" };
            let _ = writeln!(
                servers,
                "        server {addr} max_fails=1 fail_timeout=2s{down}; # {name}"
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
    /// one (its failover, on by default). Its balancer-manager listens on a port of its own
    /// (clients reach only the balancer) for scale-out and -in. Its errors go to its stderr
    /// (the run's log); `dir` is its own, outside the run ([`APACHE_USER`]).
    fn apache(&self, listen: SocketAddr, dir: &Path) -> Result<String, StartError> {
        let admin = self.manager()?;
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
        let (method, sticky) = match self.policy.as_str() {
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
        for Member {
            name,
            addr,
            enabled,
        } in &self.members
        {
            let status = if *enabled { "" } else { " status=+D" };
            let _ = writeln!(
                members,
                "    BalancerMember \"http://{addr}\" route={name} retry=2 connectiontimeout=1 timeout=5{status}"
            );
        }
        let (d, m) = (dir.display(), modules.display());
        Ok(format!(
            "# Written by sessionbench for one run: policy {policy}.
ServerRoot \"{d}\"
ServerName localhost
Listen {listen}
PidFile {d}/httpd.pid
DefaultRuntimeDir {d}
ErrorLog /dev/stderr
LogLevel warn
LoadModule mpm_event_module {m}/mod_mpm_event.so
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
{members}    ProxySet lbmethod={method}{sticky} growth={GROWTH}
</Proxy>
ProxyPreserveHost On
<VirtualHost {listen}>
    ProxyPass \"/\" \"balancer://nodes/\"
</VirtualHost>
Listen {admin}
<VirtualHost {admin}>
    <Location \"/balancer-manager\">
        SetHandler balancer-manager
    </Location>
</VirtualHost>
",
            policy = self.policy
        ))
    }

    /// HAProxy in the foreground. `cookie-insert`: it inserts its own cookie naming the server
    /// and, with `option redispatch`, sends a request whose server is down to another one
    /// (the session then lives or dies by the nodes' store). `ip-hash`: `balance source`.
    /// Active health checks every 500 ms.
    fn haproxy(&self, listen: SocketAddr) -> String {
        let (balance, cookie) = match self.policy.as_str() {
            "ip-hash" => ("balance source", String::new()),
            "least-conn" => ("balance leastconn", String::new()),
            "cookie-insert" => (
                "balance roundrobin",
                "    cookie SERVERID insert indirect nocache\n".to_string(),
            ),
            _ => ("balance roundrobin", String::new()),
        };
        let mut servers = String::new();
        for Member {
            name,
            addr,
            enabled,
        } in &self.members
        {
            let disabled = if *enabled { "" } else { " disabled" };
            let sticky = if cookie.is_empty() {
                String::new()
            } else {
                format!(" cookie {name}")
            };
            let _ = writeln!(
                servers,
                "    server {name} {addr} check inter 500ms fall 2 rise 1{sticky}{disabled}"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_harness_keeps_its_apache_dirs_and_a_dead_ones_are_removed() {
        let tmp = std::env::temp_dir();
        let ours = tmp.join(format!("{PRIVATE_PREFIX}{}-1", std::process::id()));
        // Above any pid_max: no process runs with it.
        let dead = tmp.join(format!("{PRIVATE_PREFIX}{}-2", 0x7f_ffff));
        for dir in [&ours, &dead] {
            std::fs::create_dir_all(dir).expect("a private dir");
        }
        let swept = sweep_private_dirs();
        let (ours_text, dead_text) = (ours.display().to_string(), dead.display().to_string());
        assert!(
            swept
                .kept
                .contains(&(std::process::id(), ours_text.clone())),
            "{swept:?}"
        );
        assert!(swept.removed.contains(&dead_text), "{swept:?}");
        assert!(ours.exists() && !dead.exists());
        std::fs::remove_dir_all(&ours).expect("removed");
    }
}
