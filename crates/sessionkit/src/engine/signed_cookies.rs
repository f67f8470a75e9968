//! `signed_cookies`: the whole session lives in the cookie, signed (not encrypted) with
//! `SECRET_KEY` in Django's format, so Django and sessionkit read each other's cookies.
//!
//! Nothing is stored on the server, which makes it fast and stateless, with three costs the
//! user should know: the data is readable by the client, it must fit in ~4 KB, and a cookie
//! cannot be revoked before it expires (logout only stops *this* browser from sending it),
//! unless the revocation list (`SESSION_REVOCATION_URL`) is on: then logout, `cycle_key` and
//! "log out my other sessions" end copies too.
//! Concurrent requests cannot be merged either: the browser keeps whichever cookie came last.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::revocation::{CookieRevocations, CookieSession, RevocationList};
use super::{Engine, EngineError, Loaded, SaveRequest, Saved};
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
    /// assert!(engine.needs_reissue(&old_cookie)); // and signed anew when read
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

    /// The session of a validly signed, unexpired cookie.
    fn verified(&self, cookie_value: &str) -> Option<CookieSession> {
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
        Some(CookieSession {
            data: unsigned.data,
            issued_at: signed_at,
            expires,
        })
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

    /// A cookie signed with a `SECRET_KEY_FALLBACKS` key is signed again with `SECRET_KEY`
    /// by the request that reads it, so a rotation moves every active user off the old key.
    fn needs_reissue(&self, cookie_value: &str) -> bool {
        self.signer.signed_with_fallback(cookie_value)
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        (MIN_KEY_LENGTH..=MAX_COOKIE_VALUE_BYTES).contains(&cookie_value.len())
            && cookie_value.contains(':')
    }

    async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
        let Some(session) = self.verified(cookie_value) else {
            return Ok(None);
        };
        if self.revocations.refuses(&session).await? {
            return Ok(None);
        }
        Ok(Some(Loaded {
            data: Arc::new(session.data),
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

    /// "Log out my other sessions": with the revocation list, a mark ending every cookie of
    /// `user_id` issued until now but those of `keep_cookie`'s session (see [`RevocationList`]);
    /// returns 0, as no one can count the browsers holding a cookie. Without the list,
    /// [`EngineError::Unsupported`]: a cookie cannot be ended before it expires.
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep_cookie: Option<&str>,
    ) -> Result<u64, EngineError> {
        let keep = keep_cookie.and_then(|cookie| self.verified(cookie));
        self.revocations
            .end_user_sessions(self.name(), user_id, keep, self.cookie_age)
            .await
    }

    /// Cookies expire on their own; there is nothing to clear.
    async fn clear_expired(&self, _batch: usize) -> Result<u64, EngineError> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Data;
    use crate::{EngineKind, Sessions, Settings};

    const OLD_SECRET: &str = "the secret before the rotation";
    const NEW_SECRET: &str = "the secret after the rotation";

    fn settings(secret: &str, fallbacks: &[&str]) -> Settings {
        Settings {
            engine: EngineKind::SignedCookies,
            secret_key_fallbacks: fallbacks.iter().map(|s| s.to_string()).collect(),
            ..Settings::new(secret)
        }
    }

    async fn loaded(settings: Settings, cookie: &str) -> Option<Arc<Data>> {
        let engine = SignedCookieEngine::new(&settings);
        engine.load(cookie).await.unwrap().map(|loaded| loaded.data)
    }

    #[tokio::test]
    async fn a_fallback_key_still_verifies_and_the_cookie_is_reissued_under_the_current_key() {
        let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
        let now = OffsetDateTime::now_utc().unix_timestamp() as u64;
        let cookie = Signer::new(COOKIE_SALT, OLD_SECRET, &[]).sign_object(&data, now);
        assert_eq!(loaded(settings(NEW_SECRET, &[]), &cookie).await, None);

        let rotated = Sessions::open(settings(NEW_SECRET, &[OLD_SECRET]))
            .await
            .unwrap();
        assert!(rotated.engine().needs_reissue(&cookie));
        let session = rotated.start(Some(&cookie)).load().await.unwrap();
        assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));
        assert!(
            session.modified(),
            "the middleware saves it: a new cookie goes out"
        );
        let reissued = session.save().await.unwrap().expect("a cookie");
        assert!(!rotated.engine().needs_reissue(&reissued));
        assert_eq!(
            loaded(settings(NEW_SECRET, &[]), &reissued)
                .await
                .as_deref(),
            Some(&data)
        );
        assert_eq!(
            loaded(settings(OLD_SECRET, &[]), &reissued).await,
            None,
            "the old key alone cannot verify it"
        );
    }

    #[test]
    fn only_a_valid_fallback_signature_asks_for_a_reissue() {
        let rotated = SignedCookieEngine::new(&settings(NEW_SECRET, &[OLD_SECRET]));
        let data = Data::from_json(r#"{"n": 1}"#).unwrap();
        let by = |secret| Signer::new(COOKIE_SALT, secret, &[]).sign_object(&data, 0);
        assert!(rotated.needs_reissue(&by(OLD_SECRET)));
        assert!(!rotated.needs_reissue(&by(NEW_SECRET)));
        assert!(
            !rotated.needs_reissue(&by("a third secret")),
            "not ours at all"
        );
        assert!(!rotated.needs_reissue("no signature"));
        let unrotated = SignedCookieEngine::new(&settings(OLD_SECRET, &[]));
        assert!(!unrotated.needs_reissue(&by(OLD_SECRET)));
    }
}
