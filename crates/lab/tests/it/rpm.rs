//! The RPM host, for real: `up` with `rpm_host` and one Debian host, the acme shop managed
//! by dnf/rpm on `rpm-1`, a bad batch upgraded with dnf and undone with `dnf history undo`,
//! down.

use fearless_lab::{LabError, Packaging, Scenario, UpOptions};

use crate::common::{
    LabDir, down_leaves_nothing, http_get, require_lab_prerequisites, require_rpm_prerequisites,
    ssh, wait_status,
};

const RPM_Q: &str = "rpm -q --qf '%{VERSION}\\n' libacme";

#[test]
fn rpm_host_installs_breaks_and_undoes_with_dnf() {
    require_lab_prerequisites();
    require_rpm_prerequisites();
    let scratch = LabDir::new();
    let opts = UpOptions {
        dir: scratch.dir.clone(),
        hosts: 1,
        rpm_host: true,
        ..Default::default()
    };

    let lab = fearless_lab::up(&opts, &mut |_| {})
        .unwrap_or_else(|e| panic!("up: {e}\nhint: {:?}", e.hint()));
    let dir = lab.dir.clone();
    let hosts: Vec<_> = lab
        .hosts
        .iter()
        .map(|h| (h.name.as_str(), h.packaging))
        .collect();
    assert_eq!(
        hosts,
        [("web-1", Packaging::Deb), ("rpm-1", Packaging::Rpm)]
    );
    let web = lab.hosts[0].address;
    let rpm = lab.hosts[1].address;
    assert_eq!(
        u32::from(rpm),
        u32::from(web) + 1,
        "rpm-1 takes the next address"
    );
    let (web, rpm) = (web.to_string(), rpm.to_string());
    assert!(lab.rpm_root.as_ref().is_some_and(|r| r.exists()));
    let loaded =
        fearless_config::load(&lab.config).unwrap_or_else(|e| panic!("fearless.yaml: {e:?}"));
    assert!(loaded.config.inventory.hosts.contains_key("rpm-1"));

    // the running lab has an rpm host: asking for one without it is refused, not rebuilt
    let without = UpOptions {
        rpm_host: false,
        ..opts.clone()
    };
    let err = fearless_lab::up(&without, &mut |_| {}).expect_err("shape mismatch");
    assert!(matches!(err, LabError::RpmHostMismatch { .. }), "{err}");
    assert!(
        fearless_lab::up(&opts, &mut |_| {})
            .expect("second up")
            .already_running
    );

    // rpm-1 is itself; rpm owns the acme shop there, dpkg does not, dnf knows one repository
    assert_eq!(ssh(&dir, "rpm-1", "hostname").trim(), "rpm-1");
    assert_eq!(ssh(&dir, "rpm-1", RPM_Q).trim(), "1.0");
    ssh(
        &dir,
        "rpm-1",
        "! command -v dpkg-query && ! command -v apt-get && test ! -e /var/lib/dpkg/info/libacme.list",
    );
    let repos = ssh(&dir, "rpm-1", "grep -h '^baseurl' /etc/yum.repos.d/*.repo");
    assert_eq!(repos.trim(), "baseurl=file:///srv/lab-rpmrepo");
    let repolist = ssh(&dir, "rpm-1", "dnf -q repolist");
    assert_eq!(repolist.lines().count(), 2, "{repolist}");
    assert!(repolist.contains("lab"), "{repolist}");
    ssh(
        &dir,
        "rpm-1",
        "test \"$(findmnt -n -o OPTIONS /srv/lab-rpmrepo | cut -d, -f1)\" = ro",
    );
    // and the Debian host is as before
    assert_eq!(
        ssh(&dir, "web-1", "dpkg-query -W -f '${Version}' libacme").trim(),
        "1.0"
    );

    // the acme shop runs on rpm-1, inside its namespaces
    assert_eq!(http_get(&rpm, 8080, "/checkout").0, 200);
    assert_eq!(http_get(&rpm, 9090, "/orders").0, 200);
    let ps = ssh(&dir, "rpm-1", "ps -eo comm");
    assert!(ps.lines().any(|l| l.trim() == "acme-api"), "{ps}");
    let status = fearless_lab::status(&dir).expect("status");
    assert!(status.healthy(), "{status:#?}");
    assert!(
        status
            .hosts
            .iter()
            .any(|h| h.name == "rpm-1" && h.packaging == Packaging::Rpm)
    );

    // the bad batch, through dnf
    let report = fearless_lab::publish(&dir, Scenario::BadLibacme).expect("publish bad-libacme");
    assert_eq!(report.rpm_repo, Some(dir.join("rpmrepo")));
    assert!(
        dir.join("rpmrepo/libacme-1.0-1.noarch.rpm").exists(),
        "old versions stay"
    );
    let upgrade = ssh(&dir, "rpm-1", "dnf -y upgrade");
    assert!(upgrade.contains("libacme"), "{upgrade}");
    assert_eq!(ssh(&dir, "rpm-1", RPM_Q).trim(), "2.0");
    assert_eq!(wait_status(&rpm, 9090, "/orders", 500), 500);
    assert_eq!(http_get(&rpm, 8080, "/checkout").0, 502);
    assert_eq!(
        http_get(&web, 8080, "/checkout").0,
        200,
        "web-1 was not upgraded"
    );

    // undone with dnf's own history
    ssh(&dir, "rpm-1", "dnf -y history undo last");
    assert_eq!(ssh(&dir, "rpm-1", RPM_Q).trim(), "1.0");
    assert_eq!(wait_status(&rpm, 8080, "/checkout", 200), 200);
    assert_eq!(http_get(&rpm, 9090, "/orders").0, 200);

    // down leaves nothing behind
    down_leaves_nothing(&dir);
    for gone in ["hosts", "rpmrepo", "repo", "build", "state.json"] {
        assert!(!dir.join(gone).exists(), "{gone} left behind");
    }
    assert!(
        lab.rpm_root.is_some_and(|r| r.exists()),
        "the rpm root cache stays"
    );
}
