//! Authentication event lines on stderr, in one stable format that fail2ban can
//! match (`contrib/fail2ban/`):
//!
//! `2026-11-27T20:00:00Z latchkey: login failed ip=192.0.2.7 user=admin`
//!
//! Never a password, a token or a key. A user name from a failed login is whatever
//! the client typed, so anything outside the username charset is replaced by `?`.

use std::net::IpAddr;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A password login (form or API) succeeded.
    LoginOk,
    /// A password login failed.
    LoginFailed,
    /// Failed logins started a brute-force lock (logged once per lock; the
    /// attempts it then refuses before any hashing are not logged).
    LoginThrottled,
    /// A token or session cookie was presented and refused.
    TokenRejected,
    /// A session ended by logout.
    Logout,
}

impl Event {
    fn words(self) -> &'static str {
        match self {
            Event::LoginOk => "login ok",
            Event::LoginFailed => "login failed",
            Event::LoginThrottled => "login throttled",
            Event::TokenRejected => "token rejected",
            Event::Logout => "logout",
        }
    }
}

/// Formats one event line (without the trailing newline).
pub(crate) fn line(
    now: u64,
    event: Event,
    ip: IpAddr,
    user: Option<&str>,
    reason: Option<&str>,
) -> String {
    let mut out = format!("{} latchkey: {} ip={ip}", rfc3339(now), event.words());
    if let Some(u) = user {
        out.push_str(" user=");
        out.extend(u.chars().take(64).map(|c| {
            if c.is_ascii_alphanumeric() || "._@-".contains(c) {
                c
            } else {
                '?'
            }
        }));
    }
    if let Some(r) = reason {
        out.push_str(" reason=\"");
        out.extend(
            r.chars()
                .map(|c| if c == '"' || c.is_control() { '?' } else { c }),
        );
        out.push('"');
    }
    out
}

/// Writes one event line to stderr.
pub(crate) fn event(now: u64, event: Event, ip: IpAddr, user: Option<&str>, reason: Option<&str>) {
    eprintln!("{}", line(now, event, ip, user, reason));
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds `t`.
pub(crate) fn rfc3339(t: u64) -> String {
    let (y, m, d) = crate::http::date::civil_from_days(t / 86_400);
    let secs = t % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_300_819_380), "2011-03-22T18:43:00Z");
    }

    #[test]
    fn reasons_cannot_break_the_line() {
        let l = line(
            0,
            Event::TokenRejected,
            "::1".parse().unwrap(),
            None,
            Some("bad\" ip=1.2.3.4\n"),
        );
        assert_eq!(
            l,
            "1970-01-01T00:00:00Z latchkey: token rejected ip=::1 reason=\"bad? ip=1.2.3.4?\""
        );
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn line_example() {
        use crate::web::log::{Event, line};
        let l = line(
            0,
            Event::LoginFailed,
            "10.0.0.9".parse().unwrap(),
            Some("ad\nmin"),
            None,
        );
        assert_eq!(
            l,
            "1970-01-01T00:00:00Z latchkey: login failed ip=10.0.0.9 user=ad?min"
        );
    }
}
