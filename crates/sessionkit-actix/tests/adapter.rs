//! What only the actix adapter can get wrong: carrying headers between actix's `http` 0.2 and
//! sessionkit's `http` 1 (the handler's own `Vary` and cookies kept, `SESSION_HEADER_NAME`
//! read and answered), the extractors without the middleware, and errors as responses.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use sessionkit::{EngineKind, Sessions};
use sessionkit_actix::{LazySession, Session, SessionMiddleware, error};

async fn cache_sessions(configure: impl FnOnce(&mut sessionkit::Settings)) -> Sessions {
    let mut settings = sessionkit::Settings::new("adapter-test-secret");
    settings.engine = EngineKind::Cache; // in the process's memory
    settings.cache_url = "memory://".to_owned();
    configure(&mut settings);
    Sessions::open(settings).await.unwrap()
}

/// A login that sets the session, a `Vary` and a cookie of its own.
async fn login(session: Session) -> Result<HttpResponse, actix_web::Error> {
    session.insert("user_id", 42).map_err(error)?;
    Ok(HttpResponse::Ok()
        .insert_header(("vary", "Accept-Encoding"))
        .insert_header(("set-cookie", "theme=dark; Path=/"))
        .body("in"))
}

async fn whoami(session: Session) -> String {
    format!("{:?}", session.get_value("user_id"))
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "out"
}

fn values<B>(response: &actix_web::dev::ServiceResponse<B>, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn the_handlers_vary_and_cookies_are_kept_beside_the_sessions() {
    let sessions = cache_sessions(|_| {}).await;
    let app = App::new()
        .wrap(SessionMiddleware::new(sessions))
        .route("/login", web::get().to(login));
    let app = test::init_service(app).await;
    let request = test::TestRequest::get().uri("/login").to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(values(&response, "vary"), ["Accept-Encoding", "Cookie"]);
    let cookies = values(&response, "set-cookie");
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(cookies[0], "theme=dark; Path=/");
    assert!(cookies[1].starts_with("sessionid="), "{cookies:?}");
}

#[actix_web::test]
async fn a_session_header_is_read_and_answered_never_a_cookie() {
    let sessions = cache_sessions(|s| s.header_name = Some("X-Session-Token".to_owned())).await;
    let app = App::new()
        .wrap(SessionMiddleware::new(sessions))
        .route("/login", web::get().to(login))
        .route("/whoami", web::get().to(whoami))
        .route("/logout", web::get().to(logout));
    let app = test::init_service(app).await;
    let call = |path: &'static str, token: Option<&str>| {
        let mut request = test::TestRequest::get().uri(path);
        if let Some(token) = token {
            request = request.insert_header(("x-session-token", token.to_owned()));
        }
        test::call_service(&app, request.to_request())
    };
    let response = call("/login", None).await;
    let token = values(&response, "x-session-token").pop().expect("a token");
    assert_eq!(token.len(), 32);
    assert!(
        !values(&response, "set-cookie")
            .iter()
            .any(|c| c.starts_with("sessionid"))
    );
    assert!(values(&response, "vary").contains(&"x-session-token".to_owned()));

    let response = call("/whoami", Some(&token)).await;
    assert_eq!(test::read_body(response).await, "Some(Number(42))");
    let response = call("/logout", Some(&token)).await;
    assert_eq!(
        values(&response, "x-session-token"),
        [""],
        "the client forgets it"
    );
    let response = call("/whoami", Some(&token)).await;
    assert_eq!(test::read_body(response).await, "None");
}

#[actix_web::test]
async fn extractors_without_the_middleware_are_a_500_not_a_panic() {
    let lazy = |_: LazySession| async { "unreachable" };
    let app = App::new()
        .route("/whoami", web::get().to(whoami))
        .route("/lazy", web::get().to(lazy));
    let app = test::init_service(app).await;
    for path in ["/whoami", "/lazy"] {
        let request = test::TestRequest::get().uri(path).to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let body = test::read_body(response).await;
        assert!(String::from_utf8_lossy(&body).contains("could not save your session"));
    }
}

#[actix_web::test]
async fn a_lazy_session_left_alone_costs_nothing_and_sets_nothing() {
    let sessions = cache_sessions(|_| {}).await;
    let maybe = |session: LazySession, query: web::Query<Vec<(String, String)>>| async move {
        if query.is_empty() {
            return Ok::<_, actix_web::Error>("public".to_owned());
        }
        let session = session.load().await.map_err(error)?;
        Ok(format!("{:?}", session.get_value("user_id")))
    };
    let app = App::new()
        .wrap(SessionMiddleware::new(sessions))
        .route("/page", web::get().to(maybe));
    let app = test::init_service(app).await;
    let request = test::TestRequest::get().uri("/page").to_request();
    let response = test::call_service(&app, request).await;
    assert!(values(&response, "vary").is_empty(), "never loaded");
    let request = test::TestRequest::get().uri("/page?load=1").to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(values(&response, "vary"), ["Cookie"], "loaded, so read");
    assert_eq!(test::read_body(response).await, "None");
}
