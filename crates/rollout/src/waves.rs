//! Wave planning: how many hosts each wave takes (`1,25%,100%`), spread across failure
//! domains, and never more hosts of one component at a time than it can lose.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The size of one wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaveSize {
    /// This many hosts.
    Count(u32),
    /// This percentage of all hosts in scope, rounded up (1–100).
    Percent(u8),
}

impl WaveSize {
    /// Hosts this wave takes out of `total` (at least 1).
    pub fn of(self, total: usize) -> usize {
        let n = match self {
            WaveSize::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
            WaveSize::Percent(p) => (total * usize::from(p)).div_ceil(100),
        };
        n.max(1)
    }
}

impl fmt::Display for WaveSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaveSize::Count(n) => write!(f, "{n}"),
            WaveSize::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// A wave list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid wave {text:?}: {reason}")]
pub struct WaveError {
    text: String,
    reason: &'static str,
}

impl FromStr for WaveSize {
    type Err = WaveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let err = |reason| WaveError {
            text: s.to_owned(),
            reason,
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: u8 = p
                .trim()
                .parse()
                .map_err(|_| err("expected a percentage such as 25%"))?;
            if !(1..=100).contains(&p) {
                return Err(err("a percentage is between 1% and 100%"));
            }
            return Ok(WaveSize::Percent(p));
        }
        let n: u32 = t
            .parse()
            .map_err(|_| err("expected a host count (1) or a percentage (25%)"))?;
        if n == 0 {
            return Err(err("a wave takes at least one host"));
        }
        Ok(WaveSize::Count(n))
    }
}

/// `1,25%,100%` → the wave sizes.
pub fn parse_waves(text: &str) -> Result<Vec<WaveSize>, WaveError> {
    let sizes: Vec<WaveSize> = text.split(',').map(str::parse).collect::<Result<_, _>>()?;
    Ok(sizes)
}

/// A host in scope of a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Inventory name.
    pub host: String,
    /// Its failure domain (the value of the domain label, e.g. `az`), if it has one.
    pub domain: Option<String>,
    /// The components running on it.
    pub components: Vec<String>,
}

/// How many hosts of `component` may be out at once by default: all but one (at least one).
pub fn default_max_unavailable(hosts_of_component: usize) -> usize {
    hosts_of_component.saturating_sub(1).max(1)
}

/// Split `members` into waves.
///
/// Wave *i* takes `sizes[i]` hosts (the last size repeats until every host is in a wave),
/// picked round-robin across failure domains in inventory order, and skips (to a later
/// wave) a host that would put more than `max_unavailable(component)` hosts of one of its
/// components in the same wave. Every host ends in exactly one wave.
pub fn plan(
    members: &[Member],
    sizes: &[WaveSize],
    max_unavailable: impl Fn(&str) -> usize,
) -> Vec<Vec<String>> {
    let total = members.len();
    let mut remaining = interleave(members);
    let mut waves = Vec::new();
    let default_size = [WaveSize::Percent(100)];
    let sizes = if sizes.is_empty() {
        &default_size[..]
    } else {
        sizes
    };
    while !remaining.is_empty() {
        let want = sizes[waves.len().min(sizes.len() - 1)].of(total);
        let mut wave: Vec<&Member> = Vec::new();
        let mut out: BTreeMap<&str, usize> = BTreeMap::new();
        let mut deferred = VecDeque::new();
        while wave.len() < want {
            let Some(m) = remaining.pop_front() else {
                break;
            };
            let fits = m
                .components
                .iter()
                .all(|c| out.get(c.as_str()).copied().unwrap_or(0) < max_unavailable(c).max(1));
            // An empty wave always takes its first candidate: progress is guaranteed.
            if fits || wave.is_empty() {
                for c in &m.components {
                    *out.entry(c.as_str()).or_default() += 1;
                }
                wave.push(m);
            } else {
                deferred.push_back(m);
            }
        }
        while let Some(m) = deferred.pop_back() {
            remaining.push_front(m);
        }
        waves.push(wave.into_iter().map(|m| m.host.clone()).collect());
    }
    waves
}

/// Inventory order, round-robin across domains (in order of first appearance).
fn interleave(members: &[Member]) -> VecDeque<&Member> {
    let mut domains: Vec<(Option<&str>, VecDeque<&Member>)> = Vec::new();
    for m in members {
        let d = m.domain.as_deref();
        match domains.iter_mut().find(|(k, _)| *k == d) {
            Some((_, q)) => q.push_back(m),
            None => domains.push((d, VecDeque::from([m]))),
        }
    }
    let mut out = VecDeque::with_capacity(members.len());
    while out.len() < members.len() {
        for (_, q) in &mut domains {
            if let Some(m) = q.pop_front() {
                out.push_back(m);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(host: &str, domain: &str, components: &[&str]) -> Member {
        Member {
            host: host.into(),
            domain: Some(domain.into()),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn sizes_parse_and_resolve() {
        assert_eq!(
            parse_waves("1, 25%,100%"),
            Ok(vec![
                WaveSize::Count(1),
                WaveSize::Percent(25),
                WaveSize::Percent(100)
            ])
        );
        for bad in ["0", "0%", "101%", "x", "", "1,,2", "-1", "25 %x"] {
            assert!(parse_waves(bad).is_err(), "{bad}");
        }
        assert_eq!(WaveSize::Percent(25).of(4), 1);
        assert_eq!(WaveSize::Percent(25).of(5), 2);
        assert_eq!(WaveSize::Percent(1).of(0), 1);
    }

    #[test]
    fn the_lab_fleet_goes_canary_then_a_quarter_then_the_rest_across_zones() {
        let members = [
            member("web-1", "a", &["checkout"]),
            member("web-2", "b", &["checkout"]),
            member("web-3", "c", &["checkout"]),
            member("web-4", "a", &["checkout"]),
        ];
        let sizes = parse_waves("1,25%,100%").expect("valid");
        let waves = plan(&members, &sizes, |_| default_max_unavailable(4));
        assert_eq!(
            waves,
            [vec!["web-1"], vec!["web-2"], vec!["web-3", "web-4"]]
        );
    }

    #[test]
    fn a_wave_never_takes_down_every_host_of_a_component() {
        let members = [
            member("api-1", "a", &["api"]),
            member("api-2", "b", &["api"]),
            member("web-1", "a", &["web"]),
        ];
        let waves = plan(&members, &[WaveSize::Percent(100)], |_| {
            default_max_unavailable(2)
        });
        assert_eq!(waves, [vec!["api-1", "web-1"], vec!["api-2"]]);
    }

    proptest! {
        #[test]
        fn every_host_lands_in_exactly_one_wave_within_limits(
            hosts in proptest::collection::vec((0u8..3, proptest::collection::btree_set(0u8..4, 1..3)), 1..40),
            sizes in proptest::collection::vec(prop_oneof![(1u32..5).prop_map(WaveSize::Count), (1u8..=100).prop_map(WaveSize::Percent)], 0..4),
            limit in 1usize..4,
        ) {
            let members: Vec<Member> = hosts.iter().enumerate().map(|(i, (d, cs))| Member {
                host: format!("h{i}"),
                domain: Some(format!("az{d}")),
                components: cs.iter().map(|c| format!("c{c}")).collect(),
            }).collect();
            let waves = plan(&members, &sizes, |_| limit);
            let mut seen: Vec<String> = waves.iter().flatten().cloned().collect();
            seen.sort();
            let mut all: Vec<String> = members.iter().map(|m| m.host.clone()).collect();
            all.sort();
            prop_assert_eq!(seen, all);
            for wave in &waves {
                prop_assert!(!wave.is_empty());
                if wave.len() > 1 {
                    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
                    for h in wave {
                        let m = members.iter().find(|m| &m.host == h).expect("member");
                        for c in &m.components {
                            *per.entry(c.as_str()).or_default() += 1;
                        }
                    }
                    prop_assert!(per.values().all(|n| *n <= limit), "{wave:?} {per:?}");
                }
            }
            if let Some(first) = sizes.first() {
                prop_assert!(waves[0].len() <= first.of(members.len()));
            }
        }
    }
}
