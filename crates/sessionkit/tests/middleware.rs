//! docs/CONFORMANCE.md §E through a real axum router behind the tower layer: the behaviours of
//! `common/middleware_conformance.rs`, which sessionkit-actix runs against its middleware too.

#[macro_use]
#[path = "common/middleware_conformance.rs"]
mod behaviours;

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sessionkit::engine::SessionKey;
use sessionkit::{Expiry, Session, Sessions};
use tower::ServiceExt;

use behaviours::{Reply, Server};

/// The behaviours' app, for the axum router below.
async fn serve(sessions: &Sessions) -> Box<dyn Server> {
    Box::new(Axum(app(sessions)))
}

struct Axum(Router);

impl Server for Axum {
    fn get<'a>(
        &'a self,
        path: &'a str,
        cookie_headers: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Reply> + 'a>> {
        Box::pin(async move {
            let mut request = Request::get(path);
            for header in cookie_headers {
                request = request.header("cookie", header);
            }
            let request = request.body(Body::empty()).unwrap();
            let (parts, body) = self.0.clone().oneshot(request).await.unwrap().into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body: String::from_utf8(body.to_vec()).unwrap(),
            }
        })
    }
}

fn app(sessions: &Sessions) -> Router {
    let engine = sessions.engine().clone();
    Router::new()
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("k", "v")?;
                Ok::<_, sessionkit::SessionError>("set")
            }),
        )
        .route("/noop", get(|| async { "nothing" }))
        .route(
            "/read",
            get(|s: Session| async move { format!("{:?}", s.get_value("k")) }),
        )
        .route(
            "/flush",
            get(|s: Session| async move {
                s.flush();
                "flushed"
            }),
        )
        .route(
            "/cycle",
            get(|s: Session| async move {
                s.cycle_key();
                "cycled"
            }),
        )
        .route(
            "/status/{code}",
            get(|s: Session, Path(code): Path<u16>| async move {
                s.insert("k", format!("written with {code}"))?;
                Ok::<_, sessionkit::SessionError>(StatusCode::from_u16(code).unwrap())
            }),
        )
        .route(
            "/browser-close",
            get(|s: Session| async move {
                s.set_expiry(Expiry::BrowserClose);
                "until the browser closes"
            }),
        )
        .route(
            "/big",
            get(|s: Session| async move {
                // Random keys do not compress, so the signed cookie really is this large.
                let blob: String = (0..200)
                    .map(|_| SessionKey::generate().as_str().to_owned())
                    .collect();
                s.insert("blob", blob)?;
                Ok::<_, sessionkit::SessionError>("stored a big value")
            }),
        )
        .route(
            "/logged-out-meanwhile",
            get(move |s: Session, headers: http::HeaderMap| {
                let engine = engine.clone();
                async move {
                    // Another request (say, a logout in another tab) deletes the record now.
                    let cookie = headers["cookie"].to_str().unwrap();
                    let cookie = cookie.trim_start_matches("sessionid=").to_owned();
                    engine.delete(&cookie).await.unwrap();
                    s.insert("k", "written after the logout")?;
                    Ok::<_, sessionkit::SessionError>("too late")
                }
            }),
        )
        .layer(sessions.layer())
}

conformance_suite!(tokio::test);
