//! docs/CONFORMANCE.md §E through a real actix-web app behind `SessionMiddleware`: the same
//! behaviours, from the same file, as sessionkit's tower layer runs.

#[macro_use]
#[path = "../../sessionkit/tests/common/middleware_conformance.rs"]
mod behaviours;

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use sessionkit::engine::SessionKey;
use sessionkit::{Expiry, Sessions};
use sessionkit_actix::{Session, SessionMiddleware, error};

use behaviours::{Reply, Server};

/// The behaviours' app (see the included file's documentation) as actix-web routes.
async fn serve(sessions: &Sessions) -> Box<dyn Server> {
    let engine = sessions.engine().clone();
    let logged_out_meanwhile = move |s: Session, request: HttpRequest| {
        let engine = engine.clone();
        async move {
            // Another request (say, a logout in another tab) deletes the record now.
            let cookie = request.headers().get("cookie").unwrap().to_str().unwrap();
            let cookie = cookie.trim_start_matches("sessionid=").to_owned();
            engine.delete(&cookie).await.unwrap();
            s.insert("k", "written after the logout").map_err(error)?;
            Ok::<_, actix_web::Error>("too late")
        }
    };
    let app = App::new()
        .wrap(SessionMiddleware::new(sessions.clone()))
        .route(
            "/set",
            web::get().to(|s: Session| async move {
                s.insert("k", "v").map_err(error)?;
                Ok::<_, actix_web::Error>("set")
            }),
        )
        .route("/noop", web::get().to(|| async { "nothing" }))
        .route(
            "/read",
            web::get().to(|s: Session| async move { format!("{:?}", s.get_value("k")) }),
        )
        .route(
            "/flush",
            web::get().to(|s: Session| async move {
                s.flush();
                "flushed"
            }),
        )
        .route(
            "/cycle",
            web::get().to(|s: Session| async move {
                s.cycle_key();
                "cycled"
            }),
        )
        .route(
            "/status/{code}",
            web::get().to(|s: Session, code: web::Path<u16>| async move {
                s.insert("k", format!("written with {code}"))
                    .map_err(error)?;
                let status = StatusCode::from_u16(*code).unwrap();
                Ok::<_, actix_web::Error>(HttpResponse::new(status))
            }),
        )
        .route(
            "/browser-close",
            web::get().to(|s: Session| async move {
                s.set_expiry(Expiry::BrowserClose);
                "until the browser closes"
            }),
        )
        .route(
            "/big",
            web::get().to(|s: Session| async move {
                // Random keys do not compress, so the signed cookie really is this large.
                let blob: String = (0..200)
                    .map(|_| SessionKey::generate().as_str().to_owned())
                    .collect();
                s.insert("blob", blob).map_err(error)?;
                Ok::<_, actix_web::Error>("stored a big value")
            }),
        )
        .route("/logged-out-meanwhile", web::get().to(logged_out_meanwhile));
    Box::new(Actix(test::init_service(app).await))
}

/// An actix-web app, called in process as actix's own tests do.
struct Actix<S>(S);

impl<S, B> Server for Actix<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    fn get<'a>(
        &'a self,
        path: &'a str,
        cookie_headers: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Reply> + 'a>> {
        Box::pin(async move {
            let mut request = test::TestRequest::get().uri(path);
            for header in cookie_headers {
                request = request.append_header(("cookie", header.as_str()));
            }
            let response = test::call_service(&self.0, request.to_request()).await;
            let status = http::StatusCode::from_u16(response.status().as_u16()).unwrap();
            let mut headers = http::HeaderMap::new();
            for (name, value) in response.headers() {
                headers.append(
                    http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                    http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                );
            }
            let body = test::read_body(response).await;
            Reply {
                status,
                headers,
                body: String::from_utf8(body.to_vec()).unwrap(),
            }
        })
    }
}

conformance_suite!(actix_web::test);
