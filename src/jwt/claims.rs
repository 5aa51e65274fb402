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
#[inline]
pub(crate) fn scan<'p>(
    payload: &'p [u8],
    extra: Option<&mut Map<String, Value>>,
) -> Result<ClaimsView<'p>, TokenError> {
    if extra.is_none()
        && let Some(view) = scan_flat(payload)
    {
        return Ok(view);
    }
    let mut builder = ViewBuilder {
        view: ClaimsView::default(),
        identity: None,
        identity_seen: false,
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
    /// `identity` when it is a string.
    identity: Option<Cow<'p, str>>,
    /// Whether there is an `identity` claim, of any type.
    identity_seen: bool,
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
                if name == IDENTITY {
                    self.identity_seen = true;
                    if let Raw::Str(raw) = value {
                        self.identity = Some(unescape(raw).map_err(|_| TokenError::BadJson)?);
                    }
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
        match &view.sub {
            None => view.sub = self.identity,
            Some(sub) if self.identity_seen && self.identity.as_ref() != Some(sub) => {
                return Err(TokenError::ConflictingSubject);
            }
            Some(_) => {}
        }
        Ok(view)
    }
}

/// Bits of the claims [`scan_flat`] knows by name, to find one written twice.
const SEEN_SUB: u16 = 1;
const SEEN_IAT: u16 = 1 << 1;
const SEEN_NBF: u16 = 1 << 2;
const SEEN_EXP: u16 = 1 << 3;
const SEEN_JTI: u16 = 1 << 4;
const SEEN_TYPE: u16 = 1 << 5;
const SEEN_ISS: u16 = 1 << 6;
const SEEN_AUD: u16 = 1 << 7;
const SEEN_IDENTITY: u16 = 1 << 8;

/// How many claims without a typed field [`scan_flat`] tracks for duplicates.
const FLAT_UNKNOWN: usize = 8;

/// A value [`scan_flat`] accepts: a string without escapes, a plain integer of at
/// most 16 digits, or `true`/`false`/`null`.
#[derive(Clone, Copy)]
enum Flat<'p> {
    Str(&'p str),
    Int(u64),
    Literal,
}

/// The claims of a payload shaped like the ones latchkey and common libraries issue,
/// in one pass without the general scanner: a flat object, no whitespace, keys and
/// strings without escapes, numbers that are plain integers, well-typed registered
/// claims, no claim twice. `None` means "not that shape or not valid": the general
/// scanner then decides, so every error (and every unusual token) gets its answer
/// there, and this shortcut only ever returns what [`scan`] would (checked by the
/// fuzzer on every input).
#[inline]
pub(crate) fn scan_flat(payload: &[u8]) -> Option<ClaimsView<'_>> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut cur = FlatCursor {
        text,
        bytes: payload,
        pos: 0,
    };
    let mut view = ClaimsView::default();
    let mut seen = 0u16;
    let mut identity: Option<Flat<'_>> = None;
    let mut unknown = [""; FLAT_UNKNOWN];
    let mut unknown_len = 0;
    cur.eat(b'{')?;
    if cur.peek() == Some(b'}') {
        cur.pos += 1;
    } else {
        loop {
            // A registered claim of the wrong type or out of range returns `None`
            // here: the general scanner names the error.
            let bit = match cur.key()? {
                FlatKey::Sub => {
                    view.sub = Some(Cow::Borrowed(cur.string()?));
                    SEEN_SUB
                }
                FlatKey::Iat => {
                    view.iat = Some(cur.numeric_date()?);
                    SEEN_IAT
                }
                FlatKey::Nbf => {
                    view.nbf = Some(cur.numeric_date()?);
                    SEEN_NBF
                }
                FlatKey::Exp => {
                    view.exp = Some(cur.numeric_date()?);
                    SEEN_EXP
                }
                FlatKey::Jti => {
                    view.jti = Some(Cow::Borrowed(cur.string()?));
                    SEEN_JTI
                }
                FlatKey::Type => {
                    view.token_type = Some(match cur.string()? {
                        "access" => TokenType::Access,
                        "refresh" => TokenType::Refresh,
                        _ => return None,
                    });
                    SEEN_TYPE
                }
                FlatKey::Iss => {
                    view.iss = Some(Cow::Borrowed(cur.string()?));
                    SEEN_ISS
                }
                FlatKey::Aud => {
                    view.aud = Audiences(AudienceList::One(Cow::Borrowed(cur.string()?)));
                    SEEN_AUD
                }
                FlatKey::Identity => {
                    identity = Some(match cur.peek()? {
                        b'"' => Flat::Str(cur.string()?),
                        _ => cur.value()?,
                    });
                    SEEN_IDENTITY
                }
                FlatKey::Other(name) => {
                    cur.value()?;
                    if unknown.get(..unknown_len)?.contains(&name) {
                        return None;
                    }
                    *unknown.get_mut(unknown_len)? = name;
                    unknown_len += 1;
                    0
                }
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match cur.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    if cur.pos != payload.len() {
        return None;
    }
    match (&view.sub, identity) {
        (None, Some(Flat::Str(id))) => view.sub = Some(Cow::Borrowed(id)),
        (None, _) | (Some(_), None) => {}
        (Some(sub), Some(Flat::Str(id))) if sub == id => {}
        // Both present and different: ConflictingSubject, from the general scanner.
        (Some(_), Some(_)) => return None,
    }
    Some(view)
}

/// A member name as [`scan_flat`] sees it.
#[derive(Clone, Copy)]
enum FlatKey<'p> {
    Sub,
    Iat,
    Nbf,
    Exp,
    Jti,
    Type,
    Iss,
    Aud,
    Identity,
    /// A claim without a typed field.
    Other(&'p str),
}

/// `"xyz":` as the low six bytes of a little-endian word.
const fn key6(name: &[u8; 3]) -> u64 {
    u64::from_le_bytes([b'"', name[0], name[1], name[2], b'"', b':', 0, 0])
}
const LOW6: u64 = 0xFFFF_FFFF_FFFF;
const LOW7: u64 = 0xFF_FFFF_FFFF_FFFF;
const KEY_SUB: u64 = key6(b"sub");
const KEY_IAT: u64 = key6(b"iat");
const KEY_NBF: u64 = key6(b"nbf");
const KEY_EXP: u64 = key6(b"exp");
const KEY_JTI: u64 = key6(b"jti");
const KEY_ISS: u64 = key6(b"iss");
const KEY_AUD: u64 = key6(b"aud");
const KEY_TYPE: u64 = u64::from_le_bytes(*b"\"type\":\0");
const KEY_IDENTIT: u64 = u64::from_le_bytes(*b"\"identit");

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Flags (high bit of the byte) the bytes of `word` that end a plain string run:
/// `"`, `\\` or a control character. The lowest flag is always a true one (a borrow
/// only reaches the bytes above a flagged byte), which is the one that matters.
#[inline]
fn string_stops(word: u64) -> u64 {
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

/// How many of the eight bytes of `word` (in memory order) are ASCII digits before
/// the first that is not.
#[inline]
fn digit_run(word: u64) -> usize {
    let offset = word ^ (ONES * u64::from(b'0'));
    // Per byte, with no carry between bytes: the high bit is set when the byte was
    // >= 0x80 or when its low seven bits are 10 or more, i.e. when it is not a digit.
    let low = offset & !HIGHS;
    let not_digit = (low.wrapping_add(ONES * 0x76) | offset) & HIGHS;
    (not_digit.trailing_zeros() / 8) as usize
}

/// Powers of ten up to 10^8.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The value of the first `len` (1..=8) bytes of `word`, ASCII digits, most
/// significant first; three multiplies instead of a multiply-add per digit.
#[inline(always)]
fn eight_digits(word: u64, len: usize) -> u64 {
    // Digits as values, the first in the lowest byte; shifting left drops the bytes
    // past the run and leaves zeros (leading zero digits) in their place.
    let values = word.wrapping_sub(ONES * u64::from(b'0'));
    let v = values.checked_shl(8 * (8 - len as u32)).unwrap_or(0);
    let v = (v & 0x0F0F_0F0F_0F0F_0F0F)
        .wrapping_mul(10)
        .wrapping_add(v >> 8 & 0x0F0F_0F0F_0F0F_0F0F);
    let v = (v & 0x00FF_00FF_00FF_00FF)
        .wrapping_mul(100)
        .wrapping_add(v >> 16 & 0x00FF_00FF_00FF_00FF);
    (v & 0x0000_FFFF_0000_FFFF)
        .wrapping_mul(10_000)
        .wrapping_add(v >> 32 & 0x0000_FFFF_0000_FFFF)
        & 0xFFFF_FFFF
}

/// A position in a payload for [`scan_flat`].
struct FlatCursor<'p> {
    text: &'p str,
    bytes: &'p [u8],
    pos: usize,
}

impl<'p> FlatCursor<'p> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// The member name at the cursor and the colon after it. The registered names
    /// are recognised by the word they start (`"exp":` is six bytes), the others
    /// read as a string.
    #[inline]
    fn key(&mut self) -> Option<FlatKey<'p>> {
        if let Some(word) = self.word() {
            let known = match word & LOW6 {
                KEY_EXP => Some((FlatKey::Exp, 6)),
                KEY_IAT => Some((FlatKey::Iat, 6)),
                KEY_NBF => Some((FlatKey::Nbf, 6)),
                KEY_SUB => Some((FlatKey::Sub, 6)),
                KEY_JTI => Some((FlatKey::Jti, 6)),
                KEY_ISS => Some((FlatKey::Iss, 6)),
                KEY_AUD => Some((FlatKey::Aud, 6)),
                _ if word & LOW7 == KEY_TYPE => Some((FlatKey::Type, 7)),
                _ if word == KEY_IDENTIT
                    && self.bytes.get(self.pos + 8..self.pos + 11) == Some(b"y\":") =>
                {
                    Some((FlatKey::Identity, 11))
                }
                _ => None,
            };
            if let Some((key, len)) = known {
                self.pos += len;
                return Some(key);
            }
        }
        let name = self.string()?;
        self.eat(b':')?;
        Some(match name {
            "sub" => FlatKey::Sub,
            "iat" => FlatKey::Iat,
            "nbf" => FlatKey::Nbf,
            "exp" => FlatKey::Exp,
            "jti" => FlatKey::Jti,
            "type" => FlatKey::Type,
            "iss" => FlatKey::Iss,
            "aud" => FlatKey::Aud,
            "identity" => FlatKey::Identity,
            other => FlatKey::Other(other),
        })
    }

    /// A NumericDate written as a plain integer in `0..=2^53`.
    #[inline(always)]
    fn numeric_date(&mut self) -> Option<u64> {
        // Today's dates are ten digits: two words, no loop. Anything else (a
        // leading zero, more digits, the end of the payload near) goes through
        // `value`.
        if let Some(high) = self.word()
            && let low = self.padded_word_at(8)
            && high & 0xFF != u64::from(b'0')
            && digit_run(high) == 8
        {
            let more = digit_run(low);
            if more < 8 {
                let after = (low >> (8 * more)) as u8;
                if matches!(after, b'.' | b'e' | b'E') {
                    return None;
                }
                let n = eight_digits(high, 8) * POW10.get(more)? + eight_digits(low, more);
                self.pos += 8 + more;
                return Some(n);
            }
        }
        match self.value()? {
            Flat::Int(n) if n <= MAX_NUMERIC_DATE => Some(n),
            _ => None,
        }
    }

    /// A string without escapes or control characters, at its opening quote.
    #[inline(always)]
    fn string(&mut self) -> Option<&'p str> {
        self.eat(b'"')?;
        let start = self.pos;
        // Eight bytes per step: claim strings are a few to a few dozen bytes, and a
        // byte loop with three tests per byte was a fifth of the scan.
        while let Some(word) = self.word() {
            let stops = string_stops(word);
            if stops != 0 {
                self.pos += (stops.trailing_zeros() / 8) as usize;
                return self.string_end(start);
            }
            self.pos += 8;
        }
        let rest = self.bytes.get(self.pos..)?;
        self.pos += rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        self.string_end(start)
    }

    /// At the byte that stopped a string: its contents if that byte is the closing quote.
    #[inline]
    fn string_end(&mut self, start: usize) -> Option<&'p str> {
        let end = self.pos;
        self.eat(b'"')?;
        self.text.get(start..end)
    }

    /// The next eight bytes as a little-endian word, if there are eight.
    #[inline]
    fn word(&self) -> Option<u64> {
        self.word_at(0)
    }

    /// [`Self::word_at`], or near the end of the payload the bytes that are left,
    /// padded with zero bytes (which are neither digits nor anything else a value
    /// could continue with).
    #[inline]
    fn padded_word_at(&self, offset: usize) -> u64 {
        if let Some(word) = self.word_at(offset) {
            return word;
        }
        let rest = self.bytes.get(self.pos + offset..).unwrap_or_default();
        let mut padded = [0u8; 8];
        for (slot, &b) in padded.iter_mut().zip(rest) {
            *slot = b;
        }
        u64::from_le_bytes(padded)
    }

    /// The eight bytes `offset` bytes ahead as a little-endian word, if there are eight.
    #[inline]
    fn word_at(&self, offset: usize) -> Option<u64> {
        let (chunk, _) = self
            .bytes
            .get(self.pos + offset..)?
            .split_first_chunk::<8>()?;
        Some(u64::from_le_bytes(*chunk))
    }

    #[inline]
    fn value(&mut self) -> Option<Flat<'p>> {
        match self.peek()? {
            b'"' => self.string().map(Flat::Str),
            b'0' => {
                self.pos += 1;
                self.integer_end(0)
            }
            b'1'..=b'9' => {
                let (n, len) = self.digits_swar(self.padded_word_at(0))?;
                self.pos += len;
                self.integer_end(n)
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => None,
        }
    }

    /// The value and length of the run of at most 16 digits starting with `first`
    /// (the word at the cursor); `None` for a longer run (the general path decides).
    #[inline]
    fn digits_swar(&self, first: u64) -> Option<(u64, usize)> {
        let len = digit_run(first);
        if len < 8 {
            return Some((eight_digits(first, len), len));
        }
        let high = eight_digits(first, 8);
        let second = self.padded_word_at(8);
        let more = digit_run(second);
        if more == 8 {
            // 16 digits, but a 17th may follow.
            if let Some(b'0'..=b'9') = self.bytes.get(self.pos + 16) {
                return None;
            }
        }
        let scale = POW10.get(more)?;
        Some((high * scale + eight_digits(second, more), 8 + more))
    }

    /// An integer ends here unless a fraction, exponent or digit follows (`01`).
    #[inline]
    fn integer_end(&self, n: u64) -> Option<Flat<'p>> {
        match self.peek() {
            Some(b'.' | b'e' | b'E' | b'0'..=b'9') => None,
            _ => Some(Flat::Int(n)),
        }
    }

    fn literal(&mut self, word: &str) -> Option<Flat<'p>> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word.as_bytes()).then_some(())?;
        self.pos = end;
        Some(Flat::Literal)
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

    fn word(bytes: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(w)
    }

    #[test]
    fn word_helpers_find_the_first_stop_and_read_digits() {
        assert_eq!(digit_run(word(b"1234567,")), 7);
        assert_eq!(digit_run(word(b"12345678")), 8);
        assert_eq!(digit_run(word(b"9/:0\xb9")), 1);
        assert_eq!(digit_run(word(b"\xb0123")), 0);
        assert_eq!(eight_digits(word(b"17000009"), 8), 17_000_009);
        assert_eq!(eight_digits(word(b"00,xxxxx"), 2), 0);
        assert_eq!(eight_digits(word(b"905}...."), 3), 905);
        let first_stop = |bytes: &[u8]| string_stops(word(bytes)).trailing_zeros() / 8;
        assert_eq!(first_stop(b"admin\",\""), 5);
        assert_eq!(first_stop(b"ab\\\"cdef"), 2);
        assert_eq!(first_stop(b"a\x1f\"bcdef"), 1);
        assert_eq!(first_stop(b"\xe9\xa0!#xyz\""), 7);
        assert_eq!(string_stops(word(b"plain-ok")), 0);
    }

    #[test]
    fn the_flat_scan_reads_issued_payloads_and_defers_the_rest() {
        let issued = Claims::new_token("admin", 1_700_000_000, 900, "j-1", TokenType::Access);
        let json = issued.to_json();
        let flat = scan_flat(json.as_bytes()).expect("an issued payload is flat");
        assert_eq!(flat, issued.view());
        assert!(matches!(flat.sub, Some(Cow::Borrowed("admin"))));
        let general = scan_owned(br#"{"exp":1,"sub":"a","identity":"a"}"#).unwrap();
        assert_eq!(
            scan_flat(br#"{"exp":1,"sub":"a","identity":"a"}"#),
            Some(general.view())
        );
        assert_eq!(scan_flat(b"{}"), Some(ClaimsView::default()));
        // Numbers ending at the end of the payload, where no whole word is left.
        for (json, exp) in [
            (r#"{"exp":1764260000}"#, 1_764_260_000),
            (r#"{"exp":7}"#, 7),
            (r#"{"exp":0}"#, 0),
            (r#"{"exp":12345678}"#, 12_345_678),
            (r#"{"exp":9007199254740992}"#, 1 << 53),
            (r#"{"n":1234567890123456,"exp":99}"#, 99),
        ] {
            let view = scan_flat(json.as_bytes()).expect(json);
            assert_eq!(view.exp, Some(exp), "{json}");
            assert_eq!(view, scan_owned(json.as_bytes()).unwrap().view(), "{json}");
        }
        // Each of these is valid (or an error) for the general scanner to name.
        for deferred in [
            r#"{ "exp":1}"#,
            r#"{"exp":1 }"#,
            r#"{"s\u0075b":"a"}"#,
            r#"{"sub":"a\"b"}"#,
            r#"{"exp":1.5}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":01}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":"1"}"#,
            r#"{"exp":9007199254740993}"#,
            r#"{"n":12345678901234567}"#,
            r#"{"aud":["a"]}"#,
            r#"{"x":{"y":1}}"#,
            r#"{"type":"other"}"#,
            r#"{"exp":1,"exp":1}"#,
            r#"{"k":1,"k":2}"#,
            r#"{"sub":"a","identity":"b"}"#,
            r#"{"sub":"a","identity":null}"#,
            r#"{"exp":1}x"#,
            r#"{"exp":1,}"#,
            r#"{"a":tru}"#,
        ] {
            assert_eq!(scan_flat(deferred.as_bytes()), None, "{deferred}");
        }
        let many: Vec<String> = (0..FLAT_UNKNOWN + 1)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect();
        assert_eq!(
            scan_flat(format!("{{{}}}", many.join(",")).as_bytes()),
            None
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
