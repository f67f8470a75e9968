//! `sessionkit_actix::csrf` through a real actix-web app: Django's rules for unsafe requests
//! (the same checks as the tower layer's, `sessionkit::csrf`), the form handed on to the
//! handler unchanged, the secret in its cookie or, with `use_sessions`, in the session.

use std::collections::BTreeMap;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use serde::Deserialize;
use sessionkit::csrf::{CsrfLayer, SESSION_KEY};
use sessionkit::{EngineKind, Sessions, Settings};
use sessionkit_actix::csrf::{Csrf, CsrfMiddleware};
use sessionkit_actix::{Session, SessionMiddleware, error};

/// What a browser keeps: its cookies, by name.
#[derive(Clone, Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
}

/// A response's status and body.
struct Page {
    status: StatusCode,
    body: String,
}

impl Page {
    /// The token of the page's form.
    fn token(&self) -> String {
        let field = "name=\"csrfmiddlewaretoken\" value=\"";
        let start = self.body.find(field).expect("a form with a token") + field.len();
        self.body[start..start + 64].to_owned()
    }
}

impl Browser {
    fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join("; ")
    }

    /// Keeps the cookies `response` set (an empty value deletes one) and reads its body.
    async fn read<B: actix_web::body::MessageBody>(
        &mut self,
        response: ServiceResponse<B>,
    ) -> Page {
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || value == "\"\"" {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let body = test::read_body(response).await;
        Page {
            status,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }
}

#[derive(Deserialize)]
struct Item {
    item: String,
}

/// The form page.
async fn form(csrf: Csrf) -> HttpResponse {
    let page = format!("<form method=post>{}</form>", csrf.hidden_input());
    HttpResponse::Ok().content_type("text/html").body(page)
}

/// A form handler that reads the very form the middleware read for its token.
async fn add(form: web::Form<Item>) -> String {
    format!("added {}", form.item)
}

/// Login: a new session key and a new CSRF secret.
async fn log_in(session: Session, csrf: Csrf) -> Result<&'static str, actix_web::Error> {
    session.cycle_key();
    csrf.rotate();
    session.insert("_auth_user_id", "42").map_err(error)?;
    Ok("welcome")
}

async fn log_out(session: Session) -> &'static str {
    session.flush();
    "bye"
}

async fn sessions() -> Sessions {
    let mut settings = Settings::new("actix-csrf-test-secret");
    settings.engine = EngineKind::Cache;
    settings.cache_url = "memory://".to_owned();
    Sessions::open(settings).await.unwrap()
}

/// The site's routes behind the CSRF middleware and, outside it, the session middleware.
macro_rules! site {
    ($layer:expr, $sessions:expr) => {
        test::init_service(
            App::new()
                .route("/", web::get().to(form))
                .route("/", web::post().to(add))
                .route("/api", web::put().to(|| async { "put" }))
                .route("/any", web::route().to(|| async { "any" }))
                .route("/login", web::post().to(log_in))
                .route("/logout", web::post().to(log_out))
                .wrap(CsrfMiddleware::new($layer))
                .wrap(SessionMiddleware::new($sessions)),
        )
        .await
    };
}

/// Sends `request` with the browser's cookies and keeps what it sets.
async fn send<S, B>(app: &S, browser: &mut Browser, request: test::TestRequest) -> Page
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let request = match browser.cookies.is_empty() {
        true => request,
        false => request.insert_header(("cookie", browser.cookie_header())),
    };
    let response = test::call_service(app, request.to_request()).await;
    browser.read(response).await
}

fn post_form(path: &str, form: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form.to_owned())
}

fn assert_refused(page: &Page, reason: &str) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(
        page.body.contains("CSRF verification failed"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(reason),
        "{:?} lacks {reason:?}",
        page.body
    );
}

#[actix_web::test]
async fn a_cross_site_post_without_a_token_or_cookie_is_refused() {
    let app = site!(CsrfLayer::new().cookie_secure(false), sessions().await);
    let mut stranger = Browser::default();
    let page = send(&app, &mut stranger, post_form("/", "item=tea")).await;
    assert_refused(&page, "CSRF cookie not set.");

    let mut visitor = Browser::default();
    send(&app, &mut visitor, test::TestRequest::get().uri("/")).await;
    assert!(
        visitor.cookies.contains_key("csrftoken"),
        "the page set the secret"
    );
    let page = send(&app, &mut visitor, post_form("/", "item=tea")).await;
    assert_refused(&page, "CSRF token missing.");
}

#[actix_web::test]
async fn the_right_token_passes_in_the_form_or_the_header_and_the_handler_reads_the_form() {
    let app = site!(CsrfLayer::new().cookie_secure(false), sessions().await);
    let mut visitor = Browser::default();
    let token = send(&app, &mut visitor, test::TestRequest::get().uri("/"))
        .await
        .token();
    let form = format!("item=green+tea&csrfmiddlewaretoken={token}");
    let page = send(&app, &mut visitor, post_form("/", &form)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.body, "added green tea",
        "the handler got the same form"
    );

    let put = test::TestRequest::put()
        .uri("/api")
        .insert_header(("x-csrftoken", token.clone()));
    let page = send(&app, &mut visitor, put).await;
    assert_eq!((page.status, page.body.as_str()), (StatusCode::OK, "put"));
    let page = send(&app, &mut visitor, test::TestRequest::put().uri("/api")).await;
    assert_refused(&page, "CSRF token missing.");
}

#[actix_web::test]
async fn a_token_of_another_browsers_secret_is_refused() {
    let app = site!(CsrfLayer::new().cookie_secure(false), sessions().await);
    let mut attacker = Browser::default();
    let token = send(&app, &mut attacker, test::TestRequest::get().uri("/"))
        .await
        .token();
    let mut victim = Browser::default();
    send(&app, &mut victim, test::TestRequest::get().uri("/")).await;
    let form = format!("item=tea&csrfmiddlewaretoken={token}");
    let page = send(&app, &mut victim, post_form("/", &form)).await;
    assert_refused(&page, "CSRF token from POST incorrect.");
}

#[actix_web::test]
async fn a_cross_origin_post_is_refused_even_with_the_right_token_unless_trusted() {
    let layer = CsrfLayer::new()
        .cookie_secure(false)
        .trusted_origins(["https://admin.example.com"])
        .unwrap();
    let app = site!(layer, sessions().await);
    let mut visitor = Browser::default();
    let token = send(&app, &mut visitor, test::TestRequest::get().uri("/"))
        .await
        .token();
    let form = format!("item=tea&csrfmiddlewaretoken={token}");
    let from = |origin: &str| {
        post_form("/", &form)
            .insert_header(("host", "shop.example.com"))
            .insert_header(("origin", origin.to_owned()))
    };
    let page = send(&app, &mut visitor, from("https://evil.example")).await;
    assert_refused(&page, "Origin checking failed");
    for origin in ["http://shop.example.com", "https://admin.example.com"] {
        let page = send(&app, &mut visitor, from(origin)).await;
        assert_eq!(page.status, StatusCode::OK, "{origin}: {}", page.body);
    }
}

#[actix_web::test]
async fn safe_methods_pass_without_a_token_and_big_forms_are_refused_unread() {
    let app = site!(
        CsrfLayer::new().cookie_secure(false).max_form_bytes(1024),
        sessions().await
    );
    let mut visitor = Browser::default();
    for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let request = test::TestRequest::default().method(method.clone());
        let page = send(&app, &mut visitor, request.uri("/any")).await;
        assert_eq!(page.status, StatusCode::OK, "{method}");
    }
    let page = send(&app, &mut visitor, test::TestRequest::delete().uri("/any")).await;
    assert_refused(&page, "CSRF cookie not set.");
    let big = format!("item={}", "x".repeat(2048));
    let page = send(&app, &mut visitor, post_form("/", &big)).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", page.body);
}

#[actix_web::test]
async fn login_rotates_the_secret_and_the_old_tokens_stop_working() {
    let app = site!(CsrfLayer::new().cookie_secure(false), sessions().await);
    let mut visitor = Browser::default();
    let old = send(&app, &mut visitor, test::TestRequest::get().uri("/"))
        .await
        .token();
    let secret_before = visitor.cookies["csrftoken"].clone();
    let login = format!("csrfmiddlewaretoken={old}");
    let page = send(&app, &mut visitor, post_form("/login", &login)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_ne!(visitor.cookies["csrftoken"], secret_before, "a new secret");
    let stale = format!("item=tea&csrfmiddlewaretoken={old}");
    let page = send(&app, &mut visitor, post_form("/", &stale)).await;
    assert_refused(&page, "incorrect");
    let fresh = send(&app, &mut visitor, test::TestRequest::get().uri("/"))
        .await
        .token();
    let form = format!("item=tea&csrfmiddlewaretoken={fresh}");
    let page = send(&app, &mut visitor, post_form("/", &form)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
}

#[actix_web::test]
async fn with_use_sessions_the_secret_lives_in_the_session() {
    let sessions = sessions().await;
    let app = site!(CsrfLayer::new().use_sessions(true), sessions.clone());
    let mut visitor = Browser::default();
    let token = send(&app, &mut visitor, test::TestRequest::get().uri("/"))
        .await
        .token();
    assert!(
        !visitor.cookies.contains_key("csrftoken"),
        "no secret cookie"
    );
    let key = visitor.cookies.get("sessionid").expect("a session").clone();
    let session = sessions.start(Some(&key)).load().await.unwrap();
    let stored: String = session.get(SESSION_KEY).unwrap().expect("the secret");
    assert_eq!(stored.len(), 32);

    let form = format!("item=tea&csrfmiddlewaretoken={token}");
    let page = send(&app, &mut visitor, post_form("/", &form)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mut other = Browser::default();
    send(&app, &mut other, test::TestRequest::get().uri("/")).await;
    let page = send(&app, &mut other, post_form("/", &form)).await;
    assert_refused(&page, "incorrect");

    // Logout flushes the session, and its secret with it.
    let logout = format!("csrfmiddlewaretoken={token}");
    let page = send(&app, &mut visitor, post_form("/logout", &logout)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let page = send(&app, &mut visitor, post_form("/", &form)).await;
    assert_refused(&page, "CSRF cookie not set.");
}

#[actix_web::test]
async fn sessions_mode_without_the_session_middleware_is_an_error_not_a_pass() {
    let app = test::init_service(
        App::new()
            .route("/", web::post().to(add))
            .wrap(CsrfMiddleware::new(CsrfLayer::new().use_sessions(true))),
    )
    .await;
    let page = send(&app, &mut Browser::default(), post_form("/", "item=tea")).await;
    assert_eq!(
        page.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn the_extractor_without_the_middleware_is_a_500() {
    let app = test::init_service(App::new().route("/", web::get().to(form))).await;
    let page = send(
        &app,
        &mut Browser::default(),
        test::TestRequest::get().uri("/"),
    )
    .await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.body.contains("CsrfMiddleware"), "{}", page.body);
}
