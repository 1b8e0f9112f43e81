//! Planned windows (`START..END`, UTC), blackouts and the allowed recurring windows.

use crate::error::ChangeError;
use fearless_config::ChangeWindow;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The default length of a window scheduled without dates: "now for 4 hours".
pub const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_hours(4);

/// A planned window `[start, end)`, UTC; `start < end` always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First instant.
    pub start: Timestamp,
    /// First instant after the window.
    pub end: Timestamp,
}

impl Window {
    /// A window; refused when `end` is not after `start`.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, ChangeError> {
        if end <= start {
            return Err(ChangeError::WindowEndsBeforeStart { start, end });
        }
        Ok(Self { start, end })
    }

    /// "Now for 4 hours".
    pub fn starting_now(now: Timestamp) -> Self {
        Self {
            start: now,
            end: now.saturating_add(DEFAULT_WINDOW).unwrap_or(Timestamp::MAX),
        }
    }

    /// Whether the two windows share an instant.
    pub fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `t` is inside the window.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Parse `START..END`, each RFC 3339 with an offset (`2026-05-01T22:00:00Z`,
/// `2026-05-02T00:00:00+02:00`); stored in UTC.
pub fn parse_window(text: &str) -> Result<Window, ChangeError> {
    let bad = |reason: String| ChangeError::BadWindow {
        text: text.to_owned(),
        reason,
    };
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| bad("expected START..END".into()))?;
    let parse = |s: &str, which: &str| {
        s.trim().parse::<Timestamp>().map_err(|e| {
            bad(format!(
                "{which} is not an RFC 3339 time with an offset ({e})"
            ))
        })
    };
    Window::new(parse(start, "start")?, parse(end, "end")?)
}

/// A blackout: `[from, to)`, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blackout {
    /// Name.
    pub name: String,
    /// Window of the blackout.
    pub window: Window,
}

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Whether `window` lies entirely inside one occurrence of `allowed`.
pub(crate) fn within(allowed: &ChangeWindow, window: &Window) -> bool {
    let start = window.start.as_second();
    let end = window.end.as_second() + i64::from(window.end.subsec_nanosecond() > 0);
    let day = start.div_euclid(DAY);
    let length = i64::from(allowed.minutes()) * 60;
    // An occurrence containing `start` began on the same day or, across midnight, the day before.
    [day - 1, day].into_iter().any(|d| {
        // 1970-01-01 was a Thursday (index 3, Monday first).
        let weekday = (d + 3).rem_euclid(7);
        let occurrence_start = d * DAY + i64::from(allowed.from) * 60;
        allowed.days.iter().any(|w| i64::from(w.index()) == weekday)
            && occurrence_start <= start
            && end <= occurrence_start + length
    })
}

/// `nightly (mon,tue 22:00-04:00 UTC)`.
pub(crate) fn describe(allowed: &ChangeWindow) -> String {
    let days: Vec<&str> = allowed.days.iter().map(|d| d.name()).collect();
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    format!(
        "{} ({} {}-{} UTC)",
        allowed.name,
        days.join(","),
        hm(allowed.from),
        hm(allowed.to)
    )
}
