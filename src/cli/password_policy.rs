//! Which new passwords are refused, as NIST SP 800-63B §5.1.1.2 asks of a verifier:
//! fewer than [`MIN_LEN`] characters, a context-specific word (the user's name, the
//! service's name), or one of the passwords most often found in breaches.
//!
//! The list, `common-passwords.txt`, is one lowercase password a line, most common
//! first, each of at least [`MIN_LEN`] characters (shorter ones are refused anyway);
//! it is compared without regard to case. Only what a person sets is checked: the
//! first-run password is random.

use std::fmt;

/// Fewest characters (Unicode scalar values) of a new password.
pub(crate) const MIN_LEN: usize = 8;

/// The most common passwords of at least [`MIN_LEN`] characters, lowercase, one a line.
const COMMON: &str = include_str!("common-passwords.txt");

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Weak {
    /// Fewer than [`MIN_LEN`] characters.
    Short,
    /// The user's name, or the service's.
    Name,
    /// In the list of common passwords.
    Common,
}

impl fmt::Display for Weak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self {
            Weak::Short => "shorter than 8 characters",
            Weak::Name => "the user's name",
            Weak::Common => "one of the most common passwords",
        };
        write!(
            f,
            "weak password: {why}; choose another (--allow-weak-password accepts it, for tests)"
        )
    }
}

impl std::error::Error for Weak {}

/// Checks a new `password` for `user` (`None` when no user is concerned, as for
/// `latchkey hash`).
pub(crate) fn check(password: &str, user: Option<&str>) -> Result<(), Weak> {
    if password.chars().count() < MIN_LEN {
        return Err(Weak::Short);
    }
    let lower = password.to_lowercase();
    if user.is_some_and(|u| lower == u.to_lowercase()) || lower == "latchkey" {
        return Err(Weak::Name);
    }
    if COMMON.lines().any(|common| common == lower) {
        return Err(Weak::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_and_common_ones_are_refused() {
        for (password, why) in [
            ("a", Weak::Short),
            (" ", Weak::Short),
            ("1234567", Weak::Short),
            ("ünïcöd€", Weak::Short),
            ("password", Weak::Common),
            ("PassWord1", Weak::Common),
            ("12345678", Weak::Common),
            ("trustno1", Weak::Common),
            ("LatchKey", Weak::Name),
            ("Carol-Admin", Weak::Name),
        ] {
            assert_eq!(
                check(password, Some("carol-admin")),
                Err(why),
                "{password:?}"
            );
        }
        for password in [
            "correct horse battery staple",
            "pw-carol-1",
            "ünïcöd€s",
            "12345678 but longer",
        ] {
            assert_eq!(check(password, Some("carol")), Ok(()), "{password:?}");
        }
    }

    #[test]
    fn the_list_is_lowercase_long_enough_and_has_no_repeats() {
        let mut seen = std::collections::HashSet::new();
        for line in COMMON.lines() {
            assert_eq!(line, line.to_lowercase(), "{line:?}");
            assert!(line.chars().count() >= MIN_LEN, "{line:?}");
            assert!(!line.trim().is_empty() && line.trim() == line, "{line:?}");
            assert!(seen.insert(line), "{line:?} twice");
        }
        assert!(seen.len() > 2000, "{} passwords", seen.len());
    }
}
