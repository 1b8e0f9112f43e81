//! The event envelope: CloudEvents 1.0 in structured JSON mode.
//!
//! Required attributes (`specversion`, `id`, `source`, `type`), the optional ones fearless
//! always sets (`time`, `datacontenttype`, `subject` when there is one), `data`, and
//! string-only extension attributes (`severity`, `change`, `host`, …) at the top level, as
//! the spec's JSON format puts them.

use crate::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Event types fearless emits (`fearless.<area>.<what>.v<schema version>`).
pub mod types {
    /// A change record was submitted for approval.
    pub const CHANGE_SUBMITTED: &str = "fearless.change.submitted.v1";
    /// A change record got its last required approval.
    pub const CHANGE_APPROVED: &str = "fearless.change.approved.v1";
    /// A change record was scheduled into a window.
    pub const CHANGE_SCHEDULED: &str = "fearless.change.scheduled.v1";
    /// Implementation of a change started.
    pub const CHANGE_STARTED: &str = "fearless.change.started.v1";
    /// A change record was closed.
    pub const CHANGE_CLOSED: &str = "fearless.change.closed.v1";
    /// An incident was opened.
    pub const INCIDENT_OPENED: &str = "fearless.incident.opened.v1";
    /// The event `fearless events test SINK` sends.
    pub const TEST: &str = "fearless.test.v1";
}

/// Context attribute names an extension may not take (CloudEvents 1.0 core attributes).
const RESERVED: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
    "severity",
];

/// One event, serialised as a CloudEvents 1.0 structured-mode JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Always `"1.0"`.
    pub specversion: String,
    /// A UUIDv7: unique, and sortable by creation time.
    pub id: String,
    /// Who emitted it: `fearless://HOSTNAME` for the controller.
    pub source: String,
    /// `fearless.change.approved.v1` and friends (see [`types`]).
    #[serde(rename = "type")]
    pub ty: String,
    /// RFC 3339 UTC.
    pub time: String,
    /// What it is about, e.g. a change id `CHG-3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// Extension attribute `severity`; routes filter on it.
    pub severity: Severity,
    /// Other extension attributes (string-only, names lower-case alphanumerics).
    // CloudEvents puts extensions beside the core attributes, so they are flattened here;
    // this is our own output format, not user input, so flatten costs no error message.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, String>,
    /// The payload.
    pub data: serde_json::Value,
}

/// An extension attribute name the spec does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid extension attribute name `{0}`: use 1-20 lower-case letters and digits, not a core attribute"
)]
pub struct ExtensionNameError(pub String);

impl Event {
    /// A new event of type `ty` from `source` carrying `data`: fresh UUIDv7 id, time now,
    /// severity info.
    pub fn new(ty: impl Into<String>, source: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            specversion: "1.0".into(),
            id: uuid::Uuid::now_v7().to_string(),
            source: source.into(),
            ty: ty.into(),
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            subject: None,
            datacontenttype: "application/json".into(),
            severity: Severity::Info,
            extensions: BTreeMap::new(),
            data,
        }
    }

    /// An event about change record `change` (sets `subject` and the `change` extension).
    pub fn for_change(
        ty: impl Into<String>,
        source: impl Into<String>,
        change: &str,
        data: serde_json::Value,
    ) -> Self {
        let mut e = Self::new(ty, source, data).subject(change);
        e.extensions.insert("change".into(), change.to_owned());
        e
    }

    /// Set `subject`.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Set the `severity` extension.
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Set the `host` extension.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.extensions.insert("host".into(), host.into());
        self
    }

    /// Set an extension attribute; the name must be lower-case alphanumerics (1–20) and
    /// not a core attribute.
    pub fn extension(
        mut self,
        name: &str,
        value: impl Into<String>,
    ) -> Result<Self, ExtensionNameError> {
        let valid = (1..=20).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && !RESERVED.contains(&name);
        if !valid {
            return Err(ExtensionNameError(name.to_owned()));
        }
        self.extensions.insert(name.to_owned(), value.into());
        Ok(self)
    }

    /// One line for humans: `data.summary` when the emitter gave one, else type and subject.
    pub fn summary(&self) -> String {
        if let Some(s) = self.data.get("summary").and_then(serde_json::Value::as_str) {
            return s.to_owned();
        }
        match &self.subject {
            Some(subject) => format!("{} {subject}", self.ty),
            None => self.ty.clone(),
        }
    }

    /// The structured-mode JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of strings and a `Value` cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `fearless://HOSTNAME` for this machine (`fearless://localhost` if it has no name).
pub fn local_source() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("fearless://{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_structured_cloudevents() {
        let e = Event::for_change(
            types::CHANGE_APPROVED,
            "fearless://ctl",
            "CHG-3",
            serde_json::json!({"by": "alice"}),
        )
        .severity(Severity::Warning)
        .host("web-1");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).expect("json");
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], "fearless.change.approved.v1");
        assert_eq!(v["subject"], "CHG-3");
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["change"], "CHG-3");
        assert_eq!(v["host"], "web-1");
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(
            uuid::Uuid::parse_str(v["id"].as_str().expect("id"))
                .expect("uuid")
                .get_version_num(),
            7
        );
        assert!(humantime::parse_rfc3339(v["time"].as_str().expect("time")).is_ok());
        let back: Event = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, e);
    }

    #[test]
    fn extension_names_follow_the_spec() {
        let e = Event::new(types::TEST, "fearless://x", serde_json::Value::Null);
        assert!(e.clone().extension("wave2", "a").is_ok());
        assert!(e.clone().extension("Wave", "a").is_err());
        assert!(e.clone().extension("my-ext", "a").is_err());
        assert!(e.extension("type", "a").is_err());
    }
}
