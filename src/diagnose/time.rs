//! Times as reports show them.

use std::fmt::Write;

use time::OffsetDateTime;

use super::text::push_num;

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-23T11:12:13.123456Z`.
/// Every i64 nanosecond value falls within years 1677-2262, so the year always
/// has four digits and no clamping to the 1-9999 range of RFC 3339 is needed.
pub fn rfc3339(nanos: i64) -> String {
    // By hand rather than through the `time` crate and `format!`: reports hold
    // one of these per attempt and per connection.
    const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
    let days = nanos.div_euclid(NANOS_PER_DAY);
    let of_day = nanos.rem_euclid(NANOS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let secs = (of_day / 1_000_000_000) as u32;
    let micros = (of_day % 1_000_000_000 / 1_000) as u32;
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    for (at, width, n) in [
        (0, 4, year as u32),
        (5, 2, month),
        (8, 2, day),
        (11, 2, secs / 3600),
        (14, 2, secs / 60 % 60),
        (17, 2, secs % 60),
        (20, 6, micros),
    ] {
        let mut n = n;
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    String::from_utf8(text.to_vec()).expect("ASCII")
}

/// Year, month and day of a count of days since 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March, so that February's leap day comes last.
    let march_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * march_month + 2) / 5 + 1) as u32;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    let mut out = String::with_capacity(16);
    push_span(&mut out, nanos);
    out
}

/// Appends [`span`]'s text: every direct attempt's detail says how long it took
/// or tried, so the ms and min forms are written without `format!`.
pub fn push_span(out: &mut String, nanos: i64) {
    let ms = nanos.max(0).unsigned_abs() / 1_000_000;
    if ms < 1_000 {
        push_num(out, ms);
        out.push_str(" ms");
    } else if ms < 120_000 {
        // `format!`'s rounding of the f64, which a hand-written one would have to copy exactly.
        write!(out, "{:.1} s", ms as f64 / 1000.0).expect("writing to a String cannot fail");
    } else {
        push_num(out, ms / 60_000);
        out.push_str(" min ");
        push_num(out, (ms % 60_000) / 1000);
        out.push_str(" s");
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

    /// What `rfc3339` wrote when it went through the `time` crate.
    fn with_time_crate(nanos: i64) -> String {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).unwrap();
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

    #[test]
    fn same_as_the_time_crate() {
        let mut edges = vec![i64::MIN, i64::MIN + 1, -1, 0, 1, 999, 1_000, i64::MAX - 1, i64::MAX];
        // Leap days, century years, the turn of each year.
        for s in [
            "2000-02-29T23:59:59.999999999Z",
            "2100-03-01T00:00:00Z",
            "1900-02-28T12:00:00Z",
        ] {
            edges.push(parse_rfc3339(s).unwrap());
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            // xorshift: spread over the whole range, then near day boundaries.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            edges.push(x as i64);
            edges.push((x as i64 / 86_400_000_000_000) * 86_400_000_000_000 + (x % 3) as i64 - 1);
        }
        for nanos in edges {
            assert_eq!(rfc3339(nanos), with_time_crate(nanos), "{nanos}");
        }
    }
}
