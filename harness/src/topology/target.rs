//! The processes of one target: its store processes (Redis), its nodes and, unless it is
//! `direct`, a load balancer.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::links::Links;
use super::netns::{Net, NetError, Place};
use super::process::{Launch, Process, StartError};
use super::real_lb::RealLb;
use super::store::{self, Role};
use sessionbench_common::names::NamedAddr;
use sessionbench_targets::spec::{LbSpec, NodeSpec, StoreKind};

use super::tomcat::TomcatCluster;

mod cuts;
mod scaling;
use crate::load::{Endpoint, SendFailure};
use sessionbench_model::plan::{LbKind, Link, Network, RedisPlan, Strategy, TargetPlan, TlsPlan};

/// A process of a target, as the resource samples see it.
#[derive(Debug, Clone)]
pub struct Watched {
    pub name: String,
    pub pid: Option<u32>,
    pub addr: SocketAddr,
    pub kind: WatchedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchedKind {
    /// A session node: it counts the sessions it holds.
    Node,
    /// A Redis server: it reports its `used_memory`.
    Redis,
    Other,
}

/// How often the LB checks its backends during a run.
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct Topology {
    /// Processes of the shared store, started first and stopped last.
    pub stores: Vec<Process>,
    pub nodes: Vec<Process>,
    pub lb: Option<Process>,
    /// A real balancer's configuration (its members), for scale-out and -in.
    real_lb: Option<RealLb>,
    /// Fault proxies on the nodes' links (none unless the suite has network faults).
    pub links: Links,
    target: TargetPlan,
    logs: PathBuf,
    /// The suite file's directory, where a suite's commands find their scripts.
    suite_dir: PathBuf,
    /// Replication links of this run authenticate with a secret of their own.
    secret: sessionbench_common::secret::Secret,
    /// An external target's entry, made once at the start (its TLS configuration reads the
    /// CA and the roots).
    external: Option<Endpoint>,
    /// A `tomcat` target's shared settings: where Tomcat is, the servlet, every node's ports.
    tomcat: Option<TomcatCluster>,
    /// With `network = "netns"`: the bridge and every process's namespace.
    net: Option<Net>,
}

impl Topology {
    /// Starts the store, then the nodes one after another (each ready before the next), then
    /// the LB.
    pub async fn start(
        target: &TargetPlan,
        logs: &Path,
        suite_dir: &Path,
    ) -> Result<Self, StartError> {
        let mut topology = Self {
            stores: Vec::new(),
            nodes: Vec::new(),
            lb: None,
            real_lb: None,
            links: Links::default(),
            target: target.clone(),
            logs: logs.to_path_buf(),
            suite_dir: suite_dir.to_path_buf(),
            secret: sessionbench_common::secret::Secret::new(
                sessionbench_targets::session::SessionId::generate().to_string(),
            ),
            external: None,
            tomcat: None,
            net: None,
        };
        // A start that fails half way must not leave behind what its first half started:
        // the suite's stop command runs, and the harness's own processes are stopped.
        if let Err(e) = topology.bring_up(target, logs).await {
            topology.stop().await;
            return Err(e);
        }
        Ok(topology)
    }

    /// Everything [`Topology::start`] starts, in order; on an error, what was started so far
    /// is in `self` for [`Topology::stop`].
    async fn bring_up(&mut self, target: &TargetPlan, logs: &Path) -> Result<(), StartError> {
        if let Some(external) = &target.external {
            // The suite's own command starts it; the harness only waits for it.
            if let Some(start) = &external.start {
                let env = self.command_env();
                crate::shell::run("start", start, &env, external.timeout).await?;
            }
            if let Some(probe) = &external.ready {
                crate::shell::ready(probe, external.tls.as_ref(), external.timeout).await?;
            }
            let unreachable = |detail| StartError::Reach {
                url: external.url.show(&external.url.path),
                addr: external.url.addr,
                detail,
            };
            let endpoint = Endpoint::external(external).map_err(unreachable)?;
            // A certificate that is not trusted stops the run here, with why, rather than
            // failing every login of it.
            if external.url.is_https() {
                let reached = tokio::time::timeout(external.timeout, endpoint.reach()).await;
                let detail = match reached {
                    Ok(Ok(())) => None,
                    Ok(Err(SendFailure::Tls(why))) => Some(why),
                    Ok(Err(other)) => Some(format!("cannot connect ({other:?})")),
                    Err(_) => Some(format!(
                        "no TLS handshake within {}",
                        humantime::format_duration(external.timeout)
                    )),
                };
                if let Some(detail) = detail {
                    return Err(unreachable(detail));
                }
            }
            self.external = Some(endpoint);
            return Ok(());
        }
        if target.network == Network::Netns {
            // The sweep, the lock's wait (up to 10 s) and `ip` block: off the runtime's
            // workers, which the run's other tasks (progress, signals) share.
            let made = tokio::task::spawn_blocking(Net::create).await;
            let made = made.map_err(|e| NetError::new(format!("making the namespaces: {e}")))?;
            self.net = Some(made?);
        }
        self.start_stores(logs).await?;
        if target.strategy == Strategy::Tomcat {
            self.tomcat = Some(TomcatCluster::prepare(target, logs).await?);
        }
        for id in target.node_ids() {
            self.start_node(&id).await?;
        }
        if let Some(tomcat) = &self.tomcat {
            let started: Vec<String> = target.node_ids().collect();
            tomcat.await_members(target, &started, logs).await?;
        }
        self.lb = match &target.lb_policy {
            None => None,
            Some(policy) => {
                let nodes: Vec<(String, SocketAddr)> = self
                    .nodes
                    .iter()
                    .map(|n| (n.name.clone(), n.addr()))
                    .collect();
                let mut backends = Vec::new();
                for (name, addr) in nodes {
                    let addr = self.reach(&name, Link::Lb, addr).await?;
                    backends.push((name, addr));
                }
                let at = self.place("lb")?;
                let mut lb = match target.lb {
                    LbKind::Reference => reference_lb(target, policy, &backends, at, logs).await?,
                    kind => {
                        let real = RealLb::new(kind, policy, &target.cookie, &backends);
                        let real = self.real_lb.insert(real);
                        real.start(&target.name, logs).await?
                    }
                };
                // An lb-restart brings it back where clients connect.
                lb.pin_ports();
                Some(lb)
            }
        };
        Ok(())
    }

    /// Starts the Redis processes a `redis` target runs, in the order their roles need.
    async fn start_stores(&mut self, logs: &Path) -> Result<(), StartError> {
        let name = self.target.name.clone();
        let min_replicas = self.target.redis_min_replicas;
        let aof = self.target.redis.as_ref().and_then(RedisPlan::append_only);
        match self.target.redis {
            Some(RedisPlan::Standalone { .. }) => {
                let at = self.place("redis")?;
                let settings = (aof, 0);
                let redis =
                    store::start_redis(&name, "redis", settings, Role::Standalone, at, logs)
                        .await?;
                self.stores.push(redis);
            }
            Some(RedisPlan::Cluster { .. }) => {
                for id in self.target.store_ids() {
                    let bus_port = store::free_port().map_err(|source| StartError::Spawn {
                        name: id.into(),
                        source,
                    })?;
                    let at = self.place(id)?;
                    let node = store::start_redis(
                        &name,
                        id,
                        (aof, min_replicas),
                        Role::ClusterNode { bus_port },
                        at,
                        logs,
                    )
                    .await?;
                    self.stores.push(node);
                }
                let nodes: Vec<&Process> = self.stores.iter().collect();
                store::create_cluster(&nodes).await?;
            }
            Some(RedisPlan::Sentinel { .. }) => {
                // Either may be the primary after a failover: both wait for a replica.
                let settings = (aof, min_replicas);
                let at = self.place("redis")?;
                let primary =
                    store::start_redis(&name, "redis", settings, Role::Standalone, at, logs)
                        .await?;
                let primary_addr = primary.addr();
                self.stores.push(primary);
                let role = Role::ReplicaOf(primary_addr);
                let at = self.place("redis-replica")?;
                let replica =
                    store::start_redis(&name, "redis-replica", settings, role, at, logs).await?;
                self.stores.push(replica);
                for i in 1..=3 {
                    let id = format!("sentinel{i}");
                    let at = self.place(&id)?;
                    self.stores
                        .push(store::start_sentinel(&name, &id, primary_addr, at, logs).await?);
                }
                let sentinels: Vec<&Process> = self.stores[2..].iter().collect();
                store::await_sentinels(&sentinels).await?;
                store::await_replicas(&[&self.stores[0], &self.stores[1]]).await?;
            }
            Some(RedisPlan::External { .. }) | None => {}
        }
        Ok(())
    }

    /// Starts node `id` (a clustered one knows every running node as a peer and fetches the
    /// state from them before it is ready), with its ports pinned for restarts.
    async fn start_node(&mut self, id: &str) -> Result<(), StartError> {
        let target = self.target.clone();
        let t = &target;
        if let Some(tomcat) = &self.tomcat {
            let node = tomcat.start(t, id, &self.logs).await?;
            self.nodes.push(node);
            return Ok(());
        }
        // The addresses the node is given, through a fault proxy of its own when the run has
        // network faults.
        let standalone = match (&t.redis, self.stores.first().map(Process::addr)) {
            (Some(RedisPlan::Standalone { .. }), Some(addr)) => {
                Some(self.reach(id, Link::Store, addr).await?)
            }
            _ => None,
        };
        let mut peers = Vec::new();
        if t.strategy.clustered_store().is_some() {
            for (name, addr) in self.cluster_addrs() {
                let addr = self.reach_peer(id, &name, addr).await?;
                peers.push(NamedAddr { name, addr });
            }
        }
        let (ip, place) = self.place(id)?;
        let mut spec = NodeSpec::with_id(id);
        spec.threads = Some(1);
        spec.listen = SocketAddr::new(ip, 0);
        spec.cookie = t.cookie.clone();
        spec.max_inactive = t.max_inactive;
        spec.padding_bytes = t.padding_bytes;
        spec.route_suffix = t.route_suffix;
        if let Some(save) = &t.save {
            spec.save = plan_value(save, "save")?;
        }
        let st = &mut spec.store;
        st.redis_access_renews_ttl = t.redis_access_renews_ttl;
        if let Some(flush) = &t.redis_flush {
            st.redis_flush = plan_value(flush, "redis-flush")?;
        }
        if let Some(codec) = &t.codec {
            st.codec = codec
                .parse()
                .map_err(|e| StartError::Plan(format!("codec `{codec}`: {e}")))?;
        }
        match &t.redis {
            Some(RedisPlan::External {
                url,
                ca_file,
                password,
            }) => {
                st.redis_url = Some(url.clone());
                // The suite let it be on another host (validated): the node may dial it.
                st.redis_remote = !sessionbench_common::names::loopback_host(
                    sessionbench_common::names::url_host(url),
                );
                st.redis_ca_file = ca_file.as_ref().map(|f| f.display().to_string());
                st.redis_password = match password {
                    Some(source) => Some(source.read().map_err(StartError::Plan)?),
                    None => None,
                };
            }
            Some(RedisPlan::Standalone { .. }) => {
                st.redis_url = standalone.map(|addr| format!("redis://{addr}"));
            }
            Some(RedisPlan::Cluster { .. }) => {
                st.redis_cluster = self.stores.iter().map(|r| r.addr().to_string()).collect();
            }
            Some(RedisPlan::Sentinel { .. }) => {
                st.redis_master = store::SENTINEL_MASTER.into();
                st.redis_sentinels = self
                    .stores
                    .iter()
                    .filter(|s| s.name.starts_with("sentinel"))
                    .map(|s| s.addr().to_string())
                    .collect();
            }
            None => {}
        }
        if t.redis.is_some() {
            st.kind = StoreKind::Redis;
            // Each target keeps its keys apart, even in a Redis it shares with others.
            st.redis_namespace = format!("sessionbench:{}", t.name);
        }
        if let Some(store) = t.strategy.clustered_store() {
            st.kind = plan_value(store, "store")?;
            if let Some(replication) = &t.replication {
                st.replication = Some(plan_value(replication, "replication")?);
            }
            st.replication_delay = t.replication_delay;
            st.cluster_encrypt = t.cluster_encrypt;
            st.cluster_secret = Some(self.secret.clone());
            st.peers = peers;
            st.cluster_listen = SocketAddr::new(ip, 0);
        }
        let log = self.logs.join(format!("{}-{id}.log", t.name));
        let mut node = Process::start(id, Launch::Node(Box::new(spec)), &log, place).await?;
        node.pin_ports();
        self.nodes.push(node);
        if self.target.strategy.clustered_store().is_some() {
            // Every node names every other, so a restarted one rejoins all of them.
            let all = self.cluster_addrs();
            for (node, _) in &all {
                let mut others = Vec::new();
                for (name, addr) in all.iter().filter(|(name, _)| name != node) {
                    let addr = self.reach_peer(node, name, *addr).await?;
                    others.push(NamedAddr {
                        name: name.clone(),
                        addr,
                    });
                }
                if let Some(spec) = self.node_mut(node).and_then(Process::node_spec) {
                    spec.store.peers = others;
                }
            }
        }
        Ok(())
    }

    /// Where process `name` runs: on loopback, or (`network = "netns"`) in its namespace,
    /// made on first use, at its address there.
    fn place(&mut self, name: &str) -> Result<(IpAddr, Option<Place>), StartError> {
        match self.net.as_mut() {
            None => Ok((IpAddr::from([127, 0, 0, 1]), None)),
            Some(net) => {
                let (ip, place) = net.add(name)?;
                Ok((ip, Some(place)))
            }
        }
    }

    /// Each running node's replication listener.
    fn cluster_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.nodes
            .iter()
            .filter_map(|n| Some((n.name.clone(), n.ready.cluster?)))
            .collect()
    }

    /// Where node `from` reaches its peer `to` at `addr`: through a fault proxy of its own
    /// when the run has network faults, directly otherwise.
    async fn reach_peer(
        &mut self,
        from: &str,
        to: &str,
        addr: SocketAddr,
    ) -> Result<SocketAddr, StartError> {
        if !self.target.proxied_links {
            return Ok(addr);
        }
        self.links
            .through(from, Link::Peers, Some(to), addr)
            .await
            .map_err(|source| StartError::Proxy {
                node: from.into(),
                source,
            })
    }

    /// How clients connect: the entry's address, and for an external target its host, TLS
    /// and forwarded addresses.
    pub fn endpoint(&self) -> Endpoint {
        if let Some(external) = &self.external {
            return external.clone();
        }
        let plain = Endpoint::plain(self.entry());
        match &self.net {
            Some(net) => plain.from_clients(net.clients()),
            None => plain,
        }
    }

    /// An external target's TLS settings, for probes of its URLs.
    pub fn tls(&self) -> Option<&TlsPlan> {
        self.target.external.as_ref().and_then(|e| e.tls.as_ref())
    }

    /// Where clients connect: the LB, or the only node.
    pub fn entry(&self) -> SocketAddr {
        if let Some(external) = &self.target.external {
            return external.url.addr;
        }
        self.lb
            .as_ref()
            .map_or_else(|| self.nodes[0].addr(), Process::addr)
    }

    /// What every suite command of this run learns (an external target's start and stop,
    /// fault commands): this executable, the run, a directory of their own for files (pids,
    /// logs), and the suite file's directory (for the scripts a suite ships with).
    pub fn command_env(&self) -> Vec<(String, String)> {
        let dir = self.logs.join(format!("{}-commands", self.target.name));
        let _ = std::fs::create_dir_all(&dir);
        let mut env = crate::shell::harness_env();
        env.push(("SESSIONBENCH_TARGET".into(), self.target.name.clone()));
        env.push((
            "SESSIONBENCH_SUITE_DIR".into(),
            self.suite_dir.display().to_string(),
        ));
        env.push((
            "SESSIONBENCH_DIR".into(),
            std::path::absolute(&dir)
                .unwrap_or(dir)
                .display()
                .to_string(),
        ));
        env
    }

    pub fn store_mut(&mut self, id: &str) -> Option<&mut Process> {
        self.stores.iter_mut().find(|n| n.name == id)
    }

    pub fn node_mut(&mut self, id: &str) -> Option<&mut Process> {
        self.nodes.iter_mut().find(|n| n.name == id)
    }

    /// Every process the harness runs for this target (stores, nodes, the LB), for the
    /// resource samples: what each is, where it listens and its pid while it runs.
    pub fn watched(&self) -> Vec<Watched> {
        let stores = self.stores.iter().map(|p| {
            let kind = if p.name.starts_with("redis") {
                WatchedKind::Redis
            } else {
                WatchedKind::Other
            };
            (p, kind)
        });
        let nodes = self.nodes.iter().map(|p| (p, WatchedKind::Node));
        let lb = self.lb.iter().map(|p| (p, WatchedKind::Other));
        stores
            .chain(nodes)
            .chain(lb)
            .filter(|(p, _)| self.target.external.is_none() || p.pid().is_some())
            .map(|(p, kind)| Watched {
                name: p.name.clone(),
                pid: p.pid(),
                addr: p.addr(),
                kind,
            })
            .collect()
    }

    pub fn addresses(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr().to_string()))
            .collect()
    }

    /// Stops everything: the LB first, so no request lands on a node that is going away.
    pub async fn stop(mut self) {
        if let Some(external) = &self.target.external {
            if let Some(stop) = &external.stop {
                // Best effort, as for the processes below: the run is over either way.
                let env = self.command_env();
                let _ = crate::shell::run("stop", stop, &env, external.timeout).await;
            }
        }
        if let Some(lb) = self.lb.as_mut() {
            lb.terminate(Duration::from_secs(2)).await;
        }
        for n in &mut self.nodes {
            n.terminate(Duration::from_secs(2)).await;
        }
        for s in &mut self.stores {
            s.terminate(Duration::from_secs(2)).await;
        }
        // Once nothing runs inside them.
        if let Some(net) = self.net.as_mut() {
            net.remove();
        }
    }
}

/// `sessionbench lb` with `policy` in front of `backends`.
async fn reference_lb(
    target: &TargetPlan,
    policy: &str,
    backends: &[(String, SocketAddr)],
    (ip, place): (IpAddr, Option<Place>),
    logs: &Path,
) -> Result<Process, StartError> {
    let backends = backends
        .iter()
        .map(|(name, addr)| NamedAddr {
            name: name.clone(),
            addr: *addr,
        })
        .collect();
    let policy = policy
        .parse()
        .map_err(|e| StartError::Plan(format!("lb-policy `{policy}`: {e}")))?;
    let mut spec = LbSpec::new(policy, backends);
    spec.threads = Some(1);
    spec.health_interval = HEALTH_INTERVAL;
    spec.cookie = target.cookie.clone();
    spec.listen = SocketAddr::new(ip, 0);
    // In a namespace, the harness reaches the admin API over the bridge, as clients do.
    spec.admin = SocketAddr::new(ip, 0);
    let log = logs.join(format!("{}-lb.log", target.name));
    Process::start("lb", Launch::Lb(Box::new(spec)), &log, place).await
}

/// A plan's name for a node setting (validated when the suite was read), as the spec's value.
fn plan_value<T: clap::ValueEnum>(name: &str, key: &str) -> Result<T, StartError> {
    T::from_str(name, false).map_err(|_| StartError::Plan(format!("{key} `{name}`")))
}
