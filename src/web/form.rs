//! Strict `application/x-www-form-urlencoded` decoding for the login form.
//!
//! Browsers always send `name=value` pairs joined by `&`, with `+` for spaces and
//! `%XX` for everything else, so anything outside that shape is rejected with a
//! precise error instead of being guessed at. In particular a field given twice is
//! an error: silently picking the first or the last `next` or `username` is how
//! parameter-pollution attacks slip past one layer and not another.

use std::fmt;

use super::url::{self, UrlError};

/// Most fields a form may carry; the login form has five.
pub(crate) const MAX_FIELDS: usize = 32;

/// Why a form body was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum FormError {
    /// A `%` not followed by two hex digits (`%G1`, a truncated `%4`).
    InvalidEscape,
    /// A decoded name or value is not UTF-8.
    NotUtf8,
    /// A field has no `=` (browsers always send one, even for empty values).
    MissingEquals,
    /// A field name appears more than once (holds the decoded name).
    Duplicate(String),
    /// More than [`MAX_FIELDS`] fields.
    TooManyFields,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::InvalidEscape => f.write_str("invalid percent-escape"),
            FormError::NotUtf8 => f.write_str("not utf-8"),
            FormError::MissingEquals => f.write_str("field without '='"),
            // `{:?}` escapes control characters, so a hostile name cannot forge log lines.
            FormError::Duplicate(name) => write!(f, "duplicate field {name:?}"),
            FormError::TooManyFields => f.write_str("too many fields"),
        }
    }
}

impl std::error::Error for FormError {}

impl From<UrlError> for FormError {
    fn from(error: UrlError) -> Self {
        match error {
            UrlError::NotUtf8 => FormError::NotUtf8,
            // `decode_string` only ever fails with these two.
            _ => FormError::InvalidEscape,
        }
    }
}

/// A decoded form: unique names, in the order they were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// The value of field `name`, if it was sent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// All `(name, value)` pairs in the order they were sent.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    #[cfg(test)]
    /// Whether no field was sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Parses an `application/x-www-form-urlencoded` body.
///
/// `+` decodes to a space and `%XX` to a byte; names and values must decode to
/// UTF-8. Empty pieces (a trailing `&`, `a=1&&b=2`) are skipped, as browsers
/// never produce them but some clients do. The body is expected to be bounded
/// already by the HTTP layer; at most [`MAX_FIELDS`] fields are accepted.
pub(crate) fn parse_form(body: &[u8]) -> Result<Form, FormError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for piece in body
        .split(|&byte| byte == b'&')
        .filter(|piece| !piece.is_empty())
    {
        if fields.len() == MAX_FIELDS {
            return Err(FormError::TooManyFields);
        }
        let Some(equals) = piece.iter().position(|&byte| byte == b'=') else {
            return Err(FormError::MissingEquals);
        };
        let (raw_name, raw_value) = piece.split_at(equals);
        let raw_value = raw_value.get(1..).unwrap_or_default();
        let name = url::decode_string(raw_name, true)?;
        let value = url::decode_string(raw_value, true)?;
        if fields.iter().any(|(existing, _)| *existing == name) {
            return Err(FormError::Duplicate(name));
        }
        fields.push((name, value));
    }
    Ok(Form { fields })
}

/// Encodes pairs as `application/x-www-form-urlencoded`, the inverse of
/// [`parse_form`] (spaces become `%20`, which decodes the same as `+`).
pub(crate) fn encode_form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut body = String::new();
    for (name, value) in pairs {
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(&url::percent_encode_component(name));
        body.push('=');
        body.push_str(&url::percent_encode_component(value));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_escapes_and_empty_values() {
        let form = parse_form(b"a=1+2&b=%3D%26%2B&c=&%C3%A9=%F0%9F%98%80").unwrap();
        assert_eq!(form.get("a"), Some("1 2"));
        assert_eq!(form.get("b"), Some("=&+"));
        assert_eq!(form.get("c"), Some(""));
        assert_eq!(form.get("é"), Some("😀"));
        assert_eq!(form.len(), 4);
    }

    #[test]
    fn value_may_contain_equals() {
        let form = parse_form(b"token=a=b=c").unwrap();
        assert_eq!(form.get("token"), Some("a=b=c"));
    }

    #[test]
    fn empty_body_and_empty_pieces() {
        assert!(parse_form(b"").unwrap().is_empty());
        let form = parse_form(b"&a=1&&b=2&").unwrap();
        assert_eq!(form.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn rejects_invalid_escapes() {
        assert_eq!(parse_form(b"a=%G1"), Err(FormError::InvalidEscape));
        assert_eq!(parse_form(b"a=%4"), Err(FormError::InvalidEscape));
        assert_eq!(parse_form(b"a%=1"), Err(FormError::InvalidEscape));
        assert_eq!(parse_form(b"a=%"), Err(FormError::InvalidEscape));
    }

    #[test]
    fn rejects_non_utf8() {
        assert_eq!(parse_form(b"a=%FF"), Err(FormError::NotUtf8));
        assert_eq!(parse_form(b"a=\xff"), Err(FormError::NotUtf8));
        assert_eq!(parse_form(b"%C0%80=1"), Err(FormError::NotUtf8));
    }

    #[test]
    fn rejects_field_without_equals() {
        assert_eq!(parse_form(b"a=1&remember"), Err(FormError::MissingEquals));
    }

    #[test]
    fn rejects_duplicates_however_spelled() {
        assert_eq!(
            parse_form(b"next=/&next=/"),
            Err(FormError::Duplicate("next".into()))
        );
        assert_eq!(
            parse_form(b"next=/&n%65xt=//e"),
            Err(FormError::Duplicate("next".into()))
        );
        assert_eq!(
            parse_form(b"a+b=1&a%20b=2"),
            Err(FormError::Duplicate("a b".into()))
        );
    }

    #[test]
    fn bounds_the_number_of_fields() {
        let at_limit = encode_form((0..MAX_FIELDS).map(|i| (NAMES[i], "v")));
        assert_eq!(parse_form(at_limit.as_bytes()).unwrap().len(), MAX_FIELDS);
        let over = format!("{at_limit}&extra=1");
        assert_eq!(parse_form(over.as_bytes()), Err(FormError::TooManyFields));
    }

    const NAMES: [&str; MAX_FIELDS] = [
        "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "f13",
        "f14", "f15", "f16", "f17", "f18", "f19", "f20", "f21", "f22", "f23", "f24", "f25", "f26",
        "f27", "f28", "f29", "f30", "f31",
    ];

    #[test]
    fn encode_then_parse_round_trips() {
        let pairs = [("user name", "ä&=+%"), ("next", "/a?b=c#d"), ("", "")];
        let form = parse_form(encode_form(pairs).as_bytes()).unwrap();
        assert_eq!(form.iter().collect::<Vec<_>>(), pairs);
    }

    #[test]
    fn duplicate_display_escapes_control_characters() {
        let error = parse_form(b"a%0Ab=1&a%0Ab=2").unwrap_err();
        assert_eq!(error.to_string(), "duplicate field \"a\\nb\"");
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn parse_form_example() {
        use crate::web::form::{FormError, parse_form};
        let form = parse_form(b"username=ann+lee&password=p%26ss&remember=1").unwrap();
        assert_eq!(form.get("username"), Some("ann lee"));
        assert_eq!(form.get("password"), Some("p&ss"));
        assert_eq!(form.get("next"), None);
        assert_eq!(
            parse_form(b"next=/a&next=//evil.com"),
            Err(FormError::Duplicate("next".into()))
        );
    }

    #[test]
    fn encode_form_example() {
        use crate::web::form::{encode_form, parse_form};
        let body = encode_form([("next", "/a b?x=1&y=2")]);
        assert_eq!(body, "next=%2Fa%20b%3Fx%3D1%26y%3D2");
        assert_eq!(
            parse_form(body.as_bytes()).unwrap().get("next"),
            Some("/a b?x=1&y=2")
        );
    }
}
