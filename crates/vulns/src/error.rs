//! [`FeedError`]: a feed that cannot be read, located — the file (and the zip member), the
//! line and column for JSON and XML, or the record and field — so that a person can open
//! it there. A feed that fails is never partly used: the whole read fails.

/// A feed that cannot be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct FeedError {
    /// `FILE`, `FILE:LINE:COLUMN`, `FILE: member NAME:LINE:COLUMN`, `FILE: record ID`.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl FeedError {
    pub(crate) fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            message: message.into(),
        }
    }

    /// A serde_json error at its line and column of `at`.
    pub(crate) fn json(at: &str, e: &serde_json::Error) -> Self {
        // serde_json's message ends in " at line L column C": the location goes in front.
        let text = e.to_string();
        let message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        Self::new(format!("{at}:{}:{}", e.line(), e.column()), message)
    }

    /// A problem in record `id` of `at`, at `field`.
    pub(crate) fn record(at: &str, id: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(
            format!("{at}: record {id}"),
            format!("{field}: {}", message.into()),
        )
    }
}
