//! `fearless lab …`: the disposable fleet on this machine.

use super::{only_human_or_json, print, print_json};
use crate::args::{Format, Global, LabAction, LabArgs};
use crate::exit::{Failure, Outcome};
use crate::render;
use fearless_lab::{LabError, Scenario, Topology, UpOptions};
use std::io::{IsTerminal as _, Write};
use std::path::Path;

pub(crate) async fn run(g: &Global, a: LabArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "lab")?;
    // Absolute from here on: the lab hands paths to tools that run in other directories.
    let dir = std::path::absolute(&a.dir)
        .map_err(|e| Failure::bad_input(format!("--dir {}: {e}", a.dir.display()), None))?;
    let quiet = g.quiet;
    let format = g.format;
    // The lab library is blocking (processes, mounts): keep it off the async workers.
    let job = tokio::task::spawn_blocking(move || run_blocking(&dir, a.action, quiet, format));
    job.await
        .map_err(|e| Failure::Environment(anyhow::anyhow!("lab task failed: {e}")))?
}

/// The lab's progress on stderr (nothing with `-q`). A step over many hosts keeps one line:
/// on a terminal it is rewritten in place; elsewhere a line is written when the step starts,
/// at every tenth of it and when it ends, so a 1,000-host `up` logs a dozen lines, not
/// a thousand. A step over a few units logs every one, as it always did.
pub(crate) fn progress(quiet: bool) -> impl FnMut(fearless_lab::Progress) {
    let mut lines = ProgressLines::new(std::io::stderr().is_terminal());
    move |p: fearless_lab::Progress| {
        if quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(lines.render(&p).as_bytes());
        let _ = err.flush();
    }
}

/// How many units a step may have before its lines are thinned out.
const EVERY_LINE_UP_TO: usize = 20;

/// Turns progress reports into what stderr shows.
#[derive(Debug)]
struct ProgressLines {
    terminal: bool,
    /// The step of the line being rewritten (on a terminal).
    open: Option<fearless_lab::Step>,
    /// The last tenth written of the current step (elsewhere).
    tenth: Option<(fearless_lab::Step, usize)>,
}

impl ProgressLines {
    fn new(terminal: bool) -> Self {
        Self {
            terminal,
            open: None,
            tenth: None,
        }
    }

    fn render(&mut self, p: &fearless_lab::Progress) -> String {
        let host = p
            .host
            .as_deref()
            .map(|h| format!(" {h}"))
            .unwrap_or_default();
        let count = if p.total > 0 {
            format!(" [{}/{}]", p.done, p.total)
        } else {
            String::new()
        };
        let line = format!("lab: {}{host}{count} {}", p.step, p.message);
        let many = p.total > EVERY_LINE_UP_TO;
        if self.terminal {
            // close a line left open by another step
            let close = if self.open.is_some_and(|s| s != p.step || !many) {
                "\n"
            } else {
                ""
            };
            if many && p.done < p.total {
                self.open = Some(p.step);
                return format!("{close}\r\x1b[K{line}");
            }
            let rewrite = if self.open == Some(p.step) {
                "\r\x1b[K"
            } else {
                ""
            };
            self.open = None;
            return format!("{close}{rewrite}{line}\n");
        }
        if !many {
            return format!("{line}\n");
        }
        let tenth = p.done * 10 / p.total;
        if p.done == 0 || p.done >= p.total || self.tenth != Some((p.step, tenth)) {
            self.tenth = Some((p.step, tenth));
            return format!("{line}\n");
        }
        String::new()
    }
}

fn lab_failure(e: LabError) -> Failure {
    let hint = e.hint();
    match e {
        LabError::UnknownScenario(_)
        | LabError::InvalidOptions(_)
        | LabError::HostCountMismatch { .. }
        | LabError::RpmHostMismatch { .. }
        | LabError::LightMismatch { .. }
        | LabError::UnknownHost { .. }
        | LabError::UnknownPackage { .. } => Failure::BadInput {
            message: e.to_string(),
            hint,
        },
        other => {
            let msg = match hint {
                Some(h) => anyhow::anyhow!("{other}\nhint: {h}"),
                None => anyhow::Error::new(other),
            };
            Failure::Environment(msg)
        }
    }
}

fn run_blocking(
    dir: &Path,
    action: LabAction,
    quiet: bool,
    format: Format,
) -> Result<Outcome, Failure> {
    match action {
        LabAction::Up {
            hosts,
            light,
            topology,
            cache,
            port,
            rpm_host,
        } => {
            let topology: Topology =
                topology
                    .parse()
                    .map_err(|e: fearless_lab::UnknownTopology| {
                        Failure::bad_input(e.to_string(), None)
                    })?;
            if topology == Topology::Tiered && hosts.is_some() {
                return Err(Failure::bad_input(
                    "--hosts applies to the flat topology; the tiered lab has its own five hosts",
                    Some("drop --hosts, or use --topology flat"),
                ));
            }
            let opts = UpOptions {
                dir: dir.to_owned(),
                hosts: hosts.unwrap_or(UpOptions::default().hosts),
                rpm_host,
                cache_dir: cache,
                port,
                topology,
                light,
                ..UpOptions::default()
            };
            let lab = fearless_lab::up(&opts, &mut progress(quiet)).map_err(lab_failure)?;
            if format == Format::Json {
                print_json(&LabJson {
                    schema: "fearless.lab/v1",
                    lab: &lab,
                })?;
            } else {
                print(&up_summary(&lab))?;
            }
            Ok(Outcome::Success)
        }
        LabAction::Down => {
            let report = fearless_lab::down(dir, &mut progress(quiet)).map_err(lab_failure)?;
            if format == Format::Json {
                print_json(&LabDownJson {
                    schema: "fearless.lab-down/v1",
                    report: &report,
                })?;
            } else if report.is_empty() {
                print(&format!("no lab in {}: nothing to do\n", dir.display()))?;
            } else {
                print(&format!(
                    "lab down: stopped {} process(es), unmounted {} file system(s), removed {} path(s)\n",
                    report.killed.len(),
                    report.unmounted.len(),
                    report.removed.len()
                ))?;
            }
            Ok(Outcome::Success)
        }
        LabAction::Status => {
            let st = fearless_lab::status(dir).map_err(lab_failure)?;
            if format == Format::Json {
                print_json(&LabStatusJson {
                    schema: "fearless.lab-status/v1",
                    status: &st,
                })?;
            } else if !st.present {
                print(&format!(
                    "no lab in {}\nhint: fearless lab up\n",
                    dir.display()
                ))?;
            } else {
                let mut t = render::table(&["HOST", "ADDRESS", "INIT", "SSH", "SERVICES"]);
                for h in &st.hosts {
                    let services = h
                        .services
                        .iter()
                        .map(|s| format!("{}:{}", s.name, if s.running { "up" } else { "down" }))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let name = match &h.rehearsal {
                        Some(release) => format!("{} (rehearsal, {release})", h.name),
                        None => h.name.clone(),
                    };
                    t.add_row(vec![
                        name.into(),
                        h.address.to_string().into(),
                        render::colored(
                            if h.init_alive { "running" } else { "dead" },
                            Some(h.init_alive),
                        ),
                        render::colored(
                            if h.ssh_reachable { "ok" } else { "unreachable" },
                            Some(h.ssh_reachable),
                        ),
                        services.into(),
                    ]);
                }
                print(&format!("{t}\n"))?;
            }
            Ok(if !st.present || st.healthy() {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
        LabAction::Extras { count } => {
            let pins =
                fearless_lab::publish_extras(dir, usize::from(count)).map_err(lab_failure)?;
            if format == Format::Json {
                print_json(&LabExtrasJson {
                    schema: "fearless.lab-extras/v1",
                    published: &pins,
                })?;
            } else {
                print(&format!("{}\n", pins.join("\n")))?;
            }
            Ok(Outcome::Success)
        }
        LabAction::Withdraw { package } => {
            let Some((name, version)) = package.split_once('=') else {
                return Err(Failure::bad_input(
                    format!("`{package}`: expected NAME=VERSION"),
                    Some("e.g. fearless lab withdraw acme-api=1.0"),
                ));
            };
            let removed = fearless_lab::withdraw(dir, name, version).map_err(lab_failure)?;
            if format == Format::Json {
                print_json(&LabWithdrawJson {
                    schema: "fearless.lab-withdraw/v1",
                    withdrawn: &package,
                    removed: &removed,
                })?;
            } else {
                print(&format!(
                    "withdrew {package}: {} file(s) removed from the lab repositories\n",
                    removed.len()
                ))?;
            }
            Ok(Outcome::Success)
        }
        LabAction::Publish { scenario } => {
            let scenario: Scenario = scenario
                .parse()
                .map_err(|e: fearless_lab::UnknownScenario| lab_failure(e.into()))?;
            let report = fearless_lab::publish(dir, scenario).map_err(lab_failure)?;
            if format == Format::Json {
                print_json(&LabPublishJson {
                    schema: "fearless.lab-publish/v1",
                    report: &report,
                })?;
            } else {
                let added = report
                    .added
                    .iter()
                    .map(|p| format!("{}={}", p.name, p.version))
                    .collect::<Vec<_>>()
                    .join(", ");
                print(&format!(
                    "published {}: {} new package version(s){}\nhint: hosts see them after `apt-get update`{}\n",
                    report.scenario,
                    report.added.len(),
                    if added.is_empty() {
                        String::new()
                    } else {
                        format!(" ({added})")
                    },
                    if report.rpm_repo.is_some() {
                        "; rpm-1 at its next `dnf upgrade`"
                    } else {
                        ""
                    }
                ))?;
            }
            Ok(Outcome::Success)
        }
        LabAction::Ssh { host, command } => {
            let mut argv = fearless_lab::ssh_argv(dir, &host).map_err(lab_failure)?;
            if !command.is_empty() {
                // ssh joins its arguments with spaces for the remote shell: quote them so
                // the command arrives exactly as typed here.
                let line = fearless_exec::quote::shell_join(&command)
                    .map_err(|e| Failure::bad_input(e.to_string(), None))?;
                argv.push("--".into());
                argv.push(line.into());
            }
            let Some((program, args)) = argv.split_first() else {
                return Err(Failure::Environment(anyhow::anyhow!("empty ssh command")));
            };
            let status = std::process::Command::new(program)
                .args(args)
                .status()
                .map_err(|e| Failure::Environment(anyhow::anyhow!("cannot run ssh: {e}")))?;
            // Like ssh itself: the remote command's exit code (255 when ssh could not connect).
            Ok(match status.code() {
                Some(0) => Outcome::Success,
                Some(code) => Outcome::PassThrough(u8::try_from(code).unwrap_or(1)),
                None => Outcome::Failed,
            })
        }
    }
}

/// Up to this many hosts, `lab up` prints a table of them; past it, their range.
const HOST_TABLE_UP_TO: usize = 20;

/// What `lab up` prints: the hosts (a table, or their range for a large lab), the bring-up
/// time and what the hosts take in memory, and what to run next.
fn up_summary(lab: &fearless_lab::Lab) -> String {
    let mut out = if lab.hosts.len() <= HOST_TABLE_UP_TO {
        let mut t = render::table(&["HOST", "ADDRESS", "PACKAGES", "RUNS"]);
        for h in &lab.hosts {
            let runs: Vec<&str> = h.role.http_services().iter().map(|(s, _)| *s).collect();
            t.add_row(vec![
                h.name.clone(),
                format!("{}:{}", h.address, lab.port),
                h.packaging.name().to_owned(),
                if runs.is_empty() {
                    "sshd only".to_owned()
                } else {
                    runs.join(", ")
                },
            ]);
        }
        if let Some(payments) = lab.payments {
            t.add_row(vec![
                "(payments)".to_owned(),
                payments.to_string(),
                "-".to_owned(),
                "payments provider, outside the inventory".to_owned(),
            ]);
        }
        format!("{t}\n")
    } else {
        match (lab.hosts.first(), lab.hosts.last()) {
            (Some(first), Some(last)) => format!(
                "hosts: {} … {} on {} … {}, port {}\n",
                first.name, last.name, first.address, last.address, lab.port
            ),
            _ => String::new(),
        }
    };
    let state = if lab.already_running {
        "already running"
    } else {
        "up"
    };
    let kind = if lab.light { " light" } else { "" };
    out.push_str(&format!(
        "lab {state}: {}{kind} host(s) in {}\n",
        lab.hosts.len(),
        lab.dir.display()
    ));
    if let Some(b) = lab.bring_up {
        out.push_str(&format!(
            "bring-up: {:.1} s for the hosts ({} at a time), {:.1} s in all\n",
            b.hosts_secs, b.workers, b.total_secs
        ));
    }
    let f = &lab.footprint;
    if f.hosts > 0 {
        out.push_str(&format!(
            "memory per host: {} PSS, {} RSS ({} processes; in all {} PSS, {} RSS)\n",
            mib(f.pss_per_host()),
            mib(f.rss_per_host()),
            f.processes,
            mib(f.pss_bytes),
            mib(f.rss_bytes)
        ));
    }
    out.push_str(&format!(
        "hint: fearless check -c {}\n",
        lab.config.display()
    ));
    out
}

/// Bytes as MiB with one decimal.
fn mib(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a figure for people")]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.1} MiB")
}

/// `lab up --format json`: the lab's state, with its schema.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LabJson<'a> {
    /// `fearless.lab/v1`.
    #[schemars(extend("const" = "fearless.lab/v1"))]
    schema: &'static str,
    /// The lab (as its `state.json` records it).
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    lab: &'a fearless_lab::Lab,
}

/// `lab down --format json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LabDownJson<'a> {
    /// `fearless.lab-down/v1`.
    #[schemars(extend("const" = "fearless.lab-down/v1"))]
    schema: &'static str,
    /// What was stopped and removed.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    report: &'a fearless_lab::DownReport,
}

/// `lab status --format json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LabStatusJson<'a> {
    /// `fearless.lab-status/v1`.
    #[schemars(extend("const" = "fearless.lab-status/v1"))]
    schema: &'static str,
    /// The lab's hosts and services.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    status: &'a fearless_lab::LabStatus,
}

/// `lab publish --format json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LabPublishJson<'a> {
    /// `fearless.lab-publish/v1`.
    #[schemars(extend("const" = "fearless.lab-publish/v1"))]
    schema: &'static str,
    /// What was published.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    report: &'a fearless_lab::PublishReport,
}

/// `lab extras --format json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LabExtrasJson<'a> {
    /// `fearless.lab-extras/v1`.
    #[schemars(extend("const" = "fearless.lab-extras/v1"))]
    schema: &'static str,
    /// The pins published (`name=version`).
    published: &'a [String],
}

/// `lab withdraw --format json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LabWithdrawJson<'a> {
    /// `fearless.lab-withdraw/v1`.
    #[schemars(extend("const" = "fearless.lab-withdraw/v1"))]
    schema: &'static str,
    /// The package withdrawn (`name=version`).
    withdrawn: &'a str,
    /// The files removed.
    #[schemars(with = "Vec<String>")]
    removed: &'a [std::path::PathBuf],
}

#[cfg(test)]
mod tests {
    use super::ProgressLines;
    use fearless_lab::{Progress, Step};

    fn report(step: Step, done: usize, total: usize) -> Progress {
        Progress {
            step,
            host: Some(format!("web-{done}")),
            done,
            total,
            message: "m".into(),
        }
    }

    #[test]
    fn a_thousand_hosts_log_a_dozen_lines_off_a_terminal() {
        let mut lines = ProgressLines::new(false);
        let text: String = (0..=1000)
            .map(|done| lines.render(&report(Step::StartHost, done, 1000)))
            .collect();
        assert_eq!(text.lines().count(), 11, "{text}");
        assert!(
            text.starts_with("lab: start host web-0 [0/1000] m\n"),
            "{text}"
        );
        assert!(
            text.ends_with("lab: start host web-1000 [1000/1000] m\n"),
            "{text}"
        );
        // a few units: every one, as before
        let few: String = (0..=3)
            .map(|done| lines.render(&report(Step::InstallPackages, done, 3)))
            .collect();
        assert_eq!(few.lines().count(), 4, "{few}");
    }

    #[test]
    fn on_a_terminal_a_long_step_rewrites_one_line() {
        let mut lines = ProgressLines::new(true);
        let mut text: String = (0..=100)
            .map(|done| lines.render(&report(Step::StartHost, done, 100)))
            .collect();
        text.push_str(&lines.render(&report(Step::WriteConfig, 0, 1)));
        assert_eq!(text.matches('\n').count(), 2, "{text:?}");
        assert_eq!(text.matches("\r\x1b[K").count(), 101, "{text:?}");
        assert!(
            text.ends_with("[100/100] m\nlab: write config web-0 [0/1] m\n"),
            "{text:?}"
        );
        // a step cut short by another closes its line first
        let mut lines = ProgressLines::new(true);
        let cut = format!(
            "{}{}",
            lines.render(&report(Step::StartHost, 5, 100)),
            lines.render(&report(Step::StopHost, 0, 3))
        );
        assert!(cut.contains("[5/100] m\nlab: stop host"), "{cut:?}");
    }
}
