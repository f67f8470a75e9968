//! Cross-site request forgery protection for actix-web (feature `csrf`): the rules of
//! [`sessionkit::csrf`] (Django's `CsrfViewMiddleware`) as [`CsrfMiddleware`], and the
//! request's [`Csrf`] handle as an extractor. The checks themselves are the tower layer's
//! ([`CsrfLayer::check`]); this module only carries requests and responses to them.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use sessionkit::csrf::CsrfLayer;
//! use sessionkit_actix::csrf::{Csrf, CsrfMiddleware};
//!
//! async fn form(csrf: Csrf) -> HttpResponse {
//!     let page = format!("<form method=post>{}<button>Buy</button></form>", csrf.hidden_input());
//!     HttpResponse::Ok().content_type("text/html").body(page)
//! }
//! let app = App::new()
//!     .route("/", web::get().to(form))
//!     .route("/", web::post().to(|| async { "bought" }))
//!     .wrap(CsrfMiddleware::new(CsrfLayer::new()));
//! ```
//!
//! With [`CsrfLayer::use_sessions`] the secret lives in the session: wrap the
//! [`SessionMiddleware`](crate::SessionMiddleware) outside (after) this one. A refusal is
//! Django's plain 403 text ([`sessionkit::csrf::forbidden_text`]); failure views are the tower
//! layer's only.

use std::future::{Future, Ready, poll_fn, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_core::Stream;
use sessionkit::csrf::{CsrfLayer, CsrfRefusal, FormRefusal, HEADER_NAME, forbidden_text};

use crate::{copy_from_http, copy_to_http, error, error_response};

/// The actix-web middleware: `App::new().wrap(CsrfMiddleware::new(CsrfLayer::new()))`, with
/// the layer's settings (trusted origins, `use_sessions`, …).
#[derive(Clone, Debug)]
pub struct CsrfMiddleware {
    layer: CsrfLayer,
}

impl CsrfMiddleware {
    /// The middleware checking requests with `layer`'s rules and settings.
    pub fn new(layer: CsrfLayer) -> Self {
        CsrfMiddleware { layer }
    }
}

impl<S, B> Transform<S, ServiceRequest> for CsrfMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = CsrfService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CsrfService {
            service: Rc::new(service),
            layer: self.layer.clone(),
        }))
    }
}

/// The actix-web [`Service`] made by [`CsrfMiddleware`].
pub struct CsrfService<S> {
    service: Rc<S>,
    layer: CsrfLayer,
}

impl<S, B> Service<ServiceRequest> for CsrfService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let checked = [
                http::header::COOKIE,
                http::header::HOST,
                http::header::ORIGIN,
                http::header::REFERER,
                http::header::CONTENT_TYPE,
                http::HeaderName::from_static(HEADER_NAME),
            ];
            let headers = copy_to_http(request.headers(), &checked);
            let session = request
                .extensions()
                .get::<sessionkit::LazySession>()
                .cloned();
            let csrf = match layer.start(&headers, session) {
                Ok(csrf) => csrf,
                Err(failure) => return Ok(answer(request, error_response(&failure))),
            };
            request.extensions_mut().insert(Csrf(csrf.clone()));
            // A method http 1 cannot name is no safe method: checked like a POST.
            let method = http::Method::from_bytes(request.method().as_str().as_bytes())
                .unwrap_or(http::Method::POST);
            if !method.is_safe() {
                let form = match layer.reads_form(&method, &headers) {
                    true => match read_form(request.take_payload(), layer.form_limit()).await {
                        Ok(form) => {
                            request.set_payload(Payload::from(form.clone()));
                            Some(form)
                        }
                        Err(refusal) => return Ok(answer(request, form_refusal(refusal))),
                    },
                    false => None,
                };
                let uri = http::Uri::try_from(request.uri().to_string()).unwrap_or_default();
                let checked = layer
                    .check(&csrf, &method, &uri, &headers, form.as_deref())
                    .await;
                match checked {
                    Ok(()) => {}
                    Err(CsrfRefusal::Forbidden(reason)) => {
                        tracing::warn!(reason, path = uri.path(), "forbidden (CSRF)");
                        let refusal = HttpResponse::Forbidden()
                            .content_type("text/plain; charset=utf-8")
                            .body(forbidden_text(&reason));
                        return Ok(answer(request, refusal));
                    }
                    Err(CsrfRefusal::Session(failure)) => {
                        return Ok(answer(request, error_response(&failure)));
                    }
                }
            }
            let mut response = service.call(request).await?;
            let mut headers = copy_to_http(response.headers(), &[http::header::VARY]);
            match csrf.finish(&mut headers).await {
                Ok(()) => {
                    copy_from_http(&headers, response.headers_mut());
                    Ok(response.map_into_left_body())
                }
                Err(failure) => {
                    let (request, _) = response.into_parts();
                    let response = error_response(&failure);
                    Ok(ServiceResponse::new(request, response).map_into_right_body())
                }
            }
        })
    }
}

/// `request` answered by the middleware itself, without the handler.
fn answer<B>(request: ServiceRequest, response: HttpResponse) -> ServiceResponse<EitherBody<B>> {
    request.into_response(response).map_into_right_body()
}

/// The form body, up to `limit` bytes, or why it was not read (answered as the tower layer
/// answers it).
async fn read_form(mut payload: Payload, limit: usize) -> Result<Bytes, FormRefusal> {
    let mut form = Vec::new();
    while let Some(chunk) = poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
        let Ok(chunk) = chunk else {
            return Err(FormRefusal::Unreadable);
        };
        if form.len() + chunk.len() > limit {
            return Err(FormRefusal::TooLarge);
        }
        form.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(form))
}

/// A refused form's answer: the status and text of the tower layer's.
fn form_refusal(refusal: FormRefusal) -> HttpResponse {
    let status = StatusCode::from_u16(refusal.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).body(refusal.text())
}

/// The request's CSRF handle ([`sessionkit::csrf::Csrf`]: tokens for forms, rotation at
/// login): extract it in a handler behind [`CsrfMiddleware`]; without it the extraction fails
/// with a 500.
///
/// ```
/// use sessionkit_actix::Session;
/// use sessionkit_actix::csrf::Csrf;
///
/// async fn log_in(session: Session, csrf: Csrf) -> Result<&'static str, actix_web::Error> {
///     session.cycle_key(); // a new session key …
///     csrf.rotate(); // … and a new CSRF secret, as Django's login does
///     session.insert("_auth_user_id", "42").map_err(sessionkit_actix::error)?;
///     Ok("welcome")
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Csrf(pub sessionkit::csrf::Csrf);

impl Deref for Csrf {
    type Target = sessionkit::csrf::Csrf;

    fn deref(&self) -> &sessionkit::csrf::Csrf {
        &self.0
    }
}

impl FromRequest for Csrf {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let csrf = request.extensions().get::<Csrf>().cloned();
        Box::pin(async move {
            let Some(csrf) = csrf else {
                let missing =
                    "This handler needs sessionkit-actix's CsrfMiddleware in front of it.";
                return Err(actix_web::error::ErrorInternalServerError(missing));
            };
            csrf.read().await.map_err(error)?;
            Ok(csrf)
        })
    }
}
