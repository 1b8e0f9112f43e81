//! Running commands inside lab hosts over ssh (`ssh -F DIR/ssh_config HOST -- ARGV`), and a
//! tiny blocking HTTP client to look at the acme services from the controller.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::sys;

/// How long one command inside a lab host may run (installing the shop is the longest).
const REMOTE_DEADLINE: Duration = Duration::from_secs(600);

/// The argv of the system ssh for a lab host.
pub(crate) fn ssh_base(dir: &Path, host: &str) -> Vec<OsString> {
    vec![
        "ssh".into(),
        "-F".into(),
        dir.join("ssh_config").into_os_string(),
        host.into(),
    ]
}

/// Runs `argv` on `host` as root; a non-zero exit is a `LabError::Remote`.
pub(crate) fn run(dir: &Path, host: &str, argv: &[&str], action: &str) -> Result<Output> {
    // Bounded on the host (coreutils `timeout`) so a stuck apt or dpkg cannot hang `up`
    // forever; ServerAlive* ends the client if the host itself stops answering.
    let deadline = REMOTE_DEADLINE.as_secs().to_string();
    let wrapped: Vec<&str> = ["timeout", "-k", "10", deadline.as_str()]
        .into_iter()
        .chain(argv.iter().copied())
        .collect();
    let command = fearless_exec::quote::shell_join(&wrapped)
        .map_err(|e| LabError::io(format!("{action} on {host}"), std::io::Error::other(e)))?;
    let mut cmd = Command::new("ssh");
    cmd.args(&ssh_base(dir, host)[1..])
        .args([
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
            "--",
        ])
        .arg(&command);
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::io(format!("{action} on {host} (running ssh)"), e))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::Remote {
            host: host.to_owned(),
            action: action.to_owned(),
            command,
            status: sys::describe_status(output.status),
            stderr: sys::tail(
                &format!(
                    "{}{}",
                    sys::lossy(&output.stdout),
                    sys::lossy(&output.stderr)
                ),
                20,
            ),
        })
    }
}

/// `GET path` over HTTP/1.0; returns the status code and the body.
pub(crate) fn http_get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response")
        })?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Whether an SSH server answers on `addr` (reads its `SSH-` banner).
pub(crate) fn ssh_banner(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_base_uses_the_lab_config() {
        let argv = ssh_base(Path::new("/x/lab"), "web-1");
        assert_eq!(
            argv,
            ["ssh", "-F", "/x/lab/ssh_config", "web-1"].map(OsString::from)
        );
    }
}
