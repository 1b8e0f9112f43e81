//! A release's support on a given day: its tiers (standard, security, extended), the day
//! each ends and where that date comes from, and the state that follows — supported,
//! within [`WARN_DAYS`] of its last tier, past end of life, or not in any table.
//!
//! Tables are layers, highest precedence first (`--eol-data`, the host's own
//! `distro-info-data`, the embedded copies, the embedded table); each date is taken from
//! the first layer that has it, and a lower layer that says otherwise is noted: the sources
//! disagree by days, and the reader must see which one a date comes from.

use jiff::civil::Date;
use serde::Serialize;

use crate::eol::{Cycle, End, Table};
use crate::os_release::Release;

/// A host within this many days of the end of its last tier is warned about.
pub const WARN_DAYS: i64 = 180;

/// A support tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Standard (full, active) support: updates of every kind.
    Standard,
    /// Security (maintenance) support: security and critical fixes only.
    Security,
    /// Extended support (LTS, ESM, ELS): security fixes, often for a fee.
    Extended,
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tier::Standard => "standard",
            Tier::Security => "security",
            Tier::Extended => "extended",
        })
    }
}

/// One tier of a release: its vendor's name for it, when it ends, and which source says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierEnd {
    /// The tier.
    pub tier: Tier,
    /// The vendor's name of it (`regular security support`, `LTS`, `ESM`, `ELS`).
    pub program: String,
    /// When it ends.
    pub ends: End,
    /// Whether it has ended on the day asked about.
    pub ended: bool,
    /// Where the date comes from.
    pub source: String,
}

/// Where a release stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// In a tier, more than [`WARN_DAYS`] from the end of the last one.
    Supported,
    /// In a tier, within [`WARN_DAYS`] of the end of the last one.
    Warning,
    /// Past every tier.
    EndOfLife,
    /// No table knows the release.
    Unknown,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Supported => "supported",
            State::Warning => "warning",
            State::EndOfLife => "end of life",
            State::Unknown => "unknown",
        })
    }
}

/// A release's support on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Support {
    /// The release.
    pub release: Release,
    /// Where it stands.
    pub state: State,
    /// The tier it is in (none past end of life or when unknown).
    pub tier: Option<Tier>,
    /// Every tier the tables know, in order.
    pub tiers: Vec<TierEnd>,
    /// The day the last tier ends, when known.
    pub last_day: Option<Date>,
    /// Days from the day asked about to `last_day` (negative once past).
    pub days_left: Option<i64>,
    /// Where the sources disagree, and what else the reader should know.
    pub notes: Vec<String>,
}

/// One end date and where it came from.
struct Found {
    end: End,
    source: String,
}

/// The vendor's names of the three tiers of `product`.
fn programs(product: &str) -> [&'static str; 3] {
    match product {
        "debian" => ["regular security support", "LTS", "ELTS"],
        "ubuntu" => ["standard support", "standard support", "ESM"],
        "amazon-linux" => [
            "standard support",
            "maintenance support",
            "extended support",
        ],
        "rhel" => ["full support", "maintenance support", "ELS"],
        "centos" => ["full updates", "maintenance updates", "extended support"],
        _ => ["active support", "security support", "extended support"],
    }
}

/// The source of a date: the table, and the entry's own source when it names one.
fn source_of(table: &Table, cycle: &Cycle) -> String {
    match &cycle.source {
        Some(s) => format!("{} — {s}", table.origin),
        None => table.origin.clone(),
    }
}

/// `release`'s support on `today`, from `layers` (highest precedence first).
pub fn support(release: &Release, layers: &[&Table], today: Date) -> Support {
    let mut notes = Vec::new();
    let unknown = |notes: Vec<String>| Support {
        release: release.clone(),
        state: State::Unknown,
        tier: None,
        tiers: Vec::new(),
        last_day: None,
        days_left: None,
        notes,
    };
    let Some(cycle) = &release.cycle else {
        return unknown(vec![format!(
            "{} names no version (a testing or rolling release): no table dates it",
            release.product
        )]);
    };
    let entries: Vec<(&Table, &Cycle)> = layers
        .iter()
        .filter_map(|t| t.cycle(&release.product, cycle).map(|c| (*t, c)))
        .collect();
    if entries.is_empty() {
        return unknown(vec![format!("no table knows {release}")]);
    }
    // Each field from the first layer that has it; a lower layer that differs is noted.
    let field = |name: &str, get: fn(&Cycle) -> Option<End>, notes: &mut Vec<String>| {
        let mut found: Option<Found> = None;
        for (table, c) in &entries {
            let Some(end) = get(c) else { continue };
            match &found {
                None => {
                    found = Some(Found {
                        end,
                        source: source_of(table, c),
                    });
                }
                Some(f) if f.end != end => notes.push(format!(
                    "{name}: {} from {}; {} says {end}",
                    f.end, f.source, table.origin
                )),
                Some(_) => {}
            }
        }
        found
    };
    let eoas = field("eoas", |c| c.eoas, &mut notes);
    let eol = field("eol", |c| c.eol, &mut notes);
    let eoes = field("eoes", |c| c.eoes, &mut notes);
    let names = programs(&release.product);
    let mut tiers = Vec::new();
    let push = |tiers: &mut Vec<TierEnd>, tier: Tier, f: Found| {
        tiers.push(TierEnd {
            tier,
            program: names[tier as usize].to_owned(),
            ended: f.end.ended(today),
            ends: f.end,
            source: f.source,
        });
    };
    match (eoas, eol) {
        (Some(a), Some(l)) if a.end != l.end => {
            push(&mut tiers, Tier::Standard, a);
            push(&mut tiers, Tier::Security, l);
        }
        (_, Some(l)) => push(&mut tiers, Tier::Standard, l),
        (Some(a), None) => push(&mut tiers, Tier::Standard, a),
        (None, None) => {}
    }
    if let Some(e) = eoes {
        // `eoes: false` says there is no extended support to end; a date equal to the
        // last tier's adds nothing.
        let adds = tiers.last().is_none_or(|t| t.ends != e.end) && e.end != End::Flag(false);
        if adds || tiers.is_empty() {
            push(&mut tiers, Tier::Extended, e);
        }
    }
    if tiers.is_empty() {
        return unknown(vec![format!(
            "the tables list {release} without any end date"
        )]);
    }
    let current = tiers.iter().find(|t| !t.ended).map(|t| t.tier);
    let last = tiers.last().map(|t| t.ends);
    let last_day = last.and_then(End::date);
    let days_left = last_day
        .and_then(|d| today.until(d).ok())
        .map(|s| i64::from(s.get_days()));
    let state = match (current, days_left) {
        (None, _) => State::EndOfLife,
        (Some(_), Some(n)) if n <= WARN_DAYS => State::Warning,
        (Some(_), _) => State::Supported,
    };
    Support {
        release: release.clone(),
        state,
        tier: current,
        tiers,
        last_day,
        days_left,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eol::Distro;

    fn d(s: &str) -> Date {
        s.parse().expect("date")
    }

    fn rel(product: &str, cycle: &str) -> Release {
        Release {
            product: product.into(),
            cycle: Some(cycle.into()),
        }
    }

    fn at(release: &Release, today: &str) -> Support {
        let tables = Table::embedded();
        let layers: Vec<&Table> = tables.iter().collect();
        support(release, &layers, d(today))
    }

    #[test]
    fn debian_12_through_its_tiers() {
        let r = rel("debian", "12");
        let s = at(&r, "2026-07-10");
        assert_eq!((s.state, s.tier), (State::Supported, Some(Tier::Standard)));
        assert_eq!(s.tiers.len(), 3);
        assert_eq!(s.tiers[0].ends, End::On(d("2026-07-11")));
        assert_eq!(s.tiers[1].program, "LTS");
        assert!(
            s.tiers[0].source.contains("distro-info-data"),
            "{}",
            s.tiers[0].source
        );
        // At the boundary the tier is over.
        let s = at(&r, "2026-07-11");
        assert_eq!(s.tier, Some(Tier::Security));
        assert!(s.tiers[0].ended);
        let s = at(&r, "2028-06-30");
        assert_eq!(s.tier, Some(Tier::Extended));
        assert_eq!(s.last_day, Some(d("2033-06-30")));
        // 180 days before the last day: a warning; 181: not yet.
        let s = at(&r, "2033-01-01");
        assert_eq!((s.state, s.days_left), (State::Warning, Some(180)));
        let s = at(&r, "2032-12-31");
        assert_eq!((s.state, s.days_left), (State::Supported, Some(181)));
        let s = at(&r, "2033-06-29");
        assert_eq!(s.state, State::Warning);
        let s = at(&r, "2033-06-30");
        assert_eq!(
            (s.state, s.tier, s.days_left),
            (State::EndOfLife, None, Some(0))
        );
        let s = at(&r, "2040-01-01");
        assert_eq!(s.state, State::EndOfLife);
    }

    #[test]
    fn amazon_linux_2023_and_2() {
        let r = rel("amazon-linux", "2023");
        let s = at(&r, "2027-06-29");
        assert_eq!((s.state, s.tier), (State::Supported, Some(Tier::Standard)));
        assert_eq!(s.tiers.len(), 2);
        assert!(
            s.tiers[0]
                .source
                .contains("Release cadence - Amazon Linux 2023")
        );
        let s = at(&r, "2027-06-30");
        assert_eq!(s.tier, Some(Tier::Security));
        assert_eq!(s.tiers[1].program, "maintenance support");
        let s = at(&r, "2029-01-01");
        assert_eq!(s.state, State::Warning);
        let s = at(&r, "2029-06-30");
        assert_eq!(s.state, State::EndOfLife);

        let r = rel("amazon-linux", "2");
        let s = at(&r, "2026-06-29");
        assert_eq!((s.state, s.days_left), (State::Warning, Some(1)));
        assert_eq!(s.tiers.len(), 1);
        let s = at(&r, "2026-06-30");
        assert_eq!(s.state, State::EndOfLife);
    }

    #[test]
    fn rhel_has_three_tiers_rocky_two_centos_7_is_over() {
        let s = at(&rel("rhel", "9"), "2030-01-01");
        assert_eq!(s.tier, Some(Tier::Security));
        assert_eq!(
            s.tiers
                .iter()
                .map(|t| t.program.as_str())
                .collect::<Vec<_>>(),
            ["full support", "maintenance support", "ELS"]
        );
        let s = at(&rel("rocky-linux", "9"), "2030-01-01");
        assert_eq!((s.tier, s.tiers.len()), (Some(Tier::Security), 2));
        let s = at(&rel("almalinux", "8"), "2029-02-28");
        assert_eq!(s.state, State::Warning);
        let s = at(&rel("centos", "7"), "2024-06-29");
        assert_eq!(s.state, State::Warning);
        let s = at(&rel("centos", "7"), "2026-12-04");
        assert_eq!(s.state, State::EndOfLife);
    }

    #[test]
    fn ubuntu_standard_then_esm() {
        let s = at(&rel("ubuntu", "22.04"), "2026-12-04");
        assert_eq!(s.tier, Some(Tier::Standard));
        assert_eq!(
            s.tiers
                .iter()
                .map(|t| (t.tier, t.program.as_str()))
                .collect::<Vec<_>>(),
            [
                (Tier::Standard, "standard support"),
                (Tier::Extended, "ESM")
            ]
        );
        let s = at(&rel("ubuntu", "18.04"), "2026-12-04");
        assert_eq!(s.tier, Some(Tier::Extended));
    }

    #[test]
    fn unknown_releases_say_so() {
        let s = at(&rel("gentoo", "1"), "2026-12-04");
        assert_eq!(s.state, State::Unknown);
        assert_eq!(s.notes, ["no table knows gentoo 1"]);
        let s = at(
            &Release {
                product: "debian".into(),
                cycle: None,
            },
            "2026-12-04",
        );
        assert_eq!(s.state, State::Unknown);
    }

    #[test]
    fn a_higher_layer_wins_and_disagreement_is_noted() {
        let host = Table::from_distro_info(
            Distro::Debian,
            "version,codename,series,created,release,eol,eol-lts\n12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-06-10,2028-06-30\n",
            "distro-info-data on web-1",
        )
        .expect("reads");
        let embedded = Table::embedded();
        let mut layers = vec![&host];
        layers.extend(embedded.iter());
        let s = support(&rel("debian", "12"), &layers, d("2026-06-20"));
        assert_eq!(s.tier, Some(Tier::Security));
        assert_eq!(s.tiers[0].source, "distro-info-data on web-1");
        assert_eq!(s.tiers[1].source, "distro-info-data on web-1");
        // The host's copy has no ELTS column: that date comes from the embedded copy.
        assert!(
            s.tiers[2].source.contains("(embedded)"),
            "{}",
            s.tiers[2].source
        );
        assert_eq!(
            s.notes,
            [format!(
                "eoas: 2026-06-10 from distro-info-data on web-1; distro-info-data {} (embedded) says 2026-07-11",
                crate::eol::DISTRO_INFO_VERSION
            )]
        );
    }

    #[test]
    fn flags_end_tiers_without_dates() {
        let t = Table::from_json(
            r#"{"products": {"x": [{"releaseCycle": "1", "eoas": true, "eol": false}]}}"#,
            "f",
        )
        .expect("reads");
        let s = support(&rel("x", "1"), &[&t], d("2026-01-01"));
        assert_eq!(
            (s.state, s.tier, s.days_left),
            (State::Supported, Some(Tier::Security), None)
        );
        let t = Table::from_json(
            r#"{"products": {"x": [{"releaseCycle": "1", "eol": true}]}}"#,
            "f",
        )
        .expect("reads");
        let s = support(&rel("x", "1"), &[&t], d("2026-01-01"));
        assert_eq!(s.state, State::EndOfLife);
    }
}
