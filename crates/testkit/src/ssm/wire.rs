//! The AWS JSON 1.1 protocol as SSM speaks it: errors, timestamps, ids, validation messages.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The content type of every request and answer.
pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An error answer: HTTP status, `__type` and `message`, as the AWS JSON protocol has them.
#[derive(Debug)]
pub(crate) struct AwsError {
    status: StatusCode,
    kind: &'static str,
    message: Option<String>,
}

impl AwsError {
    /// A client error (HTTP 400) of `kind`.
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: Some(message.into()),
        }
    }

    /// A client error whose shape has no message member (`InvocationDoesNotExist`,
    /// `InvalidCommandId`, `InvalidPluginName`, `DuplicateInstanceId`, …).
    pub(crate) fn bare(kind: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: None,
        }
    }

    /// With another HTTP status.
    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// A `ValidationException` with `violations` in the service's words.
    pub(crate) fn validation(violations: &[String]) -> Self {
        let n = violations.len();
        let plural = if n == 1 { "" } else { "s" };
        Self::new(
            "ValidationException",
            format!(
                "{n} validation error{plural} detected: {}",
                violations.join("; ")
            ),
        )
    }

    /// A body that is not the JSON of the operation's input shape.
    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    /// The answer, with its request id.
    pub(crate) fn into_response(self, request_id: &str) -> Response {
        let mut body = json!({ "__type": self.kind });
        if let Some(message) = self.message {
            body["message"] = Value::String(message);
        }
        answer(self.status, &body, request_id)
    }
}

/// An answer of the protocol: the JSON body, its content type and `x-amzn-RequestId`.
pub(crate) fn answer(status: StatusCode, body: &Value, request_id: &str) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// The constraint violations of one request, collected in the order of its members.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    /// `value` at `member` breaks `constraint`.
    pub(crate) fn add(&mut self, value: impl Display, member: &str, constraint: &str) {
        self.0.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A required `member` is missing.
    pub(crate) fn missing(&mut self, member: &str) {
        self.0.push(format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// `Ok` when there is none, else the `ValidationException`.
    pub(crate) fn check(self) -> Result<(), AwsError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AwsError::validation(&self.0))
        }
    }
}

/// The pattern of `InstanceId`, as the API reference writes it.
pub(crate) const INSTANCE_ID_PATTERN: &str = r"(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)";

/// A list as the service shows it in a validation message: `[a, b]`.
pub(crate) fn list(values: &[String]) -> String {
    format!("[{}]", values.join(", "))
}

/// A timestamp as AWS JSON 1.1 carries it: epoch seconds, milliseconds as the fraction.
pub(crate) fn epoch(t: SystemTime) -> Value {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    // Milliseconds since 1970 fit an f64's 53 bits for the next 280,000 years.
    #[allow(clippy::cast_precision_loss)]
    let seconds = ms as f64 / 1000.0;
    json!(seconds)
}

/// A `StringDateTime` as `GetCommandInvocation` has it: `2023-05-07T22:13:33.797Z`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (year, month, day) = civil_from_days(days);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `ExecutionElapsedTime` as the service writes it (Java's `Duration`): `PT0.091S`,
/// `PT1H0.271S`, `PT8M20S`.
pub(crate) fn iso_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::from("PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if seconds == 0 && millis == 0 && out.len() > 2 {
        return out;
    }
    out.push_str(&seconds.to_string());
    if millis > 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('S');
    out
}

/// A random (version 4) UUID, as command and request ids are.
pub(crate) fn uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: unique within this process is all a test endpoint needs.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&count.to_be_bytes());
        bytes[8..].copy_from_slice(&nanos.to_be_bytes()[8..]);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The first `n` characters of `text` (the API's limits count characters).
pub(crate) fn first_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The combined `Output` of a `CommandPlugin`, as SSM Agent builds it: standard output,
/// then `\n----------ERROR-------\n` and standard error, each cut with its marker
/// (`\n---Output truncated---`, `\n---Error truncated----`) when both do not fit
/// `capacity` characters.
pub(crate) fn plugin_output(stdout: &str, stderr: &str, capacity: usize) -> String {
    const TRUNC_OUT: &str = "\n---Output truncated---";
    const TRUNC_ERR: &str = "\n---Error truncated----";
    const ERROR_TITLE: &str = "\n----------ERROR-------\n";
    let out_len = stdout.chars().count();
    let err_len = stderr.chars().count();
    let title = if err_len > 0 { ERROR_TITLE } else { "" };
    let available = capacity.saturating_sub(title.len());
    if out_len + err_len < available {
        return format!("{stdout}{title}{stderr}");
    }
    if out_len > available / 2 && err_len > available / 2 {
        let half = available.saturating_sub(TRUNC_OUT.len() + TRUNC_ERR.len()) / 2;
        return format!(
            "{}{TRUNC_OUT}{title}{}{TRUNC_ERR}",
            first_chars(stdout, half),
            first_chars(stderr, half)
        );
    }
    if out_len < available / 2 {
        let keep = available.saturating_sub(TRUNC_ERR.len() + out_len);
        return format!("{stdout}{title}{}{TRUNC_ERR}", first_chars(stderr, keep));
    }
    let keep = available.saturating_sub(TRUNC_OUT.len() + err_len);
    format!("{}{TRUNC_OUT}{title}{stderr}", first_chars(stdout, keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_the_service_writes_them() {
        let t = UNIX_EPOCH + Duration::from_millis(1_683_497_613_797);
        assert_eq!(iso8601(t), "2023-05-07T22:13:33.797Z");
        assert_eq!(epoch(t), json!(1_683_497_613.797));
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn elapsed_times_are_iso_durations() {
        assert_eq!(iso_duration(Duration::from_millis(91)), "PT0.091S");
        assert_eq!(iso_duration(Duration::from_millis(3_600_271)), "PT1H0.271S");
        assert_eq!(iso_duration(Duration::from_secs(500)), "PT8M20S");
        assert_eq!(iso_duration(Duration::from_secs(3600)), "PT1H");
        assert_eq!(iso_duration(Duration::from_millis(1500)), "PT1.5S");
        assert_eq!(iso_duration(Duration::ZERO), "PT0S");
    }

    #[test]
    fn uuids_have_the_v4_shape() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, uuid());
    }

    #[test]
    fn plugin_output_is_cut_as_the_agent_cuts_it() {
        assert_eq!(plugin_output("", "", 100), "");
        assert_eq!(plugin_output("out", "", 100), "out");
        assert_eq!(
            plugin_output("", "err", 100),
            "\n----------ERROR-------\nerr"
        );
        let long = "x".repeat(300);
        let cut = plugin_output(&long, "", 100);
        assert_eq!(cut.chars().count(), 100);
        assert!(cut.ends_with("\n---Output truncated---"));
        let both = plugin_output(&long, &long, 100);
        assert!(both.chars().count() <= 100);
        assert!(both.contains("---Output truncated---\n----------ERROR-------\n"));
        assert!(both.ends_with("\n---Error truncated----"));
        let short_out = plugin_output("ok", &long, 100);
        assert!(short_out.starts_with("ok\n----------ERROR-------\n"));
        assert_eq!(short_out.chars().count(), 100);
    }

    #[test]
    fn first_chars_counts_characters() {
        assert_eq!(first_chars("héllo", 2), "hé");
        assert_eq!(first_chars("hi", 5), "hi");
    }
}
