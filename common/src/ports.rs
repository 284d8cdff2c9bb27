//! Loopback ports for processes the caller starts and configures (Tomcat, nginx, Redis):
//! chosen below the kernel's ephemeral range (32768 on, by default), so no outgoing
//! connection, of this process or of any other, is handed the port as its source port between
//! the choice and the bind of the process it is for. A port from binding port 0 is one of
//! those: under load, a JVM's two seconds of start-up were long enough for a connection to
//! take one ("Address already in use").

use std::sync::atomic::{AtomicU32, Ordering};

/// The first port handed out, and how many there are.
const FROM: u32 = 20_000;
const SPAN: u32 = 12_000;

/// A loopback port that is free now, below the ephemeral range.
pub fn free_loopback_port() -> std::io::Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Each process starts at its own place in the range (processes with neighbouring ids far
    // apart), and goes on from where it was.
    let offset = std::process::id().wrapping_mul(2_654_435_761) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FROM + (offset + n) % SPAN).expect("below 65536");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free loopback port in {FROM}..{}", FROM + SPAN),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_distinct_and_below_the_ephemeral_range() {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .expect("the kernel's ephemeral range");
        let low: u16 = range
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("its first port");
        let a = free_loopback_port().expect("a port");
        let b = free_loopback_port().expect("another");
        assert_ne!(a, b);
        for p in [a, b] {
            assert!(p < low, "{p} is in the ephemeral range from {low}");
            std::net::TcpListener::bind(("127.0.0.1", p)).expect("free");
        }
    }
}
