//! The few HTML pages latchkey serves: login, welcome, and a generic message.
//!
//! Pages are plain functions returning a `String`: no template engine, no
//! JavaScript, no inline `<style>` or `style=`. All styling lives in one stylesheet,
//! [`STYLE`], served by latchkey itself at [`style_route`] (under the prefix), whose
//! name carries a hash of its content so browsers cache it for good and each page
//! stays small; the Content-Security-Policy allows styles from this origin only and
//! forbids all scripts. Every value reflected into a page goes through
//! [`html::escape_into`](super::html::escape_into).

use std::fmt::Write as _;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::html::escape_into;

/// The only CSS of any page, served at [`style_route`].
pub(crate) const STYLE: &str = "\
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

/// The path (without the prefix) the stylesheet is served at:
/// `/latchkey-<first 16 hex digits of SHA-256(STYLE)>.css`, computed once. A new
/// stylesheet gets a new name, so the old one may be cached as immutable.
pub fn style_route() -> &'static str {
    static ROUTE: OnceLock<String> = OnceLock::new();
    ROUTE.get_or_init(|| {
        let digest = Sha256::digest(STYLE.as_bytes());
        let mut route = String::from("/latchkey-");
        for byte in digest.iter().take(8) {
            // Writing to a String cannot fail.
            let _ = write!(route, "{byte:02x}");
        }
        route.push_str(".css");
        route
    })
}

/// Starts a page: doctype through the opening `<main>`; `stylesheet` is the path of
/// [`style_route`] under the prefix.
fn open_page(out: &mut String, title: &str, stylesheet: &str) {
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <link rel=\"icon\" href=\"data:,\">\n<link rel=\"stylesheet\" href=\"",
    );
    escape_into(out, stylesheet);
    out.push_str("\">\n<title>");
    escape_into(out, title);
    out.push_str("</title>\n</head>\n<body>\n<main>\n");
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
pub(crate) struct LoginPage<'a> {
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
    /// The stylesheet's path: [`style_route`] under the prefix.
    pub stylesheet: &'a str,
}

/// Renders the login page.
pub(crate) fn login_page(page: &LoginPage<'_>) -> String {
    let mut out = String::with_capacity(2048);
    open_page(&mut out, page.title, page.stylesheet);
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
         autocapitalize=\"none\" spellcheck=\"false\" required",
    );
    // After a failed attempt the name is filled in again: the cursor goes to the
    // password, which is what needs retyping.
    let refill = !page.username.is_empty();
    out.push_str(if refill {
        " value=\""
    } else {
        " autofocus value=\""
    });
    escape_into(&mut out, page.username);
    out.push_str("\">\n<label for=\"password\">Password</label>\n");
    out.push_str(if refill {
        "<input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required autofocus>\n"
    } else {
        "<input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required>\n"
    });
    out.push_str(
        "<label class=\"check\" for=\"remember\"><input type=\"checkbox\" id=\"remember\" \
         name=\"remember\" value=\"1\"> Keep me signed in</label>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n",
    );
    close_page(&mut out);
    out
}

/// Renders the page shown to a logged-in user: "Welcome, <username>!" and a sign-out
/// button. The button is a POST form to `logout_path` carrying `csrf_token` (a GET
/// logout link could be triggered cross-site).
pub(crate) fn welcome_page(
    title: &str,
    stylesheet: &str,
    username: &str,
    logout_path: &str,
    csrf_token: &str,
) -> String {
    let mut out = String::with_capacity(1024);
    open_page(&mut out, title, stylesheet);
    out.push_str("<h1>Welcome, ");
    escape_into(&mut out, username);
    out.push_str("!</h1>\n<form method=\"post\" action=\"");
    escape_into(&mut out, logout_path);
    out.push_str("\">\n");
    hidden_field(&mut out, "csrf", csrf_token);
    out.push_str("<button type=\"submit\">Sign out</button>\n</form>\n");
    close_page(&mut out);
    out
}

/// Renders a small page with a heading and one paragraph, for errors and notices.
pub(crate) fn message_page(title: &str, stylesheet: &str, heading: &str, text: &str) -> String {
    let mut out = String::with_capacity(512);
    open_page(&mut out, title, stylesheet);
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
            stylesheet: EVIL,
        })
    }

    const SHEET: &str = "/p/latchkey-0123456789abcdef.css";
    const SHEET_LINK: &str = "<link rel=\"stylesheet\" href=\"/p/latchkey-0123456789abcdef.css\">";

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
        assert!(page.contains(&format!("required value=\"{EVIL_ESCAPED}\"")));
        assert!(page.contains("current-password\" required autofocus>"));
        assert!(page.contains(&format!("action=\"{EVIL_ESCAPED}\"")));
        assert!(page.contains(&format!("rel=\"stylesheet\" href=\"{EVIL_ESCAPED}\"")));
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
            stylesheet: SHEET,
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

    fn plain_login() -> String {
        login_page(&LoginPage {
            title: "t",
            next: "/",
            csrf_token: "c",
            error: None,
            username: "",
            action: "/login",
            stylesheet: SHEET,
        })
    }

    #[test]
    fn pages_have_no_script_no_inline_style_no_external_resources() {
        for page in [
            plain_login(),
            welcome_page("t", SHEET, "u", "/logout", "c"),
            message_page("t", SHEET, "h", "x"),
        ] {
            assert!(!page.contains("<script"));
            assert!(!page.contains("style="));
            assert!(!page.contains("<style"));
            assert!(!page.contains(" on"), "no event handler attributes");
            assert!(!page.contains("http:") && !page.contains("https:") && !page.contains("//"));
            // The links are an empty inline favicon, so browsers do not fetch one, and
            // latchkey's own stylesheet, once.
            assert_eq!(page.matches(SHEET_LINK).count(), 1);
            let page = page
                .replacen("<link rel=\"icon\" href=\"data:,\">", "", 1)
                .replacen(SHEET_LINK, "", 1);
            assert!(!page.contains("<link") && !page.contains("<img"));
            assert!(page.len() < 2 * 1024, "page is {} bytes", page.len());
        }
    }

    #[test]
    fn welcome_page_is_a_whole_page_with_the_form() {
        let page = welcome_page("Router", SHEET, "ann", "/p/logout", "tok");
        let mut expected = String::new();
        open_page(&mut expected, "Router", SHEET);
        expected.push_str("<h1>Welcome, ann!</h1>\n<form method=\"post\" action=\"/p/logout\">\n");
        hidden_field(&mut expected, "csrf", "tok");
        expected.push_str("<button type=\"submit\">Sign out</button>\n</form>\n");
        close_page(&mut expected);
        assert_eq!(page, expected);
    }

    #[test]
    fn welcome_page_is_small() {
        let page = welcome_page("Router admin", SHEET, "user1", "/logout", &"t".repeat(43));
        assert!(page.len() < 640, "welcome page is {} bytes", page.len());
    }

    #[test]
    fn style_has_dark_mode_and_focus_styles() {
        assert!(STYLE.contains("@media (prefers-color-scheme:dark)"));
        assert!(STYLE.contains(":focus-visible"));
        assert!(!STYLE.contains("</"));
    }

    #[test]
    fn style_route_names_the_style_by_its_hash() {
        let digest = Sha256::digest(STYLE.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(style_route(), format!("/latchkey-{hex}.css"));
    }

    #[test]
    fn welcome_page_escapes_and_posts_logout_with_csrf() {
        let page = welcome_page(EVIL, EVIL, EVIL, EVIL, EVIL);
        assert!(!page.contains(EVIL));
        assert!(page.contains(&format!("<title>{EVIL_ESCAPED}</title>")));
        assert!(page.contains(&format!("<h1>Welcome, {EVIL_ESCAPED}!</h1>")));
        assert!(page.contains(&format!("<form method=\"post\" action=\"{EVIL_ESCAPED}\">")));
        assert!(page.contains(&format!("name=\"csrf\" value=\"{EVIL_ESCAPED}\"")));
        assert!(page.contains("<button type=\"submit\">Sign out</button>"));
    }

    #[test]
    fn message_page_escapes_all_values() {
        let page = message_page(EVIL, EVIL, EVIL, EVIL);
        assert!(!page.contains(EVIL));
        assert!(page.contains(&format!("<title>{EVIL_ESCAPED}</title>")));
        assert!(page.contains(&format!("<h1>{EVIL_ESCAPED}</h1>")));
        assert!(page.contains(&format!("<p>{EVIL_ESCAPED}</p>")));
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn style_route_example() {
        let route = crate::web::pages::style_route();
        assert!(route.starts_with("/latchkey-") && route.ends_with(".css"));
        assert_eq!(route.len(), "/latchkey-.css".len() + 16);
    }

    #[test]
    fn login_page_example() {
        use crate::web::pages::{LoginPage, login_page};
        let page = login_page(&LoginPage {
            title: "Router admin",
            next: "/admin?tab=wifi&x=1",
            csrf_token: "tok",
            error: Some("Wrong username or password."),
            username: "ann",
            action: "/login",
            stylesheet: "/latchkey-0123456789abcdef.css",
        });
        assert!(page.contains("<title>Router admin</title>"));
        assert!(page.contains(r#"name="next" value="/admin?tab=wifi&amp;x=1""#));
        assert!(page.contains(r#"role="alert""#));
    }

    #[test]
    fn welcome_page_example() {
        let page = crate::web::pages::welcome_page("Admin", "/s.css", "<ann>", "/logout", "tok");
        assert!(page.contains("Welcome, &lt;ann&gt;!"));
        assert!(page.contains(r#"<form method="post" action="/logout">"#));
        assert!(page.contains(r#"<input type="hidden" name="csrf" value="tok">"#));
    }

    #[test]
    fn message_page_example() {
        let page = crate::web::pages::message_page(
            "Error",
            "/s.css",
            "Too many attempts",
            "Try again <later>.",
        );
        assert!(page.contains("<h1>Too many attempts</h1>"));
        assert!(page.contains("<p>Try again &lt;later&gt;.</p>"));
    }
}
