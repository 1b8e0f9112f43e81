//! The `tcp` check kind.

use super::common::{connect, split_host_port, timed_out};
use crate::result::{Outcome, Reason};
use std::time::Duration;

/// `tcp`: a TCP connection.
///
/// **What it does**: resolves the host of `address` (`host:port`, `[v6]:port`) with the
/// system resolver and connects to its addresses in turn, all within `timeout`; the
/// connection is closed at once.
///
/// **Passes when**: a connection is established. Message: `connected to 10.0.1.11:5432`.
///
/// **Fails with**: `dns` when the host does not resolve; `refused` when the connection is
/// refused or reset (or the host or network is unreachable); `timeout` when nothing answers
/// in time. An `error` with `config` when `address` is not `host:port`.
pub async fn tcp(address: &str, timeout: Duration) -> Outcome {
    let (host, port) = match split_host_port(address) {
        Ok(parts) => parts,
        Err(message) => return Outcome::error(Reason::Config, message),
    };
    match tokio::time::timeout(timeout, connect(host, port)).await {
        Err(_) => timed_out("no connection", timeout),
        Ok(Err(outcome)) => outcome,
        Ok(Ok(stream)) => match stream.peer_addr() {
            Ok(peer) => Outcome::pass(format!("connected to {peer}")),
            Err(_) => Outcome::pass(format!("connected to {host}:{port}")),
        },
    }
}
