//! Real Tomcat 10 nodes: each a JVM the harness starts in the foreground with a base directory
//! of its own under the run (its `server.xml`, none of the system's configuration), serving a
//! small servlet (`tomcat/SessionApi.java`, compiled once per target) that speaks the node
//! protocol, so every check applies to Tomcat as to the reference nodes.
//!
//! The cluster is Tomcat's own: `SimpleTcpCluster` with the DeltaManager or the
//! BackupManager, static membership on loopback (every member listed when the target starts,
//! as Tomcat's `StaticMembershipService` wants, spares for a scale-out included), `jvmRoute`
//! set to the node's name. The `standard` manager runs no cluster at all: sessions live and
//! die with their node.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::process::{Process, StartError};
use super::store::{free_port, prepare_dir};
use sessionbench_model::plan::TargetPlan;

/// The servlet, compiled against the installed Tomcat when a target starts.
const SERVLET: &str = include_str!("tomcat/SessionApi.java");

/// Where Debian's `tomcat10-common` puts Tomcat; `CATALINA_HOME` wins.
const DEBIAN_HOME: &str = "/usr/share/tomcat10";

/// One node's ports: HTTP, and the cluster receiver.
#[derive(Debug, Clone, Copy)]
pub struct TomcatPorts {
    pub http: u16,
    pub cluster: u16,
}

/// What every node of a Tomcat target shares.
#[derive(Debug)]
pub struct TomcatCluster {
    home: PathBuf,
    /// The compiled servlet.
    classes: PathBuf,
    /// Each member's name and ports, in order: the nodes, then the spares.
    nodes: Vec<(String, TomcatPorts)>,
}

fn io_error(name: &str) -> impl Fn(std::io::Error) -> StartError + '_ {
    move |source| StartError::Spawn {
        name: name.into(),
        source,
    }
}

/// Where Tomcat is: `CATALINA_HOME`, or Debian's place for it.
pub fn home() -> PathBuf {
    std::env::var_os("CATALINA_HOME").map_or_else(|| PathBuf::from(DEBIAN_HOME), PathBuf::from)
}

impl TomcatCluster {
    /// Finds Tomcat and `javac`, compiles the servlet and picks every node's ports.
    pub async fn prepare(target: &TargetPlan, logs: &Path) -> Result<Self, StartError> {
        let home = home();
        if !home.join("bin/bootstrap.jar").is_file() {
            return Err(StartError::Missing {
                program: format!(
                    "Tomcat 10 ({}/bin/bootstrap.jar; set CATALINA_HOME, or ci/setup installs tomcat10-common)",
                    home.display()
                ),
            });
        }
        let app = std::path::absolute(prepare_dir(&target.name, "tomcat-app", logs)?)
            .map_err(io_error("javac"))?;
        let source = app.join("SessionApi.java");
        std::fs::write(&source, SERVLET).map_err(io_error("javac"))?;
        let classes = app.join("classes");
        let out = tokio::process::Command::new("javac")
            .arg("-d")
            .arg(&classes)
            .arg("-cp")
            .arg(home.join("lib/servlet-api.jar"))
            .arg(&source)
            .output()
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StartError::Missing {
                    program: "javac (a JDK; ci/setup installs default-jdk-headless)".into(),
                },
                _ => io_error("javac")(e),
            })?;
        if !out.status.success() {
            return Err(StartError::Plan(format!(
                "javac could not compile the Tomcat servlet: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let mut nodes = Vec::new();
        for id in target.tomcat_members() {
            let ports = TomcatPorts {
                http: free_port().map_err(io_error(&id))?,
                cluster: free_port().map_err(io_error(&id))?,
            };
            nodes.push((id, ports));
        }
        Ok(Self {
            home,
            classes,
            nodes,
        })
    }

    /// Writes node `id`'s base directory and starts its JVM; ready once its HTTP port
    /// accepts, which the connector's `bindOnInit="false"` holds back until the application
    /// is deployed and its manager has the cluster's sessions.
    pub async fn start(
        &self,
        target: &TargetPlan,
        id: &str,
        logs: &Path,
    ) -> Result<Process, StartError> {
        let index = self
            .nodes
            .iter()
            .position(|(n, _)| n == id)
            .ok_or_else(|| StartError::Plan(format!("no Tomcat node `{id}`")))?;
        let mut ports = self.nodes[index].1;
        // A spare starts long after its ports were picked, and another process may have
        // taken that HTTP port meanwhile (the readiness check would then find it, not
        // Tomcat): its HTTP port is picked now. Its cluster port is in every member's static
        // membership and stays.
        if index >= target.nodes as usize {
            ports.http = free_port().map_err(io_error(id))?;
        }
        let base = std::path::absolute(prepare_dir(&target.name, &format!("{id}-tomcat"), logs)?)
            .map_err(io_error(id))?;
        let webinf = base.join("webapps/ROOT/WEB-INF");
        for dir in ["conf", "logs", "temp", "work"] {
            std::fs::create_dir_all(base.join(dir)).map_err(io_error(id))?;
        }
        std::fs::create_dir_all(&webinf).map_err(io_error(id))?;
        copy_dir(&self.classes, &webinf.join("classes")).map_err(io_error(id))?;
        std::fs::write(webinf.join("web.xml"), web_xml(target)).map_err(io_error(id))?;
        std::fs::write(
            base.join("conf/server.xml"),
            self.server_xml(target, index, ports.http),
        )
        .map_err(io_error(id))?;
        let home = self.home.display();
        let args = vec![
            // Small and quick to start: three nodes fit a 2-core machine.
            "-Xms32m".to_string(),
            "-Xmx128m".into(),
            "-XX:+UseSerialGC".into(),
            "-XX:TieredStopAtLevel=1".into(),
            "-Xss512k".into(),
            format!("-Dsessionbench.node={id}"),
            format!("-Dcatalina.base={}", base.display()),
            format!("-Dcatalina.home={home}"),
            format!("-Djava.io.tmpdir={}", base.join("temp").display()),
            "-cp".into(),
            format!("{home}/bin/bootstrap.jar:{home}/bin/tomcat-juli.jar"),
            "org.apache.catalina.startup.Bootstrap".into(),
            "start".into(),
        ];
        let log = log_of(target, id, logs);
        let addr = SocketAddr::from(([127, 0, 0, 1], ports.http));
        Process::start_program(id, "java", &args, addr, &log, None).await
    }

    /// Waits until each of the `started` nodes has added every other one as a cluster member
    /// (its log says so: static members count each other once they answer each other's
    /// pings, a second or so after the last one starts). Load sent sooner would reach nodes
    /// that do not replicate to each other yet. Nothing to wait for without a cluster.
    pub async fn await_members(
        &self,
        target: &TargetPlan,
        started: &[String],
        logs: &Path,
    ) -> Result<(), StartError> {
        if target.manager.as_deref() == Some("standard") {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + MEMBERSHIP_TIMEOUT;
        loop {
            let lacking: Vec<String> = started
                .iter()
                .filter_map(|id| {
                    let log = std::fs::read_to_string(log_of(target, id, logs)).unwrap_or_default();
                    let lacks: Vec<&str> = self
                        .nodes
                        .iter()
                        .filter(|(n, _)| n != id && started.contains(n))
                        .filter(|(_, p)| !added(&log, p.cluster))
                        .map(|(n, _)| n.as_str())
                        .collect();
                    (!lacks.is_empty()).then(|| format!("{id} has not added {}", lacks.join(", ")))
                })
                .collect();
            if lacking.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StartError::Plan(format!(
                    "the Tomcat cluster did not form within {MEMBERSHIP_TIMEOUT:?}: {}",
                    lacking.join("; ")
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Node `index`'s server.xml: one HTTP connector on loopback, no shutdown port, and the
    /// cluster its manager asks for. The connector binds its port when Tomcat has started,
    /// not when it initialises (Tomcat's default): a port that accepts then means a member
    /// that serves. With the default, a member still deploying looked ready, the next one
    /// started beside it, each asked the other for the sessions, one dropped the request (its
    /// manager not registered yet), and the other waited out the 60 s state-transfer timeout
    /// with its port taking requests it never answered.
    fn server_xml(&self, target: &TargetPlan, index: usize, http: u16) -> String {
        let id = &self.nodes[index].0;
        let manager = target.manager.as_deref().unwrap_or("delta");
        let cluster = match manager {
            "standard" => String::new(),
            _ => self.cluster_xml(target, index, manager),
        };
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by sessionbench for one run: target {target}, node {id}, manager {manager}. -->
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="{http}" address="127.0.0.1" protocol="HTTP/1.1" maxKeepAliveRequests="-1"
               connectionTimeout="60000" maxThreads="64" bindOnInit="false"/>
    <Engine name="Catalina" defaultHost="localhost" jvmRoute="{id}">
{cluster}      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
"#,
            target = target.name,
            http = http,
        )
    }

    /// `SimpleTcpCluster` with static membership: every other node is listed. Synchronous
    /// replication waits for each member's ack (`channelSendOptions` 6); asynchronous does
    /// not (8, Tomcat's default, through the dispatch interceptor). `JvmRouteBinderValve`,
    /// when the suite asks for it, gives a session that failed over the route of its new node.
    fn cluster_xml(&self, target: &TargetPlan, index: usize, manager: &str) -> String {
        let sync = target.replication.as_deref() == Some("sync") || manager == "backup";
        let send_options = if sync { 6 } else { 8 };
        let manager_xml = match manager {
            "backup" => {
                r#"<Manager className="org.apache.catalina.ha.session.BackupManager" notifyListenersOnReplication="true" mapSendOptions="6"/>"#
            }
            _ => {
                r#"<Manager className="org.apache.catalina.ha.session.DeltaManager" expireSessionsOnShutdown="false" notifyListenersOnReplication="true"/>"#
            }
        };
        let mut members = String::new();
        for (i, (_, ports)) in self.nodes.iter().enumerate().filter(|(i, _)| *i != index) {
            let _ = writeln!(
                members,
                r#"            <Member className="org.apache.catalina.tribes.membership.StaticMember" host="127.0.0.1" port="{}" uniqueId="{}"/>"#,
                ports.cluster,
                unique_id(i)
            );
        }
        let dispatch = if sync {
            ""
        } else {
            "\n          <Interceptor className=\"org.apache.catalina.tribes.group.interceptors.MessageDispatchInterceptor\"/>"
        };
        let binder = if target.jvm_route_binder {
            "\n        <Valve className=\"org.apache.catalina.ha.session.JvmRouteBinderValve\"/>"
        } else {
            ""
        };
        format!(
            r#"      <Cluster className="org.apache.catalina.ha.tcp.SimpleTcpCluster" channelSendOptions="{send_options}">
        {manager_xml}
        <Channel className="org.apache.catalina.tribes.group.GroupChannel">
          <Membership className="org.apache.catalina.tribes.membership.StaticMembershipService">
            <LocalMember className="org.apache.catalina.tribes.membership.StaticMember" uniqueId="{local}"/>
{members}          </Membership>
          <Receiver className="org.apache.catalina.tribes.transport.nio.NioReceiver" address="127.0.0.1" port="{port}" autoBind="0"/>
          <Sender className="org.apache.catalina.tribes.transport.ReplicationTransmitter">
            <Transport className="org.apache.catalina.tribes.transport.nio.PooledParallelSender"/>
          </Sender>
          <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpPingInterceptor" staticOnly="true"/>
          <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpFailureDetector"/>{dispatch}
        </Channel>
        <Valve className="org.apache.catalina.ha.tcp.ReplicationValve" filter=""/>{binder}
        <ClusterListener className="org.apache.catalina.ha.session.ClusterSessionListener"/>
      </Cluster>
"#,
            local = unique_id(index),
            port = self.nodes[index].1.cluster,
        )
    }
}

/// How long a Tomcat cluster may take to form once its nodes serve.
const MEMBERSHIP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where node `id` of `target` logs (its JVM's output).
fn log_of(target: &TargetPlan, id: &str, logs: &Path) -> PathBuf {
    logs.join(format!("{}-{id}.log", target.name))
}

/// Whether a Tomcat log says it added the member whose receiver is on `port`.
fn added(log: &str, port: u16) -> bool {
    let at = format!(":{port},");
    log.lines()
        .any(|l| l.contains("Replication member added") && l.contains(&at))
}

/// A member's 16-byte id, as Tomcat's static membership writes it.
fn unique_id(index: usize) -> String {
    let mut bytes = [0u8; 16];
    bytes[12..].copy_from_slice(&u32::try_from(index + 1).unwrap_or(u32::MAX).to_be_bytes());
    let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
    format!("{{{}}}", list.join(","))
}

/// The application's web.xml: distributable (so a cluster manager replicates it), the servlet
/// on every path, sessions by cookie only, expiring after the target's idle limit.
fn web_xml(target: &TargetPlan) -> String {
    let minutes = target.max_inactive.as_secs().div_ceil(60).max(1);
    let distributable = if target.manager.as_deref() == Some("standard") {
        ""
    } else {
        "\n  <distributable/>"
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0" metadata-complete="true">{distributable}
  <servlet>
    <servlet-name>api</servlet-name>
    <servlet-class>SessionApi</servlet-class>
    <load-on-startup>1</load-on-startup>
  </servlet>
  <servlet-mapping>
    <servlet-name>api</servlet-name>
    <url-pattern>/</url-pattern>
  </servlet-mapping>
  <session-config>
    <session-timeout>{minutes}</session-timeout>
    <cookie-config><name>{cookie}</name></cookie-config>
    <tracking-mode>COOKIE</tracking-mode>
  </session-config>
</web-app>
"#,
        cookie = target.cookie,
    )
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}
