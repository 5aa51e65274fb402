//! The `Set-Cookie` response header builder.
//!
//! Defaults are the safe ones: `Path=/`, `HttpOnly`, `SameSite=Lax`, `Secure`, no
//! `Max-Age` (a browser-session cookie) and never a `Domain` (so no sibling subdomain
//! receives the cookie). A `Secure` cookie on `Path=/` is a host cookie and gets the
//! `__Host-` name prefix, which browsers only accept from a secure origin for that very
//! host: a sibling subdomain or a plain-HTTP response cannot overwrite it. A `Secure`
//! cookie on a narrower path gets `__Secure-`. The reading side must look up the same
//! prefixed name, [`cookie_name`].
//!
//! ```
//! use latchkey::cookie::set_cookie::SetCookie;
//! let line = SetCookie::new("session", "abc").max_age(Some(3600)).build().unwrap();
//! assert_eq!(line, "__Host-session=abc; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax");
//! ```

use std::fmt::Write;

use super::CookieError;
use super::header::{is_cookie_octet, is_token};

/// Longest `name=value` a built cookie may have; browsers drop cookies over 4096 bytes.
pub const MAX_COOKIE_LEN: usize = 4096;

const HOST_PREFIX: &str = "__Host-";
const SECURE_PREFIX: &str = "__Secure-";

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their subrequests or POSTs.
    #[default]
    Lax,
    /// Never sent on requests started by another site.
    Strict,
    /// Always sent; browsers require `Secure` with it.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// The name a cookie set with `Path=/` has on the wire: `__Host-<base>` when `secure`,
/// `<base>` otherwise. Use it to read back what [`SetCookie`] wrote.
///
/// ```
/// use latchkey::cookie::set_cookie::cookie_name;
/// assert_eq!(cookie_name("session", true), "__Host-session");
/// assert_eq!(cookie_name("session", false), "session");
/// ```
pub fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("{HOST_PREFIX}{base}")
    } else {
        base.to_owned()
    }
}

/// A `Set-Cookie` header value under construction; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    base_name: String,
    value: String,
    path: String,
    max_age: Option<u64>,
    http_only: bool,
    same_site: SameSite,
    secure: bool,
}

impl SetCookie {
    /// A cookie `base_name=value` with the safe defaults. `base_name` is without
    /// prefix; the prefix follows from [`SetCookie::secure`] and [`SetCookie::path`].
    pub fn new(base_name: &str, value: &str) -> SetCookie {
        SetCookie {
            base_name: base_name.to_owned(),
            value: value.to_owned(),
            path: "/".to_owned(),
            max_age: None,
            http_only: true,
            same_site: SameSite::Lax,
            secure: true,
        }
    }

    /// Sets `Path` (default `/`). Anything but `/` loses the `__Host-` prefix.
    pub fn path(mut self, path: &str) -> SetCookie {
        path.clone_into(&mut self.path);
        self
    }

    /// Sets `Max-Age` in seconds; `None` (default) makes a browser-session cookie.
    pub fn max_age(mut self, seconds: Option<u64>) -> SetCookie {
        self.max_age = seconds;
        self
    }

    /// Sets `HttpOnly` (default on): scripts cannot read the cookie.
    pub fn http_only(mut self, on: bool) -> SetCookie {
        self.http_only = on;
        self
    }

    /// Sets `SameSite` (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> SetCookie {
        self.same_site = same_site;
        self
    }

    /// Sets `Secure` (default on, so forgetting it fails visibly over plain HTTP
    /// instead of leaking the cookie); turn it off only for plain-HTTP deployments.
    pub fn secure(mut self, on: bool) -> SetCookie {
        self.secure = on;
        self
    }

    /// Turns this into the cookie that removes it: same name and attributes, empty
    /// value, `Max-Age=0`.
    ///
    /// ```
    /// use latchkey::cookie::set_cookie::SetCookie;
    /// let line = SetCookie::new("session", "abc").removal().build().unwrap();
    /// assert_eq!(line, "__Host-session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    /// ```
    pub fn removal(mut self) -> SetCookie {
        self.value.clear();
        self.max_age = Some(0);
        self
    }

    /// The name on the wire, prefix included.
    pub fn name(&self) -> String {
        let prefix = match (self.secure, self.path == "/") {
            (true, true) => HOST_PREFIX,
            (true, false) => SECURE_PREFIX,
            (false, _) => "",
        };
        format!("{prefix}{}", self.base_name)
    }

    /// The header value. Refuses a base name that is not a token or already carries a
    /// `__Host-`/`__Secure-` prefix ([`CookieError::InvalidName`]), a value with
    /// anything but cookie-octets — CR, LF, `;`, `,`, whitespace, `"`, `\`, controls —
    /// ([`CookieError::InvalidValue`]), a path that does not start with `/` or holds
    /// `;` or controls, or `SameSite=None` without `Secure`
    /// ([`CookieError::InvalidAttribute`]), and an oversized cookie
    /// ([`CookieError::TooLong`]).
    ///
    /// ```
    /// use latchkey::cookie::{CookieError, set_cookie::SetCookie};
    /// let bad = SetCookie::new("session", "a\r\nSet-Cookie: x=y").build();
    /// assert_eq!(bad, Err(CookieError::InvalidValue));
    /// ```
    pub fn build(&self) -> Result<String, CookieError> {
        let lower = self.base_name.to_ascii_lowercase();
        if !is_token(&self.base_name)
            || lower.starts_with(&HOST_PREFIX.to_ascii_lowercase())
            || lower.starts_with(&SECURE_PREFIX.to_ascii_lowercase())
        {
            return Err(CookieError::InvalidName);
        }
        if !self.value.bytes().all(is_cookie_octet) {
            return Err(CookieError::InvalidValue);
        }
        let path_ok = self.path.starts_with('/')
            && self
                .path
                .bytes()
                .all(|b| (0x21..=0x7E).contains(&b) && b != b';');
        if !path_ok || (self.same_site == SameSite::None && !self.secure) {
            return Err(CookieError::InvalidAttribute);
        }
        let name = self.name();
        if name.len() + 1 + self.value.len() > MAX_COOKIE_LEN {
            return Err(CookieError::TooLong);
        }
        let mut line = String::with_capacity(name.len() + self.value.len() + 80);
        line.push_str(&name);
        line.push('=');
        line.push_str(&self.value);
        line.push_str("; Path=");
        line.push_str(&self.path);
        if let Some(seconds) = self.max_age {
            // Writing to a String cannot fail.
            let _ = write!(line, "; Max-Age={seconds}");
        }
        if self.http_only {
            line.push_str("; HttpOnly");
        }
        if self.secure {
            line.push_str("; Secure");
        }
        line.push_str("; SameSite=");
        line.push_str(self.same_site.as_str());
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_exactly_as_expected() {
        let c = SetCookie::new("session", "v1.k1.abc.def");
        assert_eq!(
            c.build().unwrap(),
            "__Host-session=v1.k1.abc.def; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(c.name(), cookie_name("session", true));
        let remembered = c.clone().max_age(Some(86_400)).same_site(SameSite::Strict);
        assert_eq!(
            remembered.build().unwrap(),
            "__Host-session=v1.k1.abc.def; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict"
        );
        let plain = c.clone().secure(false);
        assert_eq!(
            plain.build().unwrap(),
            "session=v1.k1.abc.def; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(plain.name(), cookie_name("session", false));
        let scripted = SetCookie::new("pre", "x")
            .http_only(false)
            .same_site(SameSite::None);
        assert_eq!(
            scripted.build().unwrap(),
            "__Host-pre=x; Path=/; Secure; SameSite=None"
        );
    }

    #[test]
    fn narrower_path_gets_the_secure_prefix_not_the_host_prefix() {
        let c = SetCookie::new("s", "x").path("/admin");
        assert_eq!(
            c.build().unwrap(),
            "__Secure-s=x; Path=/admin; HttpOnly; Secure; SameSite=Lax"
        );
        let plain = c.secure(false);
        assert_eq!(
            plain.build().unwrap(),
            "s=x; Path=/admin; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn removal_keeps_name_and_attributes() {
        let set = SetCookie::new("session", "abc")
            .secure(false)
            .max_age(Some(60));
        assert_eq!(
            set.removal().build().unwrap(),
            "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn values_outside_cookie_octets_are_refused() {
        for value in [
            "a;b",
            "a\rb",
            "a\nb",
            "a b",
            "a\tb",
            "a,b",
            "a\"b",
            "a\\b",
            "a\u{0}b",
            "a\u{7f}b",
            "é",
            "\"quoted\"",
        ] {
            assert_eq!(
                SetCookie::new("s", value).build(),
                Err(CookieError::InvalidValue),
                "{value:?}"
            );
        }
        assert!(SetCookie::new("s", "").build().is_ok());
    }

    #[test]
    fn bad_names_are_refused() {
        for name in [
            "",
            "a b",
            "a=b",
            "a;b",
            "a\r\n",
            "a,b",
            "(a)",
            "__Host-s",
            "__host-s",
            "__Secure-s",
            "__SECURE-s",
        ] {
            assert_eq!(
                SetCookie::new(name, "x").build(),
                Err(CookieError::InvalidName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn bad_attributes_are_refused() {
        for path in ["", "admin", "/a;b", "/a\nb", "/a b"] {
            assert_eq!(
                SetCookie::new("s", "x").path(path).build(),
                Err(CookieError::InvalidAttribute),
                "{path:?}"
            );
        }
        let none_plain = SetCookie::new("s", "x")
            .secure(false)
            .same_site(SameSite::None);
        assert_eq!(none_plain.build(), Err(CookieError::InvalidAttribute));
        let huge = SetCookie::new("s", &"x".repeat(MAX_COOKIE_LEN));
        assert_eq!(huge.build(), Err(CookieError::TooLong));
    }

    #[test]
    fn built_cookie_reads_back_under_the_same_name() {
        let line = SetCookie::new("session", "val").build().unwrap();
        let pair = line.split(';').next().unwrap();
        let name = cookie_name("session", true);
        assert_eq!(
            super::super::header::get_unique(pair, &name),
            Ok(Some("val"))
        );
    }
}
