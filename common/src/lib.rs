//! What the harness and the reference processes it measures both need, kept apart from
//! either: names and loopback rules ([`names`]), the inline HTTP/1.1 codec ([`http1`]) that
//! the load balancer and the load driver share, loopback ports for the processes a caller
//! configures ([`ports`]), the readiness line a process prints
//! ([`readiness`]), secrets from files or the environment ([`secret`]) and durations as
//! flags write them ([`durations`]).

pub mod durations;
pub mod http1;
pub mod names;
pub mod ports;
pub mod readiness;
pub mod secret;
