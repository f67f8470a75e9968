//! The one error type handlers see, and the one place errors become HTTP statuses.

use http::StatusCode;

use crate::engine::EngineError;

/// Why a session operation failed. Each maps to a status in [`SessionError::status`]; with the
/// `axum` feature it is also an `IntoResponse`, so handlers can use `?`.
///
/// ```
/// use http::StatusCode;
/// use sessionkit::SessionError;
///
/// assert_eq!(SessionError::Interrupted.status(), StatusCode::BAD_REQUEST);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed or could not be reached (503).
    #[error("session store unavailable: {0}")]
    Unavailable(#[source] EngineError),
    /// The session was deleted (e.g. logout in another tab) while this request ran; its
    /// changes were not saved so the session is not brought back to life (400, as Django's
    /// `SessionInterrupted`).
    #[error("the session was ended by another request while this one ran")]
    Interrupted,
    /// The cookie would exceed what browsers keep; nothing was sent (500).
    #[error(
        "session cookie would be {size} bytes (name + value), over the {limit}-byte limit \
         browsers keep; store less in the session or use a server-side SESSION_ENGINE"
    )]
    CookieTooLarge {
        /// Bytes of cookie name plus value.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A stored value does not have the type the handler asked for (500).
    #[error("session value {key:?} has another type: {source}")]
    Type {
        /// The session key that was read or written.
        key: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// Another request held the session's lock for longer than `SESSION_LOCK_TIMEOUT` (503).
    #[error("the session stayed locked by another request for {waited:?}")]
    Locked {
        /// How long this request waited.
        waited: std::time::Duration,
    },
    /// The handler asked for a session but no session layer runs in front of it (500).
    #[error("no session layer: add `Sessions::layer()` to the router or service")]
    MissingLayer,
}

impl From<EngineError> for SessionError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Gone => SessionError::Interrupted,
            other => SessionError::Unavailable(other),
        }
    }
}

impl SessionError {
    /// The HTTP status this error becomes.
    ///
    /// ```
    /// use http::StatusCode;
    /// use sessionkit::SessionError;
    /// use sessionkit::engine::EngineError;
    ///
    /// let outage = SessionError::from(EngineError::unavailable(std::io::Error::other("down")));
    /// assert_eq!(outage.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(SessionError::from(EngineError::Gone).status(), StatusCode::BAD_REQUEST);
    /// assert_eq!(SessionError::MissingLayer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            SessionError::Unavailable(_) | SessionError::Locked { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            SessionError::Interrupted => StatusCode::BAD_REQUEST,
            SessionError::CookieTooLarge { .. }
            | SessionError::Type { .. }
            | SessionError::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response body: enough for the user to act on, without internals.
    ///
    /// ```
    /// use sessionkit::SessionError;
    /// use sessionkit::engine::EngineError;
    ///
    /// let error = SessionError::from(EngineError::unavailable(std::io::Error::other(
    ///     "connection refused to 10.0.0.5:6379",
    /// )));
    /// assert!(error.public_message().contains("try again"));
    /// assert!(!error.public_message().contains("10.0.0.5")); // internals stay in the log
    /// ```
    pub fn public_message(&self) -> &'static str {
        match self {
            SessionError::Unavailable(_) => {
                "The session store is unavailable right now. Please try again in a moment.\n"
            }
            SessionError::Locked { .. } => {
                "Your session is busy with another request. Please try again in a moment.\n"
            }
            SessionError::Interrupted => {
                "Your session ended in another request (for example a logout in another tab) \
                 while this one ran. Please try again.\n"
            }
            SessionError::CookieTooLarge { .. }
            | SessionError::Type { .. }
            | SessionError::MissingLayer => {
                "The server could not save your session. The error has been logged.\n"
            }
        }
    }

    /// Logs the error at the level it deserves (store and programming errors are errors; an
    /// interrupted session is routine).
    pub(crate) fn log(&self) {
        match self {
            SessionError::Interrupted => tracing::info!(error = %self, "session save refused"),
            _ => tracing::error!(error = %self, "session error"),
        }
    }

    /// The whole response for this error, as any body type that can hold a string.
    ///
    /// ```
    /// use http::StatusCode;
    /// use sessionkit::SessionError;
    ///
    /// let response: http::Response<String> = SessionError::Interrupted.to_response();
    /// assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    /// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    /// assert_eq!(response.body(), SessionError::Interrupted.public_message());
    /// ```
    pub fn to_response<B: From<String>>(&self) -> http::Response<B> {
        self.log();
        let mut response = http::Response::new(B::from(self.public_message().to_owned()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for SessionError {
    fn into_response(self) -> axum_core::response::Response {
        self.to_response()
    }
}
