//! The claim set of a token: typed registered claims plus every other claim kept.

use std::borrow::Cow;

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

/// Who holds the audiences of a [`ClaimsView`]: a verified payload or a [`Claims`].
#[derive(Debug, Clone, Default)]
enum AudienceList<'p> {
    /// No `aud`, or an empty array.
    #[default]
    Empty,
    /// `aud` written as one string.
    One(Cow<'p, str>),
    /// `aud` written as a non-empty array, every item a string (checked when built):
    /// its raw JSON text.
    Array(&'p str),
    /// The audiences of an owned [`Claims`].
    Owned(&'p [String]),
}

/// The `aud` claim of a [`ClaimsView`], written as a string or an array of strings.
#[derive(Debug, Clone, Default)]
pub struct Audiences<'p>(AudienceList<'p>);

impl PartialEq for Audiences<'_> {
    /// Equal when they name the same audiences in the same order, however written.
    fn eq(&self, other: &Self) -> bool {
        self.to_vec() == other.to_vec()
    }
}

impl Audiences<'_> {
    /// Whether the token names no audience (no `aud`, or `"aud":[]`).
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            AudienceList::Empty => true,
            AudienceList::Owned(list) => list.is_empty(),
            AudienceList::One(_) | AudienceList::Array(_) => false,
        }
    }

    /// Whether `audience` is one of the audiences (compared after unescaping).
    pub fn contains(&self, audience: &str) -> bool {
        let mut found = false;
        self.for_each(&mut |a| found |= a == audience);
        found
    }

    /// The audiences in token order.
    pub fn to_vec(&self) -> Vec<String> {
        let mut list = Vec::new();
        self.for_each(&mut |a| list.push(a.to_owned()));
        list
    }

    fn for_each(&self, f: &mut dyn FnMut(&str)) {
        match &self.0 {
            AudienceList::Empty => {}
            AudienceList::One(a) => f(a),
            AudienceList::Owned(list) => list.iter().for_each(|a| f(a)),
            AudienceList::Array(text) => {
                // Built only from an array the scanner accepted whose items are all
                // strings, so neither the scan nor an unescape can fail here.
                let _ = parse_array(text.as_bytes(), MAX_JSON_DEPTH, &mut |item| {
                    if let Raw::Str(raw) = item
                        && let Ok(a) = unescape(raw)
                    {
                        f(&a);
                    }
                });
            }
        }
    }
}

/// The claims the service acts on, borrowed from a verified payload: what
/// [`verify_view`](super::verify_view) returns without allocating.
///
/// Field meanings are those of [`Claims`]; strings borrow the decoded payload and
/// only allocate when the token wrote them with JSON escapes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimsView<'p> {
    /// Who the token is about: `sub`, or else Flask-JWT's `identity` when it is a string.
    pub sub: Option<Cow<'p, str>>,
    /// Issued at (unix seconds).
    pub iat: Option<u64>,
    /// Not valid before (unix seconds).
    pub nbf: Option<u64>,
    /// Expires at (unix seconds).
    pub exp: Option<u64>,
    /// Unique token id, used for revocation.
    pub jti: Option<Cow<'p, str>>,
    /// Access or refresh (claim `type`).
    pub token_type: Option<TokenType>,
    /// Issuer.
    pub iss: Option<Cow<'p, str>>,
    /// Audiences.
    pub aud: Audiences<'p>,
}

impl Claims {
    /// The claims as a [`ClaimsView`] borrowing them (no allocation), e.g. to run
    /// [`Validation::validate_view`](super::Validation::validate_view).
    pub fn view(&self) -> ClaimsView<'_> {
        fn text(s: &Option<String>) -> Option<Cow<'_, str>> {
            s.as_deref().map(Cow::Borrowed)
        }
        ClaimsView {
            sub: text(&self.sub),
            iat: self.iat,
            nbf: self.nbf,
            exp: self.exp,
            jti: text(&self.jti),
            token_type: self.token_type,
            iss: text(&self.iss),
            aud: Audiences(AudienceList::Owned(&self.aud)),
        }
    }

    /// Owned claims from a view and the claims it does not hold.
    fn from_view(view: ClaimsView<'_>, extra: Map<String, Value>) -> Claims {
        let owned = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
        Claims {
            aud: view.aud.to_vec(),
            sub: owned(view.sub),
            iat: view.iat,
            nbf: view.nbf,
            exp: view.exp,
            jti: owned(view.jti),
            token_type: view.token_type,
            iss: owned(view.iss),
            extra,
        }
    }
}

/// The one claim scan behind both [`verify`](super::verify) and
/// [`verify_view`](super::verify_view): every member of `payload` is checked here, in
/// order, so both report the same first error. Members without a typed field go to
/// `extra` when it is given (the owned path) and are skipped otherwise.
pub(crate) fn scan<'p>(
    payload: &'p [u8],
    extra: Option<&mut Map<String, Value>>,
) -> Result<ClaimsView<'p>, TokenError> {
    let mut builder = ViewBuilder {
        view: ClaimsView::default(),
        identity: None,
        error: None,
        extra,
    };
    parse_object(payload, MAX_JSON_DEPTH, &mut |name, value| {
        builder.member(name, value)
    })?;
    builder.finish()
}

/// Owned claims of a verified payload (with every other claim kept in `extra`).
pub(crate) fn scan_owned(payload: &[u8]) -> Result<Claims, TokenError> {
    let mut extra = Map::new();
    let view = scan(payload, Some(&mut extra))?;
    Ok(Claims::from_view(view, extra))
}

/// Collects claims from the members of a payload as the strict scanner finds them,
/// remembering the first claim-level error (reported only if the JSON itself is fine).
struct ViewBuilder<'p, 'e> {
    view: ClaimsView<'p>,
    identity: Option<Cow<'p, str>>,
    error: Option<TokenError>,
    extra: Option<&'e mut Map<String, Value>>,
}

impl<'p> ViewBuilder<'p, '_> {
    fn member(&mut self, name: &str, value: Raw<'p>) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.take(name, value) {
            self.error = Some(e);
        }
    }

    fn take(&mut self, name: &str, value: Raw<'p>) -> Result<(), TokenError> {
        let c = &mut self.view;
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
                if name == IDENTITY
                    && let Raw::Str(raw) = value
                {
                    self.identity = Some(unescape(raw).map_err(|_| TokenError::BadJson)?);
                }
                if let Some(extra) = self.extra.as_deref_mut() {
                    let v = match value {
                        Raw::Str(raw) => Value::String(
                            unescape(raw).map_err(|_| TokenError::BadJson)?.into_owned(),
                        ),
                        Raw::Bool(b) => Value::Bool(b),
                        Raw::Null => Value::Null,
                        other => {
                            serde_json::from_str(other.text()).map_err(|_| TokenError::BadJson)?
                        }
                    };
                    extra.insert(name.to_owned(), v);
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ClaimsView<'p>, TokenError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut view = self.view;
        if view.sub.is_none() {
            view.sub = self.identity;
        }
        Ok(view)
    }
}

fn string<'p>(value: Raw<'p>, name: &'static str) -> Result<Cow<'p, str>, TokenError> {
    match value {
        Raw::Str(raw) => unescape(raw).map_err(|_| TokenError::BadJson),
        _ => Err(TokenError::WrongType(name)),
    }
}

/// `aud` as a string or an array of strings; an empty array is no audience.
fn audiences(value: Raw<'_>) -> Result<Audiences<'_>, TokenError> {
    match value {
        Raw::Str(_) => Ok(Audiences(AudienceList::One(string(value, "aud")?))),
        Raw::Arr(text) => {
            let mut items = 0usize;
            let mut all_strings = true;
            parse_array(text.as_bytes(), MAX_JSON_DEPTH, &mut |item| {
                items += 1;
                all_strings &= matches!(item, Raw::Str(_));
            })
            .map_err(|_| TokenError::BadJson)?;
            match (all_strings, items) {
                (false, _) => Err(TokenError::WrongType("aud")),
                (true, 0) => Ok(Audiences(AudienceList::Empty)),
                (true, _) => Ok(Audiences(AudienceList::Array(text))),
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
    // 16 significant digits cannot overflow a u64 and 17 exceed 2^53, so the
    // multiply-add below needs no overflow check (which made it latency-bound).
    let significant = text.trim_start_matches('0');
    let seconds = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        if significant.len() > 16 {
            return Err(TokenError::WrongType(name));
        }
        significant
            .bytes()
            .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'))
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
