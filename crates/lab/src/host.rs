//! One lab host: an overlay over the cached root, configured for the lab, booted by a small
//! init (PID 1 of fresh UTS/PID/mount/IPC namespaces, chrooted into the overlay) that starts
//! the host's services and its sshd, and reboots the host on SIGHUP (the host's `reboot` and
//! `shutdown -r` send it).

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::rpmroot;
use crate::state::{HostPaths, HostState, State};
use crate::sys::{self, ProcRef};
use crate::{Packaging, Role};

/// Runs inside the new namespaces: `$1` name, `$2` merged root, `$3` address, `$4` port,
/// `$5` the repository directory, `$6` where the host sees it (relative to its root). Data
/// only ever arrives as positional parameters.
const HOST_INIT: &str = r#"set -e
hostname "$1"
mount -t proc proc "$2/proc"
mount --rbind /dev "$2/dev"
mount --bind "$5" "$2/$6"
mount -o remount,bind,ro "$2/$6"
exec chroot "$2" /bin/sh -c "$7" lab-init "$3" "$4"
"#;

/// The host's init, PID 1 of its namespace, inside its root: `$1` address, `$2` sshd port.
///
/// A boot mounts a fresh tmpfs on `/run` (so `/run/reboot-required` and every pid file of
/// the last boot are gone, as on a real machine), starts the acme services, then sshd. On
/// SIGHUP it reboots: every other process of the namespace is killed (connections drop),
/// `/run` is unmounted, and the host boots again. It reaps whatever is reparented to it.
const LAB_INIT: &str = r#"reboot=
trap 'reboot=yes' HUP
boot() {
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
	mkdir -p /run/sshd /run/lock
	chmod 1777 /run/lock
	echo "lab init: boot $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	for service in /etc/init.d/acme-*; do
		if [ -x "$service" ]; then "$service" start || echo "lab init: $service did not start"; fi
	done
	/usr/sbin/sshd -D -e -o ListenAddress="$1" -p "$2" &
}
boot "$@"
while :; do
	# waiting reaps every child, orphans included; SIGHUP ends the wait at once
	sleep 60 &
	wait $! || true
	if [ -n "$reboot" ]; then
		reboot=
		echo "lab init: reboot"
		kill -KILL -1 2>/dev/null || true
		# until nothing else is left (the builtin kill forks nothing; wait reaps)
		while kill -0 -1 2>/dev/null; do
			sleep 0.1 &
			wait $! || true
		done
		umount -l /run
		boot "$@"
	fi
done
"#;

/// `reboot` on a lab host: SIGHUP to the host's init.
const REBOOT_SHIM: &str = "#!/bin/sh\n\
# fearless lab: a reboot is SIGHUP to this host's init (PID 1 of its namespace)\n\
exec kill -HUP 1\n";

/// `shutdown` on a lab host: only `-r` (reboot) is possible.
const SHUTDOWN_SHIM: &str = "#!/bin/sh\n\
# fearless lab: a lab host can only reboot (shutdown -r); that is SIGHUP to its init\n\
for arg in \"$@\"; do\n\
\tcase \"$arg\" in -r|--reboot) exec kill -HUP 1 ;; esac\n\
done\n\
echo \"shutdown: a fearless lab host can only reboot: shutdown -r now\" >&2\n\
exit 1\n";

const SSHD_CONFIG: &str = "# fearless lab: root logs in with the lab key only\n\
PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n";

/// A light host has one host key, ed25519: generating RSA and ECDSA keys too would cost a
/// thousand hosts minutes of CPU, and sshd would warn about every missing default key. And
/// no PAM: its session modules (Debian's pam_motd runs `run-parts /etc/update-motd.d` for
/// every session, three programs) cost each connection more than the command it carries,
/// on the one machine that runs both the hosts and the controller.
const LIGHT_SSHD_CONFIG: &str = "# fearless lab (light host): one host key, no PAM session\n\
HostKey /etc/ssh/ssh_host_ed25519_key\nUsePAM no\n";

const APT_SOURCES: &str = "# fearless lab: the lab repository is this host's only package source\n\
deb [trusted=yes] file:/srv/lab-repo ./\n";

const NO_APT_SOURCES: &[u8] =
    b"# fearless lab: no apt sources on the RPM host; its acme shop comes from dnf \
(/etc/yum.repos.d/lab.repo)\n";

/// Where a Debian host sees the lab's apt repository (relative to its root).
const APT_REPO_MOUNT: &str = "srv/lab-repo";

const APT_CONF: &str =
    "// fearless lab\nAcquire::Languages \"none\";\nAPT::Install-Recommends \"false\";\n";

/// How long an sshd may take to accept connections.
const SSHD_READY: Duration = Duration::from_secs(20);

/// Everything a host needs to start.
#[derive(Debug)]
pub(crate) struct HostSpec<'a> {
    pub(crate) dir: &'a Path,
    /// The cached root under the overlay (the Debian root, or the RPM root).
    pub(crate) root: &'a Path,
    /// The repository the host installs from (`DIR/repo`, or `DIR/rpmrepo`).
    pub(crate) repo: &'a Path,
    pub(crate) packaging: Packaging,
    pub(crate) name: &'a str,
    pub(crate) address: Ipv4Addr,
    pub(crate) port: u16,
    pub(crate) authorized_key: &'a str,
    /// What it runs.
    pub(crate) role: Role,
    /// The lines of `/etc/acme/acme.conf` after `address=`: whom its services call.
    pub(crate) acme_conf: &'a str,
}

/// Mounts, configures and starts one host, recording each step in `state` (and its file) as
/// it goes; several hosts may start at once on the same `state`.
pub(crate) fn start(spec: &HostSpec<'_>, state: &Mutex<State>) -> Result<()> {
    let paths = HostPaths::new(spec.dir, spec.name);
    {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.host_mut(spec.name).is_none() {
            state.hosts.push(HostState {
                name: spec.name.to_owned(),
                address: spec.address,
                packaging: spec.packaging,
                role: spec.role,
                overlay: false,
                unshare: None,
                init: None,
                rehearsal: None,
            });
        }
    }
    for d in [&paths.upper, &paths.work, &paths.merged] {
        sys::create_dir_all(d)?;
    }
    mount_overlay(spec.root, &paths)?;
    record(state, spec, |h| h.overlay = true)?;
    configure(spec, &paths.merged)?;
    let unshare = spawn(spec, &paths)?;
    record(state, spec, |h| h.unshare = Some(unshare))?;
    let init = find_init(spec, &paths, unshare)?;
    record(state, spec, |h| h.init = Some(init))?;
    wait_ready(spec, &paths, init)
}

fn record(
    state: &Mutex<State>,
    spec: &HostSpec<'_>,
    change: impl FnOnce(&mut HostState),
) -> Result<()> {
    // held while the file is written, so that the file never goes back in time
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(h) = state.host_mut(spec.name) {
        change(h);
    }
    state.save(spec.dir)
}

fn mount_overlay(root: &Path, paths: &HostPaths) -> Result<()> {
    if sys::mounts_under(&paths.merged)?.contains(&paths.merged) {
        return Ok(());
    }
    for p in [root, &paths.upper, &paths.work] {
        let text = p.to_string_lossy();
        if text.contains([',', ':', '\\']) || text.chars().any(char::is_whitespace) {
            return Err(LabError::InvalidOptions(format!(
                "path {text} cannot be used in overlay mount options (no commas, colons, backslashes or spaces)"
            )));
        }
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        root.display(),
        paths.upper.display(),
        paths.work.display()
    );
    sys::run(
        Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &options])
            .arg(&paths.merged),
        &format!("mount the overlay of {}", paths.merged.display()),
    )
    .map(drop)
}

/// Writes the host's identity and lab configuration into its overlay.
fn configure(spec: &HostSpec<'_>, m: &Path) -> Result<()> {
    let name = spec.name;
    let address = spec.address;
    sys::write_file(
        &m.join("etc/hostname"),
        format!("{name}\n").as_bytes(),
        0o644,
    )?;
    sys::write_file(
        &m.join("etc/hosts"),
        format!(
            "127.0.0.1\tlocalhost\n{address}\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        )
        .as_bytes(),
        0o644,
    )?;
    // apt: the lab repository only, never the Internet; none at all on the RPM host.
    let sources: &[u8] = match spec.packaging {
        Packaging::Deb => b"# fearless lab: see sources.list.d/lab.list\n",
        Packaging::Rpm => NO_APT_SOURCES,
    };
    sys::write_file(&m.join("etc/apt/sources.list"), sources, 0o644)?;
    if let Ok(entries) = fs::read_dir(m.join("etc/apt/sources.list.d")) {
        for entry in entries.flatten() {
            sys::remove_file_if_exists(&entry.path())?;
        }
    }
    if spec.packaging == Packaging::Deb {
        sys::write_file(
            &m.join("etc/apt/sources.list.d/lab.list"),
            APT_SOURCES.as_bytes(),
            0o644,
        )?;
    }
    sys::write_file(
        &m.join("etc/apt/apt.conf.d/99fearless-lab"),
        APT_CONF.as_bytes(),
        0o644,
    )?;
    sys::remove_file_if_exists(&m.join("usr/sbin/policy-rc.d"))?;
    // `reboot` and `shutdown -r` reboot the host through its init (before any other
    // `reboot` on PATH)
    sys::create_dir_all(&m.join("usr/local/sbin"))?;
    sys::write_file(
        &m.join("usr/local/sbin/reboot"),
        REBOOT_SHIM.as_bytes(),
        0o755,
    )?;
    sys::write_file(
        &m.join("usr/local/sbin/shutdown"),
        SHUTDOWN_SHIM.as_bytes(),
        0o755,
    )?;
    // the acme services read their listen address from here
    sys::write_file(
        &m.join("etc/acme/acme.conf"),
        format!(
            "# written by fearless lab: the address the acme services listen on\naddress={address}\n{}",
            spec.acme_conf
        )
        .as_bytes(),
        0o644,
    )?;
    // ssh: root by key only, own host keys
    sys::create_dir_all(&m.join("root/.ssh"))?;
    set_mode(&m.join("root/.ssh"), 0o700)?;
    sys::write_file(
        &m.join("root/.ssh/authorized_keys"),
        spec.authorized_key.as_bytes(),
        0o600,
    )?;
    sys::write_file(
        &m.join("etc/ssh/sshd_config.d/fearless-lab.conf"),
        SSHD_CONFIG.as_bytes(),
        0o644,
    )?;
    sys::create_dir_all(&m.join("run/sshd"))?;
    set_mode(&m.join("run/sshd"), 0o755)?;
    sys::create_dir_all(&m.join(repo_mount(spec.packaging)))?;
    if spec.role == Role::Light {
        sys::write_file(
            &m.join("etc/ssh/sshd_config.d/fearless-lab-light.conf"),
            LIGHT_SSHD_CONFIG.as_bytes(),
            0o644,
        )?;
    }
    if !m.join("etc/ssh/ssh_host_ed25519_key").exists() {
        let mut keygen = Command::new("chroot");
        keygen.arg(m).arg("ssh-keygen");
        if spec.role == Role::Light {
            keygen.args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                name,
                "-f",
                "/etc/ssh/ssh_host_ed25519_key",
            ]);
        } else {
            keygen.arg("-A");
        }
        sys::run(
            &mut keygen,
            &format!("generate the ssh host keys of {name}"),
        )?;
    }
    Ok(())
}

/// Where a host sees its repository, relative to its root.
fn repo_mount(packaging: Packaging) -> &'static str {
    match packaging {
        Packaging::Deb => APT_REPO_MOUNT,
        Packaging::Rpm => rpmroot::REPO_MOUNT,
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| LabError::io(format!("set permissions of {}", path.display()), e))
}

/// Starts `unshare … sh -c HOST_INIT` in its own process group (a Ctrl-C at the terminal
/// that ran `up` must not reach it), logging (the init, the services' start, sshd) to
/// `hosts/NAME/sshd.log`.
fn spawn(spec: &HostSpec<'_>, paths: &HostPaths) -> Result<ProcRef> {
    let log = File::create(&paths.sshd_log)
        .map_err(|e| LabError::io(format!("create {}", paths.sshd_log.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| LabError::io(format!("open {}", paths.sshd_log.display()), e))?;
    let child = Command::new("unshare")
        .args([
            "--uts",
            "--pid",
            "--mount",
            "--ipc",
            "--fork",
            "--propagation",
            "private",
            "sh",
            "-c",
            HOST_INIT,
            "sh",
        ])
        .arg(spec.name)
        .arg(&paths.merged)
        .arg(spec.address.to_string())
        .arg(spec.port.to_string())
        .arg(spec.repo)
        .arg(repo_mount(spec.packaging))
        .arg(LAB_INIT)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::io(format!("start the namespaces of {}", spec.name), e))?;
    let pid = child.id();
    // The child handle is dropped on purpose: the host outlives this call; `down` reaps it.
    drop(child);
    ProcRef::of(pid).ok_or_else(|| sshd_not_ready(spec, paths, Duration::ZERO))
}

/// Finds the host's init: the child of `unshare` (it keeps its pid through the `exec`s
/// from the mounts to the init), once it runs. It is looked for among the pids just after
/// `unshare`'s first, then (when many processes started in between) among all.
fn find_init(spec: &HostSpec<'_>, paths: &HostPaths, unshare: ProcRef) -> Result<ProcRef> {
    let started = Instant::now();
    while started.elapsed() < SSHD_READY {
        let children = if started.elapsed() < Duration::from_secs(1) {
            sys::children_near(unshare.pid, 512)
        } else {
            sys::children_of(unshare.pid)
        };
        if let Some(init) = children.into_iter().find_map(|(pid, _)| ProcRef::of(pid)) {
            return Ok(init);
        }
        if !unshare.alive() {
            sys::reap(unshare.pid);
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(sshd_not_ready(spec, paths, started.elapsed()))
}

/// Waits until the host's sshd accepts connections (while its init lives).
fn wait_ready(spec: &HostSpec<'_>, paths: &HostPaths, init: ProcRef) -> Result<()> {
    let addr = SocketAddr::from((spec.address, spec.port));
    let started = Instant::now();
    while started.elapsed() < SSHD_READY {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        if !init.alive() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    Err(sshd_not_ready(spec, paths, started.elapsed()))
}

fn sshd_not_ready(spec: &HostSpec<'_>, paths: &HostPaths, waited: Duration) -> LabError {
    LabError::SshdNotReady {
        host: spec.name.to_owned(),
        address: spec.address,
        port: spec.port,
        secs: waited.as_secs(),
        log: sys::tail_file(&paths.sshd_log, 20),
    }
}

/// The public host keys of a host (`etc/ssh/ssh_host_*_key.pub` in its overlay).
pub(crate) fn public_host_keys(merged: &Path) -> Result<Vec<String>> {
    let dir = merged.join("etc/ssh");
    let entries =
        fs::read_dir(&dir).map_err(|e| LabError::io(format!("read {}", dir.display()), e))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("ssh_host_"))
        })
        .filter(|p| p.extension().is_some_and(|x| x == "pub"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            fs::read_to_string(p).map_err(|e| LabError::io(format!("read {}", p.display()), e))
        })
        .collect()
}

/// What stopping a host did.
#[derive(Debug, Default)]
pub(crate) struct Stopped {
    pub(crate) killed: Vec<u32>,
}

/// Stops a host: SIGKILL to its init (PID 1 of the namespace ignores SIGTERM; when it dies
/// the kernel kills everything else in the namespace), then to `unshare` if still there.
pub(crate) fn stop(host: &HostState) -> Result<Stopped> {
    let mut stopped = Stopped::default();
    let mut targets: Vec<(&'static str, ProcRef)> = Vec::new();
    if let Some(init) = host.init {
        targets.push(("init", init));
    }
    if let Some(unshare) = host.unshare
        && host.init.is_none()
    {
        // a crash may have happened before the init was recorded: take unshare's children
        for (pid, _) in sys::children_of(unshare.pid) {
            if let Some(child) = ProcRef::of(pid)
                && !targets.iter().any(|(_, t)| *t == child)
            {
                targets.push(("namespace init", child));
            }
        }
    }
    for (what, proc_ref) in &targets {
        let killed = proc_ref.kill().map_err(|e| LabError::Stop {
            host: host.name.clone(),
            what,
            pid: proc_ref.pid,
            detail: e.to_string(),
        })?;
        if killed {
            stopped.killed.push(proc_ref.pid);
        }
    }
    if let Some(unshare) = host.unshare {
        // unshare exits once its child is gone; kill it only if it lingers
        if !unshare.wait_gone(Duration::from_secs(3)) {
            unshare.kill().map_err(|e| LabError::Stop {
                host: host.name.clone(),
                what: "unshare",
                pid: unshare.pid,
                detail: e.to_string(),
            })?;
            stopped.killed.push(unshare.pid);
        }
        targets.push(("unshare", unshare));
    }
    for (what, proc_ref) in &targets {
        if !proc_ref.wait_gone(Duration::from_secs(5)) {
            return Err(LabError::Stop {
                host: host.name.clone(),
                what,
                pid: proc_ref.pid,
                detail: "still running 5 s after SIGKILL".into(),
            });
        }
    }
    Ok(stopped)
}

/// Processes whose root directory lies under `hosts_dir` (chrooted into a lab host), for
/// a sweep after a crash that left a host unrecorded.
pub(crate) fn chrooted_under(hosts_dir: &Path) -> Vec<ProcRef> {
    sys::all_pids()
        .into_iter()
        .filter(|pid| {
            fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|root| root.starts_with(hosts_dir))
        })
        .filter_map(ProcRef::of)
        .collect()
}
