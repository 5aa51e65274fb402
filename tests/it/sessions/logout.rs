//! Logout CSRF: a GET logout (kept for Flask-Login compatibility) is only honoured
//! when the browser says it came from latchkey's own origin or the user typed it.

use crate::common::*;

#[test]
fn get_logout_from_a_sibling_site_is_refused() {
    let tmp = TempDir::new("logout");
    let data = tmp.data_dir();
    add_user(&data, "lou", "pw-lou-123");
    let srv = Server::start(&data, &[]);
    let r = browser_login(&srv, "lou", "pw-lou-123", false, None);
    let session = r.cookie_pair("latchkey_session").unwrap();
    for site in ["same-site", "cross-site", "Same-Site"] {
        let r = srv.get("/logout", &[("Cookie", &session), ("Sec-Fetch-Site", site)]);
        assert_eq!(r.status, 403, "{site}");
        assert!(r.set_cookie("latchkey_session").is_none(), "{site}");
        assert_eq!(
            srv.get("/", &[("Cookie", &session)]).status,
            200,
            "session ended by a {site} GET"
        );
    }
    // The user's own click (same-origin) or typed URL (none) still logs out.
    let r = srv.get(
        "/logout",
        &[("Cookie", &session), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(srv.get("/", &[("Cookie", &session)]).status, 302);
    let r = browser_login(&srv, "lou", "pw-lou-123", false, None);
    let session = r.cookie_pair("latchkey_session").unwrap();
    let r = srv.get(
        "/logout",
        &[("Cookie", &session), ("Sec-Fetch-Site", "none")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(srv.get("/", &[("Cookie", &session)]).status, 302);
}
