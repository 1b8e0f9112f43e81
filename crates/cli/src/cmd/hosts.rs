//! `fearless hosts [ping]`: the inventory, and reachability with latency.

use super::{load_inventory, only_human_or_json, print, print_json, selector};
use crate::args::{Format, Global, HostsAction, HostsArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

pub(crate) async fn run(g: &Global, a: HostsArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "hosts")?;
    let config = load_inventory(g).await?;
    let sel = selector(a.hosts.as_deref())?;
    let inv = &config.inventory;
    let hosts: Vec<&fearless_config::Host> = inv
        .hosts
        .values()
        .filter(|h| sel.as_ref().is_none_or(|s| s.matches(h, &inv.groups)))
        .collect();
    match a.action {
        None => {
            if g.format == Format::Json {
                print_json(&fearless_engine::views::HostsJson::of(&hosts))?;
            } else {
                let mut heads = vec!["HOST", "ADDRESS", "PORT", "USER", "TRANSPORT"];
                if a.source {
                    heads.extend(["SOURCE", "INSTANCE"]);
                }
                heads.push("LABELS");
                let mut t = render::table(&heads);
                for h in &hosts {
                    let labels = h
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let transport = format!("{:?}", h.transport).to_lowercase()
                        + if h.become_.is_some() { " (sudo)" } else { "" };
                    let mut row = vec![
                        h.name.clone(),
                        h.address.clone(),
                        h.port.to_string(),
                        h.user.clone(),
                        transport,
                    ];
                    if a.source {
                        row.push(h.source.to_string());
                        row.push(h.instance.clone().unwrap_or_else(|| "-".into()));
                    }
                    row.push(labels);
                    t.add_row(row);
                }
                print(&format!("{t}\n{} host(s)\n", hosts.len()))?;
            }
            Ok(Outcome::Success)
        }
        Some(HostsAction::Ping) => ping(g, &config, &hosts).await,
    }
}

async fn ping(
    g: &Global,
    config: &fearless_config::Config,
    hosts: &[&fearless_config::Host],
) -> Result<Outcome, Failure> {
    let pings = fearless_engine::fleet::ping(&config.inventory, hosts).await;
    if g.format == Format::Json {
        print_json(&fearless_engine::views::PingJson::of(&pings))?;
    } else {
        let mut t = render::table(&["HOST", "STATUS", "LATENCY", "DETAIL"]);
        for p in &pings {
            let detail = match (&p.error, &p.ssm) {
                (Some(e), _) => e.clone(),
                (None, Some(a)) => format!(
                    "ssm agent {} {}{}",
                    a.agent_version.as_deref().unwrap_or("?"),
                    a.ping_status.as_deref().unwrap_or("?"),
                    a.platform
                        .as_deref()
                        .map(|p| format!(", {p}"))
                        .unwrap_or_default()
                ),
                (None, None) => String::new(),
            };
            t.add_row(vec![
                p.host.as_str().into(),
                render::colored(
                    if p.reachable {
                        "reachable"
                    } else {
                        "unreachable"
                    },
                    Some(p.reachable),
                ),
                p.latency_ms
                    .map(|l| format!("{l:.2}ms"))
                    .unwrap_or_else(|| "-".into())
                    .into(),
                fearless_io::escape_terminal(&detail).into_owned().into(),
            ]);
        }
        let down = pings.iter().filter(|p| !p.reachable).count();
        print(&format!(
            "{t}\n{} of {} host(s) reachable\n",
            pings.len() - down,
            pings.len()
        ))?;
    }
    Ok(if pings.iter().all(|p| p.reachable) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
