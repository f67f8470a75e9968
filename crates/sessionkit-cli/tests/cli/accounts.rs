//! The demo store's under-the-hood panel and account page, end to end: what a user is shown of
//! their session (never the whole key), their other sessions and how to end them, and on the
//! cookie engines the revocation list that makes "log out the other sessions" possible.

use std::path::Path;

use crate::support::{
    Browser, Run, SECRET_FILE, Server, TempDir, assert_redirects, csrf_token, is_logged_in_as,
    log_in, sessionkit, submit,
};

#[test]
fn the_hood_panel_shows_a_truncated_key_for_db() {
    let dir = TempDir::new("hood-db");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    submit(&mut browser, &server, "/cart/add", "slug=padlock");
    let key = browser.cookie.clone().expect("a session key");
    let page = browser.get(&server, "/");
    assert!(
        page.body
            .contains(&format!("id=\"session-key\">{}…</code>", &key[..6])),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&key), "the whole key is never shown");
    assert!(
        page.body
            .contains(&format!("sessionid</code>: {} bytes", 9 + key.len()))
    );
}

#[test]
fn the_hood_panel_decodes_a_signed_cookie_and_login_notes_the_activity() {
    let dir = TempDir::new("hood-signed");
    let server = Server::start(dir.path(), &[("SESSION_ENGINE", "signed_cookies")]);
    let mut browser = Browser::default();
    assert_redirects(&log_in(&mut browser, &server, "bob", "builder"), "/");
    let cookie = browser.cookie.clone().expect("a signed cookie");
    let page = browser.get(&server, "/");
    assert!(
        page.body
            .contains("<code id=\"engine\">signed_cookies</code>")
    );
    for shown in [
        "id=\"cookie-json\"",
        "&quot;_auth_user_id&quot;: &quot;2&quot;",
        "&quot;_auth_user_name&quot;: &quot;Bob&quot;",
        "&quot;_last_seen&quot;: &quot;20",
        &format!("id=\"cookie-size\">{} of 4096</strong>", 9 + cookie.len()),
    ] {
        assert!(page.body.contains(shown), "{shown} in {}", page.body);
    }
}

#[test]
fn on_encrypted_cookies_the_store_works_and_the_hood_panel_shows_nothing_of_the_cookie() {
    let dir = TempDir::new("hood-encrypted");
    let server = Server::start(dir.path(), &[("SESSION_ENGINE", "encrypted_cookies")]);
    let mut browser = Browser::default();
    assert_redirects(&log_in(&mut browser, &server, "bob", "builder"), "/");
    let cookie = browser.cookie.clone().expect("an encrypted cookie");
    assert!(!cookie.contains(':'), "not a signed value: {cookie}");
    let page = browser.get(&server, "/");
    assert!(
        page.body
            .contains("<code id=\"engine\">encrypted_cookies</code>")
    );
    assert!(
        page.body.contains("<strong>encrypted</strong>"),
        "{}",
        page.body
    );
    let size = format!("id=\"cookie-size\">{} of 4096</strong>", 9 + cookie.len());
    assert!(page.body.contains(&size), "{}", page.body);
    assert!(!page.body.contains("id=\"cookie-json\""), "{}", page.body);

    let secret = std::fs::read_to_string(dir.path().join(SECRET_FILE)).expect("the secret file");
    let decoded = sessionkit(dir.path())
        .args(["decode", "--secret", secret.trim(), &cookie])
        .run();
    assert_eq!(decoded.code, Some(0), "{}", decoded.stderr);
    assert!(
        decoded.stdout.contains("\"_auth_user_name\":\"Bob\""),
        "{}",
        decoded.stdout
    );
}

/// A `signed_cookies` session cookie holding `json`, signed with the secret the server in
/// `dir` generated.
fn signed_cookie(dir: &Path, json: &str) -> String {
    let secret = std::fs::read_to_string(dir.join(SECRET_FILE)).expect("the secret file");
    let outcome = sessionkit(dir)
        .args(["encode", "--secret", secret.trim(), "-"])
        .run_with_input(json);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    outcome.stdout.trim().to_owned()
}

#[test]
fn the_hood_panel_shows_little_of_a_huge_signed_cookie() {
    let dir = TempDir::new("hood-huge");
    let server = Server::start(dir.path(), &[("SESSION_ENGINE", "signed_cookies")]);
    let visit_with = |cookie: String| {
        let page = Browser {
            cookie: Some(cookie),
            ..Browser::default()
        }
        .get(&server, "/");
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.len() < 64 * 1024, "{} bytes", page.body.len());
        page
    };
    let spaces = " ".repeat(15_000_000);
    let bomb = signed_cookie(dir.path(), &format!(r#"{{"blob": "{spaces}"}}"#));
    assert!(bomb.len() < 20_000, "{} bytes inflate to 15 MB", bomb.len());
    let page = visit_with(bomb);
    assert!(
        page.body.contains("id=\"cookie-too-large\""),
        "{}",
        page.body
    );

    let long = signed_cookie(
        dir.path(),
        &format!(r#"{{"note": "{}"}}"#, "ab".repeat(10_000)),
    );
    let page = visit_with(long);
    assert!(page.body.contains("abab"), "{}", page.body);
    assert!(page.body.contains(" more bytes</pre>"), "{}", page.body);
}

#[test]
fn the_account_page_lists_the_users_sessions_and_ends_the_others() {
    let dir = TempDir::new("account");
    let server = Server::start(dir.path(), &[]);
    assert_redirects(&Browser::default().get(&server, "/account"), "/login");
    let mut phone = Browser::default();
    let mut laptop = Browser::default();
    let mut bob = Browser::default();
    log_in(&mut phone, &server, "alice", "wonderland");
    log_in(&mut laptop, &server, "alice", "wonderland");
    log_in(&mut bob, &server, "bob", "builder");

    let account = laptop.get(&server, "/account");
    assert_eq!(account.status, 200);
    assert_eq!(
        account.body.matches("class=\"user-session\"").count(),
        2,
        "Alice's two sessions, not Bob's: {}",
        account.body
    );
    assert_eq!(account.body.matches("this session</span>").count(), 1);
    for cookie in [&phone.cookie, &laptop.cookie, &bob.cookie] {
        let key = cookie.as_deref().expect("a session key");
        assert!(!account.body.contains(key), "keys are never shown");
    }
    let ended = laptop.post(
        &server,
        "/account/end-other-sessions",
        &format!("csrfmiddlewaretoken={}", csrf_token(&account.body)),
    );
    assert_redirects(&ended, "/account?ended=1");
    let account = laptop.get(&server, "/account?ended=1");
    assert!(account.body.contains("Ended 1 other session."));
    assert_eq!(account.body.matches("class=\"user-session\"").count(), 1);
    assert!(account.body.contains("This is your only session."));

    assert!(
        !is_logged_in_as(&phone.get(&server, "/"), "Alice"),
        "the phone is logged out"
    );
    assert!(is_logged_in_as(&laptop.get(&server, "/"), "Alice"));
    assert!(
        is_logged_in_as(&bob.get(&server, "/"), "Bob"),
        "other users keep theirs"
    );
}

#[test]
fn on_signed_cookies_the_account_page_explains_why_there_is_no_session_list() {
    let dir = TempDir::new("account-signed");
    let server = Server::start(dir.path(), &[("SESSION_ENGINE", "signed_cookies")]);
    let mut browser = Browser::default();
    log_in(&mut browser, &server, "carol", "christmas");
    let account = browser.get(&server, "/account");
    assert_eq!(account.status, 200);
    assert!(
        account.body.contains("id=\"no-session-list\""),
        "{}",
        account.body
    );
    assert!(
        account
            .body
            .contains("the server keeps nothing it could list or delete")
    );
    assert!(!account.body.contains("end-other-sessions"));
    let refused = browser.post(
        &server,
        "/account/end-other-sessions",
        &format!("csrfmiddlewaretoken={}", csrf_token(&account.body)),
    );
    assert_redirects(&refused, "/account");
    assert!(is_logged_in_as(&browser.get(&server, "/"), "Carol"));
}

/// On the cookie engines with the revocation list, the account page still lists nothing but
/// offers "log out my other sessions", and it works: Alice's other browser is logged out, her
/// own session and Bob's go on.
#[test]
fn with_the_revocation_list_cookie_engines_log_out_the_other_sessions() {
    for engine in ["signed_cookies", "encrypted_cookies"] {
        let dir = TempDir::new("account-revocation");
        let env = [
            ("SESSION_ENGINE", engine),
            ("SESSION_REVOCATION_URL", "memory://"),
        ];
        let server = Server::start(dir.path(), &env);
        let mut phone = Browser::default();
        let mut laptop = Browser::default();
        let mut bob = Browser::default();
        log_in(&mut phone, &server, "alice", "wonderland");
        log_in(&mut laptop, &server, "alice", "wonderland");
        log_in(&mut bob, &server, "bob", "builder");
        let copied_phone = phone.clone();

        let account = laptop.get(&server, "/account");
        assert_eq!(account.status, 200);
        assert!(
            account.body.contains("id=\"no-session-list\""),
            "{engine}: {}",
            account.body
        );
        assert!(
            account.body.contains("id=\"end-others\""),
            "{engine}: {}",
            account.body
        );
        let ended = laptop.post(
            &server,
            "/account/end-other-sessions",
            &format!("csrfmiddlewaretoken={}", csrf_token(&account.body)),
        );
        assert_redirects(&ended, "/account?ended=others");
        let account = laptop.get(&server, "/account?ended=others");
        assert!(
            account.body.contains("Logged out your other sessions."),
            "{engine}"
        );

        assert!(
            !is_logged_in_as(&phone.get(&server, "/"), "Alice"),
            "{engine}: the phone is logged out"
        );
        assert!(
            !is_logged_in_as(&copied_phone.clone().get(&server, "/"), "Alice"),
            "{engine}: and so is a copy of its cookie"
        );
        assert!(
            is_logged_in_as(&laptop.get(&server, "/"), "Alice"),
            "{engine}"
        );
        assert!(
            is_logged_in_as(&bob.get(&server, "/"), "Bob"),
            "{engine}: other users keep theirs"
        );
    }
}

/// The replay lesson of the "under the hood" panel, both ways: on `signed_cookies` a cookie
/// copied before logout still logs in afterwards; with the revocation list
/// (`SESSION_REVOCATION_URL`) the logout lists the session and the copy is refused.
#[test]
fn a_signed_cookie_copied_before_logout_replays_only_without_the_revocation_list() {
    for (revocation, replay_works) in [(None, true), (Some("memory://"), false)] {
        let dir = TempDir::new("revocation");
        let mut env = vec![("SESSION_ENGINE", "signed_cookies")];
        env.extend(revocation.map(|url| ("SESSION_REVOCATION_URL", url)));
        let server = Server::start(dir.path(), &env);
        let mut browser = Browser::default();
        assert_redirects(&log_in(&mut browser, &server, "alice", "wonderland"), "/");
        let copied = browser.clone();
        assert_redirects(&submit(&mut browser, &server, "/logout", ""), "/");
        let replayed = copied.clone().get(&server, "/");
        assert_eq!(
            is_logged_in_as(&replayed, "Alice"),
            replay_works,
            "SESSION_REVOCATION_URL={revocation:?}: {}",
            replayed.body
        );
    }
}
