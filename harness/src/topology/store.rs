//! The store processes a target runs: for now one standalone `redis-server`, on a free
//! loopback port, with its files in the run directory and no persistence unless asked.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::process::{Process, StartError};

/// Starts `redis-server` as store process `name` of target `target`.
pub async fn start_redis(
    target: &str,
    name: &str,
    appendonly: bool,
    logs: &Path,
) -> Result<Process, StartError> {
    let spawn_error = |source| StartError::Spawn {
        name: name.into(),
        source,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(spawn_error)?
        .port();
    let dir = logs.join(format!("{target}-{name}"));
    std::fs::create_dir_all(&dir).map_err(spawn_error)?;
    let args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--dir",
        &dir.display().to_string(),
        "--save",
        "",
        "--appendonly",
        if appendonly { "yes" } else { "no" },
    ]
    .map(String::from)
    .to_vec();
    let log = logs.join(format!("{target}-{name}.log"));
    Process::start_program(
        name,
        "redis-server",
        &args,
        SocketAddr::from(([127, 0, 0, 1], port)),
        &log,
    )
    .await
}

/// Deletes every key (`FLUSHALL`), speaking RESP directly: one command needs no client.
pub async fn flush(addr: SocketAddr) -> std::io::Result<()> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(b"*1\r\n$8\r\nFLUSHALL\r\n").await?;
        let mut reply = [0u8; 64];
        let n = stream.read(&mut reply).await?;
        if reply[..n].starts_with(b"+OK") {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "FLUSHALL answered {:?}",
                String::from_utf8_lossy(&reply[..n])
            )))
        }
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("FLUSHALL timed out")))
}
