//! `sessionkit serve` end to end: the demo store and the benchmark routes over real HTTP, on
//! the default engine (db on SQLite in the working directory) with a generated secret.

use crate::support::{Browser, Response, Server, TempDir};

const SECRET_FILE: &str = "sessionkit-secret.key";

fn assert_redirects_home(response: &Response) {
    assert_eq!(response.status, 303, "{}", response.body);
    assert_eq!(response.header("location"), Some("/"));
}

#[test]
fn the_counter_survives_a_restart_with_the_generated_secret() {
    let dir = TempDir::new("restart");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    assert_eq!(browser.get(&server, "/bench/incr").body, "1");
    assert_eq!(browser.get(&server, "/bench/incr").body, "2");

    let secret = std::fs::read_to_string(dir.path().join(SECRET_FILE)).expect("the secret file");
    assert_eq!(secret.trim().len(), 50);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::metadata(dir.path().join(SECRET_FILE)).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    }
    let logs = server.logs();
    assert!(
        logs.contains(&format!("http://localhost:{}/", server.port())),
        "{logs}"
    );
    assert!(
        logs.contains(SECRET_FILE),
        "where the secret is kept is printed: {logs}"
    );
    assert!(server.terminate().success(), "SIGTERM is a clean shutdown");

    let server = Server::start(dir.path(), &[]);
    assert_eq!(browser.get(&server, "/bench/incr").body, "3");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(SECRET_FILE)).unwrap(),
        secret,
        "the secret is reused, not regenerated"
    );
}

#[test]
fn reading_the_counter_saves_nothing_and_sends_no_cookie() {
    let dir = TempDir::new("read");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    let fresh = browser.get(&server, "/bench/read");
    assert_eq!(
        (fresh.body.as_str(), fresh.header("set-cookie")),
        ("0", None)
    );
    browser.get(&server, "/bench/incr");
    let read = browser.get(&server, "/bench/read");
    assert_eq!(read.body, "1");
    assert_eq!(read.header("set-cookie"), None);
    assert_eq!(read.header("vary"), Some("Cookie"));
}

#[test]
fn bench_login_starts_a_fresh_counter_and_bench_logout_ends_it() {
    let dir = TempDir::new("bench-login");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    browser.get(&server, "/bench/incr");
    let anonymous = browser.clone();
    let login = browser.post(&server, "/bench/login", "");
    assert_eq!(login.status, 200);
    assert_ne!(browser.cookie, anonymous.cookie, "login cycles the key");
    assert_eq!(browser.get(&server, "/bench/incr").body, "1");
    assert_eq!(browser.get(&server, "/bench/logout").status, 200);
    assert_eq!(browser.cookie, None, "logout deletes the cookie");
    assert_eq!(browser.get(&server, "/bench/read").body, "0");
}

#[test]
fn login_shows_the_user_and_logout_forgets_them() {
    let dir = TempDir::new("login");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    let home = browser.get(&server, "/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("not logged in"), "{}", home.body);
    assert!(home.body.contains("<code>db</code>"), "the engine is shown");
    let anonymous = browser.clone();

    assert_redirects_home(&browser.post(&server, "/login", "username=++alice++"));
    assert_ne!(browser.cookie, anonymous.cookie, "login cycles the key");
    let home = browser.get(&server, "/");
    assert!(
        home.body.contains("Logged in as <strong>alice</strong>"),
        "{}",
        home.body
    );
    assert!(
        home.body
            .contains("Visits in this session: <strong>2</strong>"),
        "visits survive login"
    );
    assert!(
        !anonymous.clone().get(&server, "/").body.contains("alice"),
        "the pre-login key is dead"
    );
    let logged_in = browser.clone();

    assert_redirects_home(&browser.post(&server, "/logout", ""));
    assert_eq!(browser.cookie, None, "logout deletes the cookie");
    assert!(browser.get(&server, "/").body.contains("not logged in"));
    let replayed = logged_in.clone().get(&server, "/");
    assert!(replayed.body.contains("not logged in"), "{}", replayed.body);
    assert!(
        !replayed.body.contains("alice"),
        "a copied cookie is worthless after logout"
    );
}

#[test]
fn usernames_are_checked_and_escaped() {
    let dir = TempDir::new("usernames");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    for refused in [
        "username=",
        "username=+++",
        &format!("username={}", "x".repeat(65)),
    ] {
        let response = browser.post(&server, "/login", refused);
        assert_eq!(response.status, 400, "{refused}");
        assert!(
            response.body.contains("1 to 64 characters"),
            "{}",
            response.body
        );
        assert!(response.body.contains("not logged in"));
    }
    let longest = "é".repeat(64);
    assert_redirects_home(&browser.post(
        &server,
        "/login",
        &format!("username={}", "%C3%A9".repeat(64)),
    ));
    assert!(
        browser.get(&server, "/").body.contains(&longest),
        "64 characters, 128 bytes, fit"
    );

    assert_redirects_home(&browser.post(
        &server,
        "/login",
        "username=%3Cscript%3Ex%3C%2Fscript%3E",
    ));
    let home = browser.get(&server, "/");
    assert!(
        home.body.contains("&lt;script&gt;x&lt;/script&gt;"),
        "{}",
        home.body
    );
    assert!(!home.body.contains("<script>"));
}
