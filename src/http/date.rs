//! The `Date` header value (IMF-fixdate, RFC 9110 §5.6.7), formatted at most once a second.

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_FIXDATE_LEN: usize = 29;

/// Formats `unix_secs` as an IMF-fixdate.
///
/// ```
/// use latchkey::http::date::imf_fixdate;
/// assert_eq!(&imf_fixdate(784111777), b"Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn imf_fixdate(unix_secs: u64) -> [u8; IMF_FIXDATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = unix_secs / 86_400;
    let secs_of_day = unix_secs % 86_400;
    let weekday = DAYS[(days % 7) as usize];
    let (year, month_number, day) = civil_from_days(days);
    let month_index = month_number - 1;
    // Years past 9999 cannot be written in four digits; clamp rather than misformat.
    let year = year.min(9999);
    let month = MONTHS[month_index as usize];
    let (hour, minute, second) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let digit = |n: u64| b'0' + (n % 10) as u8;
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(weekday);
    out[5] = digit(day / 10);
    out[6] = digit(day);
    out[8..11].copy_from_slice(month);
    out[12] = digit(year / 1000);
    out[13] = digit(year / 100);
    out[14] = digit(year / 10);
    out[15] = digit(year);
    out[17] = digit(hour / 10);
    out[18] = digit(hour);
    out[20] = digit(minute / 10);
    out[21] = digit(minute);
    out[23] = digit(second / 10);
    out[24] = digit(second);
    out
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

/// The formatted date of the current second, recomputed only when the second changes.
#[derive(Debug, Clone)]
pub struct DateCache {
    secs: u64,
    formatted: [u8; IMF_FIXDATE_LEN],
}

impl DateCache {
    /// A cache holding the date for `unix_secs`.
    pub fn new(unix_secs: u64) -> Self {
        DateCache {
            secs: unix_secs,
            formatted: imf_fixdate(unix_secs),
        }
    }

    /// Moves the cache to `unix_secs` (a no-op within the same second).
    pub fn update(&mut self, unix_secs: u64) {
        if unix_secs != self.secs {
            self.secs = unix_secs;
            self.formatted = imf_fixdate(unix_secs);
        }
    }

    /// The cached IMF-fixdate.
    pub fn get(&self) -> &[u8; IMF_FIXDATE_LEN] {
        &self.formatted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_leap_day() {
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            &imf_fixdate(1_798_761_599),
            b"Thu, 31 Dec 2026 23:59:59 GMT"
        );
    }

    #[test]
    fn cache_follows_the_second() {
        let mut cache = DateCache::new(0);
        cache.update(61);
        assert_eq!(cache.get(), b"Thu, 01 Jan 1970 00:01:01 GMT");
    }
}
