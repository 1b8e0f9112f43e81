//! A [`Drift`] as SARIF 2.1.0, for code-scanning tools: one result per undeclared edge
//! (`fearless/undeclared-dependency`, error) and per unknown peer (`fearless/unknown-peer`,
//! warning), located at the config file and the depending component's key (its line when
//! [`component_lines`] found it in the config's text).

use crate::drift::{Drift, Use};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The rule of undeclared edges.
pub const UNDECLARED: &str = "fearless/undeclared-dependency";
/// The rule of unknown peers.
pub const UNKNOWN_PEER: &str = "fearless/unknown-peer";
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A SARIF log (the subset fearless writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SarifLog {
    /// The JSON schema.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// `2.1.0`.
    pub version: String,
    /// One run.
    pub runs: Vec<Run>,
}

/// One run of one tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// fearless.
    pub tool: Tool,
    /// The findings.
    pub results: Vec<SarifResult>,
}

/// The tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// Its driver.
    pub driver: Driver,
}

/// The tool's driver and its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    /// `fearless`.
    pub name: String,
    /// The crate version.
    pub version: String,
    /// The rules results refer to.
    pub rules: Vec<Rule>,
}

/// A rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// `fearless/…`.
    pub id: String,
    /// Short description.
    pub short_description: Message,
    /// Full description.
    pub full_description: Message,
    /// Default level.
    pub default_configuration: Configuration,
}

/// A rule's default configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Configuration {
    /// `error`, `warning`, `note`.
    pub level: String,
}

/// Text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The text.
    pub text: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    /// Its rule.
    pub rule_id: String,
    /// Index of the rule in the driver's rules.
    pub rule_index: usize,
    /// `error` or `warning`.
    pub level: String,
    /// What was found.
    pub message: Message,
    /// Where.
    pub locations: Vec<Location>,
    /// Stable identity across runs (`from→to`, `from→address:port`).
    pub partial_fingerprints: BTreeMap<String, String>,
}

/// A location: the config file, and the component's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// The file.
    pub physical_location: PhysicalLocation,
    /// `components.NAME`.
    pub logical_locations: Vec<LogicalLocation>,
}

/// A place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalLocation {
    /// The file.
    pub artifact_location: ArtifactLocation,
    /// The line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

/// A file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactLocation {
    /// Its URI (relative paths stay relative).
    pub uri: String,
}

/// Lines of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    /// 1-based.
    pub start_line: usize,
}

/// A named place that is not a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogicalLocation {
    /// The component.
    pub name: String,
    /// `components.NAME`.
    pub fully_qualified_name: String,
    /// `object`.
    pub kind: String,
}

/// The file's URI: `file://` for an absolute path, the path itself (with `/`) otherwise;
/// characters a URI cannot hold are percent-encoded.
fn uri(path: &Path) -> String {
    if path.is_absolute()
        && let Ok(u) = url::Url::from_file_path(path)
    {
        return u.to_string();
    }
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The 1-based line of each component's key in a config's text (`components:` at the top
/// level, its keys in block style). Components written otherwise are simply not found.
pub fn component_lines(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    let mut indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let depth = line.len() - trimmed.len();
        if depth == 0 {
            inside = trimmed.starts_with("components:");
            indent = None;
            continue;
        }
        if !inside {
            continue;
        }
        let level = *indent.get_or_insert(depth);
        if depth != level {
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
        out.entry(key.to_owned()).or_insert(i + 1);
    }
    out
}

fn location(config_uri: &str, component: &str, lines: &BTreeMap<String, usize>) -> Location {
    Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: config_uri.to_owned(),
            },
            region: lines
                .get(component)
                .map(|&start_line| Region { start_line }),
        },
        logical_locations: vec![LogicalLocation {
            name: component.to_owned(),
            fully_qualified_name: format!("components.{component}"),
            kind: "object".into(),
        }],
    }
}

fn who(uses: &[Use]) -> String {
    let mut parts: Vec<String> = uses
        .iter()
        .map(|u| {
            let pkg = u
                .package
                .as_deref()
                .map(|p| format!(", package {p}"))
                .unwrap_or_default();
            format!(
                "{} on {} ({}{pkg}) → {}, seen in {} of {} samples",
                u.process,
                u.host,
                u.program.as_deref().unwrap_or("program unknown"),
                u.remote,
                u.samples_seen,
                u.samples
            )
        })
        .collect();
    parts.dedup();
    parts.join("; ")
}

/// The SARIF log of `drift` for the config at `config_path`, without line numbers.
pub fn sarif(drift: &Drift, config_path: &Path) -> SarifLog {
    sarif_with_lines(drift, config_path, &BTreeMap::new())
}

/// [`sarif`], with each component's line ([`component_lines`] of the config's text).
pub fn sarif_with_lines(
    drift: &Drift,
    config_path: &Path,
    lines: &BTreeMap<String, usize>,
) -> SarifLog {
    let config_uri = uri(config_path);
    let rules = vec![
        Rule {
            id: UNDECLARED.into(),
            short_description: Message {
                text: "A component talks to a component it does not declare in depends_on".into(),
            },
            full_description: Message {
                text: "A process of the component was seen connected to an endpoint of another component that its `depends_on` does not list: the dependency map is wrong, and a change to the other component can break this one unannounced.".into(),
            },
            default_configuration: Configuration {
                level: "error".into(),
            },
        },
        Rule {
            id: UNKNOWN_PEER.into(),
            short_description: Message {
                text: "A component talks to an endpoint no component claims".into(),
            },
            full_description: Message {
                text: "A process of the component was seen connected to an address and port that no component's `listens` or checks claim: something the map does not know of.".into(),
            },
            default_configuration: Configuration {
                level: "warning".into(),
            },
        },
    ];
    let mut results = Vec::new();
    for e in &drift.undeclared {
        results.push(SarifResult {
            rule_id: UNDECLARED.into(),
            rule_index: 0,
            level: "error".into(),
            message: Message {
                text: format!(
                    "`{}` talks to `{}` (recognised by its {}) but does not declare it in depends_on: {}",
                    e.from,
                    e.to,
                    e.via,
                    who(&e.uses)
                ),
            },
            locations: vec![location(&config_uri, &e.from, lines)],
            partial_fingerprints: [(
                "fearless/edge".to_owned(),
                format!("{}→{}", e.from, e.to),
            )]
            .into(),
        });
    }
    for p in &drift.unknown_peers {
        let ep = crate::resolve::endpoint(p.address, p.port);
        let served = p
            .served_by
            .as_ref()
            .map(|s| {
                format!(
                    " (served by {} on {}{})",
                    s.process,
                    s.host,
                    s.package
                        .as_deref()
                        .map(|x| format!(", package {x}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        results.push(SarifResult {
            rule_id: UNKNOWN_PEER.into(),
            rule_index: 1,
            level: "warning".into(),
            message: Message {
                text: format!(
                    "`{}` talks to {ep}{served}, which no component claims: {}",
                    p.from,
                    who(&p.uses)
                ),
            },
            locations: vec![location(&config_uri, &p.from, lines)],
            partial_fingerprints: [("fearless/edge".to_owned(), format!("{}→{ep}", p.from))].into(),
        });
    }
    SarifLog {
        schema: SCHEMA.into(),
        version: "2.1.0".into(),
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "fearless".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    rules,
                },
            },
            results,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_keys_are_found_in_block_style() {
        let text = "inventory:\n  hosts: {}\ncomponents:\n  # the front\n  web:\n    runs_on: all\n    depends_on: [api]\n  \"api\":\n    checks: []\npatch: {}\n";
        let lines = component_lines(text);
        assert_eq!(lines.get("web"), Some(&5));
        assert_eq!(lines.get("api"), Some(&8));
        assert_eq!(lines.get("runs_on"), None);
        assert!(component_lines("components: {web: {}}\n").is_empty());
    }

    #[test]
    fn uris_are_uris() {
        assert_eq!(uri(Path::new("fearless.yaml")), "fearless.yaml");
        assert_eq!(uri(Path::new("my dir/f.yaml")), "my%20dir/f.yaml");
        assert_eq!(
            uri(Path::new("/etc/fearless/fearless.yaml")),
            "file:///etc/fearless/fearless.yaml"
        );
    }
}
