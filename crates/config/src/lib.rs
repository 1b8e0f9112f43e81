//! `fearless.yaml`: loading, validation with located diagnostics, the inventory and
//! selectors, and check templates.
//!
//! Loading is layered: YAML → raw serde structs ([`raw`]) with every unknown key collected
//! ([`keys`]) → semantic validation ([`validate`]) → the resolved [`Config`]. Every problem
//! of a file is returned at once, each with file:line:column and a span ([`Problem`]).

mod ansible;
mod diag;
mod keys;
mod model;
mod raw;
mod selector;
mod source;
mod template;
mod validate;

pub use diag::{ConfigError, Problem, Severity, SourceFile};
pub use model::*;
pub use selector::{Selector, SelectorError};
pub use source::Span;
pub use template::{Template, TemplateError};
pub use validate::{DEFAULT_TIMEOUT, parse_constraint, redact_userinfo};

use std::path::{Path, PathBuf};

/// The config file name looked for in the working directory.
pub const DEFAULT_FILE: &str = "fearless.yaml";

/// A configuration that loaded, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Non-fatal problems (e.g. a selector matching no host).
    pub warnings: Vec<Problem>,
}

/// Where the configuration comes from: `--config`, else `$FEARLESS_CONFIG`, else
/// `./fearless.yaml`.
pub fn discover(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_owned();
    }
    match std::env::var_os("FEARLESS_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_FILE),
    }
}

/// Read and validate the configuration at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "pass --config FILE, set FEARLESS_CONFIG, or create ./fearless.yaml (`fearless lab up` writes one for the lab)"
        } else {
            "check the file's permissions"
        };
        ConfigError {
            path: path.to_owned(),
            problems: vec![Problem::error("config::read", format!("cannot read {}: {e}", path.display())).hint(hint)],
        }
    })?;
    load_str(path, text)
}

/// Validate configuration text as if read from `path` (relative paths resolve against
/// its directory).
pub fn load_str(path: &Path, text: String) -> Result<Loaded, ConfigError> {
    let src = SourceFile::new(path, text);
    let map = source::SourceMap::new(&src.text);
    let mut unknown = Vec::new();
    let opts = serde_saphyr::options! { with_snippet: false };
    let typed = serde_saphyr::with_deserializer_from_str_with_options(&src.text, opts, |de| {
        serde_ignored::deserialize(de, |path| unknown.push(keys::convert_path(&path)))
    });
    let mut v = validate::Validator {
        src: &src,
        map: &map,
        problems: Vec::new(),
    };
    for path in &unknown {
        v.unknown_key(path);
    }
    let config = match typed {
        Ok(raw) => v.config(raw, path),
        Err(e) => {
            let span = e
                .location()
                .and_then(|l| source::location_span(&l, &src.text));
            let pr = Problem::error("config::yaml", strip_location(&e.to_string())).at(&src, span);
            v.problems.push(pr);
            None
        }
    };
    let mut problems = v.problems;
    problems.sort_by_key(|p| {
        (
            p.severity == Severity::Warning,
            p.span.map_or(0, |s| s.offset),
        )
    });
    match config {
        Some(config) if problems.iter().all(|p| p.severity == Severity::Warning) => Ok(Loaded {
            config,
            warnings: problems,
        }),
        _ => Err(ConfigError {
            path: path.to_owned(),
            problems,
        }),
    }
}

/// serde-saphyr puts "at line L, column C" into messages; we show the location separately.
pub(crate) fn strip_location(msg: &str) -> String {
    let msg = msg.lines().next().unwrap_or(msg);
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    let msg = match (msg.starts_with("line "), msg.find(": ")) {
        (true, Some(i)) => &msg[i + 2..],
        _ => msg,
    };
    msg.trim().to_owned()
}
