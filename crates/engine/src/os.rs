//! `fearless os`: each host's release (`/etc/os-release`), kernel and package manager,
//! read with one constant script ([`fearless_platform::host::SCRIPT`]), and its support on
//! a given day from the layered tables — `--eol-data`, the host's own `distro-info-data`
//! (said as such), the embedded copies and the embedded table — every date with its
//! source ([`fearless_platform::support`]).

use std::collections::BTreeMap;
use std::time::Duration;

use fearless_pkg::{Manager, PackageManager, PkgError, Target};
use fearless_platform::host::{self, Answer};
use fearless_platform::{OsRelease, State, Support, Table};
use jiff::civil::Date;
use serde::Serialize;

use crate::Fleetwide;
use crate::fleet::HostResult;

/// How long the script may take on a host.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// One host's operating system and its support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostOs {
    /// Inventory name.
    pub host: String,
    /// Its os-release.
    pub os: OsRelease,
    /// `uname -r`.
    pub kernel: String,
    /// Its package manager (from the config, else detected).
    pub manager: Manager,
    /// The host's own `distro-info-data` files that were read.
    pub distro_info: Vec<String>,
    /// Its support on the day asked about.
    pub support: Support,
}

/// Run the script on `t` and read its answer.
pub async fn read_host(t: &Target<'_>) -> Result<Answer, PkgError> {
    let out = t.transport.run(&host::argv(), SCRIPT_TIMEOUT).await?;
    let parse = |detail: String| PkgError::Parse {
        host: t.name.to_owned(),
        what: "the os script".into(),
        detail,
    };
    if let Some(cut) = out.truncation() {
        return Err(parse(cut));
    }
    if !out.success() {
        return Err(parse(format!(
            "it failed ({}): {}",
            out.code
                .map_or_else(|| "a signal".to_owned(), |c| format!("exit {c}")),
            out.stderr_str().lines().next().unwrap_or_default()
        )));
    }
    host::read(&out.stdout_str()).map_err(|e| parse(e.to_string()))
}

/// Every host of `fw`: its release, kernel, manager and support on `today`, with
/// `eol_data` (a newer table) above the host's own and the embedded tables.
pub async fn read(
    fw: &Fleetwide,
    eol_data: Option<&Table>,
    today: Date,
) -> Vec<HostResult<HostOs>> {
    let embedded = Table::embedded();
    let embedded = &embedded;
    fw.each(|b, t| async move {
        let answer = read_host(&t).await?;
        Ok(assess(
            t.name,
            answer,
            b.manager(),
            eol_data,
            embedded,
            today,
        ))
    })
    .await
}

/// A host's answer assessed against the tables (pure).
pub fn assess(
    name: &str,
    answer: Answer,
    manager: Manager,
    eol_data: Option<&Table>,
    embedded: &[Table],
    today: Date,
) -> HostOs {
    let mut notes = Vec::new();
    let mut own = Vec::new();
    let mut used = Vec::new();
    for (distro, path, text) in &answer.distro_info {
        let origin = format!("distro-info-data on {name} ({path})");
        match Table::from_distro_info(*distro, text, &origin) {
            Ok(t) => {
                own.push(t);
                used.push(path.clone());
            }
            Err(e) => notes.push(format!("the host's {path} was not used: {e}")),
        }
    }
    let mut layers: Vec<&Table> = eol_data.into_iter().collect();
    layers.extend(own.iter());
    layers.extend(embedded.iter());
    let mut support = fearless_platform::support(&answer.os.release(), &layers, today);
    support.notes.extend(notes);
    HostOs {
        host: name.to_owned(),
        os: answer.os,
        kernel: answer.kernel,
        manager,
        distro_info: used,
        support,
    }
}

/// Hosts per release (`--summary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseCount {
    /// `debian 12`.
    pub release: String,
    /// Its pretty name as the first host showed it.
    pub name: String,
    /// Its support state.
    pub state: State,
    /// How many hosts run it.
    pub count: usize,
    /// Which.
    pub hosts: Vec<String>,
}

/// Hosts per release, most hosts first.
pub fn summary(hosts: &[HostOs]) -> Vec<ReleaseCount> {
    let mut by: BTreeMap<String, ReleaseCount> = BTreeMap::new();
    for h in hosts {
        let key = h.support.release.to_string();
        let e = by.entry(key.clone()).or_insert_with(|| ReleaseCount {
            release: key,
            name: h.os.display(),
            state: h.support.state,
            count: 0,
            hosts: Vec::new(),
        });
        e.count += 1;
        e.hosts.push(h.host.clone());
    }
    let mut out: Vec<ReleaseCount> = by.into_values().collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.release.cmp(&b.release))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Answer {
        host::read(text).expect("reads")
    }

    #[test]
    fn the_hosts_own_distro_info_comes_first_and_is_named() {
        let a = answer(
            "@@os-release\nID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n@@kernel\n6.1.0\n@@file /usr/share/distro-info/debian.csv\nversion,codename,series,created,release,eol,eol-lts,eol-elts\n12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-07-11,2028-06-30,2033-06-30\n@@end\n",
        );
        let today: Date = "2026-12-04".parse().expect("date");
        let h = assess("web-1", a, Manager::Apt, None, &Table::embedded(), today);
        assert_eq!(h.distro_info, ["/usr/share/distro-info/debian.csv"]);
        assert_eq!(h.support.state, State::Supported);
        assert_eq!(
            h.support.tiers[1].source,
            "distro-info-data on web-1 (/usr/share/distro-info/debian.csv)"
        );
        assert!(h.support.notes.is_empty(), "{:?}", h.support.notes);
    }

    #[test]
    fn a_broken_host_file_is_noted_and_the_embedded_copy_used() {
        let a = answer(
            "@@os-release\nID=debian\nVERSION_ID=12\n@@kernel\n6.1.0\n@@file /usr/share/distro-info/debian.csv\nnot,a,header\n@@end\n",
        );
        let today: Date = "2026-12-04".parse().expect("date");
        let h = assess("web-1", a, Manager::Apt, None, &Table::embedded(), today);
        assert!(h.distro_info.is_empty());
        assert!(h.support.tiers[0].source.contains("(embedded)"));
        assert!(
            h.support.notes[0]
                .starts_with("the host's /usr/share/distro-info/debian.csv was not used")
        );
    }

    #[test]
    fn a_newer_table_wins_and_the_summary_counts_releases() {
        let newer = Table::from_json(
            r#"{"products": {"amazon-linux": [{"releaseCycle": "2", "eol": "2027-05-01"}]}}"#,
            "new.json",
        )
        .expect("reads");
        let today: Date = "2026-12-04".parse().expect("date");
        let al2 = "@@os-release\nID=\"amzn\"\nVERSION_ID=\"2\"\n@@kernel\n4.14\n@@end\n";
        let h1 = assess(
            "a",
            answer(al2),
            Manager::Yum,
            Some(&newer),
            &Table::embedded(),
            today,
        );
        assert_eq!(h1.support.state, State::Warning);
        assert_eq!(h1.support.tiers[0].source, "new.json");
        let h2 = assess(
            "b",
            answer(al2),
            Manager::Yum,
            None,
            &Table::embedded(),
            today,
        );
        assert_eq!(h2.support.state, State::EndOfLife);
        let s = summary(&[h1, h2]);
        assert_eq!((s[0].release.as_str(), s[0].count), ("amazon-linux 2", 2));
    }
}
