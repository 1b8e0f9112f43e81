//! `fearless init`: a starter `fearless.yaml` for the user's own fleet. The engine writes
//! the text ([`fearless_engine::init`]); this module gathers the hosts (flags, or one
//! question when stdin is a terminal), pings them, drafts components from the reachable
//! ones with `discover`, writes the file and prints the next three commands.
//!
//! Nothing is asked when stdin is not a terminal; an existing file is never replaced
//! without `--force` (and then kept as `FILE.bak`); unreachable hosts are reported, not
//! fatal: the configuration is written anyway.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use fearless_engine::discover::components_yaml;
use fearless_engine::fleet::Ping;
use fearless_engine::init::{HostSpec, Source, Starter, path_in_config};
use fearless_engine::map::ObserveRequest;
use fearless_io::Escaped;
use serde::Serialize;

use super::{Session, duration, only_human_or_json, print, print_json, writable, write_output};
use crate::args::{Format, Global, InitArgs};
use crate::exit::{Failure, Outcome};

pub(crate) async fn run(g: &Global, a: InitArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "init")?;
    let target = a
        .output
        .clone()
        .or_else(|| g.config.clone())
        .unwrap_or_else(|| PathBuf::from("fearless.yaml"));
    if target.exists() && !a.force {
        return Err(Failure::bad_input(
            format!(
                "{} exists: init does not replace a configuration",
                Escaped(&target.to_string_lossy())
            ),
            Some("pass --force to replace it (the old one is kept as FILE.bak), or -o OTHER"),
        ));
    }
    writable(&target)?;
    let window = duration("--for", &a.window, "10s")?;
    let cwd = std::env::current_dir().map_err(|e| {
        Failure::Environment(anyhow::anyhow!("cannot read the working directory: {e}"))
    })?;
    let config_dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let (source, asked) = source(&a, &cwd, &config_dir)?;
    let starter = Starter {
        source,
        user: a.user.clone(),
        port: a.port,
        ssh_config: a
            .ssh_config
            .as_deref()
            .map(|p| path_in_config(&cwd, &config_dir, p)),
        accept_new_host_keys: a.accept_new_host_keys,
        asked,
    };
    starter.check().map_err(|e| Failure::bad_input(e, None))?;

    // The starter as it will be written: it must load (an Ansible inventory's problems are
    // reported here, located in the inventory).
    let plain = starter.yaml(None);
    let mut config = fearless_config::load_str(&target, plain.clone())
        .map_err(Failure::Config)?
        .config;
    // EC2's hosts, asked now (unless offline) so they can be pinged and drafted from;
    // the file keeps the source, not the hosts.
    let mut discovery_notes = Vec::new();
    if !a.offline && !config.inventory.ec2.is_empty() {
        match fearless_engine::inventory::discover(&mut config, None, true).await {
            Ok(reports) => {
                for r in reports {
                    for (id, why) in r.skipped {
                        discovery_notes.push(format!("instance {id} is not a host: {why}"));
                    }
                }
            }
            Err(e) => discovery_notes.push(format!(
                "EC2 discovery failed, the configuration is written anyway: {e}"
            )),
        }
    }
    let hosts: Vec<&fearless_config::Host> = config.inventory.hosts.values().collect();
    let mut report = Report {
        schema: "fearless.init/v1",
        written: target.display().to_string(),
        kept: None,
        hosts: hosts.len(),
        pings: Vec::new(),
        observation: None,
        components: Vec::new(),
        notes: discovery_notes,
        next: Vec::new(),
    };
    let mut text = plain;
    if a.offline {
        report
            .notes
            .push("offline: no host was contacted and no component drafted".into());
    } else if hosts.is_empty() {
        report.notes.push("the inventory has no host".into());
    } else {
        report.pings = fearless_engine::fleet::ping(&config.inventory, &hosts).await;
        let reachable: Vec<String> = report
            .pings
            .iter()
            .filter(|p| p.reachable)
            .map(|p| p.host.clone())
            .collect();
        if reachable.is_empty() {
            report
                .notes
                .push("no host answered, so no component was drafted".into());
        } else {
            match draft(g, config.clone(), &reachable, window).await {
                Ok((observation, section, names)) => {
                    let drafted = starter.yaml(Some(&section));
                    match fearless_config::load_str(&target, drafted.clone()) {
                        Ok(_) => {
                            text = drafted;
                            report.observation = Some(observation);
                            report.components = names;
                        }
                        Err(e) => report.notes.push(format!(
                            "the drafted components did not load, so none were written: {e}"
                        )),
                    }
                }
                Err(e) => report
                    .notes
                    .push(format!("no component was drafted: {}", failure_text(&e))),
            }
        }
    }

    if target.exists() {
        let backup = PathBuf::from(format!("{}.bak", target.display()));
        writable(&backup)?;
        std::fs::copy(&target, &backup).map_err(|e| {
            Failure::Environment(anyhow::anyhow!(
                "cannot keep the old configuration as {}: {e}",
                backup.display()
            ))
        })?;
        report.kept = Some(backup.display().to_string());
    }
    write_output(&target, text.as_bytes())?;
    report.next = next_commands(&target, &report);

    if g.format == Format::Json {
        print_json(&report)?;
    } else {
        print(&human(&report))?;
    }
    Ok(Outcome::Success)
}

/// What `init` did, as `--format json` prints it.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Report {
    #[schemars(extend("const" = "fearless.init/v1"))]
    schema: &'static str,
    /// The configuration written.
    written: String,
    /// Where the configuration it replaced was kept (`--force`).
    kept: Option<String>,
    /// Hosts in the inventory.
    hosts: usize,
    /// Each host's answer (empty when offline).
    pings: Vec<Ping>,
    /// The observation the components were drafted from (`OBS-N`).
    #[schemars(pattern(r"^OBS-[0-9]+$"))]
    observation: Option<String>,
    /// The components drafted.
    components: Vec<String>,
    /// What the reader should know.
    notes: Vec<String>,
    /// The commands to run next.
    next: Vec<String>,
}

/// Where the hosts come from: the flags, else one question on a terminal.
fn source(a: &InitArgs, cwd: &Path, config_dir: &Path) -> Result<(Source, String), Failure> {
    if let Some(list) = &a.hosts {
        let hosts = HostSpec::parse_list(list).map_err(|e| {
            Failure::bad_input(
                format!("--hosts: {e}"),
                Some("--hosts web-1,web-2=10.0.1.12: a name, or NAME=ADDRESS"),
            )
        })?;
        return Ok((Source::Hosts(hosts), format!("--hosts {list}")));
    }
    if let Some(path) = &a.ansible {
        return ansible(path, cwd, config_dir);
    }
    if let Some(region) = &a.ec2 {
        let mut filters = Vec::new();
        for f in &a.ec2_filter {
            let Some((name, value)) = f.split_once('=') else {
                return Err(Failure::bad_input(
                    format!("--ec2-filter {}: expected NAME=VALUE", Escaped(f)),
                    Some("--ec2-filter tag:role=web --ec2-filter instance-state-name=running"),
                ));
            };
            filters.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let mut asked = format!("--ec2 {region}");
        for f in &a.ec2_filter {
            asked.push_str(&format!(" --ec2-filter {f}"));
        }
        return Ok((
            Source::Ec2 {
                region: region.clone(),
                filters,
                endpoint_url: a.ec2_endpoint.clone(),
                transport: a.transport.clone(),
            },
            asked,
        ));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input(
            "init needs the hosts: --hosts LIST, --ansible FILE or --ec2 REGION (stdin is not a terminal, so nothing is asked)",
            Some(
                "fearless init --hosts web-1,web-2=10.0.1.12   or   fearless init --ansible inventory/hosts.ini",
            ),
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "Which hosts? An Ansible inventory file, or NAME[=ADDRESS] names separated by commas:\n> "
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Environment(anyhow::anyhow!("cannot read the answer: {e}")))?;
    let answer = line.trim();
    if answer.is_empty() {
        return Err(Failure::bad_input("no hosts given", None));
    }
    if Path::new(answer).is_file() {
        return ansible(Path::new(answer), cwd, config_dir);
    }
    let hosts = HostSpec::parse_list(answer)
        .map_err(|e| Failure::bad_input(format!("hosts: {e}"), None))?;
    Ok((Source::Hosts(hosts), format!("the hosts {answer}")))
}

fn ansible(path: &Path, cwd: &Path, config_dir: &Path) -> Result<(Source, String), Failure> {
    if !path.is_file() {
        return Err(Failure::bad_input(
            format!(
                "--ansible {}: no such file",
                Escaped(&path.to_string_lossy())
            ),
            None,
        ));
    }
    Ok((
        Source::Ansible(path_in_config(cwd, config_dir, path)),
        format!("the Ansible inventory {}", path.display()),
    ))
}

/// Observe the reachable hosts and draft their components: the observation's id, the
/// `components:` section and the names drafted.
async fn draft(
    g: &Global,
    mut config: fearless_config::Config,
    reachable: &[String],
    window: std::time::Duration,
) -> Result<(String, String, Vec<String>), Failure> {
    config
        .inventory
        .hosts
        .retain(|name, _| reachable.contains(name));
    let session = Session::with_config(g, config).await?;
    let request = ObserveRequest {
        hosts: None,
        window,
        interval: std::time::Duration::from_millis(500),
    };
    let found = match session.acting() {
        Ok(engine) => engine.discover(&request).await.map_err(Failure::from),
        Err(e) => Err(e),
    };
    session.close().await;
    let found = found?;
    Ok((
        found.observation.id(),
        components_yaml(&found.draft),
        found
            .draft
            .components
            .iter()
            .map(|c| c.name.clone())
            .collect(),
    ))
}

fn failure_text(f: &Failure) -> String {
    match f {
        Failure::BadInput { message, .. } | Failure::Gate { message, .. } => message.clone(),
        Failure::Config(e) => e.to_string(),
        Failure::Environment(e) => format!("{e:#}"),
        Failure::BrokenPipe => "broken pipe".into(),
    }
}

/// The three commands a user runs next, with `-c FILE` unless the file is the default.
fn next_commands(target: &Path, report: &Report) -> Vec<String> {
    let default =
        target == Path::new("fearless.yaml") && std::env::var_os("FEARLESS_CONFIG").is_none();
    let c = if default {
        String::new()
    } else {
        match fearless_exec::quote::shell_join(&[target.to_string_lossy()]) {
            Ok(quoted) => format!(" -c {quoted}"),
            Err(_) => " -c FILE".into(),
        }
    };
    let mut next = Vec::new();
    if report.pings.iter().any(|p| !p.reachable) || report.pings.is_empty() {
        next.push(format!("fearless{c} hosts ping"));
    }
    if report.components.is_empty() {
        next.push(format!("fearless{c} discover -o draft.yaml"));
    } else {
        next.push(format!("fearless{c} check"));
    }
    next.push(format!("fearless{c} map"));
    next.push(format!("fearless{c} packages --pending"));
    next.truncate(3);
    next
}

fn human(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = format!("wrote {} ({} host(s)", Escaped(&r.written), r.hosts);
    match &r.observation {
        Some(obs) => {
            let _ = write!(
                out,
                ", {} component(s) drafted from {obs}: {})",
                r.components.len(),
                r.components.join(", ")
            );
        }
        None => out.push(')'),
    }
    out.push('\n');
    if let Some(kept) = &r.kept {
        let _ = writeln!(out, "the file it replaced is kept as {}", Escaped(kept));
    }
    if !r.pings.is_empty() {
        let up = r.pings.iter().filter(|p| p.reachable).count();
        let _ = writeln!(out, "{up} of {} host(s) reachable", r.pings.len());
        for p in r.pings.iter().filter(|p| !p.reachable) {
            let _ = writeln!(
                out,
                "  {}: {}",
                p.host,
                Escaped(p.error.as_deref().unwrap_or("unreachable"))
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {}", Escaped(n));
    }
    out.push_str("next:\n");
    for n in &r.next {
        let _ = writeln!(out, "  {n}");
    }
    out
}
