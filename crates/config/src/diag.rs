//! Located configuration problems: what is wrong, where (file:line:column and a span), and a
//! hint. Every problem of a file is collected before anything is reported.

use crate::redact::{Shown, scrub};
use crate::source::{SourceMap, Span};
use fearless_io::escape_terminal;
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A configuration file's text, shared by the problems that point into it.
///
/// What only a report needs is computed on first use: the span index of a YAML file (a
/// clean load never builds it), its secrets, and the copy code frames show.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as given (or as resolved from an `import`).
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
    /// Whether the span index and the secrets come from parsing `text` as YAML.
    yaml: bool,
    /// The YAML span index, and the parser's error when it could not be built.
    index: OnceLock<(SourceMap, Option<serde_saphyr::Error>)>,
    /// Byte ranges of secret values, and the values (scrubbed from messages too).
    secrets: OnceLock<(Vec<Range<usize>>, Vec<String>)>,
    /// The copy code frames show (secrets masked, control characters escaped), named.
    view: OnceLock<(Shown, NamedSource<String>)>,
}

impl SourceFile {
    pub(crate) fn new(path: &Path, text: String) -> Arc<Self> {
        Self::with_secrets(path, text, &[], Vec::new())
    }

    /// A source whose code frames mask `ranges` and every occurrence of `secrets` (URL
    /// passwords are always masked).
    pub(crate) fn with_secrets(
        path: &Path,
        text: String,
        ranges: &[Range<usize>],
        secrets: Vec<String>,
    ) -> Arc<Self> {
        let file = Self::bare(path, text, false);
        let _ = file.secrets.set((ranges.to_vec(), secrets));
        Arc::new(file)
    }

    /// A YAML document: its index and secrets come from parsing it, when first needed.
    pub(crate) fn yaml(path: &Path, text: String) -> Arc<Self> {
        Arc::new(Self::bare(path, text, true))
    }

    fn bare(path: &Path, text: String, yaml: bool) -> Self {
        Self {
            path: path.to_owned(),
            text,
            yaml,
            index: OnceLock::new(),
            secrets: OnceLock::new(),
            view: OnceLock::new(),
        }
    }

    /// The span index (parsed on first use; empty when the text is not YAML or does not
    /// parse).
    pub(crate) fn index(&self) -> &SourceMap {
        &self.built_index().0
    }

    /// Why the index could not be built, if it was needed and failed.
    pub(crate) fn index_error(&self) -> Option<&serde_saphyr::Error> {
        self.index.get().and_then(|(_, e)| e.as_ref())
    }

    fn built_index(&self) -> &(SourceMap, Option<serde_saphyr::Error>) {
        self.index.get_or_init(|| {
            if !self.yaml {
                return (SourceMap::empty(self.text.len()), None);
            }
            match SourceMap::parse(&self.text) {
                Ok(map) => (map, None),
                Err(e) => (SourceMap::empty(self.text.len()), Some(e)),
            }
        })
    }

    fn secrets(&self) -> &(Vec<Range<usize>>, Vec<String>) {
        self.secrets.get_or_init(|| self.index().secrets())
    }

    fn view(&self) -> &(Shown, NamedSource<String>) {
        self.view.get_or_init(|| {
            let (ranges, secrets) = self.secrets();
            let shown = Shown::new(&self.text, ranges, secrets);
            let name = escape_terminal(&self.path.display().to_string()).into_owned();
            let named = NamedSource::new(name, shown.text.clone());
            (shown, named)
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..self.text.floor_char_boundary(offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// `text` with this file's secrets scrubbed and control characters escaped.
    pub(crate) fn clean(&self, text: &str) -> String {
        escape_terminal(&scrub(text, &self.secrets().1)).into_owned()
    }
}

/// How bad a problem is: errors stop the load, warnings are printed and the load goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The configuration cannot be used.
    Error,
    /// Suspicious but usable (e.g. a selector that matches no host).
    Warning,
}

/// One located problem in a configuration file.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `config::unknown-key`.
    pub code: &'static str,
    /// What is wrong, lower case.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Label shown under the span.
    pub label: Option<String>,
    /// The file and where in it; `None` for problems not tied to a place.
    pub source: Option<Arc<SourceFile>>,
    /// Byte span in `source`.
    pub span: Option<Span>,
}

impl Problem {
    pub(crate) fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            hint: None,
            label: None,
            source: None,
            span: None,
        }
    }

    pub(crate) fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn at(mut self, source: &Arc<SourceFile>, span: Option<Span>) -> Self {
        self.source = Some(Arc::clone(source));
        self.span = span;
        self
    }

    /// The problem as shown to anyone: secrets of its file scrubbed (URL passwords always)
    /// and control characters escaped, in the message, hint and label.
    pub(crate) fn cleaned(mut self) -> Self {
        self.message = self.clean(&self.message);
        self.hint = self.hint.as_deref().map(|h| self.clean(h));
        self.label = self.label.as_deref().map(|l| self.clean(l));
        self
    }

    fn clean(&self, text: &str) -> String {
        match &self.source {
            Some(src) => src.clean(text),
            None => escape_terminal(&scrub(text, &[])).into_owned(),
        }
    }

    /// `file:line:col` (or just the file) for this problem.
    pub fn location(&self) -> String {
        match (&self.source, self.span) {
            (Some(src), Some(span)) => {
                let (l, c) = src.line_col(span.offset);
                format!(
                    "{}:{l}:{c}",
                    escape_terminal(&src.path.display().to_string())
                )
            }
            (Some(src), None) => escape_terminal(&src.path.display().to_string()).into_owned(),
            (None, _) => String::from("<config>"),
        }
    }

    /// Line and column, when located.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        Some(self.source.as_ref()?.line_col(self.span?.offset))
    }

    /// The plain one-problem rendering used in logs and snapshot tests:
    /// `file:line:col: error[code]: message` then `  hint: …`.
    pub fn plain(&self) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut s = format!(
            "{}: {sev}[{}]: {}",
            self.location(),
            self.code,
            self.message
        );
        if let Some(h) = &self.hint {
            s.push_str("\n  hint: ");
            s.push_str(h);
        }
        s
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        let src = self.source.as_ref()?;
        let (offset, len) = src.view().0.map_span(span.offset, span.len);
        let label = LabeledSpan::new(self.label.clone(), offset, len);
        Some(Box::new(std::iter::once(label)))
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| &s.view().1 as &dyn SourceCode)
    }
}

/// Everything wrong with a configuration: the load failed.
#[derive(Debug, thiserror::Error)]
#[error("{} in {}", count_errors(.problems), shown_path(.path))]
pub struct ConfigError {
    /// The configuration file that was being loaded.
    pub path: PathBuf,
    /// Errors first, then warnings, in file order.
    pub problems: Vec<Problem>,
}

fn shown_path(path: &Path) -> String {
    escape_terminal(&path.display().to_string()).into_owned()
}

fn count_errors(problems: &[Problem]) -> String {
    let n = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    if n == 1 {
        String::from("1 configuration error")
    } else {
        format!("{n} configuration errors")
    }
}

/// The closest of `candidates` to `word`, if close enough to be a plausible typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
