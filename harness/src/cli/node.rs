//! `sessionbench node`: one reference session node.

use std::sync::Arc;

use sessionbench_common::readiness::Ready;
use sessionbench_targets::app::{self, Node, NodeConfig};
use sessionbench_targets::cluster::{ClusterConfig, FrameCodec, Replication};
use sessionbench_targets::codec::{FormatCodec, SessionCodec};
use sessionbench_targets::spec::{FlushMode, NodeSpec, ReplicationMode, StoreKind, StoreSpec};
use sessionbench_targets::store::{
    BackupStore, DeltaStore, Flush, LocalStore, RedisConfig, RedisSource, RedisStore, SessionStore,
};

use sessionbench_common::secret::redact_url;

use super::args;
use super::exit::CliError;

pub fn run(mut a: NodeSpec) -> Result<(), CliError> {
    for warning in a.load_secrets().map_err(CliError::Usage)? {
        eprintln!("sessionbench node: warning: {warning}");
    }
    a.check().map_err(CliError::Usage)?;
    let st = a.store.clone();
    let sessions = SessionCodec::new(
        FormatCodec {
            limit: st.decode_limit,
            ..st.codec
        },
        st.session_schema,
    );
    let config = NodeConfig {
        id: a.id.clone(),
        cookie: a.cookie,
        route_suffix: a.route_suffix,
        max_inactive: a.max_inactive,
        padding_bytes: a.padding_bytes,
        body_limit: a.max_body_bytes,
        sweep_interval: a.sweep_interval,
        drain_timeout: a.drain_timeout,
        limits: a.limits.clone(),
        save: a.save,
        lock_timeout: a.save_lock_timeout,
    };
    args::die_with_parent();
    let who = format!("node {}", a.id);
    args::runtime(a.threads)
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(async {
            let (listener, addr) = args::bind(a.listen).await?;
            let (store, cluster): (Arc<dyn SessionStore>, _) = match st.kind {
                StoreKind::Local => (Arc::new(LocalStore::new()), None),
                StoreKind::Redis => (
                    Arc::new(redis_store(&st, sessions)?) as Arc<dyn SessionStore>,
                    None,
                ),
                StoreKind::Delta | StoreKind::Backup => {
                    let (store, addr) = cluster_store(&a.id, &st, sessions).await?;
                    (store, Some(addr))
                }
            };
            Ready {
                ready: "node".into(),
                id: a.id.clone(),
                addr,
                admin: None,
                cluster,
            }
            .announce()
            .map_err(CliError::io("cannot print the readiness line"))?;
            app::run(listener, Node::new(config, store), args::until_signal(who))
                .await
                .map_err(CliError::io("serving failed"))
        })
}

/// The Redis store the spec names (standalone by URL, Cluster or Sentinel).
fn redis_store(st: &StoreSpec, sessions: SessionCodec) -> Result<RedisStore, CliError> {
    let source = match &st.redis_url {
        Some(url) => RedisSource::Url {
            url: url.clone(),
            ca_pem: match &st.redis_ca_file {
                Some(file) => Some(
                    std::fs::read(file)
                        .map_err(|e| CliError::Usage(format!("--redis-ca-file {file}: {e}")))?,
                ),
                None => None,
            },
            password: st.redis_password.clone(),
        },
        None if !st.redis_cluster.is_empty() => RedisSource::Cluster {
            nodes: st.redis_cluster.clone(),
        },
        None => RedisSource::Sentinel {
            sentinels: st.redis_sentinels.clone(),
            master: st.redis_master.clone(),
        },
    };
    let config = RedisConfig {
        source,
        namespace: st.redis_namespace.clone(),
        timeout: st.redis_timeout,
        codec: sessions,
        flush: match st.redis_flush {
            FlushMode::OnSave => Flush::OnSave,
            FlushMode::Immediate => Flush::Immediate,
        },
        renew_ttl_on_access: st.redis_access_renews_ttl,
    };
    let store = RedisStore::new(&config).map_err(|e| {
        CliError::Usage(format!(
            "--redis-url {}: {}",
            st.redis_url.as_deref().map_or("(none)".into(), redact_url),
            redact_url(&e.to_string())
        ))
    })?;
    Ok(store)
}

/// A replicating store (delta or backup) with its cluster listener; the store and the
/// address its replication listens on.
async fn cluster_store(
    id: &str,
    st: &StoreSpec,
    sessions: SessionCodec,
) -> Result<(Arc<dyn SessionStore>, std::net::SocketAddr), CliError> {
    let (cluster_listener, _) = args::bind(st.cluster_listen).await?;
    let config = ClusterConfig {
        node: id.to_string(),
        peers: st.peers.iter().map(|p| (p.name.clone(), p.addr)).collect(),
        codec: FrameCodec {
            limit: st.max_frame_bytes,
            secret: st
                .cluster_secret
                .as_ref()
                .map(|s| s.expose().as_bytes().to_vec()),
            encrypt: st.cluster_encrypt,
            timeout: st.frame_timeout,
        },
        sessions,
        replication: match st.replication {
            Some(ReplicationMode::Sync) => Replication::Sync,
            _ => Replication::Async,
        },
        heartbeat: st.heartbeat,
        ack_timeout: st.ack_timeout,
        state_transfer_timeout: st.state_transfer_timeout,
        async_delay: st.replication_delay,
    };
    let started = if st.kind == StoreKind::Delta {
        DeltaStore::start(config, cluster_listener)
            .await
            .map(|s| (s.cluster_addr(), Arc::new(s) as Arc<dyn SessionStore>))
    } else {
        BackupStore::start(config, cluster_listener)
            .await
            .map(|s| (s.cluster_addr(), Arc::new(s) as Arc<dyn SessionStore>))
    };
    let (addr, store) = started.map_err(CliError::io("cannot start the cluster"))?;
    Ok((store, addr))
}
