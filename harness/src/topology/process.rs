//! One child process of this binary: `sessionbench node …`, `sessionbench lb …`, or another
//! program (redis-server) run through `sessionbench exec`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sessionbench_common::readiness::Ready;
use sessionbench_targets::spec::{LbSpec, NodeSpec};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::netns::Place;

/// Set in a child's environment: it then asks the kernel to SIGKILL it when the harness dies,
/// so not even a SIGKILL of the harness leaves nodes behind.
pub const PARENT_DEATH_ENV: &str = "SESSIONBENCH_DIE_WITH_PARENT";

/// Set in a child's environment with `network = "netns"`: the namespace it enters first.
pub const NETNS_ENV: &str = "SESSIONBENCH_NETNS";

/// How long a child has to print its readiness line or open its port: a Tomcat opens it only
/// when deployed and holding the cluster's sessions, 3 s on a quiet 2-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start `{name}`: {source}")]
    Spawn {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Command(#[from] crate::shell::CommandError),
    #[error("`{program}` is not installed (not found on PATH); ci/setup installs it")]
    Missing { program: String },
    #[error("`{name}` was not ready within {READY_TIMEOUT:?} (log: {log})")]
    NotReady { name: String, log: String },
    #[error("`{name}` exited before it was ready (log: {log})")]
    Exited { name: String, log: String },
    #[error("cannot place a fault proxy for `{node}`: {source}")]
    Proxy {
        node: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach {url} ({addr}): {detail}")]
    Reach {
        url: String,
        addr: std::net::SocketAddr,
        detail: String,
    },
    #[error("`{name}` is not running (an earlier fault killed, stopped or removed it)")]
    Absent { name: String },
    #[error("the load balancer refused the new backend: {detail}")]
    Admin { detail: String },
    #[error("the plan asks for what a process cannot be: {0}")]
    Plan(String),
    #[error(transparent)]
    Network(#[from] super::netns::NetError),
    #[error("store process `{name}`: {source}")]
    Store {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a child runs: a reference node or balancer from its spec (a restart writes the spec's
/// arguments again, so a change to the spec takes effect there), or another program.
#[derive(Debug, Clone)]
pub enum Launch {
    Node(Box<NodeSpec>),
    Lb(Box<LbSpec>),
    /// `exec -- PROGRAM ARGS…`, listening on a fixed address.
    Program(Vec<String>),
}

impl Launch {
    pub fn args(&self) -> Vec<String> {
        match self {
            Self::Node(spec) => spec.to_args(),
            Self::Lb(spec) => spec.to_args(),
            Self::Program(args) => args.clone(),
        }
    }

    /// Secrets go in the child's environment, never its arguments.
    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Node(spec) => spec.secrets_env(),
            Self::Lb(_) | Self::Program(_) => Vec::new(),
        }
    }
}

/// A running child; SIGKILLed when dropped.
#[derive(Debug)]
pub struct Process {
    pub name: String,
    /// What it runs: restarts run it again, as it is then.
    pub launch: Launch,
    pub ready: Ready,
    /// For a program that prints no readiness line: it is ready once this address accepts.
    listens: Option<SocketAddr>,
    /// Its network namespace (`network = "netns"`); restarts run it there again.
    place: Option<Place>,
    log: PathBuf,
    child: Child,
}

/// Runs this executable as `launch` says (in `place`'s namespace, if any), stderr appended to
/// `log`; stdout is piped, or goes to the log too.
fn spawn(
    name: &str,
    launch: &Launch,
    log: &Path,
    pipe_stdout: bool,
    place: Option<&Place>,
) -> Result<Child, StartError> {
    let spawn_error = |source| StartError::Spawn {
        name: name.into(),
        source,
    };
    // The running binary itself, even if a rebuild replaced the file meanwhile (the path
    // would then name the new file, or nothing).
    let proc_exe = Path::new("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().map_err(spawn_error)?
    };
    let open_log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    };
    let stdout = if pipe_stdout {
        Stdio::piped()
    } else {
        open_log().map_err(spawn_error)?.into()
    };
    let mut command = Command::new(exe);
    if let Some(place) = place {
        // The child enters it before anything else (see `cli::args::enter_netns`).
        command.env(NETNS_ENV, &place.netns);
        command.env(sessionbench_common::names::NETNS_GRANT_ENV, &place.grant);
    }
    command
        .args(launch.args())
        .envs(launch.env())
        .env(PARENT_DEATH_ENV, "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(open_log().map_err(spawn_error)?)
        // Its own process group: a Ctrl-C in the terminal reaches only the harness, which
        // then stops the children itself, in order.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)
}

impl Process {
    /// Runs this executable as `launch` says (in `place`'s namespace, if any), stderr
    /// appended to `log`, and waits for its readiness line.
    pub async fn start(
        name: &str,
        launch: Launch,
        log: &Path,
        place: Option<Place>,
    ) -> Result<Self, StartError> {
        let mut child = spawn(name, &launch, log, true, place.as_ref())?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let not_ready = || StartError::NotReady {
            name: name.into(),
            log: log.display().to_string(),
        };
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(ready) = Ready::parse(&line) {
                    return Some(ready);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(not_ready)?;
        // Keep reading stdout so a later print never blocks or kills the child (EPIPE).
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            name: name.into(),
            launch,
            ready,
            listens: None,
            place,
            log: log.to_path_buf(),
            child,
        })
    }

    /// Runs `program` with `args` through `sessionbench exec` (so it dies with the harness),
    /// its output appended to `log`, and waits until it accepts connections on `addr`.
    pub async fn start_program(
        name: &str,
        program: &str,
        args: &[String],
        addr: SocketAddr,
        log: &Path,
        place: Option<Place>,
    ) -> Result<Self, StartError> {
        Self::start_program_as(name, None, program, args, addr, log, place).await
    }

    /// As [`Process::start_program`], as `user` when the harness runs as root.
    pub async fn start_program_as(
        name: &str,
        user: Option<&str>,
        program: &str,
        args: &[String],
        addr: SocketAddr,
        log: &Path,
        place: Option<Place>,
    ) -> Result<Self, StartError> {
        if !crate::shell::on_path(program) {
            return Err(StartError::Missing {
                program: program.into(),
            });
        }
        let mut all = vec!["exec".to_string()];
        if let Some(user) = user {
            all.extend(["--user".to_string(), user.into()]);
        }
        all.extend(["--".to_string(), program.into()]);
        all.extend_from_slice(args);
        Self::start_listening(name, Launch::Program(all), addr, log, place).await
    }

    async fn start_listening(
        name: &str,
        launch: Launch,
        addr: SocketAddr,
        log: &Path,
        place: Option<Place>,
    ) -> Result<Self, StartError> {
        let mut child = spawn(name, &launch, log, false, place.as_ref())?;
        let not_ready = || StartError::NotReady {
            name: name.into(),
            log: log.display().to_string(),
        };
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if child.try_wait().ok().flatten().is_some() {
                return Err(StartError::Exited {
                    name: name.into(),
                    log: log.display().to_string(),
                });
            }
            if tokio::time::Instant::now() > deadline {
                return Err(not_ready());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Self {
            name: name.into(),
            launch,
            ready: Ready {
                ready: "program".into(),
                id: name.into(),
                addr,
                admin: None,
                cluster: None,
            },
            listens: Some(addr),
            place,
            log: log.to_path_buf(),
            child,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.ready.addr
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process is alive (not exited, killed or stopped by an earlier fault).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid().and_then(|p| i32::try_from(p).ok()) {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    /// SIGSTOP: the process freezes (a GC pause, a stalled VM) with its sockets open.
    pub fn pause(&self) {
        self.signal(Signal::SIGSTOP);
    }

    /// SIGCONT after `pause`.
    pub fn resume(&self) {
        self.signal(Signal::SIGCONT);
    }

    /// SIGKILL and reap: a crash.
    pub async fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait().await;
    }

    /// SIGTERM and wait for the drain (SIGKILL after `grace`).
    pub async fn terminate(&mut self, grace: Duration) {
        self.signal(Signal::SIGTERM);
        // A paused process would not act on it before the grace ran out.
        self.resume();
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }

    /// Pins the spec's listen addresses (and the cluster's) to the ports the process got, so
    /// a restart comes back on them: the load balancer and the peers keep pointing there.
    pub fn pin_ports(&mut self) {
        match &mut self.launch {
            Launch::Node(spec) => {
                spec.listen = self.ready.addr;
                if let Some(cluster) = self.ready.cluster {
                    spec.store.cluster_listen = cluster;
                }
            }
            Launch::Lb(spec) => spec.listen = self.ready.addr,
            Launch::Program(_) => {}
        }
    }

    /// The node's spec, to change for its next restart (a deploy's schema, its peers).
    pub fn node_spec(&mut self) -> Option<&mut NodeSpec> {
        match &mut self.launch {
            Launch::Node(spec) => Some(spec),
            _ => None,
        }
    }

    /// The balancer's spec, to change for its next restart (a backend added at run time).
    pub fn lb_spec(&mut self) -> Option<&mut LbSpec> {
        match &mut self.launch {
            Launch::Lb(spec) => Some(spec),
            _ => None,
        }
    }

    /// Starts the same command again (same id, same port), e.g. after a kill.
    pub async fn restart(&mut self) -> Result<(), StartError> {
        let (launch, place) = (self.launch.clone(), self.place.clone());
        let again = match self.listens {
            Some(addr) => Self::start_listening(&self.name, launch, addr, &self.log, place).await?,
            None => Self::start(&self.name, launch, &self.log, place).await?,
        };
        *self = again;
        Ok(())
    }
}
