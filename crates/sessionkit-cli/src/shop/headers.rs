//! The security headers Django's default middleware adds to every response, so the store's
//! pages get the same protection a new Django project's do.

use axum::extract::Request;
use axum::http::header::{REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Each header and its value; a handler that sets one itself keeps its own.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    // XFrameOptionsMiddleware: no other site may frame a page (clickjacking).
    (X_FRAME_OPTIONS, "DENY"),
    // SecurityMiddleware, SECURE_CONTENT_TYPE_NOSNIFF: browsers trust the Content-Type.
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    // SECURE_REFERRER_POLICY: other sites are not told which page linked to them.
    (REFERRER_POLICY, "same-origin"),
    // SECURE_CROSS_ORIGIN_OPENER_POLICY: a window this store opens cannot reach back.
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// Middleware: adds [`SECURITY_HEADERS`] to the response.
pub async fn add(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
