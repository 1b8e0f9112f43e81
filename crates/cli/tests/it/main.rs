//! End-to-end tests of the `fearless` binary: exit codes, output formats, config errors,
//! and the lab fleet.

mod change;
mod check;
mod config_errors;
mod events;
mod incident;
mod lab;
mod lab_bisect;
mod lab_packages;
mod lab_patch;
mod packages;

use std::path::Path;
use std::process::{Command, Output};

/// Run the binary with `args`, no stdin, colour off.
pub(crate) fn fearless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("FEARLESS_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run fearless")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Write a config file into `dir` and return its path as a string.
pub(crate) fn write_config(dir: &Path, yaml: &str) -> String {
    let path = dir.join("fearless.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path.display().to_string()
}

/// A tiny HTTP server on 127.0.0.1 answering every request with `status` and `body`;
/// it stops when the returned guard is dropped.
pub(crate) struct HttpServer {
    pub(crate) port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HttpServer {
    pub(crate) fn start(status: u16, body: &'static str) -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(resp.as_bytes());
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Self { port, stop }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
