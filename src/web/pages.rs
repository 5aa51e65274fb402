//! The few HTML pages latchkey serves: login, welcome, and a generic message.
//!
//! Pages are plain functions returning a `String`: no template engine, no
//! JavaScript, no external resources, no inline `style=` attributes. All styling
//! lives in one `<style>` block whose hash [`style_csp_source`] puts into the
//! Content-Security-Policy, so the CSP can forbid every other inline style and
//! all scripts. Every value reflected into a page goes through
//! [`html::escape_into`](super::html::escape_into).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::html::escape_into;

/// The only CSS on any page; its SHA-256 is allowed by the CSP.
const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#f3f4f6;--card:#fff;--fg:#111827;--muted:#4b5563;\
--line:#d1d5db;--accent:#2563eb;--accent-fg:#fff;--err-bg:#fef2f2;--err-fg:#991b1b}\
@media (prefers-color-scheme:dark){:root{--bg:#0b1120;--card:#1f2937;--fg:#f9fafb;\
--muted:#9ca3af;--line:#4b5563;--accent:#60a5fa;--accent-fg:#0b1120;--err-bg:#450a0a;\
--err-fg:#fecaca}}\
*{box-sizing:border-box}\
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;\
padding:1rem;background:var(--bg);color:var(--fg);\
font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}\
main{width:100%;max-width:22rem;background:var(--card);border:1px solid var(--line);\
border-radius:.75rem;padding:2rem 1.5rem;box-shadow:0 10px 25px rgb(0 0 0/.08)}\
h1{margin:0 0 1.25rem;font-size:1.5rem;line-height:1.2}\
p{margin:0 0 1rem;color:var(--muted)}\
label{display:block;margin:0 0 .25rem;font-weight:600}\
input[type=text],input[type=password]{display:block;width:100%;margin:0 0 1rem;\
padding:.625rem .75rem;font:inherit;color:inherit;background:transparent;\
border:1px solid var(--line);border-radius:.5rem}\
.check{display:flex;align-items:center;gap:.5rem;margin:0 0 1.25rem;font-weight:400}\
.check input{width:1.125rem;height:1.125rem;margin:0;accent-color:var(--accent)}\
button{display:block;width:100%;padding:.7rem;font:inherit;font-weight:600;cursor:pointer;\
color:var(--accent-fg);background:var(--accent);border:0;border-radius:.5rem}\
button:hover{filter:brightness(1.1)}\
input:focus-visible,button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}\
.error{margin:0 0 1rem;padding:.625rem .75rem;border-radius:.5rem;\
background:var(--err-bg);color:var(--err-fg)}\
.error:empty{display:none}";

/// The CSP source that allows exactly the pages' `<style>` block:
/// `'sha256-<base64 of SHA-256(style)>'`, computed once.
///
/// ```
/// let source = latchkey::web::pages::style_csp_source();
/// assert!(source.starts_with("'sha256-") && source.ends_with("='"));
/// let csp = format!("default-src 'none'; style-src {source}; form-action 'self'");
/// # let _ = csp;
/// ```
pub fn style_csp_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let digest = Sha256::digest(STYLE.as_bytes());
        format!("'sha256-{}'", STANDARD.encode(digest))
    })
}

/// Starts a page: doctype through the opening `<main>`.
fn open_page(out: &mut String, title: &str) {
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>",
    );
    escape_into(out, title);
    out.push_str("</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<main>\n");
}

/// Ends a page opened by [`open_page`].
fn close_page(out: &mut String) {
    out.push_str("</main>\n</body>\n</html>\n");
}

/// Appends a hidden form field; `name` is one of our constants, `value` is escaped.
fn hidden_field(out: &mut String, name: &str, value: &str) {
    out.push_str("<input type=\"hidden\" name=\"");
    out.push_str(name);
    out.push_str("\" value=\"");
    escape_into(out, value);
    out.push_str("\">\n");
}

/// What the login page shows. Every field is escaped before it is written.
///
/// The form posts `username`, `password`, `remember` (`1` when ticked, absent
/// otherwise), `next` and `csrf` to `action`.
#[derive(Debug, Clone, Copy)]
pub struct LoginPage<'a> {
    /// Page title and heading, e.g. "Router admin".
    pub title: &'a str,
    /// Where to go after logging in; sent back in the hidden `next` field.
    pub next: &'a str,
    /// The CSRF token for the hidden `csrf` field.
    pub csrf_token: &'a str,
    /// An error to show above the form (e.g. "Wrong username or password.").
    pub error: Option<&'a str>,
    /// The username to refill after a failed attempt ("" for none).
    pub username: &'a str,
    /// The form's action path, e.g. "/login".
    pub action: &'a str,
}

/// Renders the login page.
///
/// ```
/// use latchkey::web::pages::{login_page, LoginPage};
/// let page = login_page(&LoginPage {
///     title: "Router admin",
///     next: "/admin?tab=wifi&x=1",
///     csrf_token: "tok",
///     error: Some("Wrong username or password."),
///     username: "ann",
///     action: "/login",
/// });
/// assert!(page.contains("<title>Router admin</title>"));
/// assert!(page.contains(r#"name="next" value="/admin?tab=wifi&amp;x=1""#));
/// assert!(page.contains(r#"role="alert""#));
/// ```
pub fn login_page(page: &LoginPage<'_>) -> String {
    let mut out = String::with_capacity(STYLE.len() + 2048);
    open_page(&mut out, page.title);
    out.push_str("<h1>");
    escape_into(&mut out, page.title);
    out.push_str("</h1>\n");
    // The alert region is always present (hidden by CSS while empty) so screen
    // readers announce an error inserted into it; here it is rendered server-side.
    out.push_str("<div class=\"error\" role=\"alert\">");
    if let Some(error) = page.error {
        escape_into(&mut out, error);
    }
    out.push_str("</div>\n<form method=\"post\" action=\"");
    escape_into(&mut out, page.action);
    out.push_str("\">\n");
    hidden_field(&mut out, "next", page.next);
    hidden_field(&mut out, "csrf", page.csrf_token);
    out.push_str(
        "<label for=\"username\">Username</label>\n\
         <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" \
         autocapitalize=\"none\" spellcheck=\"false\" required autofocus value=\"",
    );
    escape_into(&mut out, page.username);
    out.push_str(
        "\">\n<label for=\"password\">Password</label>\n\
         <input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required>\n\
         <label class=\"check\" for=\"remember\"><input type=\"checkbox\" id=\"remember\" \
         name=\"remember\" value=\"1\"> Keep me signed in</label>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n",
    );
    close_page(&mut out);
    out
}

/// Renders the page shown to a logged-in user: "Welcome, <username>!" and a
/// logout button, which is a POST form to `logout_path` carrying the CSRF token
/// (a GET logout link could be triggered cross-site).
///
/// ```
/// let page = latchkey::web::pages::welcome_page("Admin", "<ann>", "/logout", "tok");
/// assert!(page.contains("Welcome, &lt;ann&gt;!"));
/// assert!(page.contains(r#"<form method="post" action="/logout">"#));
/// ```
pub fn welcome_page(title: &str, username: &str, logout_path: &str, csrf_token: &str) -> String {
    let mut out = String::with_capacity(STYLE.len() + 1024);
    open_page(&mut out, title);
    out.push_str("<h1>Welcome, ");
    escape_into(&mut out, username);
    out.push_str("!</h1>\n<p>You are signed in.</p>\n<form method=\"post\" action=\"");
    escape_into(&mut out, logout_path);
    out.push_str("\">\n");
    hidden_field(&mut out, "csrf", csrf_token);
    out.push_str("<button type=\"submit\">Sign out</button>\n</form>\n");
    close_page(&mut out);
    out
}

/// Renders a small page with a heading and one paragraph, for errors and notices.
///
/// ```
/// let page = latchkey::web::pages::message_page("Error", "Too many attempts", "Try again <later>.");
/// assert!(page.contains("<h1>Too many attempts</h1>"));
/// assert!(page.contains("<p>Try again &lt;later&gt;.</p>"));
/// ```
pub fn message_page(title: &str, heading: &str, text: &str) -> String {
    let mut out = String::with_capacity(STYLE.len() + 512);
    open_page(&mut out, title);
    out.push_str("<h1>");
    escape_into(&mut out, heading);
    out.push_str("</h1>\n<p>");
    escape_into(&mut out, text);
    out.push_str("</p>\n");
    close_page(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "\"><script>alert('x')</script>&";
    const EVIL_ESCAPED: &str = "&quot;&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;";

    fn evil_login() -> String {
        login_page(&LoginPage {
            title: EVIL,
            next: EVIL,
            csrf_token: EVIL,
            error: Some(EVIL),
            username: EVIL,
            action: EVIL,
        })
    }

    /// The text of the single `<style>` block of `page`.
    fn style_block(page: &str) -> &str {
        assert_eq!(page.matches("<style>").count(), 1);
        let start = page.find("<style>").unwrap() + "<style>".len();
        let end = page.find("</style>").unwrap();
        &page[start..end]
    }

    #[test]
    fn login_page_escapes_every_reflected_value() {
        let page = evil_login();
        assert!(!page.contains(EVIL));
        assert!(!page.contains("<script"));
        assert!(page.contains(&format!("<title>{EVIL_ESCAPED}</title>")));
        assert!(page.contains(&format!("<h1>{EVIL_ESCAPED}</h1>")));
        assert!(page.contains(&format!("role=\"alert\">{EVIL_ESCAPED}</div>")));
        assert!(page.contains(&format!("name=\"next\" value=\"{EVIL_ESCAPED}\"")));
        assert!(page.contains(&format!("name=\"csrf\" value=\"{EVIL_ESCAPED}\"")));
        assert!(page.contains(&format!("autofocus value=\"{EVIL_ESCAPED}\"")));
        assert!(page.contains(&format!("action=\"{EVIL_ESCAPED}\"")));
    }

    #[test]
    fn login_page_has_the_form_fields_and_labels() {
        let page = login_page(&LoginPage {
            title: "Router",
            next: "/admin",
            csrf_token: "c",
            error: None,
            username: "",
            action: "/login",
        });
        for needle in [
            "<!DOCTYPE html>",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>Router</title>",
            "<form method=\"post\" action=\"/login\">",
            "<label for=\"username\">",
            "id=\"username\" name=\"username\" autocomplete=\"username\"",
            "required autofocus value=\"\"",
            "<label for=\"password\">",
            "id=\"password\" name=\"password\" autocomplete=\"current-password\"",
            "<label class=\"check\" for=\"remember\"><input type=\"checkbox\" id=\"remember\" \
             name=\"remember\" value=\"1\">",
            "<input type=\"hidden\" name=\"next\" value=\"/admin\">",
            "<input type=\"hidden\" name=\"csrf\" value=\"c\">",
            "<div class=\"error\" role=\"alert\"></div>",
            "<button type=\"submit\">",
        ] {
            assert!(page.contains(needle), "missing {needle:?}");
        }
    }

    #[test]
    fn pages_have_no_script_no_inline_style_no_external_resources() {
        for page in [
            evil_login(),
            welcome_page("t", "u", "/logout", "c"),
            message_page("t", "h", "x"),
        ] {
            assert!(!page.contains("<script"));
            assert!(!page.contains("style="));
            assert!(!page.contains(" on"), "no event handler attributes");
            assert!(!page.contains("http:") && !page.contains("https:") && !page.contains("//"));
            assert!(!page.contains("<link") && !page.contains("<img"));
            assert!(page.len() < 6 * 1024, "page is {} bytes", page.len());
        }
    }

    #[test]
    fn style_has_dark_mode_and_focus_styles() {
        assert!(STYLE.contains("@media (prefers-color-scheme:dark)"));
        assert!(STYLE.contains(":focus-visible"));
        assert!(!STYLE.contains("</"));
    }

    #[test]
    fn style_hash_matches_the_style_block_of_every_page() {
        for page in [
            evil_login(),
            welcome_page("t", "u", "/logout", "c"),
            message_page("t", "h", "x"),
        ] {
            let digest = Sha256::digest(style_block(&page).as_bytes());
            let expected = format!("'sha256-{}'", STANDARD.encode(digest));
            assert_eq!(style_csp_source(), expected);
        }
    }

    #[test]
    fn welcome_page_escapes_and_posts_logout_with_csrf() {
        let page = welcome_page(EVIL, EVIL, EVIL, EVIL);
        assert!(!page.contains(EVIL));
        assert!(page.contains(&format!("<title>{EVIL_ESCAPED}</title>")));
        assert!(page.contains(&format!("<h1>Welcome, {EVIL_ESCAPED}!</h1>")));
        assert!(page.contains(&format!("<form method=\"post\" action=\"{EVIL_ESCAPED}\">")));
        assert!(page.contains(&format!("name=\"csrf\" value=\"{EVIL_ESCAPED}\"")));
        assert!(page.contains("<button type=\"submit\">Sign out</button>"));
    }

    #[test]
    fn message_page_escapes_all_values() {
        let page = message_page(EVIL, EVIL, EVIL);
        assert!(!page.contains(EVIL));
        assert!(page.contains(&format!("<title>{EVIL_ESCAPED}</title>")));
        assert!(page.contains(&format!("<h1>{EVIL_ESCAPED}</h1>")));
        assert!(page.contains(&format!("<p>{EVIL_ESCAPED}</p>")));
    }
}
