//! The claim set of a token: typed registered claims plus every other claim kept.

use serde_json::{Map, Value};

use super::strict_json::{Raw, parse_array, parse_object, unescape};
use super::{MAX_JSON_DEPTH, TokenError};

/// The largest NumericDate accepted: 2^53, the largest integer every JSON
/// implementation represents exactly.
pub const MAX_NUMERIC_DATE: u64 = 1 << 53;

/// Claim names with a typed field in [`Claims`]; never taken from [`Claims::extra`].
const TYPED: [&str; 8] = ["sub", "iat", "nbf", "exp", "jti", "type", "iss", "aud"];

/// Flask-JWT's name for the subject.
const IDENTITY: &str = "identity";

/// Whether a token grants access or only the right to get a new access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// A short-lived token accepted on API requests (`"type":"access"`).
    Access,
    /// A longer-lived token only accepted to mint access tokens (`"type":"refresh"`).
    Refresh,
}

impl TokenType {
    /// The claim value: `"access"` or `"refresh"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// The claims of a token.
///
/// Registered claims have typed fields; every other claim is kept in `extra` so the
/// full claim set can be printed ([`Claims::to_json`]) and re-signed unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// Who the token is about: `sub`, or else Flask-JWT's `identity` when it is a string.
    pub sub: Option<String>,
    /// Issued at (unix seconds).
    pub iat: Option<u64>,
    /// Not valid before (unix seconds).
    pub nbf: Option<u64>,
    /// Expires at (unix seconds).
    pub exp: Option<u64>,
    /// Unique token id, used for revocation.
    pub jti: Option<String>,
    /// Access or refresh (claim `type`).
    pub token_type: Option<TokenType>,
    /// Issuer.
    pub iss: Option<String>,
    /// Audiences (`aud` written as a string or an array of strings).
    pub aud: Vec<String>,
    /// Every other claim, `identity` included.
    pub extra: Map<String, Value>,
}

impl Claims {
    /// The claims of a new token issued at `now` for `subject`, valid for `ttl`
    /// seconds. Like Flask-JWT it writes the subject both as `sub` and `identity`, and
    /// like Flask-JWT-Extended it sets `iat`, `nbf`, `exp`, `jti` and `type`.
    ///
    /// ```
    /// use latchkey::jwt::{Claims, TokenType};
    /// let c = Claims::new_token("admin", 1_700_000_000, 900, "j1", TokenType::Access);
    /// assert_eq!(c.exp, Some(1_700_000_900));
    /// assert_eq!(c.extra["identity"], "admin");
    /// ```
    pub fn new_token(
        subject: &str,
        now: u64,
        ttl: u64,
        jti: &str,
        token_type: TokenType,
    ) -> Claims {
        let mut extra = Map::new();
        extra.insert(IDENTITY.to_owned(), Value::String(subject.to_owned()));
        Claims {
            sub: Some(subject.to_owned()),
            iat: Some(now),
            nbf: Some(now),
            exp: Some(now.saturating_add(ttl).min(MAX_NUMERIC_DATE)),
            jti: Some(jti.to_owned()),
            token_type: Some(token_type),
            iss: None,
            aud: Vec::new(),
            extra,
        }
    }

    /// The full claim set as compact JSON (keys sorted). A typed field wins over an
    /// `extra` entry of the same name, so the output never holds a key twice.
    ///
    /// ```
    /// use latchkey::jwt::{Claims, TokenType};
    /// let c = Claims::new_token("bob", 10, 5, "j", TokenType::Refresh);
    /// assert_eq!(
    ///     c.to_json(),
    ///     r#"{"exp":15,"iat":10,"identity":"bob","jti":"j","nbf":10,"sub":"bob","type":"refresh"}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut map = self.extra.clone();
        for name in TYPED {
            map.remove(name);
        }
        let text = |s: &str| Value::String(s.to_owned());
        if let Some(s) = &self.sub {
            map.insert("sub".into(), text(s));
        }
        for (name, v) in [("iat", self.iat), ("nbf", self.nbf), ("exp", self.exp)] {
            if let Some(v) = v {
                map.insert(name.into(), Value::Number(v.into()));
            }
        }
        if let Some(s) = &self.jti {
            map.insert("jti".into(), text(s));
        }
        if let Some(t) = self.token_type {
            map.insert("type".into(), text(t.as_str()));
        }
        if let Some(s) = &self.iss {
            map.insert("iss".into(), text(s));
        }
        match self.aud.as_slice() {
            [] => {}
            [one] => {
                map.insert("aud".into(), text(one));
            }
            many => {
                let list = many.iter().map(|a| text(a)).collect();
                map.insert("aud".into(), Value::Array(list));
            }
        }
        Value::Object(map).to_string()
    }
}

/// Reads the claims of an authentic payload with the strict parser: every member is
/// checked in order and the first claim error is reported (once the JSON itself is
/// known to be fine). Members without a typed field are kept in [`Claims::extra`].
pub(crate) fn parse(payload: &[u8]) -> Result<Claims, TokenError> {
    let mut reader = ClaimReader::default();
    parse_object(payload, MAX_JSON_DEPTH, &mut |name, value| {
        reader.member(name, value)
    })?;
    reader.finish()
}

/// Collects claims from the members of a payload as the strict parser reports them,
/// remembering the first claim-level error.
#[derive(Default)]
struct ClaimReader {
    claims: Claims,
    /// `identity` when it is a string.
    identity: Option<String>,
    /// Whether there is an `identity` claim, of any type.
    identity_seen: bool,
    error: Option<TokenError>,
}

impl ClaimReader {
    fn member(&mut self, name: &str, value: Raw<'_>) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.take(name, value) {
            self.error = Some(e);
        }
    }

    fn take(&mut self, name: &str, value: Raw<'_>) -> Result<(), TokenError> {
        let c = &mut self.claims;
        match name {
            "sub" => c.sub = Some(string(value, "sub")?),
            "iat" => c.iat = Some(numeric_date(value, "iat")?),
            "nbf" => c.nbf = Some(numeric_date(value, "nbf")?),
            "exp" => c.exp = Some(numeric_date(value, "exp")?),
            "jti" => c.jti = Some(string(value, "jti")?),
            "iss" => c.iss = Some(string(value, "iss")?),
            "type" => {
                c.token_type = Some(match value {
                    Raw::Str("access") => TokenType::Access,
                    Raw::Str("refresh") => TokenType::Refresh,
                    _ => return Err(TokenError::WrongType("type")),
                })
            }
            "aud" => c.aud = audiences(value)?,
            _ => {
                let v = json_value(value)?;
                if name == IDENTITY {
                    self.identity_seen = true;
                    if let Value::String(identity) = &v {
                        self.identity = Some(identity.clone());
                    }
                }
                c.extra.insert(name.to_owned(), v);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Claims, TokenError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut claims = self.claims;
        match &claims.sub {
            None => claims.sub = self.identity,
            Some(sub) if self.identity_seen && self.identity.as_ref() != Some(sub) => {
                return Err(TokenError::ConflictingSubject);
            }
            Some(_) => {}
        }
        Ok(claims)
    }
}

/// A member value the strict parser accepted, as a `serde_json` value.
fn json_value(value: Raw<'_>) -> Result<Value, TokenError> {
    Ok(match value {
        Raw::Str(raw) => {
            Value::String(unescape(raw).map_err(|_| TokenError::BadJson)?.into_owned())
        }
        Raw::Bool(b) => Value::Bool(b),
        Raw::Null => Value::Null,
        other => serde_json::from_str(other.text()).map_err(|_| TokenError::BadJson)?,
    })
}

fn string(value: Raw<'_>, name: &'static str) -> Result<String, TokenError> {
    match value {
        Raw::Str(raw) => Ok(unescape(raw).map_err(|_| TokenError::BadJson)?.into_owned()),
        _ => Err(TokenError::WrongType(name)),
    }
}

/// `aud` as a string or an array of strings; an empty array is no audience.
fn audiences(value: Raw<'_>) -> Result<Vec<String>, TokenError> {
    match value {
        Raw::Str(_) => Ok(vec![string(value, "aud")?]),
        Raw::Arr(text) => {
            let mut list = Vec::new();
            let mut error = None;
            parse_array(text.as_bytes(), MAX_JSON_DEPTH, &mut |item| {
                if error.is_none() {
                    match string(item, "aud") {
                        Ok(a) => list.push(a),
                        Err(e) => error = Some(e),
                    }
                }
            })
            .map_err(|_| TokenError::BadJson)?;
            match error {
                Some(e) => Err(e),
                None => Ok(list),
            }
        }
        _ => Err(TokenError::WrongType("aud")),
    }
}

/// A NumericDate: a finite JSON number in `0..=2^53`, fractions rounded down.
/// Anything else (a string, a negative or huge number) is an error, never "absent".
fn numeric_date(value: Raw<'_>, name: &'static str) -> Result<u64, TokenError> {
    let Raw::Num(text) = value else {
        return Err(TokenError::WrongType(name));
    };
    // Integers are parsed exactly: as f64, 2^53 + 1 would round to 2^53 and pass.
    let seconds = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>()
            .map_err(|_| TokenError::WrongType(name))?
    } else {
        let f: f64 = text.parse().map_err(|_| TokenError::WrongType(name))?;
        if !(f.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&f)) {
            return Err(TokenError::WrongType(name));
        }
        // In range and non-negative, so the cast only drops the fraction.
        f as u64
    };
    if seconds > MAX_NUMERIC_DATE {
        return Err(TokenError::WrongType(name));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_dates_are_strict() {
        assert_eq!(numeric_date(Raw::Num("0"), "exp"), Ok(0));
        assert_eq!(numeric_date(Raw::Num("1.9"), "exp"), Ok(1));
        assert_eq!(numeric_date(Raw::Num("1e3"), "exp"), Ok(1000));
        assert_eq!(
            numeric_date(Raw::Num("9007199254740992"), "exp"),
            Ok(1 << 53)
        );
        assert_eq!(
            numeric_date(Raw::Num("00000000000000000042"), "exp"),
            Ok(42)
        );
        assert_eq!(
            numeric_date(Raw::Num(""), "exp"),
            Err(TokenError::WrongType("exp"))
        );
        for bad in [
            "9007199254740993",
            "-1",
            "-0.5",
            "1e16",
            "10000000000000000",
            "99999999999999999999",
            "999999999999999999999999",
        ] {
            assert_eq!(
                numeric_date(Raw::Num(bad), "exp"),
                Err(TokenError::WrongType("exp")),
                "{bad}"
            );
        }
        assert_eq!(
            numeric_date(Raw::Str("100"), "nbf"),
            Err(TokenError::WrongType("nbf"))
        );
        assert_eq!(
            numeric_date(Raw::Null, "iat"),
            Err(TokenError::WrongType("iat"))
        );
    }

    #[test]
    fn typed_fields_win_over_extra_in_json() {
        let mut c = Claims::default();
        c.extra.insert("exp".into(), Value::String("never".into()));
        c.extra.insert("role".into(), Value::String("admin".into()));
        c.exp = Some(5);
        c.aud = vec!["a".into(), "b".into()];
        assert_eq!(c.to_json(), r#"{"aud":["a","b"],"exp":5,"role":"admin"}"#);
    }
}
