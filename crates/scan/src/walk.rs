//! The walk and the scan: files found in parallel (the `ignore` crate: `.gitignore`,
//! `.ignore` and `.git/info/exclude` honoured, vendored and generated paths skipped, symlinks
//! never followed), each read within a size cap and analysed on the walker's threads.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{DirEntry, WalkBuilder, WalkState};

use crate::analyze::{FileResult, analyze, analyze_dockerfile};
use crate::baseline::{Baseline, BaselineError};
use crate::lang::Lang;
use crate::report::{Finding, Note, NoteKind, Report, SCHEMA, Site, fingerprint};
use crate::rules::{RuleError, RuleSet};

/// Directories never scanned: vendored dependencies, build output, VCS metadata.
pub const SKIPPED_DIRS: [&str; 12] = [
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "vendor",
    "dist",
    "build",
    "target",
    "__pycache__",
    ".venv",
    "venv",
    "third_party",
];

/// The default size cap: larger files are noted and skipped (generated or data).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// What to scan and how.
#[derive(Debug)]
pub struct ScanOptions {
    /// The roots (files or directories).
    pub paths: Vec<PathBuf>,
    /// The rules.
    pub rules: RuleSet,
    /// Report only these rule ids (empty: all).
    pub select: Vec<String>,
    /// Never report these rule ids.
    pub ignore: Vec<String>,
    /// Findings accepted already.
    pub baseline: Option<Baseline>,
    /// Files larger than this are noted and skipped.
    pub max_file_size: u64,
    /// Walker threads (0: one per core).
    pub threads: usize,
}

impl ScanOptions {
    /// Scan `paths` with `rules` and the defaults.
    pub fn new(paths: Vec<PathBuf>, rules: RuleSet) -> ScanOptions {
        ScanOptions {
            paths,
            rules,
            select: Vec::new(),
            ignore: Vec::new(),
            baseline: None,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            threads: 0,
        }
    }
}

/// Why a scan could not run (nothing about a single file: those are [`Note`]s).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A root does not exist or cannot be read.
    #[error("cannot scan {}: {source}", path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--select` or `--ignore` names no rule.
    #[error("unknown rule id `{0}` (known: {1})")]
    UnknownRule(String, String),
    /// The rules could not be loaded.
    #[error(transparent)]
    Rules(#[from] RuleError),
    /// The baseline could not be read.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
}

/// Everything gathered by the walker threads.
#[derive(Default)]
struct Gathered {
    findings: Vec<Finding>,
    lock_in: Vec<Site>,
    notes: Vec<Note>,
    suppressed: usize,
    files: usize,
    bytes: u64,
}

/// Scan the roots. Files that cannot be scanned are notes in the report, never errors.
pub fn scan(options: &ScanOptions) -> Result<Report, ScanError> {
    for id in options.select.iter().chain(&options.ignore) {
        if options.rules.info(id).is_none() {
            let known: Vec<&str> = options.rules.infos().map(|i| i.id.as_str()).collect();
            return Err(ScanError::UnknownRule(id.clone(), known.join(", ")));
        }
    }
    let roots = if options.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        options.paths.clone()
    };
    for root in &roots {
        std::fs::symlink_metadata(root).map_err(|source| ScanError::Root {
            path: root.clone(),
            source,
        })?;
    }
    let gathered = Mutex::new(Gathered::default());
    // One root: paths relative to it (baselines stay put when the tree moves). Several:
    // paths as walked from each root, so two `x.py` under two roots stay two files.
    let single = roots.len() == 1;
    for root in &roots {
        walk_root(root, single, options, &gathered);
    }
    let mut g = gathered
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let wanted = |id: &str| {
        (options.select.is_empty() || options.select.iter().any(|s| s == id))
            && !options.ignore.iter().any(|s| s == id)
    };
    let mut findings: Vec<Finding> = g.findings.into_iter().filter(|f| wanted(&f.rule)).collect();
    if wanted("lock-in") {
        findings.extend(lock_in(&mut g.lock_in, &options.rules));
    }
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.rule).cmp(&(&b.path, b.line, b.column, &b.rule))
    });
    let (findings, baselined) = match &options.baseline {
        Some(b) => b.filter(findings),
        None => (findings, 0),
    };
    g.notes.sort();
    Ok(Report {
        schema: SCHEMA.to_owned(),
        roots: roots
            .iter()
            .map(|r| r.to_string_lossy().into_owned())
            .collect(),
        files_scanned: g.files,
        bytes_scanned: g.bytes,
        findings,
        notes: g.notes,
        suppressed: g.suppressed,
        baselined,
        rules: options
            .rules
            .infos()
            .filter(|i| wanted(&i.id))
            .cloned()
            .collect(),
    })
}

/// One project-level `lock-in` finding when broker SDKs are used from more than one file.
fn lock_in(sites: &mut [Site], rules: &RuleSet) -> Option<Finding> {
    sites.sort();
    let modules: std::collections::BTreeSet<&str> = sites.iter().map(|s| s.path.as_str()).collect();
    if modules.len() < 2 {
        return None;
    }
    let first = sites.first()?;
    let list: Vec<&str> = modules.iter().copied().collect();
    let info = rules.info("lock-in")?;
    Some(Finding {
        rule: "lock-in".to_owned(),
        severity: info.severity,
        path: first.path.clone(),
        line: first.line,
        column: first.column,
        end_line: first.line,
        end_column: first.column + first.matched.chars().count(),
        matched: first.matched.clone(),
        source_line: first.matched.clone(),
        message: format!(
            "message-broker SDK used directly from {} modules ({} sites): {}",
            modules.len(),
            sites.len(),
            list.join(", ")
        ),
        fix: Some(
            "put it behind one send_message wrapper module and call only that (one wrapper module is fine)"
                .to_owned(),
        ),
        fingerprint: fingerprint("lock-in", "<project>", &list.join(" ")),
        sites: sites.to_vec(),
    })
}

fn walk_root(root: &Path, single: bool, options: &ScanOptions, gathered: &Mutex<Gathered>) {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .threads(options.threads)
        .filter_entry(|e| !skipped(e));
    builder.build_parallel().run(|| {
        Box::new(|entry| {
            let result = visit(root, single, entry, options);
            if let Some(r) = result {
                let mut g = gathered
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                g.findings.extend(r.file.findings);
                g.lock_in.extend(r.file.lock_in);
                g.notes.extend(r.file.notes);
                g.suppressed += r.file.suppressed;
                if r.scanned {
                    g.files += 1;
                    g.bytes += r.bytes;
                }
            }
            WalkState::Continue
        })
    });
}

/// Whether the walker skips an entry and everything under it.
fn skipped(entry: &DirEntry) -> bool {
    let name = entry.file_name().to_string_lossy();
    let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
    (is_dir && entry.depth() > 0 && SKIPPED_DIRS.contains(&name.as_ref()))
        || name.ends_with(".min.js")
        || name.ends_with(".bundle.js")
}

struct Visited {
    file: FileResult,
    scanned: bool,
    bytes: u64,
}

fn note(path: String, kind: NoteKind, detail: String) -> Option<Visited> {
    Some(Visited {
        file: FileResult {
            notes: vec![Note { path, kind, detail }],
            ..FileResult::default()
        },
        scanned: false,
        bytes: 0,
    })
}

/// The path shown for a file, `/`-separated: relative to the root it was found under when
/// there is one root (`single`), else as walked from its root (the root joined with it).
fn shown(root: &Path, single: bool, path: &Path) -> String {
    let rel = if single {
        path.strip_prefix(root).unwrap_or(path)
    } else {
        path.strip_prefix(".").unwrap_or(path)
    };
    let s = if rel.as_os_str().is_empty() {
        path.to_string_lossy()
    } else {
        rel.to_string_lossy()
    };
    s.replace('\\', "/")
}

fn visit(
    root: &Path,
    single: bool,
    entry: Result<DirEntry, ignore::Error>,
    options: &ScanOptions,
) -> Option<Visited> {
    let entry = match entry {
        Ok(e) => e,
        Err(e) => {
            let path = match &e {
                ignore::Error::WithPath { path, .. } => shown(root, single, path),
                _ => root.to_string_lossy().into_owned(),
            };
            return note(path, NoteKind::Unreadable, e.to_string());
        }
    };
    let path = entry.path();
    let rel = shown(root, single, path);
    let file_type = entry.file_type()?;
    if file_type.is_dir() {
        return None;
    }
    let dockerfile = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(crate::dockerfile::is_dockerfile);
    let by_name = if dockerfile {
        Some(Lang::Bash)
    } else {
        Lang::from_path(path)
    };
    if file_type.is_symlink() {
        return note(
            rel,
            NoteKind::Symlink,
            "symbolic link not followed".to_owned(),
        );
    }
    if !file_type.is_file() {
        return by_name
            .and_then(|_| note(rel, NoteKind::NotRegular, "not a regular file".to_owned()));
    }
    let lang = match by_name {
        Some(l) => l,
        None if path.extension().is_none() => shebang(path)?,
        None => return None,
    };
    let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
    if size > options.max_file_size {
        return note(
            rel,
            NoteKind::TooLarge,
            format!(
                "{size} bytes, over the {} cap: skipped",
                fearless_io::Limit::bytes(options.max_file_size)
            ),
        );
    }
    let bytes =
        match fearless_io::read_bytes(path, fearless_io::Limit::bytes(options.max_file_size)) {
            Ok(b) => b,
            Err(e) => {
                let kind = match e {
                    fearless_io::ReadError::TooLarge { .. } => NoteKind::TooLarge,
                    fearless_io::ReadError::NotRegular { .. } => NoteKind::NotRegular,
                    _ => NoteKind::Unreadable,
                };
                return note(rel, kind, e.to_string());
            }
        };
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return note(
            rel,
            NoteKind::Binary,
            "binary content (a NUL byte): skipped".to_owned(),
        );
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return note(
                rel,
                NoteKind::NotUtf8,
                format!("not UTF-8 (byte {}): skipped", e.utf8_error().valid_up_to()),
            );
        }
    };
    let file = if dockerfile {
        analyze_dockerfile(&rel, &text, &options.rules)
    } else {
        analyze(&rel, lang, &text, &options.rules)
    };
    Some(Visited {
        file,
        scanned: true,
        bytes: text.len() as u64,
    })
}

/// The language of an extensionless file from its `#!` line.
fn shebang(path: &Path) -> Option<Lang> {
    let file = std::fs::File::open(path).ok()?;
    let mut head = Vec::with_capacity(128);
    file.take(128).read_to_end(&mut head).ok()?;
    Lang::from_shebang(&head)
}
