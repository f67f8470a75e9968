//! `sessionkit serve` end to end: the demo store and the benchmark routes over real HTTP, on
//! the default engine (db on SQLite in the working directory) with a generated secret, and on
//! `signed_cookies` where the difference shows. The under-the-hood panel and the account page
//! are in `accounts`.

use std::path::Path;

use sessionkit_testkit::{PrivateServer, Redis};

use crate::support::{
    Browser, Response, Run, SECRET_FILE, Server, TempDir, assert_redirects, csrf_token,
    is_logged_in_as, log_in, sessionkit, submit,
};

/// Django's default security headers, which every answer of the store carries.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// How many live sessions the SQLite store in `dir` holds, counted by copying them all into an
/// empty directory with `sessionkit copy-sessions`.
fn stored_sessions(dir: &Path) -> usize {
    let copies = TempDir::new("copies");
    let outcome = sessionkit(dir)
        .args([
            "copy-sessions",
            "--from",
            "sqlite://sessionkit.sqlite3",
            "--to",
        ])
        .arg(format!("file://{}", copies.path().display()))
        .run();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let count = outcome
        .stdout
        .strip_prefix("copied ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok());
    count.unwrap_or_else(|| panic!("a count of copied sessions: {}", outcome.stdout))
}

/// The names of the cookies `response` sets.
fn cookies_set(response: &Response) -> Vec<&str> {
    response
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .filter_map(|(_, value)| value.split_once('=').map(|(name, _)| name))
        .collect()
}

fn cart_count(page: &Response) -> &str {
    const BADGE: &str = "id=\"cart-count\">";
    let start = page.body.find(BADGE).expect("the cart badge") + BADGE.len();
    let length = page.body[start..].find('<').expect("the badge's end");
    &page.body[start..start + length]
}

#[test]
fn the_benchmark_routes_are_mounted_only_when_asked_for() {
    let dir = TempDir::new("no-bench-routes");
    let server = Server::start_with(dir.path(), &[], &[]);
    let mut browser = Browser::default();
    assert_eq!(browser.get(&server, "/bench/incr").status, 404);
    assert_eq!(browser.get(&server, "/bench/logout").status, 404);
    assert_eq!(
        browser.get(&server, "/").status,
        200,
        "the store itself is there"
    );
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
fn login_keeps_the_cart_under_a_new_key_and_logout_ends_it_for_every_copy() {
    let dir = TempDir::new("login");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    let home = browser.get(&server, "/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("id=\"login-link\""), "{}", home.body);
    assert!(
        home.body.contains("<code id=\"engine\">db</code>"),
        "the engine is shown"
    );
    assert_redirects(
        &submit(&mut browser, &server, "/cart/add", "slug=padlock"),
        "/cart",
    );
    let anonymous = browser.clone();

    let token_before_login = csrf_token(&browser.get(&server, "/").body);
    assert_redirects(&log_in(&mut browser, &server, "alice", "wonderland"), "/");
    assert_ne!(browser.cookie, anonymous.cookie, "login cycles the key");
    assert_ne!(
        browser.csrf_cookie, anonymous.csrf_cookie,
        "login replaces the CSRF secret"
    );
    let stale_form = format!("slug=padlock&csrfmiddlewaretoken={token_before_login}");
    assert_eq!(browser.post(&server, "/cart/add", &stale_form).status, 403);
    let home = browser.get(&server, "/");
    assert!(is_logged_in_as(&home, "Alice"), "{}", home.body);
    assert_eq!(cart_count(&home), "1", "the cart survives login");
    let stale = anonymous.clone().get(&server, "/");
    assert!(!is_logged_in_as(&stale, "Alice"));
    assert_eq!(cart_count(&stale), "0", "the pre-login key is dead");
    let logged_in = browser.clone();

    assert_redirects(&submit(&mut browser, &server, "/logout", ""), "/");
    assert_ne!(browser.cookie, logged_in.cookie, "the old cookie is gone");
    let after = browser.get(&server, "/");
    assert!(after.body.contains("Logged out."), "{}", after.body);
    assert_eq!(
        browser.cookie, None,
        "the message shown, its session ended: no session while browsing on"
    );
    assert_eq!(stored_sessions(dir.path()), 0, "nothing left on the server");
    assert!(!browser.get(&server, "/").body.contains("Logged out."));
    let replayed = logged_in.clone().get(&server, "/");
    assert!(
        replayed.body.contains("id=\"login-link\""),
        "{}",
        replayed.body
    );
    assert!(
        !replayed.body.contains("Alice"),
        "a copied cookie is worthless after logout"
    );
    assert_eq!(cart_count(&replayed), "0");
}

#[test]
fn a_failed_login_shows_the_form_again_with_the_username_escaped() {
    let dir = TempDir::new("failed-login");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    for (username, password) in [("alice", "builder"), ("mallory", "wonderland")] {
        let response = log_in(&mut browser, &server, username, password);
        assert_eq!(response.status, 400, "{username}");
        assert!(
            response
                .body
                .contains("Unknown username or wrong password."),
            "{}",
            response.body
        );
        assert!(response.body.contains("id=\"login-link\""), "not logged in");
    }
    let response = log_in(&mut browser, &server, "%3Cscript%3Ex%3C%2Fscript%3E", "x");
    assert!(
        response
            .body
            .contains("value=\"&lt;script&gt;x&lt;/script&gt;\""),
        "{}",
        response.body
    );
    assert!(!response.body.contains("<script>"));
}

#[test]
fn a_post_needs_a_token_of_the_browsers_csrf_secret() {
    let dir = TempDir::new("csrf");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    let page = browser.get(&server, "/");
    let token = csrf_token(&page.body);
    let secret = browser
        .csrf_cookie
        .clone()
        .expect("the page sets the CSRF cookie");
    let set_cookie = page.header("set-cookie").expect("a Set-Cookie");
    assert!(
        set_cookie.ends_with("; Path=/; SameSite=Lax; Secure"),
        "{set_cookie}"
    );
    assert!(
        !page.body.contains(&secret),
        "pages carry only masked tokens"
    );
    let again = csrf_token(&browser.get(&server, "/").body);
    assert_ne!(token, again, "a fresh mask on every page (BREACH)");

    let other_browsers = csrf_token(&Browser::default().get(&server, "/").body);
    let last = if token.ends_with('a') { "b" } else { "a" };
    let wrong = format!("{}{last}", &token[..token.len() - 1]);
    for form in [
        "slug=padlock".to_owned(),
        "slug=padlock&csrfmiddlewaretoken=".to_owned(),
        format!("slug=padlock&csrfmiddlewaretoken={wrong}"),
        format!("slug=padlock&csrfmiddlewaretoken={other_browsers}"),
        format!("slug=padlock&csrfmiddlewaretoken={token}x"),
    ] {
        let refused = browser.post(&server, "/cart/add", &form);
        assert_eq!(refused.status, 403, "{form}");
        assert!(refused.body.contains("Form refused"), "{}", refused.body);
        assert!(refused.body.contains("security token"), "{}", refused.body);
    }
    for path in ["/login", "/logout", "/cart/remove"] {
        assert_eq!(browser.post(&server, path, "").status, 403, "{path}");
    }
    let cross_site = format!("slug=padlock&csrfmiddlewaretoken={token}");
    let refused = browser.post_from(&server, "https://evil.example", "/cart/add", &cross_site);
    assert_eq!(
        refused.status, 403,
        "another site's form, even with the token"
    );
    assert!(
        refused.body.contains(
            "Origin checking failed - https://evil.example does not match any trusted origins."
        ),
        "{}",
        refused.body
    );
    let mut without_cookie = Browser::default();
    let right_token = format!("slug=padlock&csrfmiddlewaretoken={token}");
    assert_eq!(
        without_cookie
            .post(&server, "/cart/add", &right_token)
            .status,
        403,
        "a token is worth nothing without the cookie it was made from"
    );
    let home = browser.get(&server, "/");
    assert_eq!(cart_count(&home), "0", "no refused form changed anything");
    assert_eq!(
        browser.csrf_cookie,
        Some(secret),
        "a refusal keeps the secret"
    );
    for token in [token, again] {
        let accepted = browser.post(
            &server,
            "/cart/add",
            &format!("slug=padlock&csrfmiddlewaretoken={token}"),
        );
        assert_redirects(&accepted, "/cart");
    }
    let own_page = format!(
        "slug=padlock&csrfmiddlewaretoken={}",
        csrf_token(&browser.get(&server, "/").body)
    );
    let accepted = browser.post_from(&server, "http://localhost", "/cart/add", &own_page);
    assert_redirects(&accepted, "/cart");
    assert_eq!(cart_count(&browser.get(&server, "/")), "3");
}

#[test]
fn anonymous_page_views_store_no_session() {
    let dir = TempDir::new("anonymous-views");
    let server = Server::start(dir.path(), &[]);
    for _ in 0..200 {
        let page = Browser::default().get(&server, "/");
        assert_eq!(page.status, 200);
        assert_eq!(cookies_set(&page), ["csrftoken"], "no session cookie");
    }
    assert_eq!(stored_sessions(dir.path()), 0);
    let mut shopper = Browser::default();
    submit(&mut shopper, &server, "/cart/add", "slug=padlock");
    assert_eq!(stored_sessions(dir.path()), 1, "a cart is worth a session");
}

#[test]
fn a_logged_in_user_survives_anonymous_page_views_on_a_bounded_memory_cache() {
    let dir = TempDir::new("bounded-memory");
    let env = [
        ("SESSION_ENGINE", "cache"),
        ("SESSION_CACHE_URL", "memory://?max_entries=1000"),
    ];
    let server = Server::start(dir.path(), &env);
    let mut alice = Browser::default();
    assert_redirects(&log_in(&mut alice, &server, "alice", "wonderland"), "/");
    // Pages with forms, each of which cost an anonymous session when the CSRF secret was
    // kept in the session.
    let pages = ["/", "/products/padlock", "/login"];
    for path in pages.iter().cycle().take(1000) {
        assert_eq!(Browser::default().get(&server, path).status, 200, "{path}");
    }
    assert!(is_logged_in_as(&alice.get(&server, "/"), "Alice"));
}

/// The store's pages, its 404 and its refusals carry the headers; the benchmark routes
/// (`--bench-routes`) answer like the floors and peers they are measured against, without them.
#[test]
fn every_store_response_carries_djangos_security_headers() {
    let dir = TempDir::new("security-headers");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    let responses = [
        browser.get(&server, "/"),
        browser.get(&server, "/login"),
        browser.get(&server, "/no/such/page"),
        browser.post(&server, "/cart/add", "slug=padlock"),
    ];
    for response in &responses {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                response.header(name),
                Some(value),
                "{name} on a {} response",
                response.status
            );
        }
    }
    let statuses = responses.each_ref().map(|response| response.status);
    assert_eq!(statuses, [200, 200, 404, 403]);
    let bench = browser.get(&server, "/bench/read");
    assert_eq!(bench.status, 200);
    for (name, _) in SECURITY_HEADERS {
        assert_eq!(bench.header(name), None, "{name} on a benchmark route");
    }
}

/// The session layer's own answers carry the headers too. With `SESSION_SAVE_EVERY_REQUEST`
/// the layer itself loads a carried session that the handler did not touch (here, on the
/// 404); with the store gone, the 503 is the layer's.
#[test]
fn the_session_layers_own_503_carries_the_security_headers() {
    let mut redis = PrivateServer::<Redis>::start().expect("a private Redis");
    let dir = TempDir::new("security-headers-503");
    let url = redis.url();
    let env = [
        ("SESSION_ENGINE", "cache"),
        ("SESSION_CACHE_URL", url.as_str()),
        ("SESSION_STORE_TIMEOUT", "1"),
        ("SESSION_SAVE_EVERY_REQUEST", "true"),
    ];
    let server = Server::start(dir.path(), &env);
    let mut browser = Browser::default();
    assert_eq!(browser.get(&server, "/bench/incr").body, "1");

    redis.kill().expect("kill the private Redis");
    let response = browser.get(&server, "/no/such/page");
    assert_eq!(response.status, 503, "{}", response.body);
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(response.header(name), Some(value), "{name} on the 503");
    }
}

#[test]
fn the_cart_adds_counts_and_removes_products() {
    let dir = TempDir::new("cart");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    for slug in ["hourglass", "brass-key", "hourglass"] {
        submit(&mut browser, &server, "/cart/add", &format!("slug={slug}"));
    }
    let cart = browser.get(&server, "/cart");
    assert_eq!(cart_count(&cart), "3");
    assert_eq!(cart.body.matches("class=\"cart-line\"").count(), 2);
    assert!(
        cart.body.contains("id=\"cart-total\">$46.00<"),
        "2 × $18.50 + $9.00: {}",
        cart.body
    );
    let product = browser.get(&server, "/products/hourglass");
    assert!(product.body.contains("In your cart: <strong>2</strong>"));

    submit(&mut browser, &server, "/cart/remove", "slug=hourglass");
    let cart = browser.get(&server, "/cart");
    assert_eq!(cart_count(&cart), "1");
    assert!(!cart.body.contains("data-slug=\"hourglass\""));
    submit(&mut browser, &server, "/cart/remove", "slug=brass-key");
    assert!(
        browser
            .get(&server, "/cart")
            .body
            .contains("id=\"empty-cart\"")
    );

    let unknown = submit(&mut browser, &server, "/cart/add", "slug=unicorn");
    assert_eq!(unknown.status, 404);
    assert_eq!(browser.get(&server, "/products/unicorn").status, 404);
}

#[test]
fn a_page_view_that_changes_nothing_writes_nothing() {
    let dir = TempDir::new("quiet-reads");
    let server = Server::start(dir.path(), &[]);
    let mut browser = Browser::default();
    let first = browser.get(&server, "/");
    assert_eq!(
        cookies_set(&first),
        ["csrftoken"],
        "the first view gives the forms' CSRF secret, and no session"
    );
    for path in ["/", "/products/padlock", "/cart", "/login"] {
        let again = browser.get(&server, path);
        assert_eq!(again.status, 200, "{path}");
        assert_eq!(again.header("set-cookie"), None, "{path}");
    }
    submit(&mut browser, &server, "/cart/add", "slug=padlock");
    // The page the add redirects to shows its flash message once, which takes it from the
    // session: that view writes; the views after it change nothing.
    let redirected = browser.get(&server, "/cart");
    assert!(
        redirected.body.contains("Added Padlock to your cart."),
        "{}",
        redirected.body
    );
    for path in ["/", "/products/padlock", "/cart", "/login"] {
        let again = browser.get(&server, path);
        assert_eq!(again.header("set-cookie"), None, "{path} with a session");
        assert!(
            !again.body.contains("to your cart."),
            "{path}: a message is shown once"
        );
    }
}
