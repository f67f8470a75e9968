//! A client for the examples' tests: requests go straight to the router (no socket), and the
//! session cookie is carried from one response to the next request, as a browser would.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// One browser: the app and the cookie it was last given.
pub struct Client {
    app: Router,
    /// `name=value` of the session cookie, sent back with every request.
    pub cookie: Option<String>,
}

impl Client {
    pub fn new(app: Router) -> Self {
        Client { app, cookie: None }
    }

    /// `GET path`: the body, after checking the status is 200 and keeping any new cookie.
    pub async fn get(&mut self, path: &str) -> String {
        let mut request = Request::get(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        if let Some(set_cookie) = response.headers().get(header::SET_COOKIE) {
            let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
            self.cookie = Some(pair.to_owned());
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }
}
