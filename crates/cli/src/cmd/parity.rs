//! `fearless parity A B`: how the hosts of two selectors differ — OS releases, packages on
//! one side only, version skew with the newer side, listening ports and components on
//! one side only (`fearless-engine::parity` reads, `fearless-platform::parity` compares).
//! Exit 1 when anything outside `parity.ignore` differs; 3 when a host could not be read
//! (a partial comparison is never called parity).

use fearless_engine::parity as engine_parity;
use fearless_platform::Parity;
use fearless_platform::parity::Side;
use schemars::JsonSchema;
use serde::Serialize;

use super::{HostMessage, load_inventory, only_human_or_json, print, print_json};
use crate::args::{Format, Global, ParityArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

pub(crate) async fn run(g: &Global, a: ParityArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "parity")?;
    let parse = |which: &str, text: &str| {
        fearless_config::Selector::parse(text).map_err(|e| {
            Failure::bad_input(
                format!("side {which}: {e}"),
                Some("selectors: all, NAME, web-*, env=prod, group:NAME; comma = AND"),
            )
        })
    };
    let (sa, sb) = (parse("A", &a.a)?, parse("B", &a.b)?);
    let config = load_inventory(g).await?;
    let sides = engine_parity::sides(&config, &sa, &sb, std::time::Duration::from_secs(120))?;
    let facts = engine_parity::facts(&config, &sides).await;
    let ignore = engine_parity::ignore_of(&config);
    let parity = engine_parity::compare(&sides, &facts, &ignore);
    let errors: Vec<(String, String)> = facts
        .iter()
        .filter_map(|(h, r)| r.as_ref().err().map(|e| (h.clone(), e.to_string())))
        .collect();
    let (hosts_a, hosts_b) = (sides.a.clone(), sides.b.clone());
    sides.fleet.close().await;
    let ignore_list: Vec<String> = config
        .parity
        .ignore
        .iter()
        .map(ToString::to_string)
        .collect();

    if g.format == Format::Json {
        print_json(&ParityJson {
            schema: "fearless.parity/v1",
            a: SideJson {
                selector: &a.a,
                hosts: &hosts_a,
            },
            b: SideJson {
                selector: &a.b,
                hosts: &hosts_b,
            },
            ignore: &ignore_list,
            differences: parity.differences(),
            ignored: parity.ignored(),
            releases: &parity.releases,
            packages: &parity.packages,
            skew: &parity.skew,
            ports: &parity.ports,
            components: &parity.components,
            errors: errors
                .iter()
                .map(|(h, e)| HostMessage {
                    host: h,
                    message: e,
                })
                .collect(),
        })?;
    } else {
        print(&human(&a, &hosts_a, &hosts_b, &parity))?;
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        for (h, e) in &errors {
            let _ = writeln!(err, "error: {h}: {}", render::text(e));
        }
    }
    Ok(if !errors.is_empty() {
        Outcome::PassThrough(3)
    } else if parity.differences() > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn side_note(side: Side, hosts: &[String], ignored: bool) -> String {
    let mut s = format!("only on {side} ({})", render::names(hosts));
    if ignored {
        s.push_str(", ignored");
    }
    s
}

fn human(a: &ParityArgs, hosts_a: &[String], hosts_b: &[String], p: &Parity) -> String {
    let mut out = format!(
        "A: {} ({})\nB: {} ({})\n\n",
        render::text(&a.a),
        render::names(hosts_a),
        render::text(&a.b),
        render::names(hosts_b)
    );
    let mut t = render::table(&["KIND", "NAME", "A", "B", "NOTE"]);
    let dash = || "-".to_owned();
    let mut rows = 0;
    if p.releases.differ {
        rows += 1;
        let list = |m: &std::collections::BTreeMap<String, Vec<String>>| {
            m.iter()
                .map(|(r, hs)| format!("{r} ({})", hs.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        };
        t.add_row(vec![
            "release".to_owned(),
            "-".to_owned(),
            render::text(&list(&p.releases.a)),
            render::text(&list(&p.releases.b)),
            if p.releases.ignored {
                "ignored"
            } else {
                "differ"
            }
            .to_owned(),
        ]);
    }
    for x in &p.packages {
        rows += 1;
        let versions = x.versions.join(", ");
        let (va, vb) = match x.side {
            Side::A => (versions, dash()),
            Side::B => (dash(), versions),
        };
        t.add_row(vec![
            "package".to_owned(),
            render::text(&format!("{}:{}", x.name, x.arch)),
            render::text(&va),
            render::text(&vb),
            render::text(&side_note(x.side, &x.hosts, x.ignored)),
        ]);
    }
    for x in &p.skew {
        rows += 1;
        let mut note = match x.newer {
            Some(s) => format!("{s} newer"),
            None => "not comparable".to_owned(),
        };
        if x.ignored {
            note.push_str(", ignored");
        }
        t.add_row(vec![
            "version".to_owned(),
            render::text(&format!("{}:{}", x.name, x.arch)),
            render::text(&x.a.join(", ")),
            render::text(&x.b.join(", ")),
            note,
        ]);
    }
    for x in &p.ports {
        rows += 1;
        let procs = if x.processes.is_empty() {
            "?".to_owned()
        } else {
            x.processes.join(", ")
        };
        let (va, vb) = match x.side {
            Side::A => (procs, dash()),
            Side::B => (dash(), procs),
        };
        t.add_row(vec![
            "port".to_owned(),
            x.port.to_string(),
            render::text(&va),
            render::text(&vb),
            render::text(&side_note(x.side, &x.hosts, x.ignored)),
        ]);
    }
    for x in &p.components {
        rows += 1;
        let (va, vb) = match x.side {
            Side::A => ("deployed".to_owned(), dash()),
            Side::B => (dash(), "deployed".to_owned()),
        };
        let mut note = format!("only on {}", x.side);
        if x.ignored {
            note.push_str(", ignored");
        }
        t.add_row(vec![
            "component".to_owned(),
            render::text(&x.name),
            va,
            vb,
            note,
        ]);
    }
    if rows > 0 {
        out.push_str(&format!("{t}\n"));
    }
    let (d, i) = (p.differences(), p.ignored());
    out.push_str(&match (d, i) {
        (0, 0) => "no difference\n".to_owned(),
        (0, i) => format!("no difference outside parity.ignore ({i} ignored)\n"),
        (d, i) => format!("{d} difference(s), {i} ignored\n"),
    });
    out
}

/// `parity --format json`: what differs between two sides of the fleet.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ParityJson<'a> {
    /// `fearless.parity/v1`.
    #[schemars(extend("const" = "fearless.parity/v1"))]
    schema: &'static str,
    /// The first side.
    a: SideJson<'a>,
    /// The second side.
    b: SideJson<'a>,
    /// The `parity.ignore` rules of the config.
    ignore: &'a [String],
    /// How many differences count.
    differences: usize,
    /// How many were ignored.
    ignored: usize,
    /// The releases of either side.
    #[schemars(with = "serde_json::Value")]
    releases: &'a fearless_platform::parity::Releases,
    /// Packages on one side only.
    #[schemars(with = "Vec<serde_json::Value>")]
    packages: &'a [fearless_platform::parity::OneSidedPackage],
    /// Packages at different versions.
    #[schemars(with = "Vec<serde_json::Value>")]
    skew: &'a [fearless_platform::parity::Skew],
    /// Ports listened on one side only.
    #[schemars(with = "Vec<serde_json::Value>")]
    ports: &'a [fearless_platform::parity::OneSidedPort],
    /// Components on one side only.
    #[schemars(with = "Vec<serde_json::Value>")]
    components: &'a [fearless_platform::parity::OneSidedComponent],
    /// Hosts that could not be read.
    errors: Vec<HostMessage<'a>>,
}

/// One side of `parity`: its selector and the hosts it chose.
#[derive(Debug, Serialize, JsonSchema)]
struct SideJson<'a> {
    /// The selector as given.
    selector: &'a str,
    /// The hosts it chose.
    hosts: &'a [String],
}
