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

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::store::{Addressing, RecordStore, RecordWrite};
use super::{Data, EngineError, JsonText, SaveRequest};
use crate::key::SessionKey;

/// The session data key holding a cookie session's id, which the revocation list records.
pub const SESSION_ID_KEY: &str = "_session_id";

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

    /// Whether the session holding `data`, read from a valid cookie, was logged out.
    pub(crate) async fn refuses(&self, data: &Data) -> Result<bool, EngineError> {
        let Some(list) = &self.0 else {
            return Ok(false);
        };
        let revoked = list.is_revoked(data).await?;
        if revoked {
            tracing::info!("ignoring the cookie of a session that was logged out");
        }
        Ok(revoked)
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
        verified: impl FnOnce() -> Option<(Data, OffsetDateTime)>,
    ) -> Result<(), EngineError> {
        match (&self.0, verified()) {
            (Some(list), Some((data, expires))) => list.revoke(&data, expires).await,
            _ => Ok(()),
        }
    }
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

    #[tokio::test]
    async fn a_session_without_an_id_is_not_revoked_and_revoking_it_does_nothing() {
        let list = list();
        let plain = Data::from_iter([("user_id", JsonText::from(7))]);
        let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
        list.revoke(&plain, later).await.unwrap();
        assert!(!list.is_revoked(&plain).await.unwrap());
    }
}
