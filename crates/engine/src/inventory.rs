//! The inventory as it is now: the config's hosts, then the hosts each `inventory.ec2`
//! source discovers, merged into the one [`fearless_config::Inventory`] every verb uses.
//!
//! A source's answer is kept in the store (`discovery_cache`) and reused for its `cache:`
//! time unless `refresh` is asked; without a writable store (a verb that only reads, no
//! store yet) discovery runs uncached. A discovered name already taken — by the config,
//! an Ansible import or an earlier source — is a located configuration error, never a
//! silent replacement.

use fearless_aws::discover::{self, Fetched};
use fearless_config::{Config, ConfigError, Ec2Source, HostSource};
use fearless_store::Store;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why the inventory could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A discovered host clashes with the configuration.
    #[error(transparent)]
    Config(ConfigError),
    /// AWS did not answer a source.
    #[error("inventory.ec2[{index}] ({at}): {error}")]
    Aws {
        /// The source's index.
        index: usize,
        /// Where the source is written (`file:line:column`).
        at: String,
        /// What AWS said.
        error: fearless_aws::AwsError,
    },
}

/// What one source gave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceReport {
    /// `inventory.ec2[N]`.
    pub index: usize,
    /// Its region.
    pub region: String,
    /// Hosts it added.
    pub hosts: usize,
    /// Whether the answer came from the store's cache, and how old it was (seconds).
    pub cached_age_s: Option<u64>,
    /// Why the answer could not be kept in the store (it was used all the same).
    pub not_cached: Option<String>,
    /// Instances left out, with why.
    pub skipped: Vec<(String, String)>,
}

/// Discover every `inventory.ec2` source and add its hosts to `config`'s inventory.
/// `store`: where answers are cached (`None`: ask every time, keep nothing).
pub async fn discover(
    config: &mut Config,
    store: Option<&Store>,
    refresh: bool,
) -> Result<Vec<SourceReport>, InventoryError> {
    let sources = config.inventory.ec2.clone();
    // Every source at once: regions answer independently.
    let fetched = futures::future::join_all(
        sources
            .iter()
            .map(|s| fetch_cached(s, &config.inventory.ssm, store, refresh)),
    )
    .await;
    let mut reports = Vec::new();
    let mut problems = Vec::new();
    for (source, got) in sources.iter().zip(fetched) {
        let (answer, age, not_cached) = match got {
            // EC2 refusing a filter is the config's fault: said at the source.
            Err(InventoryError::Aws { error, .. })
                if error.code().is_some_and(|c| {
                    matches!(
                        c,
                        "InvalidParameterValue"
                            | "InvalidParameter"
                            | "InvalidFilter"
                            | "InvalidParameterCombination"
                    )
                }) =>
            {
                problems.push(source.place.error(
                    "config::ec2-filter",
                    format!("EC2 refused the filters of inventory.ec2[{}]: {error}", source.index),
                    Some("filter names are EC2's (tag:KEY, instance-state-name, availability-zone, …)".into()),
                ));
                continue;
            }
            other => other?,
        };
        let made = discover::hosts(source, &answer);
        let mut added = 0;
        for host in made.hosts {
            if let Some(existing) = config.inventory.hosts.get(&host.name) {
                problems.push(source.place.error(
                    "config::duplicate-host",
                    format!(
                        "instance {} of inventory.ec2[{}] is named `{}`, which {} already has",
                        host.instance.as_deref().unwrap_or("?"),
                        source.index,
                        host.name,
                        match &existing.source {
                            HostSource::Config => "the inventory".to_owned(),
                            other => other.to_string(),
                        }
                    ),
                    Some("give the source a `name:` template that keeps names apart (`{tag:Name}-{id}`), or narrow its filters".into()),
                ));
                continue;
            }
            config.inventory.hosts.insert(host.name.clone(), host);
            added += 1;
        }
        reports.push(SourceReport {
            index: source.index,
            region: source.region.clone(),
            hosts: added,
            cached_age_s: age.map(|a| a.as_secs()),
            not_cached,
            skipped: made.skipped,
        });
    }
    if problems.is_empty() {
        Ok(reports)
    } else {
        Err(InventoryError::Config(ConfigError {
            path: config.path.clone(),
            problems,
        }))
    }
}

/// A source's answer: the cached one when fresh enough, else EC2's (kept for next time).
async fn fetch_cached(
    source: &Ec2Source,
    ssm: &fearless_config::SsmOptions,
    store: Option<&Store>,
    refresh: bool,
) -> Result<(Fetched, Option<Duration>, Option<String>), InventoryError> {
    let key = source.key();
    let now = now_ms();
    // The cache is a convenience: a store that cannot answer or keep it costs a call to
    // EC2, never the command.
    if let Some(store) = store
        && !refresh
        && !source.cache.is_zero()
        && let Ok(Some((at, text))) = store.discovery_cached(&key).await
        && let Ok(answer) = serde_json::from_str::<Fetched>(&text)
    {
        let age = Duration::from_millis(u64::try_from(now - at).unwrap_or(u64::MAX));
        if now >= at && age <= source.cache {
            return Ok((answer, Some(age), None));
        }
    }
    let answer = discover::fetch(source, ssm)
        .await
        .map_err(|error| InventoryError::Aws {
            index: source.index,
            at: source.place.location(),
            error,
        })?;
    let mut not_cached = None;
    if let Some(store) = store
        && let Ok(text) = serde_json::to_string(&answer)
        && let Err(e) = store.cache_discovery(&key, now, &text).await
    {
        not_cached = Some(e.to_string());
    }
    Ok((answer, None, not_cached))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
