//! The `ldap` check against a real OpenLDAP `slapd` started by each test: its own
//! configuration and throw-away database in a temp dir (loaded with `slapadd`), listening on
//! a free loopback port and on an `ldapi://` socket in that dir, stopped by PID when
//! dropped. The system's slapd, if any, is never touched. Tests fail, never skip, when
//! slapd is missing (`scripts/test.sh` installs it).

use crate::closed_port;
use fearless_config::{LdapBind, LdapCheck, LdapExpect, Template};
use fearless_probe::net::{self, NetContext};
use fearless_probe::result::{Outcome, Reason, Status};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);
const BASE: &str = "ou=people,dc=example,dc=org";
const ALICE: &str = "uid=alice,ou=people,dc=example,dc=org";
const ALICE_PASSWORD: &str = "alice-s3cret-pw";

/// A slapd of one test.
struct Slapd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Slapd {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::create_dir(d.join("db")).expect("db dir");
        // Whoever runs the tests reads everything through ldapi with SASL EXTERNAL: their
        // peer credentials are the identity the ACL names. Anonymous users read nothing.
        let (uid, gid) = ids();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             pidfile {d}/slapd.pid\n\
             argsfile {d}/slapd.args\n\
             database mdb\n\
             maxsize 10485760\n\
             suffix \"dc=example,dc=org\"\n\
             rootdn \"cn=admin,dc=example,dc=org\"\n\
             directory {d}/db\n\
             access to attrs=userPassword by self read by anonymous auth by * none\n\
             access to * by dn.exact=\"gidNumber={gid}+uidNumber={uid},cn=peercred,cn=external,cn=auth\" read by users read by * none\n",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).expect("slapd.conf");
        let ldif = format!(
            "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
             dn: {BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: {ALICE}\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice\nsn: A\nuserPassword: {ALICE_PASSWORD}\n\n\
             dn: uid=bob,{BASE}\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\nsn: B\n"
        );
        std::fs::write(d.join("data.ldif"), ldif).expect("data.ldif");
        let out = Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(d.join("data.ldif"))
            .output()
            .expect("slapadd is required: apt-get install slapd (scripts/test.sh does)");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = fearless_testkit::free_port("127.0.0.1");
        let listeners = format!("ldap://127.0.0.1:{port}/ {}", ldapi_url(&d.join("ldapi")));
        // `-d 0`: stay in the foreground (the PID we hold is slapd's), log nothing.
        let child = Command::new("/usr/sbin/slapd")
            .args(["-h", &listeners, "-d", "0", "-f"])
            .arg(d.join("slapd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slapd is required: apt-get install slapd (scripts/test.sh does)");
        let mut slapd = Self { dir, child, port };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || !slapd.dir.path().join("ldapi").exists()
        {
            if let Ok(Some(status)) = slapd.child.try_wait() {
                panic!("slapd exited at start: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "slapd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        slapd
    }

    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    fn ldapi(&self) -> String {
        ldapi_url(&self.dir.path().join("ldapi"))
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ldapi://` with `path` percent-encoded as its host.
fn ldapi_url(path: &Path) -> String {
    format!(
        "ldapi://{}",
        path.display()
            .to_string()
            .replace('%', "%25")
            .replace('/', "%2F")
    )
}

/// The effective uid and gid of this process, as slapd sees them over a Unix socket.
fn ids() -> (String, String) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let effective = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .expect("uid/gid line")
            .to_owned()
    };
    (effective("Uid:"), effective("Gid:"))
}

fn spec(bind: LdapBind, base: &str, filter: &str, expect: LdapExpect) -> LdapCheck {
    LdapCheck {
        url: Template::parse("ldap://127.0.0.1").expect("template"),
        bind,
        base: base.to_owned(),
        filter: filter.to_owned(),
        expect,
    }
}

fn alice() -> LdapBind {
    LdapBind::Simple {
        dn: ALICE.to_owned(),
        password: ALICE_PASSWORD.to_owned(),
    }
}

async fn check(spec: &LdapCheck, url: &str) -> Outcome {
    let ctx = NetContext::new().expect("context");
    net::ldap(&ctx, spec, url, TIMEOUT).await
}

#[track_caller]
fn assert_outcome(outcome: &Outcome, status: Status, reason: Option<Reason>) {
    assert_eq!(
        (outcome.status, outcome.reason),
        (status, reason),
        "{outcome:?}"
    );
    assert!(!outcome.message.contains('\n'), "one line: {outcome:?}");
    assert!(
        !outcome.message.contains(ALICE_PASSWORD),
        "no password: {outcome:?}"
    );
}

#[tokio::test]
async fn simple_bind_and_search_finds_the_entry() {
    let slapd = Slapd::start();
    let s = spec(alice(), BASE, "(uid=alice)", LdapExpect::AtLeast(1));
    let outcome = check(&s, &slapd.url()).await;
    assert_outcome(&outcome, Status::Pass, None);
    assert_eq!(
        outcome.message,
        format!("found 1 entry for (uid=alice) under {BASE} (bound as {ALICE})")
    );
    // An exact count: two people, and "more than" when there are more.
    let two = spec(
        alice(),
        BASE,
        "(objectClass=inetOrgPerson)",
        LdapExpect::Exactly(2),
    );
    assert_outcome(&check(&two, &slapd.url()).await, Status::Pass, None);
    let one = spec(
        alice(),
        BASE,
        "(objectClass=inetOrgPerson)",
        LdapExpect::Exactly(1),
    );
    let outcome = check(&one, &slapd.url()).await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Assertion));
    assert!(
        outcome.message.starts_with("found more than 1 entry"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn wrong_password_is_auth() {
    let slapd = Slapd::start();
    let wrong = LdapBind::Simple {
        dn: ALICE.to_owned(),
        password: "not-alice-s3cret".to_owned(),
    };
    let outcome = check(
        &spec(wrong, BASE, "(uid=alice)", LdapExpect::AtLeast(1)),
        &slapd.url(),
    )
    .await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Auth));
    assert!(
        outcome.message.contains("invalidCredentials (49)"),
        "{outcome:?}"
    );
    assert!(!outcome.message.contains("not-alice-s3cret"), "{outcome:?}");
}

#[tokio::test]
async fn missing_entry_fails() {
    let slapd = Slapd::start();
    let outcome = check(
        &spec(alice(), BASE, "(uid=carol)", LdapExpect::AtLeast(1)),
        &slapd.url(),
    )
    .await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Assertion));
    assert_eq!(
        outcome.message,
        format!(
            "found no entry for (uid=carol) under {BASE} (bound as {ALICE}) (expected at least 1)"
        )
    );
    // A base that does not exist is said as such.
    let outcome = check(
        &spec(
            alice(),
            "ou=nobody,dc=example,dc=org",
            "(uid=alice)",
            LdapExpect::AtLeast(1),
        ),
        &slapd.url(),
    )
    .await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Assertion));
    assert!(outcome.message.contains("noSuchObject"), "{outcome:?}");
}

#[tokio::test]
async fn sasl_external_over_ldapi_passes_and_anonymous_sees_nothing() {
    let slapd = Slapd::start();
    let s = spec(
        LdapBind::External,
        BASE,
        "(uid=alice)",
        LdapExpect::Exactly(1),
    );
    let outcome = check(&s, &slapd.ldapi()).await;
    assert_outcome(&outcome, Status::Pass, None);
    assert!(
        outcome.message.ends_with("(bound with SASL EXTERNAL)"),
        "{outcome:?}"
    );
    // The ACL gives anonymous users nothing: the same search fails without the bind.
    let anonymous = spec(
        LdapBind::Anonymous,
        BASE,
        "(uid=alice)",
        LdapExpect::Exactly(1),
    );
    let outcome = check(&anonymous, &slapd.ldapi()).await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Assertion));
}

#[tokio::test]
async fn server_down_is_refused() {
    let s = spec(alice(), BASE, "(uid=alice)", LdapExpect::AtLeast(1));
    let outcome = check(&s, &format!("ldap://127.0.0.1:{}", closed_port())).await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Refused));
    assert_eq!(outcome.message, "connection refused");
    // A stopped server's socket, or none at all.
    let dir = tempfile::tempdir().expect("temp dir");
    let outcome = check(
        &spec(
            LdapBind::External,
            BASE,
            "(uid=alice)",
            LdapExpect::AtLeast(1),
        ),
        &ldapi_url(&dir.path().join("ldapi")),
    )
    .await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Refused));
    assert!(outcome.message.starts_with("no socket at /"), "{outcome:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let addr = crate::silent_server().await;
    let ctx = NetContext::new().expect("context");
    let s = spec(alice(), BASE, "(uid=alice)", LdapExpect::AtLeast(1));
    let outcome = net::ldap(
        &ctx,
        &s,
        &format!("ldap://{addr}"),
        Duration::from_millis(300),
    )
    .await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Timeout));
}

#[tokio::test]
async fn a_filter_that_does_not_parse_is_a_config_error() {
    let slapd = Slapd::start();
    let outcome = check(
        &spec(alice(), BASE, "(uid=alice))(", LdapExpect::AtLeast(1)),
        &slapd.url(),
    )
    .await;
    assert_outcome(&outcome, Status::Error, Some(Reason::Config));
}

#[tokio::test]
async fn checks_from_a_config_run_through_the_runner() {
    let slapd = Slapd::start();
    let config = crate::load(&format!(
        "components:\n  directory:\n    external: true\n    checks:\n      - name: alice\n        ldap: {{ url: \"{}\", bind: {{ dn: \"{ALICE}\", password: \"{ALICE_PASSWORD}\" }}, base: \"{BASE}\", filter: \"(uid=alice)\", expect: 1 }}\n      - name: peers\n        ldap: {{ url: \"{}\", bind: external, base: \"{BASE}\", filter: \"(uid=*)\", min: 2 }}\n",
        slapd.url(),
        slapd.ldapi()
    ));
    let results = crate::run_all(&config).await;
    let seen: Vec<(&str, Status)> = results
        .iter()
        .map(|r| (r.check.as_str(), r.status))
        .collect();
    assert_eq!(
        seen,
        [("alice", Status::Pass), ("peers", Status::Pass)],
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.kind == "ldap"));
}
