//! `fearless demo`: the whole story on a lab, end to end, narrated. A lab comes up; a batch
//! with a bad library is published; a change requested by one person and approved by
//! another is patched; the canary fails, is rolled back and bisected; the post-incident
//! report names the package; the fix is published and patched through every wave; the
//! changes are reviewed and closed.
//!
//! Every step is the same `fearless` command a person would type, run as a child process
//! (argv, never a shell) with its output on the terminal; the demo checks what each one
//! must show and exits 0 only when the whole story held.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::args::{DemoArgs, Global};
use crate::exit::{Failure, Outcome};

/// One way the story can go wrong.
#[derive(Debug)]
struct Broken(String);

type Step<T> = Result<T, Broken>;

pub(crate) async fn run(g: &Global, a: DemoArgs) -> Result<Outcome, Failure> {
    let exe = std::env::current_exe().map_err(|e| {
        Failure::Environment(anyhow::anyhow!("cannot find the fearless binary: {e}"))
    })?;
    let dir = std::path::absolute(&a.dir)
        .map_err(|e| Failure::bad_input(format!("--dir {}: {e}", a.dir.display()), None))?;
    if dir.join("state.json").exists() {
        return Err(Failure::bad_input(
            format!("a lab is already up in {}", dir.display()),
            Some(&format!(
                "take it down first (`fearless lab down --dir {}`), or use another --dir",
                dir.display()
            )),
        ));
    }
    super::duration("--bake", &a.bake, "e.g. 2s")?;
    // A fresh store, so the story's ids start at 1; an earlier one is kept aside.
    let store = dir.join(".fearless/state.db");
    if store.exists() {
        let aside = dir.join(format!(
            ".fearless/state-{}.db",
            jiff::Timestamp::now().as_second()
        ));
        std::fs::rename(&store, &aside).map_err(|e| {
            Failure::Environment(anyhow::anyhow!(
                "cannot move the earlier store {} aside: {e}",
                store.display()
            ))
        })?;
        say(
            g,
            &format!("an earlier store was moved to {}", aside.display()),
        );
    }
    let demo = Demo {
        exe,
        dir: dir.clone(),
        config: dir.join("fearless.yaml"),
        quiet: g.quiet,
    };
    // A lab that cannot come up is the environment's doing (root, tools), not the story's.
    if let Err(Broken(why)) = demo.up(&a) {
        return Err(Failure::Environment(anyhow::anyhow!(
            "{why}: the demo needs a lab (root, a Debian or Ubuntu machine; see `fearless lab up`)"
        )));
    }
    match demo.story(&a) {
        Ok(()) => Ok(Outcome::Success),
        Err(Broken(why)) => {
            say(g, "");
            say(g, &format!("THE STORY DID NOT HOLD: {why}"));
            say(
                g,
                &format!(
                    "the lab is still up for a look (fearless -c {} …); `fearless lab down --dir {}` removes it",
                    demo.config.display(),
                    dir.display()
                ),
            );
            Ok(Outcome::Failed)
        }
    }
}

fn say(g: &Global, text: &str) {
    narrate(g.quiet, text);
}

#[expect(clippy::print_stderr, reason = "the narration is the demo's output")]
fn narrate(quiet: bool, text: &str) {
    if !quiet {
        eprintln!("{text}");
    }
}

struct Demo {
    exe: PathBuf,
    dir: PathBuf,
    config: PathBuf,
    quiet: bool,
}

/// What a child printed on stdout, and how it exited.
struct Ran {
    code: Option<i32>,
    stdout: String,
}

impl Demo {
    fn chapter(&self, title: &str) {
        narrate(self.quiet, &format!("\n━━ {title}"));
    }

    /// Run `fearless ARGS` as `who`; its output goes to the terminal, or is captured and
    /// returned when `capture` (JSON for the demo's own checks).
    fn fearless(&self, who: Option<&str>, args: &[&str], capture: bool) -> Step<Ran> {
        let mut argv: Vec<String> = Vec::new();
        if args.first().is_none_or(|a| *a != "lab") {
            argv.extend(["-c".into(), self.config.display().to_string()]);
        }
        if let Some(w) = who {
            argv.extend(["--as".into(), w.into()]);
        }
        argv.extend(args.iter().map(|s| (*s).to_owned()));
        if !capture {
            narrate(
                self.quiet,
                &format!(
                    "$ fearless {}",
                    args.iter()
                        .map(|a| if a.contains(' ') {
                            format!("'{a}'")
                        } else {
                            (*a).to_owned()
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        }
        let mut cmd = Command::new(&self.exe);
        cmd.args(&argv).stdin(Stdio::null());
        if self.quiet {
            cmd.arg("-q");
        }
        if capture {
            let out = cmd
                .stderr(if self.quiet {
                    Stdio::null()
                } else {
                    Stdio::inherit()
                })
                .output()
                .map_err(|e| Broken(format!("cannot run fearless: {e}")))?;
            Ok(Ran {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            })
        } else {
            if self.quiet {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
            let status = cmd
                .status()
                .map_err(|e| Broken(format!("cannot run fearless: {e}")))?;
            Ok(Ran {
                code: status.code(),
                stdout: String::new(),
            })
        }
    }

    /// Run and require exit `code`.
    fn expect(&self, who: Option<&str>, args: &[&str], code: i32) -> Step<()> {
        let ran = self.fearless(who, args, false)?;
        if ran.code == Some(code) {
            Ok(())
        } else {
            Err(Broken(format!(
                "`fearless {}` exited {:?}, the story needs {code}",
                args.join(" "),
                ran.code
            )))
        }
    }

    /// Run with `--format json`, quietly, and parse.
    fn json(&self, who: Option<&str>, args: &[&str]) -> Step<Value> {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let ran = self.fearless(who, &all, true)?;
        if ran.code != Some(0) {
            return Err(Broken(format!(
                "`fearless {}` exited {:?}",
                args.join(" "),
                ran.code
            )));
        }
        serde_json::from_str(&ran.stdout).map_err(|e| {
            Broken(format!(
                "`fearless {}` printed no JSON: {e}",
                args.join(" ")
            ))
        })
    }

    /// Bring the lab up (the story starts once it is).
    fn up(&self, a: &DemoArgs) -> Step<()> {
        let dir = self.dir.display().to_string();
        let hosts = a.hosts.to_string();
        self.chapter(&format!(
            "a lab fleet of {hosts} Debian hosts on this machine, with sshd, apt and the acme shop"
        ));
        self.expect(None, &["lab", "up", "--dir", &dir, "--hosts", &hosts], 0)
    }

    fn new_change(&self, title: &str) -> Step<String> {
        self.chapter(&format!("alice requests a change: {title}"));
        let created = self.json(
            Some("alice"),
            &[
                "change",
                "new",
                "--title",
                title,
                "--hosts",
                "web-*",
                "--component",
                "orders-api",
                "--component",
                "checkout",
            ],
        )?;
        let id = match created["number"].as_u64() {
            Some(n) => format!("CHG-{n}"),
            None => return Err(Broken(format!("`change new` printed no number: {created}"))),
        };
        narrate(self.quiet, &format!("{id} created by alice"));
        self.expect(Some("alice"), &["change", "submit", &id], 0)?;
        self.chapter(&format!(
            "alice may not approve her own change; bob approves {id}"
        ));
        self.expect(Some("alice"), &["change", "approve", &id], 1)?;
        self.expect(Some("bob"), &["change", "approve", &id], 0)?;
        self.expect(Some("alice"), &["change", "schedule", &id], 0)?;
        Ok(id)
    }

    /// `name=version` of every update web-1 is offered (its lists refreshed).
    fn pending(&self) -> Step<Vec<String>> {
        let doc = self.json(None, &["packages", "--pending", "--hosts", "web-1"])?;
        Ok(doc["hosts"][0]["pending"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some(format!("{}={}", p["name"].as_str()?, p["to"].as_str()?)))
            .collect())
    }

    /// Require change `id` closed with close code `code`.
    fn closed(&self, id: &str, code: &str) -> Step<()> {
        let shown = self.json(None, &["change", "show", id])?;
        if shown["state"] != "closed" || shown["close_code"] != code {
            return Err(Broken(format!(
                "{id} should be closed {code}: {} {}",
                shown["state"], shown["close_code"]
            )));
        }
        Ok(())
    }

    fn story(&self, a: &DemoArgs) -> Step<()> {
        let dir = self.dir.display().to_string();
        self.expect(None, &["check"], 0)?;

        self.chapter(
            "the vendor publishes this month's updates: nine routine ones and libacme 2.0",
        );
        self.expect(None, &["lab", "publish", "bad-libacme", "--dir", &dir], 0)?;
        self.expect(None, &["packages", "--pending", "--hosts", "web-1"], 0)?;
        let pending = self.pending()?;
        if pending.len() != 10 || !pending.iter().any(|p| p == "libacme=2.0") {
            return Err(Broken(format!(
                "web-1 should be offered ten updates with libacme 2.0 among them, not {pending:?}"
            )));
        }

        let first = self.new_change("Monthly patch: acme shop")?;
        self.chapter(&format!(
            "alice patches {first} in canary waves gated by the test plan"
        ));
        self.expect(
            Some("alice"),
            &[
                "patch",
                "--change",
                &first,
                "--waves",
                "1,50%,100%",
                "--bake",
                &a.bake,
            ],
            1,
        )?;
        let incidents = self.json(None, &["incident", "list"])?;
        let incident = incidents["incidents"]
            .as_array()
            .and_then(|all| all.iter().find(|i| i["record"]["change"] == first.as_str()))
            .ok_or_else(|| Broken(format!("the failed rollout of {first} opened no incident")))?;
        let inc = incident["incident"]
            .as_str()
            .ok_or_else(|| Broken(format!("the incident has no id: {incident}")))?
            .to_owned();
        let culprits = &incident["record"]["bisect"]["report"]["verdict"]["packages"];
        if culprits != &serde_json::json!(["libacme"]) {
            return Err(Broken(format!(
                "the canary's bisect should name libacme alone, it said {culprits}"
            )));
        }
        let rollout = incident["record"]["rollout"]
            .as_str()
            .ok_or_else(|| Broken(format!("{inc} names no rollout")))?
            .to_owned();
        let shown = self.json(None, &["rollout", "show", &rollout])?;
        let touched: Vec<(&str, &str)> = shown["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["state"] != "pending")
            .filter_map(|h| Some((h["host"].as_str()?, h["state"].as_str()?)))
            .collect();
        if touched != [("web-1", "rolled-back")] {
            return Err(Broken(format!(
                "only the canary web-1 may have been touched, and rolled back: {touched:?}"
            )));
        }
        // Rolled back to its snapshot: not one package differs from it.
        let snapshot = shown["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["host"] == "web-1")
            .and_then(|h| h["snapshot"].as_str())
            .ok_or_else(|| Broken(format!("{rollout} recorded no snapshot of web-1")))?
            .to_owned();
        let diff = self.json(
            None,
            &["snapshot", "diff", &snapshot, "--live", "--hosts", "web-1"],
        )?;
        let differences: usize = ["added", "removed", "upgraded", "downgraded"]
            .iter()
            .map(|k| {
                diff["hosts"][0]["diff"][k]
                    .as_array()
                    .map_or(usize::MAX, Vec::len)
            })
            .sum();
        if differences != 0 {
            return Err(Broken(format!(
                "web-1 should be back on {snapshot} exactly: {diff}"
            )));
        }

        self.chapter(&format!(
            "the post-incident report of {inc}, written by fearless"
        ));
        let md = self.dir.join(format!("{inc}.md"));
        let html = self.dir.join(format!("{inc}.html"));
        let line = self.fearless(
            Some("alice"),
            &[
                "rca",
                &inc,
                "--format",
                "html",
                "-o",
                &html.display().to_string(),
            ],
            true,
        )?;
        if line.code != Some(0) {
            return Err(Broken(format!(
                "`fearless rca {inc} --format html` exited {:?}",
                line.code
            )));
        }
        self.expect(
            Some("alice"),
            &[
                "rca",
                &inc,
                "--format",
                "md",
                "-o",
                &md.display().to_string(),
            ],
            0,
        )?;
        let report = std::fs::read_to_string(&md)
            .map_err(|e| Broken(format!("cannot read the report {}: {e}", md.display())))?;
        print_report(self.quiet, &report);
        let attribution = line.stdout.trim().to_owned();
        for must in [
            "libacme 1.0 → 2.0",
            "orders-api",
            "confirmed by bisect",
            "service restored",
        ] {
            if !attribution.contains(must) {
                return Err(Broken(format!(
                    "the attribution should say `{must}`: {attribution}"
                )));
            }
        }
        self.expect(
            Some("alice"),
            &[
                "change",
                "review",
                &first,
                "--notes",
                &format!("{attribution} Report: {}", md.display()),
            ],
            0,
        )?;
        self.expect(Some("alice"), &["change", "close", &first], 0)?;
        self.closed(&first, "backed-out")?;

        self.chapter("the vendor ships libacme 2.0.1, compatible again");
        self.expect(None, &["lab", "publish", "fixed-libacme", "--dir", &dir], 0)?;
        if !self.pending()?.iter().any(|p| p == "libacme=2.0.1") {
            return Err(Broken("web-1 should be offered libacme 2.0.1".into()));
        }
        let second = self.new_change("Monthly patch, take two: libacme 2.0.1")?;
        self.chapter(&format!("alice patches {second}: every wave passes"));
        self.expect(
            Some("alice"),
            &[
                "patch",
                "--change",
                &second,
                "--waves",
                "1,50%,100%",
                "--bake",
                &a.bake,
            ],
            0,
        )?;
        self.expect(
            Some("alice"),
            &[
                "incident",
                "resolve",
                &inc,
                "--note",
                &format!("libacme 2.0.1 shipped by {second}"),
            ],
            0,
        )?;
        self.expect(
            Some("alice"),
            &["change", "review", &second, "--notes", "every wave passed"],
            0,
        )?;
        self.expect(Some("alice"), &["change", "close", &second], 0)?;
        self.closed(&second, "successful")?;
        let resolved = self.json(None, &["incident", "show", &inc])?;
        if resolved["state"] != "resolved" {
            return Err(Broken(format!(
                "{inc} should be resolved: {}",
                resolved["state"]
            )));
        }
        self.expect(None, &["check"], 0)?;

        self.chapter("the story held");
        let c = self.config.display();
        narrate(
            self.quiet,
            &format!(
                "report:   {} (and {})\nstate:    sqlite {} — `fearless -c {c} change show {first}`, `fearless -c {c} journal verify`\nlab:      still up; `fearless lab down --dir {dir}` removes it",
                md.display(),
                html.display(),
                self.dir.join(".fearless/state.db").display(),
            ),
        );
        Ok(())
    }
}

fn print_report(quiet: bool, text: &str) {
    if !quiet {
        // A closed stdout only loses the copy on the terminal; the file has it.
        let _ = super::print(text);
    }
}
