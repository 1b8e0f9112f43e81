//! `fearless serve` in a real headless Chromium, on the lab: the monitor's run shows a host
//! whose acme-api was stopped on the overview (orders-api its root suspect, checkout
//! impacted) within one interval; a change is approved through its page by bob and refused
//! to its requester; a rollout started from the CLI is followed live on its page to its end;
//! SIGTERM stops the server while the browser holds a live stream open. Every page is
//! screenshotted for a person to look at (the path is printed). Needs root, chromium and
//! chromium-driver (CI has them); fails, never skips, without them.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::browser::{Browser, free_port, wait_for_port};
use super::{TestLab, json_as, lab_ssh, ok_as, run_as};

/// The monitor's interval in this test's config (jittered ±10%).
const INTERVAL: Duration = Duration::from_secs(5);
/// How long a run of the lab's plan, the overview's live poll (2 s) and its reload may add
/// to an interval before a change shows.
const SLACK: Duration = Duration::from_secs(5);
/// A password for every user of the test.
const PASSWORD: &str = "correct horse battery staple";

/// Where the screenshots go: beside the test binary's target, kept after the test.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")
}

/// `fearless -c CONFIG user add NAME --password-stdin`, which must succeed.
#[track_caller]
fn add_user(config: &str, name: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(["-c", config, "user", "add", name, "--password-stdin"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fearless user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("write the password");
    let out = child.wait_with_output().expect("user add ends");
    assert!(
        out.status.success(),
        "user add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `fearless serve` on a free loopback port, its log in a file; killed by its id on drop
/// unless [`Serve::terminate`] stopped it.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serve {
    #[track_caller]
    fn start(config: &str, log: PathBuf) -> Serve {
        let port = free_port();
        let file = std::fs::File::create(&log).expect("serve log");
        let child = Command::new(env!("CARGO_BIN_EXE_fearless"))
            .args(["-c", config, "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start fearless serve");
        let serve = Serve { child, port, log };
        wait_for_port(port, Duration::from_secs(30), "fearless serve");
        serve
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What it logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM; how long it took to exit, and whether it exited 0. Fails after `within`.
    #[track_caller]
    fn terminate(&mut self, within: Duration) -> (Duration, bool) {
        let sent = Instant::now();
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "cannot send SIGTERM to fearless serve");
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for serve") {
                return (sent.elapsed(), status.success());
            }
            assert!(
                sent.elapsed() < within,
                "fearless serve still runs {within:?} after SIGTERM; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A change of orders-api on every web host requested (and submitted) by alice; its id.
#[track_caller]
fn submitted_change(config: &str, title: &str) -> String {
    let args = [
        "change",
        "new",
        "--title",
        title,
        "--hosts",
        "web-*",
        "--component",
        "orders-api",
    ];
    let id = json_as(config, "alice", &args)["id"]
        .as_str()
        .expect("the change's id")
        .to_owned();
    ok_as(config, "alice", &["change", "submit", &id]);
    id
}

/// The change's state, as the CLI reads it.
#[track_caller]
fn change_state(config: &str, id: &str) -> String {
    json_as(config, "reader", &["change", "show", id])["state"]
        .as_str()
        .expect("state")
        .to_owned()
}

/// Logs `user` in through the login form; the overview is shown after.
async fn log_in(b: &Browser, serve: &Serve, user: &str) {
    b.goto(&serve.url("/login")).await;
    b.fill("input[name=user]", user).await;
    b.fill("input[name=password]", PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.until(
        Duration::from_secs(10),
        &format!("{user} was not logged in"),
        move || async move {
            let who = b.text_of("header .who").await?;
            who.contains(user).then_some(())
        },
    )
    .await;
}

/// Logs whoever is logged in out through the header's button.
async fn log_out(b: &Browser) {
    b.click("form[action='/logout'] button").await;
    b.until(
        Duration::from_secs(10),
        "the log-out did not happen",
        move || async move { b.has("header a[href='/login']").await.then_some(()) },
    )
    .await;
}

/// Host states a rollout's hosts table can show before the rollout ends.
const MOVING: [&str; 6] = [
    "pending",
    "snapshotted",
    "applying",
    "applied",
    "verifying",
    "rolling-back",
];

/// What a rollout's page shows now: its state badge, the follow note, each host's state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RolloutView {
    state: String,
    follow: String,
    hosts: Vec<(String, String)>,
    reloaded: bool,
}

async fn rollout_view(b: &Browser) -> RolloutView {
    let v = b
        .eval(
            "var s=document.querySelector('#state');var f=document.getElementById('follow');\
             var rows=Array.from(document.querySelectorAll('#live tr[data-host]'));\
             return {state: s ? s.textContent.trim() : '', follow: f ? f.textContent : '',\
               reloaded: window.__fearlessMark !== 1,\
               hosts: rows.map(function(r){var b=r.querySelector('.badge');return [r.dataset.host, b ? b.textContent.trim() : ''];})};",
        )
        .await;
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    RolloutView {
        state: s("state"),
        follow: s("follow"),
        reloaded: v["reloaded"].as_bool().unwrap_or(true),
        hosts: v["hosts"]
            .as_array()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        (
                            h[0].as_str().unwrap_or("").to_owned(),
                            h[1].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "where the screenshots are and what was measured, for a person reading the run"
)]
fn dashboard_in_chromium_shows_a_break_takes_approvals_follows_a_rollout_and_stops_on_sigterm() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let d = lab.dir.clone();
    lab.publish("routine");
    let c = lab.config_variant("dashboard", |text| {
        format!("{text}monitor: {{ interval: 5s, confirm: 1 }}\nserve: {{ users: users.txt }}\n")
    });
    let c = c.as_str();
    add_user(c, "alice");
    add_user(c, "bob");
    let mut serve = Serve::start(c, lab.file("serve.log"));
    let shots = screenshot_dir();
    eprintln!("screenshots of the dashboard: {}", shots.display());

    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let browser = Browser::start(&shots).await;
        let b = &browser;

        // The first run of the monitor: every check passes.
        b.goto(&serve.url("/")).await;
        b.until(Duration::from_secs(30), "the first run never showed green", move || async move {
            let ok = b.text_of("main div.ok").await?;
            ok.contains("Every check passes").then_some(())
        })
        .await;
        assert!(b.has("#grid tr[data-component='orders-api'] td[data-host='web-1'][data-status='pass']").await);

        // acme-api stops on web-1: the page, reloaded by its own live stream, shows
        // orders-api failing there as the root suspect and checkout impacted.
        lab_ssh(&d, "web-1", "/etc/init.d/acme-api stop");
        let stopped = Instant::now();
        let ((), took) = b
            .until(INTERVAL * 3, "the overview never showed orders-api failing on web-1", move || async move {
                b.has("[data-suspect='orders-api']").await.then_some(())
            })
            .await;
        let shown_after = stopped.elapsed();
        eprintln!("the break showed on the overview {shown_after:?} after acme-api stopped (polled {took:?})");
        assert!(
            shown_after <= INTERVAL + INTERVAL / 10 + SLACK,
            "it took {shown_after:?}, more than one interval ({INTERVAL:?}) and {SLACK:?}"
        );
        let cell = "#grid tr[data-component='orders-api'] td[data-host='web-1']";
        let status = b
            .client
            .find(fantoccini::Locator::Css(cell))
            .await
            .expect("orders-api on web-1 in the grid")
            .attr("data-status")
            .await
            .expect("data-status")
            .unwrap_or_default();
        assert!(matches!(status.as_str(), "fail" | "error"), "orders-api on web-1 is {status}");
        let suspect = b.text("[data-suspect='orders-api']").await;
        assert!(suspect.contains("web-1") && !suspect.contains("web-2"), "{suspect}");
        assert!(b.has("[data-impacted='checkout']").await, "{}", b.body_text().await);
        let web2 = "#grid tr[data-component='orders-api'] td[data-host='web-2'][data-status='pass']";
        assert!(b.has(web2).await, "web-2 stays green: {}", b.body_text().await);
        b.screenshot("01-overview-break").await;

        // An incident, for the incidents pages (opened from the CLI while it fails).
        let opened = json_as(
            c,
            "bob",
            &["incident", "open", "--component", "orders-api", "--since", "5m", "--title", "orders down on web-1"],
        );
        let incident = opened["incident"].as_str().expect("incident id").to_owned();

        b.goto(&serve.url("/map")).await;
        assert!(b.has("main svg").await, "the map: {}", b.body_text().await);
        b.screenshot("02-map").await;
        b.goto(&serve.url("/checks")).await;
        assert!(b.has("a[href='/checks/orders-api/orders']").await, "{}", b.body_text().await);
        b.screenshot("03-checks").await;
        b.goto(&serve.url("/checks/orders-api/orders")).await;
        assert!(b.has(".timeline span.pass").await && b.has(".timeline span.fail, .timeline span.error").await,
            "the history shows the passes before and the failure: {}", b.body_text().await);
        b.screenshot("04-check-history").await;

        // Back up: the overview turns green again by itself.
        lab_ssh(&d, "web-1", "/etc/init.d/acme-api start");
        b.goto(&serve.url("/")).await;
        b.until(INTERVAL * 4, "the overview never turned green again", move || async move {
            let ok = b.text_of("main div.ok").await?;
            ok.contains("Every check passes").then_some(())
        })
        .await;

        // Approval through the page: bob approves alice's change, it is scheduled.
        let first = submitted_change(c, "routine batch");
        log_in(b, &serve, "bob").await;
        b.goto(&serve.url(&format!("/changes/{first}"))).await;
        b.click("form.act[action$='/approve'] button").await;
        let (done, _) = b
            .until(Duration::from_secs(10), "the approval was not answered", move || async move {
                b.text_of("main div.ok").await
            })
            .await;
        assert!(done.contains("approved") && done.contains("scheduled"), "{done}");
        assert_eq!(change_state(c, &first), "scheduled");
        b.screenshot("06-change-approved").await;

        // The same attempt by the requester is refused, and nothing moves.
        let second = submitted_change(c, "another batch");
        log_out(b).await;
        log_in(b, &serve, "alice").await;
        b.goto(&serve.url(&format!("/changes/{second}"))).await;
        b.click("form.act[action$='/approve'] button").await;
        let (refused, _) = b
            .until(Duration::from_secs(10), "the refusal was not shown", move || async move {
                b.text_of("main .banner").await
            })
            .await;
        assert!(refused.contains("Refused") && refused.contains("separation of duties"), "{refused}");
        assert_eq!(change_state(c, &second), "authorize");
        b.screenshot("07-change-refused").await;
        b.goto(&serve.url("/changes")).await;
        b.screenshot("05-changes").await;

        // A rollout started from the CLI, followed live on its page to its end.
        ok_as(c, "alice", &["change", "schedule", &first]);
        let patch = Command::new(env!("CARGO_BIN_EXE_fearless"))
            .args(["-c", c, "--as", "alice", "patch", "--change", &first, "--waves", "1,100%", "--bake", "2s"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start patch");
        let rollout = "R-1";
        let deadline = Instant::now() + Duration::from_secs(60);
        while run_as(c, "reader", &["rollout", "show", rollout]).0 != Some(0) {
            assert!(Instant::now() < deadline, "{rollout} never started");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        b.goto(&serve.url(&format!("/rollouts/{rollout}"))).await;
        b.eval("window.__fearlessMark = 1; return null;").await;
        let first_view = rollout_view(b).await;
        assert_eq!(first_view.follow, "Following live.", "{first_view:?}");
        let mut seen: Vec<RolloutView> = vec![first_view];
        let started = Instant::now();
        loop {
            let v = rollout_view(b).await;
            assert!(!v.reloaded, "the page was reloaded: {seen:?}");
            let ended = v.follow == "Finished." && v.state != "running";
            if seen.last() != Some(&v) {
                seen.push(v.clone());
            }
            if ended && v.state == "completed" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the page did not follow {rollout} to its end: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let out = patch.wait_with_output().expect("patch ends");
        assert!(out.status.success(), "patch: {}", String::from_utf8_lossy(&out.stderr));
        let moving = seen
            .iter()
            .flat_map(|v| v.hosts.iter())
            .find(|(_, s)| MOVING.contains(&s.as_str()))
            .cloned();
        assert!(moving.is_some(), "no intermediate host state was seen: {seen:?}");
        let last = seen.last().expect("a view");
        assert_eq!(
            last.hosts,
            vec![("web-1".to_owned(), "verified".to_owned()), ("web-2".to_owned(), "verified".to_owned())],
            "{seen:?}"
        );
        eprintln!("{rollout} as its page saw it: {seen:?}");
        assert!(!b.has("#actions form").await, "pause and abort are gone once it ended: {}", b.body_text().await);
        b.screenshot("09-rollout").await;
        b.goto(&serve.url("/rollouts")).await;
        b.screenshot("08-rollouts").await;

        b.goto(&serve.url("/incidents")).await;
        assert!(b.has(&format!("a[href='/incidents/{incident}']")).await, "{}", b.body_text().await);
        b.screenshot("10-incidents").await;
        b.goto(&serve.url(&format!("/incidents/{incident}"))).await;
        b.screenshot("11-incident").await;
        b.goto(&serve.url("/journal")).await;
        assert!(b.text("#verify").await.starts_with("Intact"), "{}", b.body_text().await);
        b.screenshot("12-journal").await;
        b.goto(&serve.url("/")).await;
        b.screenshot("00-overview").await;

        // SIGTERM while the overview holds its live stream open: the server stops in a
        // few seconds, cleanly.
        assert!(b.has("#grid").await);
        let (took, clean) = serve.terminate(Duration::from_secs(10));
        eprintln!("fearless serve stopped {took:?} after SIGTERM");
        assert!(clean, "fearless serve did not exit 0: {}", serve.log());
        assert!(took < Duration::from_secs(5), "it took {took:?}: {}", serve.log());
        browser.close().await;
    });
    let names: Vec<String> = std::fs::read_dir(&shots)
        .expect("screenshots")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 13, "{names:?}");
}
