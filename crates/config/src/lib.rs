//! `fearless.yaml`: loading, validation with located diagnostics, the inventory and
//! selectors, check templates, and the import of Ansible inventories.
//!
//! Loading is layered: a bounded read (`fearless_io`, at most 64 MiB of UTF-8 from a
//! regular file) → YAML within budgets ([`yaml`]) → raw serde structs ([`raw`]) with every
//! unknown key collected ([`keys`]) → semantic validation ([`validate`]) → the resolved
//! [`Config`]. Every problem of a file is returned at once, each with file:line:column and
//! a span ([`Problem`]); what a problem shows — message, hint, code frame — never holds a
//! secret of the file or a raw control character ([`redact`]).

mod ansible;
mod diag;
mod identity;
mod keys;
mod model;
mod raw;
mod redact;
mod selector;
mod source;
mod template;
mod validate;
mod yaml;

pub use diag::{ConfigError, Problem, Severity, SourceFile};
pub use fearless_io::Limit;
pub use model::*;
pub use redact::redact_userinfo;
pub use selector::{Selector, SelectorError};
pub use source::Span;
pub use template::{Template, TemplateError};
pub use validate::{DEFAULT_TIMEOUT, parse_constraint, valid_package_name};

use fearless_io::ReadError;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

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

/// Check a host name as the inventory does (letters, digits and `. - _ : %`, not starting
/// with `-`, at most 255 bytes); the error is a complete message.
pub fn check_host_name(value: &str) -> Result<(), String> {
    identity::check(identity::Field::HostName, value)
}

/// Check an address as the inventory does (the host name rules).
pub fn check_address(value: &str) -> Result<(), String> {
    identity::check(identity::Field::Address, value)
}

/// Check a login user as the inventory does (letters, digits and `. - _ @`).
pub fn check_user(value: &str) -> Result<(), String> {
    identity::check(identity::Field::User, value)
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

/// Read and validate the configuration at `path` (at most [`Limit::CONFIG`], 64 MiB).
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    load_limited(path, Limit::CONFIG)
}

/// [`load`] with another size limit for the file (imported inventories keep
/// [`Limit::CONFIG`]).
pub fn load_limited(path: &Path, limit: Limit) -> Result<Loaded, ConfigError> {
    let text = fearless_io::read_text(path, limit).map_err(|e| {
        let hint = match &e {
            ReadError::NotFound { .. } => "pass --config FILE, set FEARLESS_CONFIG, or create ./fearless.yaml (`fearless lab up` writes one for the lab)".to_owned(),
            e => read_hint(e),
        };
        read_error(path, &e, hint)
    })?;
    load_str(path, text)
}

/// Read an Ansible inventory on its own (INI, or YAML when `path` ends in `.yml`, `.yaml` or
/// `.json`), exactly as `inventory.import` reads it: its hosts (port 22 and user `root`
/// where the inventory says nothing) and its groups.
pub fn load_ansible(path: &Path) -> Result<Inventory, ConfigError> {
    let text = fearless_io::read_text(path, Limit::CONFIG)
        .map_err(|e| read_error(path, &e, read_hint(&e)))?;
    load_ansible_str(path, text)
}

/// [`load_ansible`] for inventory text as if read from `path`.
pub fn load_ansible_str(path: &Path, text: String) -> Result<Inventory, ConfigError> {
    on_parser_stack(move || {
        ansible::parse(path, text, ansible::is_yaml(path))
            .map(validate::ansible_inventory)
            .map_err(|problems| ConfigError {
                path: path.to_owned(),
                problems: problems.into_iter().map(Problem::cleaned).collect(),
            })
    })
}

/// A file that could not be read, as a configuration error located at the file.
fn read_error(path: &Path, e: &ReadError, hint: String) -> ConfigError {
    let file = SourceFile::new(path, String::new());
    ConfigError {
        path: path.to_owned(),
        problems: vec![
            Problem::error("config::read", e.to_string())
                .hint(hint)
                .at(&file, None)
                .cleaned(),
        ],
    }
}

/// What to do about a file that could not be read.
pub(crate) fn read_hint(e: &ReadError) -> String {
    match e {
        ReadError::NotFound { .. } => "check the path".into(),
        ReadError::PermissionDenied { .. } => "check the file's permissions".into(),
        ReadError::NotRegular { .. } => {
            "name a regular file; fearless does not read pipes, devices or directories".into()
        }
        ReadError::SymlinkLoop { .. } => "fix the symbolic links along the path".into(),
        ReadError::TooLarge { limit, .. } => {
            format!(
                "a configuration or inventory larger than {limit} is not one fearless reads; is this the right file?"
            )
        }
        ReadError::InvalidUtf8 { .. } => "save the file as UTF-8".into(),
        ReadError::Io { .. } => "check the file and the disk it is on".into(),
    }
}

/// Validate configuration text as if read from `path` (relative paths resolve against
/// its directory).
pub fn load_str(path: &Path, text: String) -> Result<Loaded, ConfigError> {
    on_parser_stack(move || load_text(path, text))
}

/// Stack for parsing: the YAML parser and the serde visitors recurse once per nesting
/// level (up to `yaml::MAX_DEPTH`), and a debug build's frames are large; a test thread or
/// an async worker has only 2 MiB. Only the pages used are ever committed.
const PARSER_STACK: usize = 256 * 1024 * 1024;

/// Run `f` on a thread with [`PARSER_STACK`] (on this thread if none can be started).
fn on_parser_stack<T: Send, F: FnOnce() -> T + Send>(f: F) -> T {
    let slot = Mutex::new(Some(f));
    let joined = std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("fearless-config".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || take_and_run(&slot))
            .ok()?;
        Some(handle.join())
    });
    match joined {
        Some(Ok(Some(out))) => out,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        _ => take_and_run(&slot).expect("the parse runs here when no thread could start"),
    }
}

fn take_and_run<T, F: FnOnce() -> T>(slot: &Mutex<Option<F>>) -> Option<T> {
    let f = slot.lock().unwrap_or_else(PoisonError::into_inner).take()?;
    Some(f())
}

fn load_text(path: &Path, text: String) -> Result<Loaded, ConfigError> {
    let mut unknown = Vec::new();
    let typed: Result<raw::RawConfig, _> =
        serde_saphyr::with_deserializer_from_str_with_options(&text, yaml::options(), |de| {
            serde_ignored::deserialize(de, |path| unknown.push(keys::convert_path(&path)))
        });
    let src = SourceFile::yaml(path, text);
    let mut v = validate::Validator {
        src: &src,
        problems: Vec::new(),
    };
    // A document over the budgets (a bomb) is not parsed a second time for the index.
    let bomb = matches!(&typed, Err(e) if yaml::is_budget(e));
    let repeated = match &typed {
        Ok(raw) => raw.repeated_keys(),
        Err(e) => yaml::is_duplicate_field(e),
    };
    if !bomb && (repeated || !unknown.is_empty()) && src.index().root().is_some() {
        // Without the index, unknown keys cannot be located; the parse error comes first.
        for path in &unknown {
            v.unknown_key(path);
        }
        v.duplicates();
    }
    let typed_ok = typed.is_ok();
    let config = match typed {
        Ok(raw) => v.config(raw, path),
        // Repeated fields of a struct: reported, each located, by `duplicates`.
        Err(e) if yaml::is_duplicate_field(&e) && !v.problems.is_empty() => None,
        Err(e) if bomb => {
            v.problems
                .push(yaml::problem("config::yaml", &e, &src, None));
            None
        }
        Err(e) => {
            // The index stopped first on a budget: its error is the one to fix.
            let index = src.index();
            let pr = match src.index_error().filter(|ie| yaml::is_budget(ie)) {
                Some(ie) => yaml::problem("config::yaml", ie, &src, None),
                None => yaml::problem("config::yaml", &e, &src, Some(index)),
            };
            v.problems.push(pr);
            None
        }
    };
    // The index was needed (to place a problem) and could not be built where the typed
    // pass could: that is a problem of its own, and the others are placed at the start.
    if typed_ok && let Some(ie) = src.index_error() {
        v.problems
            .push(yaml::problem("config::yaml", ie, &src, None));
    }
    let start = source::Span { offset: 0, len: 0 };
    let mut problems: Vec<Problem> = v
        .problems
        .into_iter()
        .map(|mut p| {
            p.span = p.span.or(Some(start));
            p.cleaned()
        })
        .collect();
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
