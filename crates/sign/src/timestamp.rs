//! The times of `valid-after` and `valid-before`, as `ssh-keygen` reads them.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// `YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]`: with `Z` in UTC, without it in the system's time
/// zone, as `ssh-keygen -Y verify` reads `valid-after`/`valid-before`. A date alone is its
/// first second.
pub fn parse_ssh_time(text: &str) -> Result<Timestamp, String> {
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (text, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(format!(
            "`{text}` is not a time: write YYYYMMDD or YYYYMMDDHHMM[SS], with Z for UTC"
        ));
    }
    let num = |range: std::ops::Range<usize>| -> i32 {
        digits
            .get(range)
            .and_then(|d| d.parse().ok())
            .unwrap_or_default()
    };
    let bad = |e: jiff::Error| format!("`{text}` is not a time: {e}");
    let date = Date::new(
        i16::try_from(num(0..4)).map_err(|e| e.to_string())?,
        i8::try_from(num(4..6)).map_err(|e| e.to_string())?,
        i8::try_from(num(6..8)).map_err(|e| e.to_string())?,
    )
    .map_err(bad)?;
    let time = if digits.len() >= 12 {
        Time::new(
            i8::try_from(num(8..10)).map_err(|e| e.to_string())?,
            i8::try_from(num(10..12)).map_err(|e| e.to_string())?,
            i8::try_from(num(12..14)).map_err(|e| e.to_string())?,
            0,
        )
        .map_err(bad)?
    } else {
        Time::midnight()
    };
    let civil = DateTime::from_parts(date, time);
    let zone = if utc {
        TimeZone::UTC
    } else {
        TimeZone::try_system().unwrap_or(TimeZone::UTC)
    };
    civil.to_zoned(zone).map(|z| z.timestamp()).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_ssh_keygen_reads() {
        let t = |s: &str| parse_ssh_time(s).map(|t| t.to_string());
        assert_eq!(t("20260101Z").as_deref(), Ok("2026-01-01T00:00:00Z"));
        assert_eq!(t("202601021304Z").as_deref(), Ok("2026-01-02T13:04:00Z"));
        assert_eq!(t("20260102130405Z").as_deref(), Ok("2026-01-02T13:04:05Z"));
        for bad in [
            "2026",
            "20261301Z",
            "2026010Z",
            "20260101T00Z",
            "",
            "Z",
            "20260230",
        ] {
            assert!(parse_ssh_time(bad).is_err(), "{bad}");
        }
    }
}
