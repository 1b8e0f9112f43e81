//! Delivering an invocation and running its script, as SSM Agent does on the node.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::state::InvocationStatus;
use super::{PingStatus, Runner, Shared};

/// The `PATH` scripts get (the agent runs under systemd, with its default path).
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The exit code SSM Agent reports on Linux for a script it killed at its timeout or on
/// cancel (`CommandStoppedPreemptivelyExitCode`: 128 + SIGKILL).
pub(crate) const STOPPED_EXIT_CODE: i32 = 137;

/// What the delivery step decided.
enum Delivery {
    /// Run the script: what the run needs.
    Run(Job),
    /// The invocation has ended (cancelled, undeliverable, delivery timed out).
    Done,
    /// The node is not online: wait for it, the delivery deadline or a cancel.
    Wait(Instant),
}

/// What a delivered invocation needs to run.
struct Job {
    runner: Runner,
    instance_id: String,
    script: String,
    working_directory: String,
    execution_timeout: std::time::Duration,
}

/// How the script ended.
enum End {
    Exited(i32),
    TimedOut,
    Cancelled,
    NotStarted(String),
}

/// Delivers invocation `inv` of command `cmd` and runs it to its end.
pub(crate) async fn drive(shared: Arc<Shared>, cmd: usize, inv: usize) {
    if !shared.config.pending_for.is_zero() {
        tokio::time::sleep(shared.config.pending_for).await;
    }
    let cancel = shared.lock().commands[cmd].invocations[inv].cancel.clone();
    let mut pings = shared.ping_changes.subscribe();
    let job = loop {
        pings.borrow_and_update();
        match deliver(&shared, cmd, inv) {
            Delivery::Run(job) => break job,
            Delivery::Done => return,
            Delivery::Wait(deadline) => {
                tokio::select! {
                    _ = pings.changed() => {}
                    () = tokio::time::sleep_until(deadline.into()) => {}
                    () = cancel.notified() => {}
                }
            }
        }
    };
    let (end, stdout, stderr) = run(&shared, cmd, inv, &job, &cancel).await;
    let mut state = shared.lock();
    let invocation = &mut state.commands[cmd].invocations[inv];
    invocation.pgid = None;
    invocation.ended = Some(SystemTime::now());
    invocation.stdout = stdout;
    invocation.stderr = stderr;
    let (status, code) = match end {
        End::Exited(0) => (InvocationStatus::Success, 0),
        End::Exited(code) => (InvocationStatus::Failed, code),
        End::TimedOut => (InvocationStatus::ExecutionTimedOut, STOPPED_EXIT_CODE),
        End::Cancelled => (InvocationStatus::Cancelled, STOPPED_EXIT_CODE),
        End::NotStarted(why) => {
            // As the agent reports a plugin that could not start: failed, the reason on
            // standard error.
            invocation.stderr = why.into_bytes();
            (InvocationStatus::Failed, 1)
        }
    };
    invocation.status = status;
    invocation.response_code = code;
}

/// One look at the invocation and its node: deliver, end, or wait.
fn deliver(shared: &Shared, cmd: usize, inv: usize) -> Delivery {
    let mut state = shared.lock();
    let node_index = state.commands[cmd].invocations[inv].node;
    let node = &state.nodes[node_index];
    let (runner, ping, alive) = (node.runner, node.ping, node.alive());
    let command = &mut state.commands[cmd];
    let deadline = command.delivery_deadline;
    let job = Job {
        runner,
        instance_id: command.invocations[inv].instance_id.clone(),
        script: command.script.clone(),
        working_directory: command.working_directory.clone(),
        execution_timeout: command.execution_timeout,
    };
    let invocation = &mut command.invocations[inv];
    if invocation.status != InvocationStatus::Pending {
        return Delivery::Done;
    }
    let end = |invocation: &mut super::state::Invocation, status: InvocationStatus| {
        invocation.status = status;
        invocation.ended = Some(SystemTime::now());
        Delivery::Done
    };
    if !alive || ping == PingStatus::Inactive {
        return end(invocation, InvocationStatus::Undeliverable);
    }
    if ping == PingStatus::ConnectionLost {
        if Instant::now() >= deadline {
            return end(invocation, InvocationStatus::DeliveryTimedOut);
        }
        return Delivery::Wait(deadline);
    }
    invocation.status = InvocationStatus::InProgress;
    invocation.started = Some(SystemTime::now());
    Delivery::Run(job)
}

/// Runs the script in its own process group, output to files (as the agent does: a
/// detached child that keeps them open does not hold the invocation), killed with its
/// group at the execution timeout or on cancel. Returns how it ended and the head of its
/// standard output and error.
async fn run(
    shared: &Shared,
    cmd: usize,
    inv: usize,
    job: &Job,
    cancel: &tokio::sync::Notify,
) -> (End, Vec<u8>, Vec<u8>) {
    let files = tempfile::tempfile().and_then(|out| {
        let err = tempfile::tempfile()?;
        Ok((out, err))
    });
    let (out, err) = match files {
        Ok(files) => files,
        Err(e) => return not_started(format!("cannot create the output files: {e}")),
    };
    let mut command = match job.runner {
        Runner::Local => {
            let mut c = tokio::process::Command::new("/bin/sh");
            c.arg("-c")
                .arg(&job.script)
                .current_dir(&job.working_directory);
            c
        }
        Runner::Namespace { pid } => {
            let mut c = tokio::process::Command::new("nsenter");
            c.arg("-t")
                .arg(pid.to_string())
                .args(["-m", "-u", "-i", "-p", "-r"])
                .arg(format!("--wd={}", job.working_directory))
                .args(["--", "/bin/sh", "-c"])
                .arg(&job.script);
            c
        }
    };
    let stdio = |f: &File| f.try_clone().map(Stdio::from);
    let (stdout, stderr) = match (stdio(&out), stdio(&err)) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            return not_started(format!("cannot open the output files: {e}"));
        }
    };
    command
        .env_clear()
        .env("PATH", PATH)
        .env("AWS_SSM_INSTANCE_ID", &job.instance_id)
        .env("AWS_SSM_REGION_NAME", &shared.config.region)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return not_started(format!("cannot start the script: {e}")),
    };
    let pgid = child.id().and_then(|pid| i32::try_from(pid).ok());
    {
        let mut state = shared.lock();
        if state.stopped {
            // The endpoint was dropped while the script started: it must not outlive it.
            if let Some(pgid) = pgid {
                kill_group(pgid);
            }
        } else {
            state.commands[cmd].invocations[inv].pgid = pgid;
        }
    }
    let end = tokio::select! {
        status = child.wait() => match status {
            Ok(status) => End::Exited(
                status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            ),
            Err(e) => End::NotStarted(format!("cannot wait for the script: {e}")),
        },
        () = tokio::time::sleep(job.execution_timeout) => End::TimedOut,
        () = cancel.notified() => End::Cancelled,
    };
    if matches!(end, End::TimedOut | End::Cancelled) {
        if let Some(pgid) = pgid {
            kill_group(pgid);
        }
        // Reaped only now: until then the group's id cannot be reused.
        let _ = child.wait().await;
    }
    let cap = shared.config.output_cap;
    (end, read_head(&out, cap), read_head(&err, cap))
}

/// A script that could not be started, and why.
fn not_started(why: String) -> (End, Vec<u8>, Vec<u8>) {
    (End::NotStarted(why), Vec::new(), Vec::new())
}

/// The first `cap` bytes of an output file (read at offsets: the script shares the file
/// position).
fn read_head(file: &File, cap: usize) -> Vec<u8> {
    let mut buf = vec![0u8; cap.min(1 << 16)];
    let mut out = Vec::new();
    while out.len() < cap {
        let want = (cap - out.len()).min(buf.len());
        match file.read_at(&mut buf[..want], out.len() as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Kills process group `pgid` (the script and what it started without leaving its group).
pub(crate) fn kill_group(pgid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
        // Gone already is fine.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}
