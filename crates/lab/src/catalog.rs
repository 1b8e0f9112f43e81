//! The acme shop catalogue: which package versions exist, which are installed at `up`, and
//! which each `publish` scenario adds to the lab repository.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One version of one package of the demo application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PackageVersion {
    /// Debian package name, e.g. `libacme`.
    pub name: &'static str,
    /// Debian version, e.g. `2.0`.
    pub version: &'static str,
}

impl PackageVersion {
    const fn new(name: &'static str, version: &'static str) -> Self {
        Self { name, version }
    }

    /// The `.deb` file name in the repository.
    pub fn file_name(&self) -> String {
        format!("{}_{}_all.deb", self.name, self.version)
    }

    /// The `.rpm` file name in the RPM repository (release 1: `libacme-1.0-1.noarch.rpm`).
    pub fn rpm_file_name(&self) -> String {
        format!("{}-{}-{RPM_RELEASE}.noarch.rpm", self.name, self.version)
    }

    /// How dnf names this exact version: `libacme-1.0`.
    pub fn rpm_spec(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }
}

impl fmt::Display for PackageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.version)
    }
}

/// The RPM release of every acme package: versions mirror the `.deb` versions.
pub(crate) const RPM_RELEASE: &str = "1";

/// Every package of the demo application, in install order.
pub const PACKAGES: &[&str] = &[
    "libacme",
    "acme-api",
    "acme-web",
    "acme-agent",
    "acme-tools",
    "acme-cli",
    "acme-docs",
    "acme-motd",
    "acme-locale",
    "acme-certs",
];

/// The versions installed on every host by `up`.
pub const INITIAL: &[PackageVersion] = &[
    PackageVersion::new("libacme", "1.0"),
    PackageVersion::new("acme-api", "1.0"),
    PackageVersion::new("acme-web", "1.0"),
    PackageVersion::new("acme-agent", "1.0"),
    PackageVersion::new("acme-tools", "1.0"),
    PackageVersion::new("acme-cli", "1.0"),
    PackageVersion::new("acme-docs", "1.0"),
    PackageVersion::new("acme-motd", "1.0"),
    PackageVersion::new("acme-locale", "1.0"),
    PackageVersion::new("acme-certs", "1.0"),
];

/// A batch of harmless updates: everything but libacme gets a new version.
const ROUTINE: &[PackageVersion] = &[
    PackageVersion::new("acme-api", "1.1"),
    PackageVersion::new("acme-web", "1.1"),
    PackageVersion::new("acme-agent", "1.1"),
    PackageVersion::new("acme-tools", "1.1"),
    PackageVersion::new("acme-cli", "1.1"),
    PackageVersion::new("acme-docs", "1.1"),
    PackageVersion::new("acme-motd", "1.1"),
    PackageVersion::new("acme-locale", "1.1"),
    PackageVersion::new("acme-certs", "1.1"),
];

const LIBACME_BAD: PackageVersion = PackageVersion::new("libacme", "2.0");
const LIBACME_FIXED: PackageVersion = PackageVersion::new("libacme", "2.0.1");
const AGENT_REBOOT: PackageVersion = PackageVersion::new("acme-agent", "1.2");
const WEB_NO_RESTART: PackageVersion = PackageVersion::new("acme-web", "1.2");

/// What `publish` adds to the lab repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Nine harmless updates; after an upgrade every service still works.
    Routine,
    /// The routine batch plus `libacme 2.0`, whose new `order_total` signature breaks
    /// acme-api's `/orders` (500) and so acme-web's `/checkout` (502).
    BadLibacme,
    /// `libacme 2.0.1`, compatible again.
    FixedLibacme,
    /// `acme-agent 1.2`, which asks for a reboot (as a kernel update does).
    NeedsReboot,
    /// `acme-web 1.2`, whose `postinst` forgets to restart it on upgrade.
    StaleService,
}

impl Scenario {
    /// All scenarios, in the order they are usually played.
    pub const ALL: [Self; 5] = [
        Self::Routine,
        Self::BadLibacme,
        Self::FixedLibacme,
        Self::NeedsReboot,
        Self::StaleService,
    ];

    /// The scenario's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Routine => "routine",
            Self::BadLibacme => "bad-libacme",
            Self::FixedLibacme => "fixed-libacme",
            Self::NeedsReboot => "needs-reboot",
            Self::StaleService => "stale-service",
        }
    }

    /// One line saying what the scenario does.
    pub fn description(self) -> &'static str {
        match self {
            Self::Routine => "9 harmless updates (acme-web, acme-api and the utilities, 1.1)",
            Self::BadLibacme => {
                "the routine batch plus libacme 2.0, which breaks acme-api /orders and checkout"
            }
            Self::FixedLibacme => "libacme 2.0.1, which works with acme-api again",
            Self::NeedsReboot => {
                "acme-agent 1.2, which asks for a reboot (/var/run/reboot-required), as a kernel update does"
            }
            Self::StaleService => {
                "acme-web 1.2, whose postinst forgets the restart: the old process runs on, mapping replaced files"
            }
        }
    }

    /// The package versions the scenario publishes.
    pub fn packages(self) -> Vec<PackageVersion> {
        match self {
            Self::Routine => ROUTINE.to_vec(),
            Self::BadLibacme => ROUTINE.iter().copied().chain([LIBACME_BAD]).collect(),
            Self::FixedLibacme => vec![LIBACME_FIXED],
            Self::NeedsReboot => vec![AGENT_REBOOT],
            Self::StaleService => vec![WEB_NO_RESTART],
        }
    }

    /// The valid names, comma-separated.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scenario `{name}`; valid scenarios are: {}",
    Scenario::names()
)]
pub struct UnknownScenario {
    /// The name that was given.
    pub name: String,
}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|sc| sc.name() == wanted)
            .ok_or_else(|| UnknownScenario { name: s.to_owned() })
    }
}

/// Every package version the catalogue knows.
pub(crate) fn all_versions() -> Vec<PackageVersion> {
    let mut all = INITIAL.to_vec();
    for scenario in Scenario::ALL {
        for pv in scenario.packages() {
            if !all.contains(&pv) {
                all.push(pv);
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_parse_by_name() {
        for sc in Scenario::ALL {
            assert_eq!(sc.name().parse::<Scenario>(), Ok(sc));
            assert_eq!(sc.to_string(), sc.name());
        }
        assert_eq!("Bad_Libacme".parse::<Scenario>(), Ok(Scenario::BadLibacme));
    }

    #[test]
    fn unknown_scenario_lists_valid_names() {
        let err = "bad-libc".parse::<Scenario>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown scenario `bad-libc`; valid scenarios are: routine, bad-libacme, fixed-libacme, needs-reboot, stale-service"
            )
        );
    }

    #[test]
    fn update_batches_have_eight_to_twelve_packages() {
        let routine = Scenario::Routine.packages();
        let bad = Scenario::BadLibacme.packages();
        assert!((8..=12).contains(&routine.len()));
        assert!((8..=12).contains(&bad.len()));
        assert!(routine.iter().all(|p| p.name != "libacme"));
        assert_eq!(bad.iter().filter(|p| p.name == "libacme").count(), 1);
        assert!(bad.contains(&LIBACME_BAD));
    }

    #[test]
    fn every_package_is_installed_initially() {
        assert_eq!(INITIAL.iter().map(|p| p.name).collect::<Vec<_>>(), PACKAGES);
    }
}
