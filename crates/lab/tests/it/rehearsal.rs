//! A rehearsal host next to a running lab: a fresh Debian 13 host on its own address,
//! reached through the lab's ssh files, with the lab's repository as its source; the fleet
//! stays what it was (`up` still finds it running, `status` still healthy); removing it
//! leaves nothing, and `down` removes one that is still up. Needs root; builds the trixie
//! root once (about a minute).

use std::path::Path;

use fearless_lab::{Release, UpOptions};

use crate::common::{LabDir, mounts_under, require_lab_prerequisites, ssh, ssh_status};

fn listens(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.9", port)).is_ok()
}

#[test]
fn lab_rehearsal_host_of_another_release_comes_and_goes() {
    require_lab_prerequisites();
    let scratch = LabDir::new();
    let dir = scratch.dir.clone();
    let opts = UpOptions {
        dir: dir.clone(),
        hosts: 1,
        ..UpOptions::default()
    };
    let lab = fearless_lab::up(&opts, &mut |_| {}).expect("up");
    let cache = Path::new(fearless_lab::DEFAULT_CACHE_DIR);
    let host = fearless_lab::rehearsal_up(&dir, cache, Release::Trixie, &mut |_| {})
        .expect("rehearsal host");
    assert_eq!(
        (host.name.as_str(), host.address),
        ("rehearse-1", fearless_lab::REHEARSAL_ADDRESS)
    );
    assert!(listens(lab.port));
    // Debian 13, without Debian 12's python3.11; the lab's repository is its only source.
    let release = ssh(
        &dir,
        "rehearse-1",
        ". /etc/os-release; echo $VERSION_CODENAME",
    );
    assert_eq!(release.trim(), "trixie");
    let (code, _) = ssh_status(&dir, "rehearse-1", "test -e /usr/bin/python3.11");
    assert_eq!(code, Some(1));
    let policy = ssh(
        &dir,
        "rehearse-1",
        "apt-get -q update >/dev/null && apt-cache policy acme-web",
    );
    assert!(policy.contains("1.0"), "{policy}");
    // The fleet is the fleet: `up` finds it running, `status` healthy with the host beside it.
    let again = fearless_lab::up(&opts, &mut |_| {}).expect("up again");
    assert!(again.already_running);
    assert_eq!(again.hosts.len(), 1);
    let status = fearless_lab::status(&dir).expect("status");
    assert_eq!(status.hosts.len(), 2);
    assert_eq!(status.hosts[1].rehearsal.as_deref(), Some("trixie"));
    assert!(status.healthy(), "{status:?}");
    let fleet_yaml = std::fs::read_to_string(dir.join("fearless.yaml")).expect("config");
    assert!(!fleet_yaml.contains("rehearse-1"), "not in the inventory");

    // Removed: nothing left; twice is fine.
    let report = fearless_lab::rehearsal_down(&dir, &mut |_| {}).expect("down");
    assert!(!report.killed.is_empty() && !report.unmounted.is_empty());
    assert!(!listens(lab.port));
    let host_dir = dir.join("hosts/rehearse-1").display().to_string();
    assert!(mounts_under(&dir).iter().all(|m| !m.starts_with(&host_dir)));
    assert!(!dir.join("hosts/rehearse-1").exists());
    assert!(
        fearless_lab::rehearsal_down(&dir, &mut |_| {})
            .expect("again")
            .is_empty()
    );
    assert_eq!(ssh(&dir, "web-1", "hostname").trim(), "web-1");

    // One left up goes with the lab.
    fearless_lab::rehearsal_up(&dir, cache, Release::Bookworm, &mut |_| {}).expect("bookworm");
    fearless_lab::down(&dir, &mut |_| {}).expect("lab down");
    assert!(!listens(lab.port));
    assert_eq!(mounts_under(&dir), Vec::<String>::new());
}

#[test]
fn rehearsal_without_a_lab_says_there_is_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = fearless_lab::rehearsal_up(
        dir.path(),
        Path::new(fearless_lab::DEFAULT_CACHE_DIR),
        Release::Trixie,
        &mut |_| {},
    )
    .expect_err("no lab");
    assert!(err.to_string().starts_with("no lab found in"), "{err}");
    assert!(
        fearless_lab::rehearsal_down(&dir.path().join("never-up"), &mut |_| {})
            .expect("no-op")
            .is_empty()
    );
}
