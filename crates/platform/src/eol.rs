//! The support table: release cycles and the dates their support tiers end, each with its
//! source.
//!
//! Two shapes are read:
//! - endoflife.date's release shape (`releaseCycle`, `releaseDate`, `eoas`, `eol`, `eoes`,
//!   each end a date, `true` — ended, date not known — or `false` — not ended, no date),
//!   grouped by product: `{"date": "…", "products": {"rhel": [ {…}, … ]}}`
//!   ([`Table::from_json`]); the embedded table ([`EMBEDDED_TABLE`]) and `--eol-data FILE`;
//! - Debian's `distro-info-data` CSVs (`debian.csv`, `ubuntu.csv`)
//!   ([`Table::from_distro_info`]): embedded copies ([`EMBEDDED_DEBIAN`],
//!   [`EMBEDDED_UBUNTU`]), and a host's own copy when it has one.
//!
//! Every error says where: the line and column of a JSON file, the line of a CSV, the
//! product and cycle of an entry whose dates contradict each other.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The embedded table of the releases distro-info-data does not cover (Amazon Linux,
/// RHEL, Rocky, Alma, CentOS), in endoflife.date's shape; `docs/eol-sources.md` lists
/// every date and its source.
pub const EMBEDDED_TABLE: &str = include_str!("../data/eol.json");
/// Debian's `debian.csv` from `distro-info-data`, as embedded.
pub const EMBEDDED_DEBIAN: &str = include_str!("../data/debian.csv");
/// Debian's `ubuntu.csv` from `distro-info-data`, as embedded.
pub const EMBEDDED_UBUNTU: &str = include_str!("../data/ubuntu.csv");
/// The `distro-info-data` version the embedded CSVs were copied from.
pub const DISTRO_INFO_VERSION: &str = "0.58+deb12u6";

/// When a support tier ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum End {
    /// On this day (support is over from this day on).
    On(Date),
    /// `true`: it has ended, the table does not say when; `false`: it has not, no date known.
    Flag(bool),
}

impl<'de> Deserialize<'de> for End {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = End;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a day (YYYY-MM-DD), true (ended, no date) or false (not ended)")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<End, E> {
                Ok(End::Flag(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<End, E> {
                v.parse::<Date>()
                    .map(End::On)
                    .map_err(|e| E::custom(format!("{v:?} is not a day (YYYY-MM-DD): {e}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl End {
    /// Whether support is over on `today`.
    pub fn ended(self, today: Date) -> bool {
        match self {
            End::On(d) => today >= d,
            End::Flag(ended) => ended,
        }
    }

    /// The day, when known.
    pub fn date(self) -> Option<Date> {
        match self {
            End::On(d) => Some(d),
            End::Flag(_) => None,
        }
    }
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::On(d) => write!(f, "{d}"),
            End::Flag(true) => f.write_str("ended (no date)"),
            End::Flag(false) => f.write_str("no date"),
        }
    }
}

/// One release cycle, in endoflife.date's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cycle {
    /// `12`, `22.04`, `2023`, `9`.
    #[serde(alias = "cycle")]
    pub release_cycle: String,
    /// Codename, when the table has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// First release (`release` in older endoflife.date files).
    #[serde(default, alias = "release", skip_serializing_if = "Option::is_none")]
    pub release_date: Option<Date>,
    /// End of active (standard, full) support (`support` in older endoflife.date files).
    #[serde(default, alias = "support", skip_serializing_if = "Option::is_none")]
    pub eoas: Option<End>,
    /// End of security (maintenance) support: end of life unless extended support is sold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eol: Option<End>,
    /// End of extended support (LTS, ESM, ELS; `extendedSupport` in endoflife.date's API).
    #[serde(
        default,
        alias = "extendedSupport",
        skip_serializing_if = "Option::is_none"
    )]
    pub eoes: Option<End>,
    /// Where the dates of this entry come from (a vendor page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Cycles by product, and where the whole table comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// What this table is, for every date taken from it ("the embedded table of
    /// 2026-12-04", "distro-info-data on web-1 (/usr/share/distro-info/debian.csv)").
    pub origin: String,
    /// The day the table was written, when it says.
    pub date: Option<Date>,
    /// Cycles by product (`debian`, `rhel`, …).
    pub products: BTreeMap<String, Vec<Cycle>>,
}

/// Why a table cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EolError {
    /// Not JSON of the table's shape.
    #[error("{origin}:{line}:{column}: {detail}")]
    Json {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        detail: String,
    },
    /// A CSV line that does not read.
    #[error("{origin}:{line}: {detail}")]
    Csv {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// An entry whose dates contradict each other, or that names no cycle.
    #[error("{origin}: products.{product}[{index}] (releaseCycle {cycle:?}): {detail}")]
    Entry {
        /// The file.
        origin: String,
        /// The product.
        product: String,
        /// 0-based position in the product's list.
        index: usize,
        /// Its cycle.
        cycle: String,
        /// What is wrong.
        detail: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    date: Option<Date>,
    #[serde(default, rename = "source")]
    _source: Option<String>,
    products: BTreeMap<String, Vec<Cycle>>,
}

/// Which `distro-info-data` CSV a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distro {
    /// `debian.csv`: `eol` (regular security support), `eol-lts`, `eol-elts`.
    Debian,
    /// `ubuntu.csv`: `eol` (standard support), `eol-esm` (Expanded Security Maintenance).
    Ubuntu,
}

impl Distro {
    /// The product name in the table.
    pub fn product(self) -> &'static str {
        match self {
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
        }
    }
}

impl Table {
    /// The embedded tables, highest precedence first: distro-info-data's Debian and
    /// Ubuntu, then the table of the other releases.
    pub fn embedded() -> Vec<Table> {
        let origin = format!("distro-info-data {DISTRO_INFO_VERSION} (embedded)");
        let mut all = Vec::new();
        for (distro, text) in [
            (Distro::Debian, EMBEDDED_DEBIAN),
            (Distro::Ubuntu, EMBEDDED_UBUNTU),
        ] {
            // Tested to read (`tests::embedded_tables_read`): a failure here is a build slip.
            if let Ok(t) = Table::from_distro_info(distro, text, &origin) {
                all.push(t);
            }
        }
        if let Ok(t) = Table::from_json(EMBEDDED_TABLE, "the embedded table") {
            let origin = match t.date {
                Some(d) => format!("the embedded table of {d}"),
                None => "the embedded table".to_owned(),
            };
            all.push(Table { origin, ..t });
        }
        all
    }

    /// A table in endoflife.date's release shape, grouped by product; `origin` names the
    /// file in errors and sources.
    pub fn from_json(text: &str, origin: &str) -> Result<Table, EolError> {
        let raw: RawTable = serde_json::from_str(text).map_err(|e| EolError::Json {
            origin: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            // serde_json says where at the end: the error's own line and column say it.
            detail: {
                let text = e.to_string();
                match text.rsplit_once(" at line ") {
                    Some((what, _)) => what.to_owned(),
                    None => text,
                }
            },
        })?;
        for (product, cycles) in &raw.products {
            for (index, c) in cycles.iter().enumerate() {
                let bad = |detail: String| EolError::Entry {
                    origin: origin.to_owned(),
                    product: product.clone(),
                    index,
                    cycle: c.release_cycle.clone(),
                    detail,
                };
                if c.release_cycle.trim().is_empty() {
                    return Err(bad("releaseCycle is empty".into()));
                }
                let dated: Vec<(&str, Date)> = [("eoas", c.eoas), ("eol", c.eol), ("eoes", c.eoes)]
                    .into_iter()
                    .filter_map(|(k, e)| e.and_then(End::date).map(|d| (k, d)))
                    .collect();
                for pair in dated.windows(2) {
                    if let [(ka, a), (kb, b)] = pair
                        && a > b
                    {
                        return Err(bad(format!("{ka} {a} is after {kb} {b}")));
                    }
                }
                if let (Some(r), Some((k, first))) = (c.release_date, dated.first())
                    && *first < r
                {
                    return Err(bad(format!("{k} {first} is before releaseDate {r}")));
                }
            }
        }
        Ok(Table {
            origin: origin.to_owned(),
            date: raw.date,
            products: raw.products,
        })
    }

    /// A `distro-info-data` CSV (its header names the columns; an older file without
    /// `eol-lts` or `eol-elts` reads too). Rows without a version (sid, experimental) are
    /// left out. Ubuntu's `eol` is both the end of standard support and of security
    /// support; `eol-esm` ends the extended tier.
    pub fn from_distro_info(distro: Distro, text: &str, origin: &str) -> Result<Table, EolError> {
        let csv_err = |line: usize, detail: String| EolError::Csv {
            origin: origin.to_owned(),
            line,
            detail,
        };
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = lines
            .next()
            .map(|(_, h)| h.split(',').map(str::trim).collect())
            .ok_or_else(|| csv_err(1, "empty: no header".into()))?;
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(version), Some(codename), Some(release), Some(eol)) =
            (col("version"), col("codename"), col("release"), col("eol"))
        else {
            return Err(csv_err(
                1,
                "the header must name version, codename, release and eol".into(),
            ));
        };
        let (lts, extended) = match distro {
            Distro::Debian => (col("eol-lts"), col("eol-elts")),
            Distro::Ubuntu => (None, col("eol-esm")),
        };
        let mut cycles = Vec::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() > header.len() {
                return Err(csv_err(
                    i + 1,
                    format!("{} fields, the header has {}", fields.len(), header.len()),
                ));
            }
            let field = |c: Option<usize>| c.and_then(|c| fields.get(c)).filter(|f| !f.is_empty());
            let Some(v) = field(Some(version)) else {
                continue;
            };
            let date = |c: Option<usize>, name: &str| -> Result<Option<Date>, EolError> {
                field(c)
                    .map(|f| {
                        f.parse::<Date>()
                            .map_err(|e| csv_err(i + 1, format!("{name} {f:?}: {e}")))
                    })
                    .transpose()
            };
            let end_eol = date(Some(eol), "eol")?.map(End::On);
            let cycle = Cycle {
                release_cycle: v.trim_end_matches(" LTS").to_owned(),
                codename: field(Some(codename)).map(|c| (*c).to_owned()),
                release_date: date(Some(release), "release")?,
                eoas: end_eol,
                eol: match lts {
                    Some(_) => date(lts, "eol-lts")?.map(End::On).or(end_eol),
                    None => end_eol,
                },
                eoes: date(extended, "extended")?.map(End::On),
                source: None,
            };
            cycles.push(cycle);
        }
        Ok(Table {
            origin: origin.to_owned(),
            date: None,
            products: BTreeMap::from([(distro.product().to_owned(), cycles)]),
        })
    }

    /// The cycle of `product` named `cycle`.
    pub fn cycle(&self, product: &str, cycle: &str) -> Option<&Cycle> {
        self.products
            .get(product)?
            .iter()
            .find(|c| c.release_cycle == cycle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().expect("date")
    }

    #[test]
    fn embedded_tables_read() {
        let all = Table::embedded();
        assert_eq!(
            all.len(),
            3,
            "{:?}",
            all.iter().map(|t| &t.origin).collect::<Vec<_>>()
        );
        Table::from_json(EMBEDDED_TABLE, "eol.json").expect("the embedded table reads");
        let deb = &all[0];
        let bookworm = deb.cycle("debian", "12").expect("12");
        assert_eq!(bookworm.codename.as_deref(), Some("Bookworm"));
        assert_eq!(bookworm.eoas, Some(End::On(d("2026-07-11"))));
        assert_eq!(bookworm.eol, Some(End::On(d("2028-06-30"))));
        assert_eq!(bookworm.eoes, Some(End::On(d("2033-06-30"))));
        let jammy = all[1].cycle("ubuntu", "22.04").expect("22.04");
        assert_eq!(jammy.eol, Some(End::On(d("2027-06-01"))));
        assert_eq!(jammy.eoes, Some(End::On(d("2032-04-21"))));
        let table = &all[2];
        assert!(
            table.origin.starts_with("the embedded table of "),
            "{}",
            table.origin
        );
        for (product, cycle) in [
            ("amazon-linux", "2"),
            ("amazon-linux", "2023"),
            ("rhel", "8"),
            ("rhel", "9"),
            ("rhel", "10"),
            ("rocky-linux", "8"),
            ("rocky-linux", "10"),
            ("almalinux", "9"),
            ("centos", "7"),
        ] {
            let c = table.cycle(product, cycle).expect("listed");
            assert!(c.source.is_some(), "{product} {cycle} has a source");
        }
        let al2023 = table.cycle("amazon-linux", "2023").expect("al2023");
        assert_eq!(al2023.eoas, Some(End::On(d("2027-06-30"))));
        assert_eq!(al2023.eol, Some(End::On(d("2029-06-30"))));
        assert_eq!(
            table.cycle("amazon-linux", "2").expect("al2").eol,
            Some(End::On(d("2026-06-30")))
        );
        assert_eq!(
            table.cycle("centos", "7").expect("c7").eol,
            Some(End::On(d("2024-06-30")))
        );
    }

    #[test]
    fn endoflife_shape_with_flags_and_unknown_fields() {
        let t = Table::from_json(
            r#"{"products": {"rhel": [
                {"releaseCycle": "9", "releaseDate": "2022-05-17", "eoas": "2027-05-31",
                 "eol": "2032-05-31", "eoes": false, "latest": "9.4", "lts": true},
                {"cycle": "6", "eol": true},
                {"releaseCycle": "8", "release": "2019-05-07", "support": "2024-05-31",
                 "eol": "2029-05-31", "extendedSupport": "2032-05-31"}
            ]}}"#,
            "new.json",
        )
        .expect("reads");
        assert_eq!(
            t.cycle("rhel", "9").expect("9").eoes,
            Some(End::Flag(false))
        );
        assert_eq!(t.cycle("rhel", "6").expect("6").eol, Some(End::Flag(true)));
        // The older names of endoflife.date's fields read as the new ones.
        let rhel8 = t.cycle("rhel", "8").expect("8");
        assert_eq!(rhel8.release_date, Some(d("2019-05-07")));
        assert_eq!(rhel8.eoas, Some(End::On(d("2024-05-31"))));
        assert_eq!(rhel8.eoes, Some(End::On(d("2032-05-31"))));
        assert_eq!(t.date, None);
    }

    #[test]
    fn a_malformed_table_is_a_located_error() {
        let e = Table::from_json(
            "{\"products\": {\"rhel\": [\n  {\"releaseCycle\": \"9\", \"eol\": \"2032-13-45\"}\n]}}",
            "bad.json",
        )
        .expect_err("bad date");
        match &e {
            EolError::Json { line, column, .. } => {
                assert_eq!(*line, 2, "{e}");
                assert!(*column > 20, "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with("bad.json:2:"), "{e}");

        let e = Table::from_json("{\"products\": {\"x\": [{\"eol\": \"2030-01-01\"}]}}", "f")
            .expect_err("no cycle");
        assert!(e.to_string().contains("releaseCycle"), "{e}");

        let e = Table::from_json("{\"product\": {}}", "f").expect_err("unknown key");
        assert!(e.to_string().starts_with("f:1:"), "{e}");

        let e = Table::from_json(
            r#"{"products": {"x": [{"releaseCycle": "1", "eoas": "2031-01-01", "eol": "2030-01-01"}]}}"#,
            "f",
        )
        .expect_err("contradiction");
        assert_eq!(
            e.to_string(),
            "f: products.x[0] (releaseCycle \"1\"): eoas 2031-01-01 is after eol 2030-01-01"
        );
        let e = Table::from_json("not json", "f").expect_err("garbage");
        assert!(matches!(e, EolError::Json { line: 1, .. }), "{e}");
    }

    #[test]
    fn distro_info_errors_are_located() {
        let e = Table::from_distro_info(
            Distro::Debian,
            "version,codename,series,created,release,eol\n12,Bookworm,bookworm,2021-08-14,2023-06-10,soon\n",
            "debian.csv",
        )
        .expect_err("bad date");
        assert!(
            e.to_string().starts_with("debian.csv:2: eol \"soon\""),
            "{e}"
        );
        let e = Table::from_distro_info(Distro::Debian, "a,b\n", "x.csv").expect_err("header");
        assert!(e.to_string().starts_with("x.csv:1:"), "{e}");
    }

    #[test]
    fn an_older_distro_info_without_lts_columns_reads() {
        let t = Table::from_distro_info(
            Distro::Debian,
            "version,codename,series,created,release,eol\n10,Buster,buster,2017-06-17,2019-07-06,2022-09-10\n,Sid,sid,1993-08-16\n",
            "old",
        )
        .expect("reads");
        let c = t.cycle("debian", "10").expect("10");
        assert_eq!(c.eol, Some(End::On(d("2022-09-10"))));
        assert_eq!(c.eoes, None);
        assert_eq!(t.products["debian"].len(), 1);
    }
}
