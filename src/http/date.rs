//! The `Date` header value: IMF-fixdate (RFC 9110 §5.6.7).

/// Formats `unix_secs` as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// ```
/// use latchkey::http::date::imf_fixdate;
/// assert_eq!(imf_fixdate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn imf_fixdate(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs_of_day = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS.get((days % 7) as usize).unwrap_or(&"Thu");
    let month = MONTHS
        .get(month.saturating_sub(1) as usize)
        .unwrap_or(&"Jan");
    // Years past 9999 cannot be written in four digits; clamp rather than misformat.
    let year = year.min(9999);
    let (hour, minute, second) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    format!("{weekday}, {day:02} {month} {year:04} {hour:02}:{minute:02}:{second:02} GMT")
}

/// The proleptic Gregorian `(year, month 1-12, day 1-31)` of a count of days since
/// 1970-01-01 (H. Hinnant's civil-from-days, valid for every u64 day count we meet).
///
/// ```
/// assert_eq!(latchkey::http::date::civil_from_days(11_016), (2000, 2, 29));
/// ```
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_leap_day_and_year_end() {
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(61), "Thu, 01 Jan 1970 00:01:01 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_fixdate(1_798_761_599), "Thu, 31 Dec 2026 23:59:59 GMT");
    }

    #[test]
    fn far_future_stays_the_same_length() {
        assert_eq!(imf_fixdate(u64::MAX / 2).len(), 29);
        assert!(imf_fixdate(u64::MAX / 2).contains(" 9999 "));
    }
}
