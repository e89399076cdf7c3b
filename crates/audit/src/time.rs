//! Times in the log (milliseconds since the Unix epoch) and in reports (RFC 3339).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `ms` as RFC 3339 with milliseconds, UTC (times before the epoch print as the epoch).
pub fn format_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// An RFC 3339 time (`2026-12-07T17:00:00Z`, with or without fractions) in milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let t = humantime::parse_rfc3339_weak(s.trim())
        .map_err(|e| format!("{s}: not an RFC 3339 time ({e})"))?;
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("{s}: before 1970"))?;
    i64::try_from(d.as_millis()).map_err(|_| format!("{s}: too far in the future"))
}
