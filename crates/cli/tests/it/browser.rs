//! A real headless Chromium for the dashboard's tests, driven over WebDriver: Debian's
//! `chromium` and `chromium-driver` (`scripts/test.sh` installs them), nothing downloaded.
//! Each [`Browser`] starts its own chromedriver on a free loopback port and its own
//! throw-away profile; dropping it ends the driver's process group (the driver and the
//! browser it started) by its id, however the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Debian's chromium.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromium-driver.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The window every page is looked at in (and screenshots are taken at, before they grow
/// to the page's height).
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;
/// The tallest screenshot taken: a longer page is cut there.
const MAX_SHOT_HEIGHT: u32 = 4000;

/// A headless Chromium and its driver; [`Browser::client`] drives it.
pub(crate) struct Browser {
    /// The WebDriver session.
    pub(crate) client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

/// A loopback port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// Waits until something accepts connections on `127.0.0.1:port`, at most `within`.
#[track_caller]
pub(crate) fn wait_for_port(port: u16, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on 127.0.0.1:{port} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; screenshots go to `shots` (created).
    pub(crate) async fn start(shots: &Path) -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: `apt-get install chromium chromium-driver` (scripts/test.sh does)"
            );
        }
        std::fs::create_dir_all(shots).expect("screenshot directory");
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that the browser it starts ends with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().expect("start chromedriver");
        let profile = tempfile::tempdir().expect("browser profile");
        // The driver is killed on drop from here on, whatever fails below.
        let mut started = StartedDriver(Some(driver));
        wait_for_port(port, Duration::from_secs(20), "chromedriver");
        let args = [
            "--headless=new".to_owned(),
            // Chromium's sandbox needs an unprivileged user; the lab tests run as root.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            format!("--window-size={WIDTH},{HEIGHT}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
        Browser {
            client,
            driver: started.0.take().expect("the driver"),
            _profile: profile,
            shots: shots.to_owned(),
        }
    }

    /// Opens `url`.
    pub(crate) async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The text of the first element `css` selects, if there is one now.
    pub(crate) async fn text_of(&self, css: &str) -> Option<String> {
        let el = self.client.find(Locator::Css(css)).await.ok()?;
        el.text().await.ok()
    }

    /// Whether an element `css` selects is on the page now.
    pub(crate) async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// The text of the first element `css` selects, which must be there.
    pub(crate) async fn text(&self, css: &str) -> String {
        match self.text_of(css).await {
            Some(t) => t,
            None => panic!(
                "no `{css}` on {}:\n{}",
                self.url().await,
                self.body_text().await
            ),
        }
    }

    /// The page's visible text (for failure messages).
    pub(crate) async fn body_text(&self) -> String {
        self.text_of("body").await.unwrap_or_default()
    }

    /// The page's address now.
    pub(crate) async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Clicks the first element `css` selects, which must be there.
    pub(crate) async fn click(&self, css: &str) {
        let el = match self.client.find(Locator::Css(css)).await {
            Ok(el) => el,
            Err(e) => panic!("no `{css}` to click on {}: {e}", self.url().await),
        };
        el.click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Types `text` into the field `css` selects.
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let el = match self.client.find(Locator::Css(css)).await {
            Ok(el) => el,
            Err(e) => panic!("no field `{css}` on {}: {e}", self.url().await),
        };
        el.clear().await.expect("clear the field");
        el.send_keys(text).await.expect("type into the field");
    }

    /// Runs `script` (a function body; `return` gives its value) in the page.
    pub(crate) async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
    }

    /// Polls `seen` every 100 ms until it gives a value; the test fails with `never` after
    /// `within`. Returns the value and how long it took.
    pub(crate) async fn until<T, F, Fut>(
        &self,
        within: Duration,
        never: &str,
        mut seen: F,
    ) -> (T, Duration)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let started = Instant::now();
        loop {
            if let Some(v) = seen().await {
                return (v, started.elapsed());
            }
            if started.elapsed() > within {
                panic!(
                    "{never} (waited {within:?}); {} shows:\n{}",
                    self.url().await,
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A screenshot of the whole page (up to [`MAX_SHOT_HEIGHT`] pixels tall) as
    /// `NAME.png` in the screenshot directory; its path. The window goes back to its size.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let height = self
            .eval("return Math.ceil(document.documentElement.scrollHeight);")
            .await
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(HEIGHT)
            .clamp(HEIGHT, MAX_SHOT_HEIGHT);
        self.client
            .set_window_size(WIDTH, height)
            .await
            .expect("resize the window");
        let png = self.client.screenshot().await.expect("screenshot");
        self.client
            .set_window_size(WIDTH, HEIGHT)
            .await
            .expect("resize the window back");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Ends the session (the browser quits) and the driver.
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        end_group(&mut self.driver);
    }
}

/// A driver that is ended on drop until it is handed over.
struct StartedDriver(Option<Child>);

impl Drop for StartedDriver {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            end_group(child);
        }
    }
}

/// SIGKILL to the process group `child` leads (the driver and the browser it started),
/// then reap it.
fn end_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}
