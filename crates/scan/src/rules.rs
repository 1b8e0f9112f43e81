//! Rules in ast-grep's YAML format: the built-in ones (embedded with `include_str!`, one file
//! per language family under `rules/`) and a user's (`--rules DIR`: every `*.yml`/`*.yaml`
//! file, each one or more `---`-separated rule documents).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ast_grep_config::{GlobalRules, RuleConfig, SerializableRuleConfig};
use ast_grep_language::SupportLang;
use serde::Deserialize;

use crate::lang::Lang;
use crate::report::{RuleInfo, Severity};

/// The built-in rule files, by the language their documents are written for.
const BUILTIN: [(&str, &str); 7] = [
    ("python.yml", include_str!("../rules/python.yml")),
    ("javascript.yml", include_str!("../rules/javascript.yml")),
    ("go.yml", include_str!("../rules/go.yml")),
    ("java.yml", include_str!("../rules/java.yml")),
    ("bash.yml", include_str!("../rules/bash.yml")),
    ("php.yml", include_str!("../rules/php.yml")),
    ("ruby.yml", include_str!("../rules/ruby.yml")),
];
const CSHARP: (&str, &str) = ("csharp.yml", include_str!("../rules/csharp.yml"));

/// Where the rule pages live, relative to the root of fearless's repository: help links are
/// `docs/rules/ID.md` (the repository has no canonical public address to prefix yet).
pub const DOCS_BASE: &str = "docs/rules/";

/// The page of a built-in rule (`docs/rules/ID.md`, embedded in the binary), for SARIF's
/// `help.markdown`: code-scanning dashboards show it beside the alert.
pub fn builtin_page(id: &str) -> Option<&'static str> {
    Some(match id {
        "shell" => include_str!("../../../docs/rules/shell.md"),
        "injection" => include_str!("../../../docs/rules/injection.md"),
        "os-file" => include_str!("../../../docs/rules/os-file.md"),
        "distro" => include_str!("../../../docs/rules/distro.md"),
        "lock-in" => include_str!("../../../docs/rules/lock-in.md"),
        "hard-coded-address" => include_str!("../../../docs/rules/hard-coded-address.md"),
        _ => return None,
    })
}

/// The built-in rule ids with their severity and one-line summary. `injection` has no YAML
/// of its own: it is what a `shell` match becomes when its command is built from data.
pub const BUILTIN_RULES: [(&str, Severity, &str); 6] = [
    (
        "shell",
        Severity::Warning,
        "a command run through a shell (a constant command string)",
    ),
    (
        "injection",
        Severity::Error,
        "a shell command built from data (concatenation, interpolation, format)",
    ),
    (
        "os-file",
        Severity::Warning,
        "a read of an OS-owned file (/etc/passwd, /proc, /var/lib/dpkg, os-release, …)",
    ),
    (
        "distro",
        Severity::Warning,
        "a distro-specific command or path (yum, apt-get, rpm, service, /usr/bin/python2.7, …)",
    ),
    (
        "lock-in",
        Severity::Warning,
        "a message-broker SDK used directly from more than one module",
    ),
    (
        "hard-coded-address",
        Severity::Warning,
        "a non-loopback IP address or a host name literal in code outside tests",
    ),
];

/// Why rules could not be loaded. Each names the file, and the line where the YAML parser
/// gives one.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The rules directory cannot be listed.
    #[error("cannot read the rules directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A rule file cannot be read.
    #[error("cannot read rule file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: fearless_io::ReadError,
    },
    /// A rule file is not valid YAML or not a valid ast-grep rule.
    #[error("{}{}: invalid rule{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), id.as_deref().map(|i| format!(" `{i}`")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line, when the parser gives one.
        line: Option<u64>,
        /// The rule id, when it was read.
        id: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A rule is written for a language fearless has no grammar for.
    #[error("{}: rule `{id}` is for language `{language}`, which fearless does not scan (it scans {})", path.display(), Lang::ALL.map(|l| l.to_string()).join(", "))]
    Language {
        /// The file.
        path: PathBuf,
        /// The rule id.
        id: String,
        /// The language as written.
        language: String,
    },
    /// A user rule reuses a built-in rule id.
    #[error("{}: rule id `{id}` is a built-in rule's; give it another id", path.display())]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The id.
        id: String,
    },
}

/// One loaded rule.
pub(crate) struct Rule {
    pub(crate) config: RuleConfig<SupportLang>,
    pub(crate) lang: Lang,
    pub(crate) builtin: bool,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.config.id)
            .field("lang", &self.lang)
            .field("builtin", &self.builtin)
            .finish_non_exhaustive()
    }
}

/// The rules of a scan, by language.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    infos: BTreeMap<String, RuleInfo>,
}

/// The fields read before a document is handed to ast-grep: its language must be one whose
/// grammar is compiled in (ast-grep would panic on another).
#[derive(Deserialize)]
struct Header {
    id: Option<String>,
    language: Option<String>,
}

impl RuleSet {
    /// The built-in rules.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut set = RuleSet {
            rules: Vec::new(),
            infos: BTreeMap::new(),
        };
        for (id, severity, summary) in BUILTIN_RULES {
            set.infos.insert(
                id.to_owned(),
                RuleInfo {
                    id: id.to_owned(),
                    severity,
                    summary: summary.to_owned(),
                    help_uri: Some(format!("{DOCS_BASE}{id}.md")),
                    builtin: true,
                },
            );
        }
        for (name, text) in BUILTIN.into_iter().chain([CSHARP]) {
            let path = PathBuf::from(format!("<built-in>/{name}"));
            set.load_text(&path, text, true)?;
            if name == "javascript.yml" {
                for lang in ["typescript", "tsx"] {
                    let text = text.replace("language: javascript", &format!("language: {lang}"));
                    set.load_text(&path, &text, true)?;
                }
            }
        }
        Ok(set)
    }

    /// The built-in rules and every rule file of `dir` (`*.yml`, `*.yaml`, sorted by name).
    pub fn with_user_dir(dir: &Path) -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::builtin()?;
        let entries = std::fs::read_dir(dir).map_err(|source| RuleError::Dir {
            path: dir.to_owned(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| RuleError::Dir {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            let yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml")
            );
            if yaml {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let text = fearless_io::read_text(&path, fearless_io::Limit::bytes(4 * 1024 * 1024))
                .map_err(|source| RuleError::Read {
                    path: path.clone(),
                    source,
                })?;
            set.load_text(&path, &text, false)?;
        }
        Ok(set)
    }

    fn load_text(&mut self, path: &Path, text: &str, builtin: bool) -> Result<(), RuleError> {
        let invalid = |line: Option<u64>, id: Option<String>, message: String| RuleError::Invalid {
            path: path.to_owned(),
            line,
            id,
            message,
        };
        let headers: Vec<Header> = ast_grep_config::from_multiple(text)
            .map_err(|e| invalid(e.location().map(|l| l.line()), None, e.to_string()))?;
        let mut langs = Vec::with_capacity(headers.len());
        for h in &headers {
            let id = h.id.clone().unwrap_or_default();
            let Some(language) = &h.language else {
                return Err(invalid(None, h.id.clone(), "no `language`".to_owned()));
            };
            let lang = language
                .parse::<SupportLang>()
                .ok()
                .and_then(Lang::from_support)
                .ok_or_else(|| RuleError::Language {
                    path: path.to_owned(),
                    id: id.clone(),
                    language: language.clone(),
                })?;
            if !builtin && self.infos.get(&id).is_some_and(|i| i.builtin) {
                return Err(RuleError::Duplicate {
                    path: path.to_owned(),
                    id,
                });
            }
            langs.push(lang);
        }
        let docs: Vec<SerializableRuleConfig<SupportLang>> =
            ast_grep_config::from_multiple(text)
                .map_err(|e| invalid(e.location().map(|l| l.line()), None, e.to_string()))?;
        let globals = GlobalRules::default();
        for (doc, lang) in docs.into_iter().zip(langs) {
            let id = doc.id.clone();
            let config = RuleConfig::try_from(doc, &globals)
                .map_err(|e| invalid(None, Some(id.clone()), error_chain(&e)))?;
            if !builtin {
                let severity = match config.severity {
                    ast_grep_config::Severity::Error => Severity::Error,
                    ast_grep_config::Severity::Warning => Severity::Warning,
                    _ => Severity::Info,
                };
                self.infos.entry(id.clone()).or_insert_with(|| RuleInfo {
                    id: id.clone(),
                    severity,
                    summary: config.message.clone(),
                    help_uri: config.url.clone(),
                    builtin: false,
                });
            }
            if matches!(config.severity, ast_grep_config::Severity::Off) {
                continue;
            }
            self.rules.push(Rule {
                config,
                lang,
                builtin,
            });
        }
        Ok(())
    }

    /// Every rule id this set can report, with its metadata, sorted by id.
    pub fn infos(&self) -> impl Iterator<Item = &RuleInfo> {
        self.infos.values()
    }

    /// The metadata of one rule id.
    pub fn info(&self, id: &str) -> Option<&RuleInfo> {
        self.infos.get(id)
    }

    /// How many rule documents are loaded (all languages).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub(crate) fn for_lang(&self, lang: Lang) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.lang == lang)
    }
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load() {
        let set = RuleSet::builtin().expect("built-in rules load");
        for lang in Lang::ALL {
            assert!(set.for_lang(lang).count() >= 3, "{lang}");
        }
        assert_eq!(set.infos().count(), BUILTIN_RULES.len());
    }
}
