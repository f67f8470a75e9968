//! Everything Django: its signed format byte for byte ([`signing`]), its Python-compatible
//! JSON ([`json`]), its flash messages ([`messages`]), and trusting a Django login — read the user `django.contrib.auth` put in a
//! session, and check it the way Django's `get_user` does, so a Rust service sharing sessions
//! with a Django app logs the same people in and out.
//!
//! Django's `login()` stores three keys in the session: the user's primary key
//! ([`SESSION_KEY`]), the authentication backend ([`BACKEND_SESSION_KEY`]) and an HMAC of the
//! user's password hash ([`HASH_SESSION_KEY`]). The last one is what ends every session of a
//! user whose password changes: on each request Django recomputes it from the user's current
//! password hash and logs the session out if it differs. [`DjangoLogin`] does the same.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sessionkit::django::{DjangoLogin, session_auth_hash};
//! # use sessionkit::{EngineKind, Sessions, Settings};
//! # let sessions = Sessions::open(Settings {
//! #     engine: EngineKind::SignedCookies,
//! #     ..Settings::new("django-secret")
//! # }).await?;
//! # let password = "pbkdf2_sha256$1000000$salt$hash=";
//! # let cookie = {
//! #     let session = sessions.start(None).load().await?;
//! #     session.insert("_auth_user_id", "42")?;
//! #     session.insert("_auth_user_backend", "django.contrib.auth.backends.ModelBackend")?;
//! #     session.insert("_auth_user_hash", session_auth_hash(password, "django-secret"))?;
//! #     session.save().await?.unwrap()
//! # };
//! // In a handler, with the cookie Django set:
//! let session = sessions.start(Some(&cookie)).load().await?;
//! let login = DjangoLogin::from_session(&session).expect("logged in by Django");
//! // Look up the user's current `password` column by `login.user_id`, then:
//! assert!(login.verify(&session, password, "django-secret", &[]));
//! assert_eq!(login.user_id, "42");
//! # Ok(()) }
//! ```

use subtle::ConstantTimeEq;

pub mod json;
pub mod messages;
pub mod signing;

use crate::Session;
use crate::django::signing::salted_mac;
use crate::engine::JsonText;

/// The session key holding the logged-in user's primary key, as a string
/// (`django.contrib.auth.SESSION_KEY`).
///
/// ```
/// assert_eq!(sessionkit::django::SESSION_KEY, "_auth_user_id");
/// ```
pub const SESSION_KEY: &str = crate::engine::USER_ID_KEY;

/// The session key holding the dotted path of the backend that authenticated the user
/// (`django.contrib.auth.BACKEND_SESSION_KEY`).
///
/// ```
/// assert_eq!(sessionkit::django::BACKEND_SESSION_KEY, "_auth_user_backend");
/// ```
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";

/// The session key holding [`session_auth_hash`] of the user's password hash at login
/// (`django.contrib.auth.HASH_SESSION_KEY`).
///
/// ```
/// assert_eq!(sessionkit::django::HASH_SESSION_KEY, "_auth_user_hash");
/// ```
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";

/// The key salt of `AbstractBaseUser.get_session_auth_hash`.
const SESSION_AUTH_HASH_SALT: &str =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// Django's `django.utils.crypto.salted_hmac(key_salt, value, secret, algorithm="sha256")`:
/// HMAC-SHA256 of `value` under the key `SHA256(key_salt + secret)`.
///
/// ```
/// use sessionkit::django::salted_hmac;
///
/// // salted_hmac("some.salt", "value", "secret", algorithm="sha256").hexdigest() in Django 5.2
/// let mac = salted_hmac("some.salt", "value", "secret");
/// assert_eq!(hex(&mac), "139af3e2861a584ec4c4a1e9f0aa12cfd92ddb4fbde086e92b7540771cef2489");
/// # fn hex(bytes: &[u8]) -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() }
/// ```
pub fn salted_hmac(key_salt: &str, value: impl AsRef<[u8]>, secret: &str) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = salted_mac(key_salt, secret);
    mac.update(value.as_ref());
    mac.finalize().into_bytes().into()
}

/// Django's `AbstractBaseUser.get_session_auth_hash()` for a user whose `password` column is
/// `password_hash`, under `secret`: lowercase hex of [`salted_hmac`] with the key salt
/// `"django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"`.
///
/// It is what Django's `login()` stores under [`HASH_SESSION_KEY`]. It changes whenever the
/// password hash changes (a new password, or the same one re-hashed with a new salt).
///
/// ```
/// use sessionkit::django::session_auth_hash;
///
/// let stored = "pbkdf2_sha256$1000000$fixedsaltfixedsalt12$t4u9dTc2zsF6WicR9zae4aaV5mi4pmE443n5RnaegtE=";
/// assert_eq!(
///     session_auth_hash(stored, "django-insecure-known-value"),
///     "175ff2ac2de10200d9179ee78d695a4a739af0d5e38e86eea2496d1f2a5e09d6",
/// );
/// ```
pub fn session_auth_hash(password_hash: &str, secret: &str) -> String {
    salted_hmac(SESSION_AUTH_HASH_SALT, password_hash, secret)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A user logged in by Django's `django.contrib.auth.login()`, as found in a session.
///
/// Finding one proves nothing yet: call [`DjangoLogin::verify`] with the user's current
/// password hash before trusting it, as Django's `get_user` does on every request.
///
/// ```
/// use sessionkit::django::DjangoLogin;
///
/// let login = DjangoLogin {
///     user_id: "42".to_owned(),
///     backend: "django.contrib.auth.backends.ModelBackend".to_owned(),
/// };
/// assert_eq!(login.user_id.parse::<i64>(), Ok(42));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoLogin {
    /// The user's primary key, as Django stores it: a string (`"42"`, or a UUID). A number
    /// stored by a non-Django writer is given as its decimal text.
    pub user_id: String,
    /// The dotted path of the backend that authenticated the user. Django only trusts
    /// backends listed in its `AUTHENTICATION_BACKENDS`; check it against yours.
    pub backend: String,
}

impl DjangoLogin {
    /// The login stored in `session`, if it holds both [`SESSION_KEY`] and
    /// [`BACKEND_SESSION_KEY`] (Django's `get_user` treats a session missing either as
    /// anonymous). Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::django::{BACKEND_SESSION_KEY, DjangoLogin, SESSION_KEY};
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # }).await?;
    /// let session = sessions.start(None).load().await?;
    /// assert_eq!(DjangoLogin::from_session(&session), None);
    ///
    /// session.insert(SESSION_KEY, "7")?;
    /// session.insert(BACKEND_SESSION_KEY, "django.contrib.auth.backends.ModelBackend")?;
    /// let login = DjangoLogin::from_session(&session).unwrap();
    /// assert_eq!(login.user_id, "7");
    /// # Ok(()) }
    /// ```
    pub fn from_session(session: &Session) -> Option<DjangoLogin> {
        let user_id = session.get_json(SESSION_KEY)?.id()?;
        let backend = session.get::<String>(BACKEND_SESSION_KEY).ok()??;
        Some(DjangoLogin { user_id, backend })
    }

    /// Whether the login in `session` still stands for a user whose current `password` column
    /// is `password_hash`: Django's `get_user` check of [`HASH_SESSION_KEY`], compared in
    /// constant time ([`subtle::ConstantTimeEq`]) against the hash under `secret`
    /// (`SECRET_KEY`), then under each of `fallbacks` (`SECRET_KEY_FALLBACKS`).
    ///
    /// It changes the session as Django does:
    /// - accepted with a fallback key: the session gets a new key (`cycle_key`) and the hash
    ///   under `secret`, so the next check no longer needs the fallback;
    /// - rejected (the password changed, or the hash is missing or forged): the session is
    ///   flushed, which logs it out everywhere it is shared with Django.
    ///
    /// If `session` no longer holds this login (another user, or logged out meanwhile), the
    /// answer is `false` and the session is left alone.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::django::{DjangoLogin, HASH_SESSION_KEY, session_auth_hash};
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("new-secret")
    /// # }).await?;
    /// # let session = sessions.start(None).load().await?;
    /// # session.insert("_auth_user_id", "42")?;
    /// # session.insert("_auth_user_backend", "django.contrib.auth.backends.ModelBackend")?;
    /// let password = "pbkdf2_sha256$1000000$salt$hash=";
    /// // Logged in before SECRET_KEY was rotated from "old-secret" to "new-secret":
    /// session.insert(HASH_SESSION_KEY, session_auth_hash(password, "old-secret"))?;
    /// let login = DjangoLogin::from_session(&session).unwrap();
    ///
    /// let fallbacks = ["old-secret".to_owned()];
    /// assert!(login.verify(&session, password, "new-secret", &fallbacks));
    /// // … and the session now holds the hash under the current key.
    /// assert_eq!(
    ///     session.get::<String>(HASH_SESSION_KEY)?,
    ///     Some(session_auth_hash(password, "new-secret")),
    /// );
    ///
    /// // After a password change the login is over, and the session flushed.
    /// assert!(!login.verify(&session, "pbkdf2_sha256$1000000$salt$other=", "new-secret", &[]));
    /// assert!(session.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn verify(
        &self,
        session: &Session,
        password_hash: &str,
        secret: &str,
        fallbacks: &[String],
    ) -> bool {
        if DjangoLogin::from_session(session).as_ref() != Some(self) {
            return false;
        }
        let stored = session.get::<String>(HASH_SESSION_KEY).ok().flatten();
        // Django refuses an empty hash outright, whatever the keys.
        let Some(stored) = stored.filter(|s| !s.is_empty()) else {
            session.flush();
            return false;
        };
        let matches = |hash: &str| bool::from(stored.as_bytes().ct_eq(hash.as_bytes()));
        let current = session_auth_hash(password_hash, secret);
        if matches(&current) {
            return true;
        }
        if fallbacks
            .iter()
            .any(|fallback| matches(&session_auth_hash(password_hash, fallback)))
        {
            session.cycle_key();
            session.insert_json(HASH_SESSION_KEY, JsonText::from(current.as_str()));
            return true;
        }
        session.flush();
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::signed_cookie_sessions;
    use serde_json::Value;

    const BACKEND: &str = "django.contrib.auth.backends.ModelBackend";
    /// `make_password("correct horse", salt="fixedsaltfixedsalt12")` in Django 5.2.19.
    const PASSWORD: &str =
        "pbkdf2_sha256$1000000$fixedsaltfixedsalt12$t4u9dTc2zsF6WicR9zae4aaV5mi4pmE443n5RnaegtE=";

    async fn session_with(entries: &[(&str, Value)]) -> Session {
        let sessions = signed_cookie_sessions().await;
        let session = sessions.start(None).load().await.unwrap();
        for (key, value) in entries {
            session.insert(key, value).unwrap();
        }
        session
    }

    async fn logged_in(hash: &str) -> Session {
        session_with(&[
            (SESSION_KEY, Value::from("42")),
            (BACKEND_SESSION_KEY, Value::from(BACKEND)),
            (HASH_SESSION_KEY, Value::from(hash)),
        ])
        .await
    }

    #[test]
    fn session_auth_hash_matches_django() {
        // User(password=PASSWORD).get_session_auth_hash() with this SECRET_KEY, Django 5.2.19.
        assert_eq!(
            session_auth_hash(PASSWORD, "django-insecure-known-value"),
            "175ff2ac2de10200d9179ee78d695a4a739af0d5e38e86eea2496d1f2a5e09d6"
        );
    }

    #[test]
    fn salted_hmac_is_the_signers_key_derivation() {
        use crate::django::signing::{COOKIE_SALT, Signer};
        use base64_simd::URL_SAFE_NO_PAD;

        // signing.dumps's signature is salted_hmac(salt + "signer", "payload:ts", secret).
        let value = Signer::new(COOKIE_SALT, "s", &[]).sign_object(&Default::default(), 0);
        let (signed, signature) = value.rsplit_once(':').unwrap();
        let mac = salted_hmac(&format!("{COOKIE_SALT}signer"), signed, "s");
        assert_eq!(URL_SAFE_NO_PAD.encode_to_string(mac), signature);
    }

    #[tokio::test]
    async fn a_login_needs_both_the_user_and_the_backend() {
        let only_user = session_with(&[(SESSION_KEY, Value::from("42"))]).await;
        assert_eq!(DjangoLogin::from_session(&only_user), None);
        let only_backend = session_with(&[(BACKEND_SESSION_KEY, Value::from(BACKEND))]).await;
        assert_eq!(DjangoLogin::from_session(&only_backend), None);
        let numeric = session_with(&[
            (SESSION_KEY, Value::from(42)),
            (BACKEND_SESSION_KEY, Value::from(BACKEND)),
        ])
        .await;
        assert_eq!(
            DjangoLogin::from_session(&numeric),
            Some(DjangoLogin {
                user_id: "42".to_owned(),
                backend: BACKEND.to_owned()
            })
        );
        let malformed = session_with(&[
            (SESSION_KEY, Value::from(true)),
            (BACKEND_SESSION_KEY, Value::from(BACKEND)),
        ])
        .await;
        assert_eq!(DjangoLogin::from_session(&malformed), None);
    }

    #[tokio::test]
    async fn the_current_key_verifies_without_changing_the_session() {
        let session = logged_in(&session_auth_hash(PASSWORD, "secret")).await;
        let before = session.to_map();
        let login = DjangoLogin::from_session(&session).unwrap();
        assert!(login.verify(&session, PASSWORD, "secret", &["old".to_owned()]));
        assert_eq!(session.to_map(), before);
    }

    #[tokio::test]
    async fn a_fallback_key_verifies_and_the_hash_is_renewed_under_a_new_key() {
        let session = logged_in(&session_auth_hash(PASSWORD, "old")).await;
        let cookie = session.save().await.unwrap();
        let login = DjangoLogin::from_session(&session).unwrap();
        let fallbacks = ["older".to_owned(), "old".to_owned()];
        assert!(login.verify(&session, PASSWORD, "secret", &fallbacks));
        assert_eq!(
            session.get::<String>(HASH_SESSION_KEY).unwrap(),
            Some(session_auth_hash(PASSWORD, "secret"))
        );
        assert_ne!(session.save().await.unwrap(), cookie);
        // Without the fallback it would have been refused.
        let stale = logged_in(&session_auth_hash(PASSWORD, "old")).await;
        assert!(!login.verify(&stale, PASSWORD, "secret", &[]));
    }

    #[tokio::test]
    async fn a_changed_password_flushes_the_session() {
        let session = logged_in(&session_auth_hash(PASSWORD, "secret")).await;
        let login = DjangoLogin::from_session(&session).unwrap();
        assert!(!login.verify(&session, "pbkdf2_sha256$1$x$y=", "secret", &[]));
        assert!(session.is_empty());
        assert_eq!(DjangoLogin::from_session(&session), None);
    }

    #[tokio::test]
    async fn a_missing_empty_or_non_string_hash_is_refused() {
        for hash in [None, Some(Value::from("")), Some(Value::from(7))] {
            let mut entries = vec![
                (SESSION_KEY, Value::from("42")),
                (BACKEND_SESSION_KEY, Value::from(BACKEND)),
            ];
            entries.extend(hash.clone().map(|h| (HASH_SESSION_KEY, h)));
            let session = session_with(&entries).await;
            let login = DjangoLogin::from_session(&session).unwrap();
            assert!(!login.verify(&session, PASSWORD, "secret", &[]), "{hash:?}");
            assert!(session.is_empty(), "{hash:?}");
        }
    }

    #[tokio::test]
    async fn a_session_holding_another_login_is_refused_and_left_alone() {
        let session = logged_in(&session_auth_hash(PASSWORD, "secret")).await;
        let someone_else = DjangoLogin {
            user_id: "43".to_owned(),
            backend: BACKEND.to_owned(),
        };
        assert!(!someone_else.verify(&session, PASSWORD, "secret", &[]));
        assert!(DjangoLogin::from_session(&session).is_some());
    }
}
