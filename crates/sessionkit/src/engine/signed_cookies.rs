//! `signed_cookies`: the whole session lives in the cookie, signed (not encrypted) with
//! `SECRET_KEY` in Django's format, so Django and sessionkit read each other's cookies.
//!
//! Nothing is stored on the server, which makes it fast and stateless, with three costs the
//! user should know: the data is readable by the client, it must fit in ~4 KB, and a cookie
//! cannot be revoked before it expires (logout only stops *this* browser from sending it).
//! Concurrent requests cannot be merged either: the browser keeps whichever cookie came last.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::revocation::{CookieRevocations, RevocationList};
use super::{Data, Engine, EngineError, Loaded, SaveRequest, Saved};
use crate::config::Secrets;
use crate::django::signing::{COOKIE_SALT, SMALL_VALUE_BYTES, Signer};
use crate::expiry::cookie_expiry;
use crate::key::MIN_KEY_LENGTH;
use crate::set_cookie::MAX_COOKIE_BYTES;

/// No longer value can be one we wrote: it is [`MAX_COOKIE_BYTES`], the limit browsers put on
/// a cookie's name and value together, applied to the value alone. That bound is loose (the
/// name takes some of it) but safe: a value over it fails the limit whatever the name, so no
/// cookie a browser kept is turned away, and saving refuses the tighter name + value bound.
///
/// ```
/// use sessionkit::engine::SignedCookieEngine;
/// use sessionkit::engine::signed_cookies::MAX_COOKIE_VALUE_BYTES;
/// use sessionkit::Settings;
/// use sessionkit::engine::Engine;
///
/// let engine = SignedCookieEngine::new(&Settings::new("secret"));
/// let huge = "a".repeat(MAX_COOKIE_VALUE_BYTES + 1);
/// assert!(!engine.accepts(&huge)); // no browser sends it back: not worth verifying
/// ```
pub const MAX_COOKIE_VALUE_BYTES: usize = MAX_COOKIE_BYTES;

/// What the signed-cookie engine needs: the secrets to sign with and `SESSION_COOKIE_AGE`,
/// past which a cookie is refused however it was signed. `From<&Settings>` fills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCookieConfig {
    /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS`.
    pub secrets: Secrets,
    /// `SESSION_COOKIE_AGE`, in seconds.
    pub cookie_age: i64,
}

/// The client-side engine.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use sessionkit::engine::{ChangeSet, Data, Engine, SaveRequest, SignedCookieEngine};
/// use sessionkit::Settings;
///
/// let engine = SignedCookieEngine::new(&Settings::new("secret"));
/// let data = std::sync::Arc::new(Data::from_json(r#"{"cart": [7]}"#).unwrap());
/// let saved = engine
///     .save(SaveRequest {
///         previous: None,
///         data: &data,
///         changes: &ChangeSet::default(),
///         now: time::OffsetDateTime::now_utc(),
///         cookie_age: 3600,
///     })
///     .await
///     .unwrap();
/// let cookie = saved.cookie_value;
/// assert_eq!(engine.load(&cookie).await.unwrap().unwrap().data, data);
/// let tampered = format!("x{cookie}");
/// assert!(engine.load(&tampered).await.unwrap().is_none());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SignedCookieEngine {
    signer: Signer,
    cookie_age: i64,
    /// The logged-out sessions (`SESSION_REVOCATION_URL`), if the list is on.
    revocations: CookieRevocations,
}

impl SignedCookieEngine {
    /// An engine signing with `SECRET_KEY` (verifying with its fallbacks too). Sessions
    /// under [`SMALL_VALUE_BYTES`] of JSON go out uncompressed: Django reads both forms, and
    /// the zlib attempt would cost more than the rest of the request's session work.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{Data, SignedCookieEngine};
    /// use sessionkit::django::signing::{COOKIE_SALT, Signer};
    /// use sessionkit::Settings;
    /// use sessionkit::engine::Engine;
    ///
    /// let settings = Settings {
    ///     secret_key: "new secret".into(),
    ///     secret_key_fallbacks: vec!["old secret".into()],
    ///     ..Settings::new("")
    /// };
    /// let engine = SignedCookieEngine::new(&settings);
    /// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
    /// let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    /// let old_cookie = Signer::new(COOKIE_SALT, "old secret", &[]).sign_object(&data, now);
    /// assert!(engine.load(&old_cookie).await?.is_some()); // still valid after the rotation
    /// # Ok(()) }
    /// ```
    pub fn new(config: impl Into<SignedCookieConfig>) -> Self {
        let config = config.into();
        SignedCookieEngine {
            signer: Signer::new(COOKIE_SALT, &config.secrets.key, &config.secrets.fallbacks)
                .compressing_from(SMALL_VALUE_BYTES),
            cookie_age: config.cookie_age,
            revocations: CookieRevocations::default(),
        }
    }

    /// The same engine, refusing the cookies of sessions that were logged out: each session
    /// carries an id, and `flush` or `cycle_key` lists it in `revocations` (see
    /// [`RevocationList`]).
    pub fn with_revocations(mut self, revocations: RevocationList) -> Self {
        self.revocations = CookieRevocations::on(revocations);
        self
    }

    /// The data of a validly signed, unexpired cookie, and when it expires.
    fn verified(&self, cookie_value: &str) -> Option<(Data, OffsetDateTime)> {
        let now = SystemTime::now();
        let unsigned = match self.signer.unsign_object(cookie_value, None, now) {
            Ok(unsigned) => unsigned,
            Err(reason) => {
                tracing::warn!(%reason, "ignoring session cookie");
                return None;
            }
        };
        let Some(signed_at) = i64::try_from(unsigned.timestamp)
            .ok()
            .and_then(|ts| OffsetDateTime::from_unix_timestamp(ts).ok())
        else {
            tracing::warn!("ignoring a session cookie with an impossible timestamp");
            return None;
        };
        let expires = cookie_expiry(&unsigned.data, signed_at, self.cookie_age);
        if OffsetDateTime::from(now) > expires {
            tracing::warn!(%expires, "ignoring expired session cookie");
            return None;
        }
        Some((unsigned.data, expires))
    }
}

#[async_trait]
impl Engine for SignedCookieEngine {
    fn name(&self) -> &'static str {
        "signed_cookies"
    }

    fn keeps_data_in_cookie(&self) -> bool {
        true
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        (MIN_KEY_LENGTH..=MAX_COOKIE_VALUE_BYTES).contains(&cookie_value.len())
            && cookie_value.contains(':')
    }

    async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
        let Some((data, _)) = self.verified(cookie_value) else {
            return Ok(None);
        };
        if self.revocations.refuses(&data).await? {
            return Ok(None);
        }
        Ok(Some(Loaded {
            data: Arc::new(data),
            version: 0,
        }))
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Saved, EngineError> {
        let timestamp = u64::try_from(request.now.unix_timestamp()).unwrap_or_default();
        let data = self.revocations.to_save(&request);
        Ok(Saved {
            cookie_value: self.signer.sign_object(&data, timestamp),
            version: 0,
        })
    }

    /// Nothing is stored server-side: the middleware's expired Set-Cookie is what logs the
    /// browser out, and a copied cookie stays valid until it expires, unless the revocation
    /// list is on: then the session's id is listed until then.
    async fn delete(&self, cookie_value: &str) -> Result<(), EngineError> {
        self.revocations.end(|| self.verified(cookie_value)).await
    }

    /// Whether `cookie_value` is a validly signed, unexpired session.
    async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError> {
        Ok(self.accepts(cookie_value) && self.load(cookie_value).await?.is_some())
    }

    /// Cookies expire on their own; there is nothing to clear.
    async fn clear_expired(&self, _batch: usize) -> Result<u64, EngineError> {
        Ok(0)
    }
}
