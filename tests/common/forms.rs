//! The form scraper: the `<form>`s of a page with their hidden inputs (the CSRF token,
//! `next`), form and query encoding, and the login a browser does with the form.

use super::client::Response;
use super::server::Server;

/// A `<form>` found in a page: its action, method and hidden inputs.
#[derive(Debug, Clone)]
pub(crate) struct Form {
    pub action: String,
    pub method: String,
    pub hidden: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn hidden(&self, name: &str) -> Option<&str> {
        self.hidden
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The action resolved the way a browser does: empty → the page's own URL `page`
    /// (`fallback` if that is empty too), a relative path against `page`, an absolute
    /// path as is.
    pub(crate) fn resolved_action(&self, fallback: &str, page: &str) -> String {
        let action = self.action.as_str();
        if action.is_empty() {
            return if page.is_empty() {
                fallback.to_owned()
            } else {
                page.to_owned()
            };
        }
        if action.starts_with('/') {
            return action.to_owned();
        }
        let base = page.split('?').next().unwrap_or(page);
        let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{action}")
    }
}

/// Every `<form>` in `html`, in order.
pub(crate) fn forms(html: &str) -> Vec<Form> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<form").map(|i| i + from) {
        let end = lower[start..]
            .find("</form")
            .map_or(html.len(), |i| i + start);
        let tag_end = lower[start..].find('>').map_or(end, |i| i + start);
        let tag = &html[start..tag_end];
        let mut hidden = Vec::new();
        let body = &html[tag_end..end];
        let body_lower = &lower[tag_end..end];
        let mut at = 0;
        while let Some(input) = body_lower[at..].find("<input").map(|i| i + at) {
            let close = body_lower[input..]
                .find('>')
                .map_or(body.len(), |i| i + input);
            let input_tag = &body[input..close];
            if attr(input_tag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden"))
                && let Some(name) = attr(input_tag, "name")
            {
                hidden.push((name, attr(input_tag, "value").unwrap_or_default()));
            }
            at = close;
        }
        found.push(Form {
            action: attr(tag, "action").unwrap_or_default(),
            method: attr(tag, "method")
                .unwrap_or_else(|| "get".to_owned())
                .to_ascii_lowercase(),
            hidden,
        });
        from = end.max(start + 1);
    }
    found
}

/// The login form of a page (a POST form with hidden `csrf` and `next`), if any.
pub(crate) fn login_form_opt(html: &str) -> Option<Form> {
    forms(html)
        .into_iter()
        .find(|f| f.method == "post" && f.hidden("csrf").is_some() && f.hidden("next").is_some())
}

/// The login form of a page; fails the test if there is none.
pub(crate) fn login_form(html: &str) -> Form {
    login_form_opt(html).unwrap_or_else(|| panic!("no login form with csrf and next in:\n{html}"))
}

/// The value of the hidden input `name` in the first form of `html` that has one.
pub(crate) fn hidden_input(html: &str, name: &str) -> Option<String> {
    forms(html)
        .iter()
        .find_map(|f| f.hidden(name).map(str::to_owned))
}

/// The (entity-decoded) value of attribute `name` in one tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name).map(|i| i + from) {
        let before_ok = pos > 0 && lower.as_bytes()[pos - 1].is_ascii_whitespace();
        let after = lower[pos + name.len()..].trim_start();
        if before_ok && after.starts_with('=') {
            let value_start = tag.len() - after.len() + 1;
            let value = tag[value_start..].trim_start();
            let raw = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or(""),
            };
            return Some(html_unescape(raw));
        }
        from = pos + name.len();
    }
    None
}

fn html_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `application/x-www-form-urlencoded` / query component encoding.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (other, _) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An urlencoded form body.
pub(crate) fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The decoded value of query parameter `name` in a path like `/login?next=…`.
pub(crate) fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// A browser-like login: GET the form (pre-session cookie + CSRF token), then POST it
/// same-origin. Returns the POST's response.
pub(crate) fn browser_login(
    srv: &Server,
    user: &str,
    pass: &str,
    remember: bool,
    next: Option<&str>,
) -> Response {
    let mut browser = srv.client();
    let page = browser.get(
        &match next {
            Some(n) => format!("/login?next={}", url_encode(n)),
            None => "/login".to_owned(),
        },
        &[],
    );
    assert_eq!(page.status, 200);
    page.cookie_pair("latchkey_pre")
        .expect("pre-session cookie");
    let login = login_form(&page.text());
    let mut fields = vec![
        ("username", user),
        ("password", pass),
        ("csrf", login.hidden("csrf").unwrap()),
        ("next", login.hidden("next").unwrap()),
    ];
    if remember {
        fields.push(("remember", "1"));
    }
    let origin = srv.origin();
    browser.post(
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &form(&fields),
    )
}
