//! The sample script run for real on this machine through the local transport, against a
//! listener and connections this test opens itself (127.0.0.1, ephemeral ports).

use fearless_config::{Host, TransportKind};
use fearless_exec::Transport;
use fearless_observe::observe::read_sample;
use fearless_observe::packages::PackageDb;
use fearless_observe::{Direction, Observation, Sample, Settings, TcpState, observe, script};
use std::io::Read;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn own_exe() -> String {
    std::fs::read_link("/proc/self/exe")
        .expect("our exe")
        .to_string_lossy()
        .into_owned()
}

async fn sample(argv: &[String], own: &[IpAddr]) -> Sample {
    let out = Transport::controller()
        .run(argv, Duration::from_secs(60))
        .await
        .expect("the script ran");
    read_sample(&out, own).unwrap_or_else(|e| {
        panic!(
            "{e}\nstderr: {}\nstdout starts: {}",
            out.stderr_str(),
            out.stdout_str().chars().take(300).collect::<String>()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_sample_shows_our_listener_and_connection_with_our_program() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = TcpStream::connect(addr).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let me = std::process::id();

    let s = sample(&script::sample_argv(), &[]).await;

    let l = s
        .listeners
        .iter()
        .find(|l| l.address == addr.ip() && l.port == addr.port())
        .expect("our listener is in the sample");
    let p = l.process.as_ref().expect("and owned");
    assert_eq!(p.pid, me);
    assert_eq!(p.exe.as_deref(), Some(own_exe().as_str()));
    assert_eq!(p.program.as_deref(), Some(own_exe().as_str()));
    assert_eq!(p.uid, if is_root() { 0 } else { p.uid });

    let local = client.local_addr().expect("client addr");
    let out = s
        .connections
        .iter()
        .find(|c| c.local == local && c.remote == addr)
        .expect("our client connection");
    assert_eq!(out.direction, Direction::Outbound);
    assert_eq!(out.state, TcpState::Established);
    assert_eq!(out.process.as_ref().map(|p| p.pid), Some(me));
    let inb = s
        .connections
        .iter()
        .find(|c| c.local == accepted.local_addr().expect("addr") && c.remote == local)
        .expect("the accepted end");
    assert_eq!(inb.direction, Direction::Inbound);
    assert_eq!(inb.process.as_ref().map(|p| p.pid), Some(me));
    drop((client, accepted));
}

/// As a user that cannot read our `/proc/PID/fd` (`nobody` through `setpriv` when the
/// tests run as root; the tests' own user otherwise, with root's processes unreadable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_without_root_says_so_and_attributes_nothing_it_could_not_read() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _client = TcpStream::connect(addr).expect("connect");
    let _accepted = listener.accept().expect("accept");
    let me = std::process::id();
    let (argv, uid) = if is_root() {
        let mut argv: Vec<String> = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        argv.extend(script::sample_argv());
        (argv, 65534)
    } else {
        let uid = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .expect("uid");
        (script::sample_argv(), uid)
    };
    let lo: IpAddr = "127.0.0.1".parse().expect("ip");
    let s = sample(&argv, &[lo]).await;
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("sockets could not be read (not permitted")),
        "{:?}",
        s.notes
    );
    assert!(s.stats.not_permitted > 0);
    let procs = s
        .listeners
        .iter()
        .filter_map(|l| l.process.as_ref())
        .chain(s.connections.iter().filter_map(|c| c.process.as_ref()));
    for p in procs {
        assert_eq!(p.uid, uid, "{p:?} was attributed though it is not ours");
    }
    if is_root() {
        let l = s
            .listeners
            .iter()
            .find(|l| l.address == addr.ip() && l.port == addr.port())
            .expect("our listener, on an own address, kept");
        assert_eq!(l.process, None, "never attributed to a process not read");
        assert!(
            s.connections
                .iter()
                .all(|c| c.process.as_ref().is_none_or(|p| p.pid != me))
        );
    }
}

/// Sampling over a window: short per-request connections are seen, their ephemeral ports
/// make one entry, the programs get their packages, and the observation survives JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observing_merges_short_connections_into_one_entry() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            listener.set_nonblocking(true).expect("nonblocking");
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        c.set_nonblocking(false).expect("blocking");
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 64];
                            while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        })
    };
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(c) = TcpStream::connect(addr) {
                    n += 1;
                    std::thread::sleep(Duration::from_millis(120));
                    drop(c);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            n
        })
    };
    let host = Host {
        name: "here".into(),
        address: "127.0.0.1".into(),
        port: 22,
        user: "root".into(),
        become_: None,
        transport: TransportKind::Local,
        package_manager: None,
        labels: Default::default(),
        instance: None,
        region: None,
        source: Default::default(),
    };
    let t = Transport::controller();
    let seen = std::sync::Mutex::new(Vec::new());
    let obs = observe(
        &[(&host, &t)],
        Settings::new(Duration::from_millis(1500), Duration::from_millis(200)),
        |p| seen.lock().expect("lock").push(p),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let made = client.join().expect("client");
    server.join().expect("server");

    assert!(obs.unreachable.is_empty(), "{:?}", obs.unreachable);
    let h = &obs.hosts["here"];
    assert!(h.samples >= 4, "{} samples", h.samples);
    assert!(made >= 5, "{made} connections made");
    let exe = own_exe();
    let ours: Vec<_> = h
        .connections
        .iter()
        .filter(|c| {
            c.direction == Direction::Outbound
                && c.remote_port == Some(addr.port())
                && c.process.as_ref().and_then(|p| p.program.as_deref()) == Some(exe.as_str())
        })
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "one entry, whatever the ephemeral ports: {ours:?}"
    );
    let c = ours[0];
    assert_eq!(c.local_port, None);
    assert!(c.samples_seen >= 2, "{c:?}");
    assert!(c.first_sample <= c.last_sample);
    // (a connection still in the accept queue has no file yet: under load one may be
    // seen without its process, as its own entry; ours is the one the process holds)
    let inbound: Vec<_> = h
        .connections
        .iter()
        .filter(|c| {
            c.direction == Direction::Inbound
                && c.local_port == Some(addr.port())
                && c.process.is_some()
        })
        .collect();
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    assert_eq!(inbound[0].remote_port, None);
    assert!(
        h.listeners
            .iter()
            .any(|l| l.port == addr.port() && l.samples_seen == h.samples),
        "the listener is in every sample"
    );
    // The test binary belongs to no package; this Debian machine answers through dpkg.
    if std::path::Path::new("/usr/bin/dpkg-query").exists() {
        assert_eq!(h.package_db, Some(PackageDb::Dpkg));
        assert_eq!(
            h.packages.get(&exe).map(Vec::len),
            Some(0),
            "{:?}",
            h.packages
        );
    }
    let progress = seen.into_inner().expect("lock");
    assert!(progress.iter().any(
        |p| matches!(p, fearless_observe::ObserveProgress::Done { host, .. } if host == "here")
    ));

    let json = serde_json::to_string(&obs).expect("serialise");
    let back: Observation = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, obs);
}

/// A host whose transport cannot run anything is unreachable; the others are observed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_is_recorded_and_the_others_observed() {
    let mk = |name: &str, transport| Host {
        name: name.into(),
        address: "127.0.0.1".into(),
        port: 22,
        user: "root".into(),
        become_: None,
        transport,
        package_manager: None,
        labels: Default::default(),
        instance: None,
        region: None,
        source: Default::default(),
    };
    let good = mk("good", TransportKind::Local);
    let bad = mk("bad", TransportKind::Ssm);
    let tg = Transport::controller();
    let tb = Transport::for_host(&bad, &Default::default());
    let obs = observe(
        &[(&good, &tg), (&bad, &tb)],
        Settings::new(Duration::ZERO, Duration::from_millis(100)),
        |_| {},
    )
    .await;
    assert_eq!(obs.hosts["good"].samples, 1);
    assert!(
        obs.unreachable["bad"].contains("needs the host's instance id and region"),
        "{:?}",
        obs.unreachable
    );
    assert!(!obs.hosts.contains_key("bad"));
}
