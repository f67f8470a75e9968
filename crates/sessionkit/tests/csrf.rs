//! `sessionkit::csrf` through a real axum router with the session layer: Django's rules for
//! unsafe requests (token, origin, referer), with the secret in the `csrftoken` cookie and,
//! with `CSRF_USE_SESSIONS`, in the session.

use axum::Router;
use axum::body::Body;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use sessionkit::csrf::{Csrf, CsrfLayer, SESSION_KEY};
use sessionkit::{EngineKind, Session, SessionError, Sessions};
use tower::ServiceExt;

/// A site: a form page, a form handler, a login that rotates both keys, and a logout.
struct Site {
    app: Router,
    sessions: Sessions,
}

/// What a browser keeps: its cookies, by name.
#[derive(Clone, Default)]
struct Browser {
    csrftoken: Option<String>,
    sessionid: Option<String>,
}

/// A response's status, body and the cookies it set.
struct Page {
    status: StatusCode,
    body: String,
    set_cookies: Vec<String>,
}

impl Page {
    /// The token of the page's form.
    fn token(&self) -> String {
        let field = "name=\"csrfmiddlewaretoken\" value=\"";
        let start = self.body.find(field).expect("a form with a token") + field.len();
        self.body[start..start + 64].to_owned()
    }
}

impl Site {
    async fn new(csrf: CsrfLayer) -> Site {
        let sessions = Sessions::builder("csrf-test-secret")
            .engine(EngineKind::Cache)
            .open()
            .await
            .unwrap();
        let app = Router::new()
            .route("/", get(form).post(|| async { "accepted" }))
            .route(
                "/api",
                post(|| async { "accepted" }).put(|| async { "put" }),
            )
            .route("/login", post(log_in))
            .route("/logout", post(log_out))
            .route("/cart", post(add_to_cart))
            .layer(csrf)
            .layer(sessions.layer());
        Site { app, sessions }
    }

    async fn cookie_mode() -> Site {
        Site::new(CsrfLayer::new().cookie_secure(false)).await
    }

    async fn sessions_mode() -> Site {
        Site::new(CsrfLayer::new().use_sessions(true)).await
    }

    /// Sends `request` with `body` and the browser's cookies, and keeps the cookies it sets.
    async fn send(
        &self,
        browser: &mut Browser,
        request: http::request::Builder,
        body: &str,
    ) -> Page {
        let cookies: Vec<String> = [
            ("csrftoken", &browser.csrftoken),
            ("sessionid", &browser.sessionid),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some(format!("{name}={}", value.as_ref()?)))
        .collect();
        let mut request = request.header("host", "shop.example");
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        read(response, browser).await
    }

    async fn get(&self, browser: &mut Browser, path: &str) -> Page {
        self.send(browser, Request::get(path), "").await
    }

    /// POSTs `form` (URL-encoded) to `path` with `headers`.
    async fn post(
        &self,
        browser: &mut Browser,
        path: &str,
        form: &str,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request =
            Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(browser, request, form).await
    }
}

async fn read(response: Response<Body>, browser: &mut Browser) -> Page {
    let status = response.status();
    let set_cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    for cookie in &set_cookies {
        let (name, rest) = cookie.split_once('=').unwrap();
        let value = rest.split(';').next().unwrap().to_owned();
        let deleted = value.is_empty() || cookie.contains("Max-Age=0");
        let slot = match name {
            "csrftoken" => &mut browser.csrftoken,
            "sessionid" => &mut browser.sessionid,
            _ => continue,
        };
        *slot = (!deleted).then_some(value);
    }
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        body: String::from_utf8(body.to_vec()).unwrap(),
        set_cookies,
    }
}

async fn form(csrf: Csrf) -> Html<String> {
    Html(format!(
        "<form method=\"post\">{}</form>",
        csrf.hidden_input()
    ))
}

async fn log_in(session: Session, csrf: Csrf) -> Result<impl IntoResponse, SessionError> {
    session.cycle_key();
    csrf.rotate();
    session.insert("_auth_user_id", "1")?;
    Ok("logged in")
}

async fn log_out(session: Session) -> &'static str {
    session.flush();
    "logged out"
}

async fn add_to_cart(session: Session) -> Result<&'static str, SessionError> {
    session.insert("cart", ["padlock"])?;
    Ok("added")
}

/// A browser that has seen the form page, and the page's token.
async fn visitor(site: &Site) -> (Browser, String) {
    let mut browser = Browser::default();
    let page = site.get(&mut browser, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page.token();
    (browser, token)
}

fn form_with(token: &str) -> String {
    format!("item=padlock&csrfmiddlewaretoken={token}")
}

fn assert_refused(page: &Page, reason: &str) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(
        page.body.contains(&format!("Reason: {reason}")),
        "{} lacks {reason:?}",
        page.body
    );
}

#[tokio::test]
async fn a_post_without_a_token_is_refused() {
    let site = Site::cookie_mode().await;
    let (mut browser, _) = visitor(&site).await;
    let page = site.post(&mut browser, "/", "item=padlock", &[]).await;
    assert_refused(&page, "CSRF token missing.");
    let empty = site.post(&mut browser, "/", &form_with(""), &[]).await;
    assert_refused(&empty, "CSRF token missing.");
}

#[tokio::test]
async fn a_post_with_a_wrong_token_is_refused() {
    let site = Site::cookie_mode().await;
    let (mut browser, token) = visitor(&site).await;
    let last = if token.ends_with('a') { "b" } else { "a" };
    let wrong = format!("{}{last}", &token[..63]);
    let page = site.post(&mut browser, "/", &form_with(&wrong), &[]).await;
    assert_refused(&page, "CSRF token from POST incorrect.");
    let short = site
        .post(&mut browser, "/", &form_with(&token[1..]), &[])
        .await;
    assert_refused(&short, "CSRF token from POST has incorrect length.");
    let odd = format!("{}-", &token[..63]);
    let page = site.post(&mut browser, "/", &form_with(&odd), &[]).await;
    assert_refused(&page, "CSRF token from POST has invalid characters.");
}

#[tokio::test]
async fn the_right_masked_token_passes_in_the_form_or_the_header() {
    let site = Site::cookie_mode().await;
    let (mut browser, token) = visitor(&site).await;
    let page = site.post(&mut browser, "/", &form_with(&token), &[]).await;
    assert_eq!(
        (page.status, page.body.as_str()),
        (StatusCode::OK, "accepted")
    );
    let second = site.get(&mut browser, "/").await.token();
    assert_ne!(second, token, "a fresh mask on every page");
    let page = site.post(&mut browser, "/", &form_with(&second), &[]).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "every token of the secret passes"
    );
    let json = [
        ("x-csrftoken", token.as_str()),
        ("content-type", "application/json"),
    ];
    let page = site.post(&mut browser, "/api", "{}", &json).await;
    assert_eq!(page.status, StatusCode::OK, "scripts send the header");
    let put = Request::put("/api").header("x-csrftoken", &token);
    assert_eq!(
        site.send(&mut browser, put, "").await.status,
        StatusCode::OK
    );
    let put_without = Request::put("/api");
    assert_refused(
        &site.send(&mut browser, put_without, "").await,
        "CSRF token missing.",
    );
}

#[tokio::test]
async fn a_token_of_another_browsers_secret_is_refused() {
    let site = Site::cookie_mode().await;
    let (mut browser, _) = visitor(&site).await;
    let (_, other_token) = visitor(&site).await;
    let page = site
        .post(&mut browser, "/", &form_with(&other_token), &[])
        .await;
    assert_refused(&page, "CSRF token from POST incorrect.");
    let mut no_cookie = Browser::default();
    let page = site
        .post(&mut no_cookie, "/", &form_with(&other_token), &[])
        .await;
    assert_refused(&page, "CSRF cookie not set.");
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_even_with_the_right_token() {
    let site = Site::cookie_mode().await;
    let (mut browser, token) = visitor(&site).await;
    for origin in ["https://evil.example", "http://shop.example.evil", "null"] {
        let page = site
            .post(&mut browser, "/", &form_with(&token), &[("origin", origin)])
            .await;
        let reason =
            format!("Origin checking failed - {origin} does not match any trusted origins.");
        assert_refused(&page, &reason);
    }
    let same = [("origin", "http://shop.example")];
    let page = site
        .post(&mut browser, "/", &form_with(&token), &same)
        .await;
    assert_eq!(page.status, StatusCode::OK, "same origin passes");
}

#[tokio::test]
async fn a_trusted_origin_passes_and_https_needs_a_secure_referer() {
    let csrf = CsrfLayer::new()
        .https(true)
        .trusted_origins(["https://*.example.com"])
        .unwrap();
    let site = Site::new(csrf).await;
    let (mut browser, token) = visitor(&site).await;
    let form = form_with(&token);
    let trusted = [("origin", "https://admin.example.com")];
    assert_eq!(
        site.post(&mut browser, "/", &form, &trusted).await.status,
        StatusCode::OK
    );
    let downgraded = [("origin", "http://shop.example")];
    let page = site.post(&mut browser, "/", &form, &downgraded).await;
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "an HTTPS site's origin is https://"
    );
    let page = site.post(&mut browser, "/", &form, &[]).await;
    assert_refused(&page, "Referer checking failed - no Referer.");
    let insecure = [("referer", "http://shop.example/")];
    let page = site.post(&mut browser, "/", &form, &insecure).await;
    assert_refused(
        &page,
        "Referer checking failed - Referer is insecure while host is secure.",
    );
    for referer in ["https://shop.example/cart", "https://www.example.com/"] {
        let page = site
            .post(&mut browser, "/", &form, &[("referer", referer)])
            .await;
        assert_eq!(page.status, StatusCode::OK, "{referer}");
    }
}

#[tokio::test]
async fn safe_methods_pass_without_a_token() {
    let site = Site::cookie_mode().await;
    let mut stranger = Browser::default();
    for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
        let request = Request::builder()
            .method(method)
            .uri("/")
            .header("origin", "https://evil.example");
        let page = site.send(&mut stranger, request, "").await;
        assert_ne!(page.status, StatusCode::FORBIDDEN, "{method}");
    }
}

#[tokio::test]
async fn login_rotates_the_secret_and_the_old_tokens_stop_working() {
    let site = Site::cookie_mode().await;
    let (mut browser, token) = visitor(&site).await;
    let secret_before = browser.csrftoken.clone();
    let page = site
        .post(&mut browser, "/login", &form_with(&token), &[])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_ne!(browser.csrftoken, secret_before, "a new csrftoken cookie");
    let stale = site.post(&mut browser, "/", &form_with(&token), &[]).await;
    assert_refused(&stale, "CSRF token from POST incorrect.");
    let fresh = site.get(&mut browser, "/").await.token();
    let page = site.post(&mut browser, "/", &form_with(&fresh), &[]).await;
    assert_eq!(page.status, StatusCode::OK);
}

#[tokio::test]
async fn in_cookie_mode_anonymous_page_views_store_no_session() {
    let site = Site::cookie_mode().await;
    let mut browser = Browser::default();
    let page = site.get(&mut browser, "/").await;
    let names: Vec<&str> = page
        .set_cookies
        .iter()
        .map(|c| c.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["csrftoken"]);
    assert!(page.set_cookies[0].ends_with("; Max-Age=31449600; Path=/; SameSite=Lax"));
    assert_eq!(browser.sessionid, None);
}

#[tokio::test]
async fn with_use_sessions_the_secret_lives_in_the_session() {
    let site = Site::sessions_mode().await;
    let (mut browser, token) = visitor(&site).await;
    assert_eq!(browser.csrftoken, None, "no csrftoken cookie");
    let key = browser
        .sessionid
        .clone()
        .expect("the secret made a session");
    let session = site.sessions.start(Some(&key)).load().await.unwrap();
    let secret: String = session
        .get(SESSION_KEY)
        .unwrap()
        .expect("the secret is stored");
    assert_eq!(secret.len(), 32);
    assert!(!token.contains(&secret), "pages carry only masked tokens");

    let page = site
        .post(&mut browser, "/cart", &form_with(&token), &[])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let mut other = Browser::default();
    let page = site
        .post(&mut other, "/cart", &form_with(&token), &[])
        .await;
    assert_refused(&page, "CSRF cookie not set.");
    let planted = Browser {
        csrftoken: Some(secret.clone()),
        sessionid: None,
    };
    let page = site
        .post(&mut planted.clone(), "/cart", &form_with(&secret), &[])
        .await;
    assert_refused(&page, "CSRF cookie not set.");

    site.post(&mut browser, "/login", &form_with(&token), &[])
        .await;
    let key = browser.sessionid.clone().unwrap();
    let session = site.sessions.start(Some(&key)).load().await.unwrap();
    let rotated: String = session.get(SESSION_KEY).unwrap().unwrap();
    assert_ne!(rotated, secret, "login replaces the secret in the session");
    let stale = site
        .post(&mut browser, "/cart", &form_with(&token), &[])
        .await;
    assert_refused(&stale, "CSRF token from POST incorrect.");

    let fresh = site.get(&mut browser, "/").await.token();
    site.post(&mut browser, "/logout", &form_with(&fresh), &[])
        .await;
    assert_eq!(
        browser.sessionid, None,
        "logout ends the session, secret and all"
    );
    let page = site
        .post(&mut browser, "/cart", &form_with(&fresh), &[])
        .await;
    assert_refused(&page, "CSRF cookie not set.");
}

#[tokio::test]
async fn sessions_mode_without_the_session_layer_is_a_500_not_a_pass() {
    let app = Router::new()
        .route("/", post(|| async { "accepted" }))
        .layer(CsrfLayer::new().use_sessions(true));
    let response = app
        .oneshot(Request::post("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_form_too_large_is_refused_unread_and_other_bodies_need_the_header() {
    let site = Site::new(CsrfLayer::new().max_form_bytes(100)).await;
    let (mut browser, token) = visitor(&site).await;
    let large = format!("{}&pad={}", form_with(&token), "x".repeat(100));
    let page = site.post(&mut browser, "/", &large, &[]).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    let multipart = Request::post("/").header("content-type", "multipart/form-data; boundary=x");
    let body = format!(
        "--x\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{token}\r\n--x--\r\n"
    );
    let page = site.send(&mut browser, multipart, &body).await;
    assert_refused(&page, "CSRF token missing.");
}

#[tokio::test]
async fn a_failure_view_renders_the_refusal() {
    let csrf = CsrfLayer::new().failure_view(|parts, rejection| {
        Box::pin(async move {
            let page = format!(
                "refused {} {}: {} (new token {})",
                parts.method,
                parts.uri,
                rejection.reason(),
                rejection.csrf().token().len()
            );
            (StatusCode::FORBIDDEN, page).into_response()
        })
    });
    let site = Site::new(csrf).await;
    let mut browser = Browser::default();
    let page = site.post(&mut browser, "/", "item=1", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(
        page.body,
        "refused POST /: CSRF cookie not set. (new token 64)"
    );
    assert!(browser.csrftoken.is_some(), "the view's new secret is sent");
}

#[tokio::test]
async fn a_failure_view_refusing_a_cross_site_post_keeps_the_session_secret() {
    let csrf = CsrfLayer::new()
        .use_sessions(true)
        .failure_view(|_, rejection| {
            Box::pin(
                async move { (StatusCode::FORBIDDEN, rejection.csrf().token()).into_response() },
            )
        });
    let site = Site::new(csrf).await;
    let (mut browser, token) = visitor(&site).await;
    let key = browser.sessionid.clone().unwrap();
    let stored = || async {
        let session = site.sessions.start(Some(&key)).load().await.unwrap();
        session.get::<String>(SESSION_KEY).unwrap().unwrap()
    };
    let before = stored().await;
    let evil = [("origin", "https://evil.example")];
    let page = site
        .post(&mut browser, "/cart", &form_with(&token), &evil)
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(
        stored().await,
        before,
        "a refusal never replaces the secret"
    );
    let page = site
        .post(&mut browser, "/cart", &form_with(&page.body), &[])
        .await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "the refusal page's token is of the secret"
    );
}
