//! The tiered lab's payments provider: a small HTTP service on its own loopback address,
//! outside every lab host and the inventory (an external API, as a real site calls one).
//! It runs the cached root's Python, chrooted there, in the machine's own namespaces, so
//! no lab host sees its process.

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::remote;
use crate::state::State;
use crate::sys::{self, ProcRef};
use crate::topology::PAYMENTS;

/// The service's source (`lab/payments/payments.py`).
const SOURCE: &str = include_str!("../../../lab/payments/payments.py");
/// Its log, in the lab directory.
pub(crate) const LOG: &str = "payments.log";
/// How long it may take to answer.
const READY: Duration = Duration::from_secs(15);

/// Starts the provider (recorded in `state` before it is waited for) and waits until
/// `/health` answers.
pub(crate) fn start(dir: &Path, root: &Path, state: &mut State) -> Result<()> {
    let log_path = dir.join(LOG);
    let log = File::create(&log_path)
        .map_err(|e| LabError::io(format!("create {}", log_path.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| LabError::io(format!("open {}", log_path.display()), e))?;
    let child = Command::new("chroot")
        .arg(root)
        .args(["/usr/bin/python3", "-c", SOURCE])
        .arg(PAYMENTS.ip().to_string())
        .arg(PAYMENTS.port().to_string())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::io("start the payments provider".to_owned(), e))?;
    let proc_ref = ProcRef::of(child.id()).ok_or_else(|| LabError::ServiceNotReady {
        host: "payments".into(),
        secs: 0,
        detail: "the payments provider exited at once".into(),
        log: sys::tail_file(&log_path, 10),
    })?;
    state.payments = Some(proc_ref);
    state.save(dir)?;
    let started = Instant::now();
    loop {
        match remote::http_get(
            SocketAddr::from(PAYMENTS),
            "/health",
            Duration::from_secs(2),
        ) {
            Ok((200, _)) => return Ok(()),
            _ if started.elapsed() > READY || !proc_ref.alive() => {
                return Err(LabError::ServiceNotReady {
                    host: "payments".into(),
                    secs: started.elapsed().as_secs(),
                    detail: format!("GET http://{PAYMENTS}/health did not answer 200"),
                    log: sys::tail_file(&log_path, 10),
                });
            }
            _ => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Stops the recorded provider; returns its pid when it was killed.
pub(crate) fn stop(state: &State) -> Result<Option<u32>> {
    let Some(proc_ref) = state.payments else {
        return Ok(None);
    };
    let killed = proc_ref.kill().map_err(|e| {
        LabError::io(
            format!("stop the payments provider (pid {})", proc_ref.pid),
            e,
        )
    })?;
    proc_ref.wait_gone(Duration::from_secs(5));
    Ok(killed.then_some(proc_ref.pid))
}
