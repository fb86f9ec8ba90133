//! Times as reports show them.

use time::OffsetDateTime;

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-23T11:12:13.123456Z`.
/// Every i64 nanosecond value falls within years 1677-2262, so no clamping to
/// the 1-9999 range of RFC 3339 is needed here.
pub fn rfc3339(nanos: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)) else {
        return "1970-01-01T00:00:00.000000Z".to_string();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Parses an RFC 3339 date and time (`2024-05-01T12:14:08Z`, `2024-05-01T14:14:08.5+02:00`;
/// a space may stand for the `T`) into Unix nanoseconds, for `--since`/`--until`.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let normalised = match s.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &s[..10], &s[11..]),
        _ => s.to_string(),
    };
    let t = OffsetDateTime::parse(&normalised, &time::format_description::well_known::Rfc3339).map_err(|e| {
        format!("'{s}' is not an RFC 3339 date and time with an offset, like 2024-05-01T12:14:08Z ({e})")
    })?;
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| format!("'{s}' is outside the years 1677-2262"))
}

/// A duration for people: `850 ms`, `3.0 s`, `2 min 5 s`.
pub fn span(nanos: i64) -> String {
    let ms = nanos.max(0) / 1_000_000;
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123456Z");
        assert_eq!(rfc3339(i64::MIN), "1677-09-21T00:12:43.145224Z");
        assert_eq!(span(850_000_000), "850 ms");
        assert_eq!(span(3_049_000_000), "3.0 s");
        assert_eq!(span(125_000_000_000), "2 min 5 s");
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.123456789Z"),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14 23:13:20+01:00"),
            Ok(1_700_000_000_000_000_000)
        );
        assert!(parse_rfc3339("22:13:20").is_err());
        assert!(parse_rfc3339("2023-11-14T22:13:20").is_err(), "an offset is required");
    }
}
