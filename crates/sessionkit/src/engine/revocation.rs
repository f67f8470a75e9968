//! Revocable cookie sessions (`SESSION_REVOCATION_URL`): a short server-side list of the cookie
//! sessions that were logged out.
//!
//! A signed or encrypted cookie is the session itself, so logging out only makes *this*
//! browser forget it: a copy taken before (a stolen cookie, a shared computer's backup) stays
//! valid until it expires. With a revocation list each cookie session carries a random id
//! (under [`SESSION_ID_KEY`], inside the signature or the encryption), and ending it (`flush`
//! at logout, or `cycle_key` at login) records the id until the cookie would have expired
//! anyway. A cookie whose id is listed is no session. The price is one lookup in the list's
//! store per request that loads a session: an in-process map, a Redis `GET`, or an indexed row.
//!
//! # Logging out a user's other sessions
//!
//! A cookie engine cannot list a user's sessions, so "log out my other sessions"
//! ([`Engine::delete_user_sessions`](super::Engine::delete_user_sessions)) records one mark per
//! user instead: *every cookie of this user issued at or before second T is no session, except
//! those of session S*, where T is the time of the request and S the id of the session that
//! asked. Cookies carry their issue time to the second (the signed timestamp, the sealed issue
//! time), and a session's cookie is issued anew whenever it is saved, so:
//!
//! - every other session of the user holds a cookie issued at or before T (a browser cannot
//!   hold a cookie issued later than the request that marks it), so all of them end, even one
//!   saved in the same second as the mark: "at or before", not "before";
//! - the session that asked keeps working by its id, not by its cookie's time, so nothing has
//!   to be re-issued and no clock has to tick between the mark and its next cookie;
//! - the one cost of the second's resolution falls on the safe side: a login on another
//!   device in the very second of the mark is ended too (that user logs in again).
//!
//! The mark lives until T + `SESSION_COOKIE_AGE`, when every cookie issued before it has
//! expired anyway; a later mark for the same user replaces it (everything the first one ended,
//! the second ends too). Loading a logged-in session costs a second lookup, for its user's mark.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use sha2::{Digest, Sha256};

use super::store::{Addressing, RecordStore, RecordWrite};
use super::{Data, EngineError, JsonText, SaveRequest, user_of};
use crate::key::SessionKey;

/// The session data key holding a cookie session's id, which the revocation list records.
pub const SESSION_ID_KEY: &str = "_session_id";

/// The key of a user mark's data: the last second whose cookies it ends.
const NOT_BEFORE_KEY: &str = "not_before";
/// The key of a user mark's data: the id of the session it spares.
const KEEP_KEY: &str = "keep";
/// How often a mark is written again when another request replaced it meanwhile.
const MARK_ATTEMPTS: u32 = 5;

/// A cookie session as its engine verified it: the data, and when its cookie was issued (signed
/// or sealed) and expires.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CookieSession {
    pub(crate) data: Data,
    pub(crate) issued_at: OffsetDateTime,
    pub(crate) expires: OffsetDateTime,
}

/// The list of logged-out cookie sessions, in a store of its own.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use sessionkit::engine::{Engine, MemoryStore, RevocationList, SignedCookieEngine};
/// use sessionkit::{Sessions, Settings};
///
/// let settings = Settings::new("secret");
/// let list = RevocationList::new(MemoryStore::new(100_000), Duration::from_secs(5));
/// let engine = SignedCookieEngine::new(&settings).with_revocations(list);
/// let sessions = Sessions::builder("secret").with_engine(std::sync::Arc::new(engine)).open().await?;
///
/// let session = sessions.start(None).load().await?;
/// session.insert("user_id", 42)?;
/// let cookie = session.save().await?.unwrap(); // a copy is taken here
/// let logged_in = sessions.start(Some(&cookie)).load().await?;
/// logged_in.flush(); // logout
/// logged_in.save().await?;
/// assert!(sessions.start(Some(&cookie)).load().await?.is_empty()); // the copy is dead
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RevocationList {
    store: Arc<dyn RecordStore>,
    timeout: Duration,
}

impl std::fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationList")
            .field("store", &self.store.name())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RevocationList {
    /// A list kept in `store` (its records hold no data, only an id's hash and an expiry),
    /// each call bounded by `timeout` (`SESSION_STORE_TIMEOUT`).
    pub fn new(store: impl RecordStore, timeout: Duration) -> Self {
        RevocationList {
            store: Arc::new(store),
            timeout,
        }
    }

    /// Creates the store's schema if missing.
    pub async fn migrate(&self) -> Result<(), EngineError> {
        self.bounded(self.store.migrate()).await
    }

    /// `data` with a session id: its own when `keep` (the same session saved again) and it
    /// has one, else a new one (a new session, or a new key after `cycle_key`).
    pub(crate) fn with_id<'d>(data: &'d Data, keep: bool) -> Cow<'d, Data> {
        if keep && id_of(data).is_some() {
            return Cow::Borrowed(data);
        }
        let mut data = data.clone();
        let id = SessionKey::generate();
        data.insert(SESSION_ID_KEY, JsonText::from(id.as_str()));
        Cow::Owned(data)
    }

    /// Whether the session holding `data` was revoked. A session without an id (stored before
    /// the list was turned on) cannot have been.
    pub(crate) async fn is_revoked(&self, data: &Data) -> Result<bool, EngineError> {
        let Some(id) = id_of(data) else {
            return Ok(false);
        };
        let address = Addressing::Hashed.of(&id);
        self.bounded(self.store.contains(&address)).await
    }

    /// Records the session holding `data` as revoked until `expires`, when its cookie would be
    /// refused anyway.
    pub(crate) async fn revoke(
        &self,
        data: &Data,
        expires: OffsetDateTime,
    ) -> Result<(), EngineError> {
        let Some(id) = id_of(data) else {
            return Ok(());
        };
        let now = OffsetDateTime::now_utc();
        if expires <= now {
            return Ok(());
        }
        let address = Addressing::Hashed.of(&id);
        let nothing = Arc::new(Data::new());
        let write = RecordWrite::new(&nothing, expires, now);
        // Already listed (a second logout of a copy) is as good as listed now.
        self.bounded(self.store.insert(&address, write)).await?;
        Ok(())
    }

    /// Ends every session of `user_id` whose cookie was issued at or before `now`, except the
    /// session holding `keep` (see the module's documentation), until `now + cookie_age`.
    pub(crate) async fn end_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&Data>,
        now: OffsetDateTime,
        cookie_age: i64,
    ) -> Result<(), EngineError> {
        let mut mark = Data::new();
        mark.insert(NOT_BEFORE_KEY, JsonText::from(now.unix_timestamp()));
        if let Some(id) = keep.and_then(id_of) {
            mark.insert(KEEP_KEY, JsonText::from(id.as_str()));
        }
        let mark = Arc::new(mark);
        let write = || {
            RecordWrite::new(
                &mark,
                now.saturating_add(time::Duration::seconds(cookie_age)),
                now,
            )
        };
        let address = user_mark_address(user_id);
        for _ in 0..MARK_ATTEMPTS {
            // A mark written meanwhile (another "log out my other sessions") is replaced: the
            // later mark ends everything the earlier one did.
            let written = match self.bounded(self.store.fetch(&address)).await? {
                Some(old) => {
                    self.bounded(self.store.replace(&address, old.version, write()))
                        .await?
                }
                None => self.bounded(self.store.insert(&address, write())).await?,
            };
            if written {
                return Ok(());
            }
        }
        Err(EngineError::Conflict {
            attempts: MARK_ATTEMPTS,
        })
    }

    /// Whether `session`'s user ended it from another session (a mark covering its cookie).
    /// An anonymous session has no user to mark.
    pub(crate) async fn is_ended_by_user(
        &self,
        session: &CookieSession,
    ) -> Result<bool, EngineError> {
        let Some(user_id) = user_of(&session.data) else {
            return Ok(false);
        };
        let address = user_mark_address(&user_id);
        let Some(mark) = self.bounded(self.store.fetch(&address)).await? else {
            return Ok(false);
        };
        let not_before: Option<i64> = mark
            .data
            .get(NOT_BEFORE_KEY)
            .and_then(|value| value.parse().ok());
        let covered = not_before.is_none_or(|t| session.issued_at.unix_timestamp() <= t);
        let kept = match (mark.data.get(KEEP_KEY), id_of(&session.data)) {
            (Some(keep), Some(id)) => keep.parse::<String>().is_ok_and(|keep| keep == id.as_str()),
            _ => false,
        };
        Ok(covered && !kept)
    }

    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(EngineError::unavailable(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the revocation list's store did not answer within {:?}",
                    self.timeout
                ),
            ))),
        }
    }
}

/// What a cookie engine does with its revocation list, if it has one: refuse a listed
/// session when loading, give each session an id when saving, list it when it ends. Both cookie
/// engines hold one, so the three steps are written once.
#[derive(Debug, Clone, Default)]
pub(crate) struct CookieRevocations(Option<RevocationList>);

impl CookieRevocations {
    pub(crate) fn on(list: RevocationList) -> Self {
        CookieRevocations(Some(list))
    }

    /// Whether `session`, read from a valid cookie, was logged out: by itself, or by its user
    /// from another session.
    pub(crate) async fn refuses(&self, session: &CookieSession) -> Result<bool, EngineError> {
        let Some(list) = &self.0 else {
            return Ok(false);
        };
        if list.is_revoked(&session.data).await? {
            tracing::info!("ignoring the cookie of a session that was logged out");
            return Ok(true);
        }
        let ended = list.is_ended_by_user(session).await?;
        if ended {
            tracing::info!("ignoring the cookie of a session its user logged out from another one");
        }
        Ok(ended)
    }

    /// "Log out my other sessions" of `user_id` on cookie engine `engine`: a mark in the list
    /// sparing the session of `keep` (see the module's documentation). Without a list this is
    /// impossible, and an error says so. Returns 0: no one can count the browsers holding a
    /// cookie.
    pub(crate) async fn end_user_sessions(
        &self,
        engine: &'static str,
        user_id: &str,
        keep: Option<CookieSession>,
        cookie_age: i64,
    ) -> Result<u64, EngineError> {
        let Some(list) = &self.0 else {
            return Err(EngineError::unsupported(
                engine,
                "end a user's sessions without a revocation list (SESSION_REVOCATION_URL)",
            ));
        };
        let keep = keep.as_ref().map(|session| &session.data);
        list.end_user_sessions(user_id, keep, OffsetDateTime::now_utc(), cookie_age)
            .await?;
        Ok(0)
    }

    /// The data to put in the cookie of `request`: with the session's id when the list is on.
    /// A new session, or a new key after `cycle_key` (whose old cookie is revoked), gets a new
    /// id; the same session saved again keeps its own.
    pub(crate) fn to_save<'d>(&self, request: &SaveRequest<'d>) -> Cow<'d, Data> {
        match &self.0 {
            Some(_) => RevocationList::with_id(request.data, request.previous.is_some()),
            None => Cow::Borrowed(&**request.data),
        }
    }

    /// Lists the session of a deleted cookie (`verified`: its data and expiry, if the cookie
    /// was a valid one) until it expires.
    pub(crate) async fn end(
        &self,
        verified: impl FnOnce() -> Option<CookieSession>,
    ) -> Result<(), EngineError> {
        match (&self.0, verified()) {
            (Some(list), Some(session)) => list.revoke(&session.data, session.expires).await,
            _ => Ok(()),
        }
    }
}

/// Where the mark of `user_id` lives in the list's store: a hash, as the store's other
/// addresses are, under a label no session id's hash can collide with.
fn user_mark_address(user_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update("sessionkit user mark\0")
        .chain_update(user_id)
        .finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The session id in `data`, if it holds a well-formed one.
fn id_of(data: &Data) -> Option<SessionKey> {
    let id: String = data.get(SESSION_ID_KEY)?.parse().ok()?;
    SessionKey::parse(&id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemoryStore;

    fn list() -> RevocationList {
        RevocationList::new(MemoryStore::new(100), Duration::from_secs(1))
    }

    #[tokio::test]
    async fn a_revoked_id_is_listed_until_its_expiry_and_others_are_not() {
        let list = list();
        let one = RevocationList::with_id(&Data::new(), true).into_owned();
        let other = RevocationList::with_id(&Data::new(), true).into_owned();
        assert_ne!(one, other, "each session gets its own id");
        assert!(!list.is_revoked(&one).await.unwrap());
        let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
        list.revoke(&one, later).await.unwrap();
        assert!(list.is_revoked(&one).await.unwrap());
        assert!(!list.is_revoked(&other).await.unwrap());
        let past = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        list.revoke(&other, past).await.unwrap();
        assert!(
            !list.is_revoked(&other).await.unwrap(),
            "an expired cookie needs no entry"
        );
    }

    #[test]
    fn an_id_is_kept_on_saves_and_replaced_for_a_new_key() {
        let first = RevocationList::with_id(&Data::new(), true).into_owned();
        assert!(matches!(
            RevocationList::with_id(&first, true),
            Cow::Borrowed(_)
        ));
        let cycled = RevocationList::with_id(&first, false).into_owned();
        assert_ne!(
            id_of(&cycled).unwrap().as_str(),
            id_of(&first).unwrap().as_str()
        );
        let forged = Data::from_iter([(SESSION_ID_KEY, JsonText::from("short"))]);
        assert_eq!(id_of(&forged).map(|id| id.as_str().to_owned()), None);
    }

    /// A cookie session of `user` (none: anonymous) with a new id, issued at `issued_at`.
    fn cookie_of(user: Option<&str>, issued_at: i64) -> CookieSession {
        let mut data = Data::new();
        if let Some(user) = user {
            data.insert(crate::engine::USER_ID_KEY, JsonText::from(user));
        }
        let issued_at = OffsetDateTime::from_unix_timestamp(issued_at).unwrap();
        CookieSession {
            data: RevocationList::with_id(&data, true).into_owned(),
            issued_at,
            expires: issued_at + time::Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn a_user_mark_ends_that_users_cookies_issued_until_its_second_but_the_kept_one() {
        let list = list();
        let mark = 1_900_000_000;
        let asking = cookie_of(Some("7"), mark - 30);
        let (before, same_second, after) = (
            cookie_of(Some("7"), mark - 1),
            cookie_of(Some("7"), mark),
            cookie_of(Some("7"), mark + 1),
        );
        let (other_user, anonymous) = (cookie_of(Some("8"), mark - 1), cookie_of(None, mark - 1));
        for session in [&asking, &before, &same_second, &after, &other_user] {
            assert!(
                !list.is_ended_by_user(session).await.unwrap(),
                "no mark yet"
            );
        }
        let at = OffsetDateTime::from_unix_timestamp(mark).unwrap();
        list.end_user_sessions("7", Some(&asking.data), at, 3600)
            .await
            .unwrap();
        assert!(list.is_ended_by_user(&before).await.unwrap());
        assert!(
            list.is_ended_by_user(&same_second).await.unwrap(),
            "issued in the mark's second: ended, on the safe side"
        );
        assert!(
            !list.is_ended_by_user(&after).await.unwrap(),
            "a later login"
        );
        assert!(
            !list.is_ended_by_user(&asking).await.unwrap(),
            "the session that asked"
        );
        assert!(!list.is_ended_by_user(&other_user).await.unwrap());
        assert!(!list.is_ended_by_user(&anonymous).await.unwrap());

        // A second mark, from the later session, replaces the first: the one that asked first
        // is now another session.
        let later = OffsetDateTime::from_unix_timestamp(mark + 5).unwrap();
        list.end_user_sessions("7", Some(&after.data), later, 3600)
            .await
            .unwrap();
        assert!(list.is_ended_by_user(&asking).await.unwrap());
        assert!(!list.is_ended_by_user(&after).await.unwrap());
        // Without a session to keep, every cookie until the mark ends.
        list.end_user_sessions("7", None, later, 3600)
            .await
            .unwrap();
        assert!(list.is_ended_by_user(&after).await.unwrap());
    }

    #[tokio::test]
    async fn without_a_list_ending_a_users_sessions_is_an_error_not_nothing() {
        let off = CookieRevocations::default();
        let error = off
            .end_user_sessions("signed_cookies", "7", None, 3600)
            .await
            .unwrap_err();
        assert!(matches!(error, EngineError::Unsupported { .. }), "{error}");
        assert!(
            error.to_string().contains("SESSION_REVOCATION_URL"),
            "{error}"
        );
        let on = CookieRevocations::on(list());
        assert_eq!(
            on.end_user_sessions("signed_cookies", "7", None, 3600)
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn a_session_without_an_id_is_not_revoked_and_revoking_it_does_nothing() {
        let list = list();
        let plain = Data::from_iter([("user_id", JsonText::from(7))]);
        let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
        list.revoke(&plain, later).await.unwrap();
        assert!(!list.is_revoked(&plain).await.unwrap());
    }
}
