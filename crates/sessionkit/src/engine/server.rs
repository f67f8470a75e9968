//! What every server-side engine shares: keys in the cookie, records in a store.
//!
//! Each storage kind implements the few record operations of [`RecordStore`] (fetch, insert if
//! absent, replace if unchanged, remove, purge, scan). [`ServerEngine`] turns any of them into
//! an [`Engine`] with one implementation of the parts that must not differ between stores:
//! key validation, hashing keys at rest, collision-free creation, the save that merges this
//! request's changes into a record another request updated meanwhile — never resurrecting one
//! that was deleted, and in one write for all of this instance's requests that lost the same
//! race ([`lines`]) — and the export and import that copy sessions between stores.

mod lines;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::Instrument;

use super::store::{Address, Addressing, Capabilities, RecordStore, RecordWrite, is_key_hash};
use super::{
    Engine, EngineError, ExportPage, ExportedSession, ImportOutcome, Loaded, SaveRequest, Saved,
    UserSession,
};
use crate::expiry::expiry_date;
use crate::key::SessionKey;
use crate::telemetry;
use lines::{Answer, Lines, Serving, Waiter};

/// How often the merged saves of one session are written again after losing a race to another
/// instance before they give up.
const MAX_SAVE_ATTEMPTS: u32 = 64;
/// How many fresh keys a create tries before deciding something is badly wrong.
const MAX_KEY_ATTEMPTS: u32 = 8;

/// A random pause before retry `attempt` of a save: up to 100 µs × 2^attempt, at most ~26 ms.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64 << attempt.min(8);
    let jitter = u64::from(getrandom::u32().unwrap_or(0)) % ceiling;
    Duration::from_micros(jitter)
}

/// A server-side engine over a [`RecordStore`] (a concrete one, or a `dyn Cache`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use sessionkit::engine::{MemoryStore, ServerEngine};
/// use sessionkit::{Sessions, Settings};
///
/// // Any RecordStore becomes an engine: keys, hashing, merging saves come with it.
/// let engine = ServerEngine::new(MemoryStore::new(1000), Duration::from_secs(5));
/// let sessions = Sessions::new(Arc::new(engine), Settings::new("secret"))?;
/// let session = sessions.start(None).load().await?;
/// session.insert("n", 1)?;
/// let cookie = session.save().await?.unwrap();
/// assert!(sessions.engine().exists(&cookie).await?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ServerEngine<S: ?Sized> {
    store: Arc<S>,
    timeout: Duration,
    /// Saves that lost a race, waiting to be merged; shared by the engine's clones.
    lines: Arc<Lines>,
}

impl<S: ?Sized> Clone for ServerEngine<S> {
    fn clone(&self) -> Self {
        ServerEngine {
            store: self.store.clone(),
            timeout: self.timeout,
            lines: self.lines.clone(),
        }
    }
}

impl<S: RecordStore> ServerEngine<S> {
    /// An engine storing records in `store`; any store operation taking longer than `timeout`
    /// (`SESSION_STORE_TIMEOUT`) fails as unavailable, so requests get a 503, not a hang.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionkit::engine::{FileStore, ServerEngine};
    /// use sessionkit::engine::Engine;
    ///
    /// let store = FileStore::new(std::env::temp_dir());
    /// let engine = ServerEngine::new(store, Duration::from_secs(2));
    /// assert_eq!(engine.name(), "file");
    /// assert!(engine.accepts("abcdefgh12345678"));
    /// assert!(!engine.accepts("abc/../../x")); // never a path
    /// ```
    pub fn new(store: S, timeout: Duration) -> Self {
        ServerEngine::shared(Arc::new(store), timeout)
    }
}

impl<S: RecordStore + ?Sized> ServerEngine<S> {
    /// Like [`ServerEngine::new`], for a store that is shared or unsized (`Arc<dyn Cache>`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::{sync::Arc, time::Duration};
    /// use sessionkit::engine::{Cache, MemoryStore, ServerEngine};
    /// use sessionkit::engine::Engine;
    ///
    /// let cache: Arc<dyn Cache> = Arc::new(MemoryStore::new(100));
    /// let engine = ServerEngine::shared(cache.clone(), Duration::from_secs(5));
    /// assert!(!engine.exists("abcdefgh12345678").await?);
    /// assert_eq!(Arc::strong_count(&cache), 2); // one store, two owners
    /// # Ok(()) }
    /// ```
    pub fn shared(store: Arc<S>, timeout: Duration) -> Self {
        ServerEngine {
            store,
            timeout,
            lines: Arc::default(),
        }
    }

    /// The record store.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionkit::engine::{MemoryStore, ServerEngine};
    ///
    /// let engine = ServerEngine::new(MemoryStore::new(100), Duration::from_secs(5));
    /// assert!(engine.store().is_empty());
    /// ```
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where the record of `cookie_value` lives, if the value is a well-formed key.
    fn address_of<'c>(&self, cookie_value: &'c str) -> Option<Address<'c>> {
        self.store.addressing().of_cookie(cookie_value)
    }

    /// Runs one store operation within the timeout, in a `session_store` span (store,
    /// operation, and the error if it failed; never the key) when a subscriber wants it.
    async fn bounded<T>(
        &self,
        op: &'static str,
        operation: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let span = tracing::debug_span!(
            "session_store",
            store = self.store.name(),
            op,
            error = tracing::field::Empty
        );
        let timed = async {
            if self.store.in_process() {
                return operation.await;
            }
            tokio::time::timeout(self.timeout, operation)
                .await
                .unwrap_or_else(|_| {
                    Err(EngineError::unavailable(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the session store did not answer within {:?}", self.timeout),
                    )))
                })
        };
        let timer = telemetry::CallTimer::start();
        let result = if span.is_disabled() {
            timed.await
        } else {
            let result = timed.instrument(span.clone()).await;
            if let Err(error) = &result {
                span.record("error", tracing::field::display(error));
            }
            result
        };
        telemetry::store_call(
            self.store.name(),
            op,
            timer,
            result.as_ref().err().map(EngineError::kind),
        );
        result
    }

    /// Inserts under fresh keys until one is free, so no existing record is overwritten.
    async fn create(&self, request: &SaveRequest<'_>) -> Result<Saved, EngineError> {
        let expires = request.expiry_date(request.data);
        for _ in 0..MAX_KEY_ATTEMPTS {
            let key = SessionKey::generate();
            if self
                .bounded(
                    "insert",
                    self.store.insert(
                        &self.store.address(&key),
                        RecordWrite::new(request.data, expires, request.now),
                    ),
                )
                .await?
            {
                return Ok(Saved {
                    cookie_value: key.as_str().to_owned(),
                    version: 1,
                });
            }
            tracing::warn!(
                engine = self.store.name(),
                "session key collision; drawing another"
            );
        }
        Err(EngineError::unavailable(std::io::Error::other(
            "could not find an unused session key",
        )))
    }

    /// Serves the line of saves of `id` until nobody waits in it: each group that gathered
    /// meanwhile is merged and written once, and every save in it gets that write's answer.
    /// When the store failed, the saves that queued meanwhile get the same answer at once:
    /// each group would otherwise wait out a timeout of its own after the one before.
    async fn serve_line(self, mut line: Serving) {
        while let Some(mut group) = line.next_group() {
            let answer = self.merge_group(line.id(), &group).await;
            if let Err(EngineError::Unavailable(_)) = answer {
                group.append(&mut line.queued());
            }
            for waiter in group {
                waiter.answer(&answer);
            }
        }
    }

    /// Applies each save's changes, in order, to the record as it is now, and writes the result
    /// if nothing changed it meanwhile; another instance's write sends it round again. A
    /// record deleted meanwhile stays deleted. The answer is the version replaced.
    async fn merge_group(&self, id: &str, group: &[Waiter]) -> Answer {
        // A line hands out no empty group; an empty one would have nothing to write.
        let Some(last) = group.last() else {
            return Err(EngineError::Conflict { attempts: 0 });
        };
        for attempt in 0..MAX_SAVE_ATTEMPTS {
            if attempt > 0 {
                // Instances that collided would collide again if they retried in step.
                tokio::time::sleep(backoff(attempt)).await;
            }
            let Some(fresh) = self.bounded("fetch", self.store.fetch(id)).await? else {
                return Err(EngineError::Gone);
            };
            let mut merged = fresh.data;
            let data = Arc::make_mut(&mut merged);
            for waiter in group {
                waiter.changes.apply_to(data, &waiter.data);
            }
            let expires = expiry_date(&merged, last.now, last.cookie_age);
            let write = RecordWrite::new(&merged, expires, last.now);
            let replaced = self.store.replace(id, fresh.version, write);
            if self.bounded("replace", replaced).await? {
                return Ok(fresh.version);
            }
        }
        Err(EngineError::Conflict {
            attempts: MAX_SAVE_ATTEMPTS,
        })
    }
}

#[async_trait]
impl<S: RecordStore + ?Sized> Engine for ServerEngine<S> {
    fn name(&self) -> &'static str {
        self.store.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        SessionKey::is_well_formed(cookie_value)
    }

    async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded("fetch", self.store.fetch(id.as_str())).await,
            None => Ok(None),
        }
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Saved, EngineError> {
        let Some(previous) = request.previous else {
            return self.create(&request).await;
        };
        // Only well-formed keys are ever loaded, so a bad one here cannot name a live record;
        // Gone (rather than a fresh record) keeps "no resurrection" true for any caller.
        let address = self
            .address_of(previous.cookie_value)
            .ok_or(EngineError::Gone)?;
        let id = address.as_str();
        let saved = |version: i64| Saved {
            cookie_value: previous.cookie_value.to_owned(),
            version: version + 1,
        };
        // While this instance's saves of the record are in line, the version read earlier is
        // almost surely stale: skip the write that would only lose.
        if !self.lines.has_line(id) {
            let expires = request.expiry_date(request.data);
            let write = RecordWrite::new(request.data, expires, request.now);
            let replaced = self.store.replace(id, previous.version, write);
            if self.bounded("replace", replaced).await? {
                return Ok(saved(previous.version));
            }
        }
        // Another request saved first: apply this request's changes on top of what it wrote,
        // in one write with every other request of this instance that lost the same race.
        tracing::debug!("session changed meanwhile; merging this request's changes");
        telemetry::save_merged(self.store.name());
        let (waiter, answered) = Waiter::of(&request);
        if let Some(line) = self.lines.join(id, waiter) {
            // A task of its own, so that a request dropped half-way strands no one behind it;
            // its store calls are traced under the request that opened the line.
            tokio::spawn(self.clone().serve_line(line).in_current_span());
        }
        let answer = answered.await.unwrap_or_else(|_| {
            Err(EngineError::unavailable(std::io::Error::other(
                "the merge of this save stopped before it was written",
            )))
        });
        if let Err(EngineError::Conflict { .. }) = answer {
            telemetry::save_conflict(self.store.name());
        }
        answer.map(saved)
    }

    async fn delete(&self, cookie_value: &str) -> Result<(), EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded("remove", self.store.remove(id.as_str())).await,
            None => Ok(()),
        }
    }

    async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => {
                self.bounded("contains", self.store.contains(id.as_str()))
                    .await
            }
            None => Ok(false),
        }
    }

    async fn clear_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.bounded("purge_expired", self.store.purge_expired(batch.max(1)))
            .await
    }

    async fn count_expired(&self) -> Result<Option<u64>, EngineError> {
        self.bounded("count_expired", self.store.count_expired())
            .await
    }

    async fn migrate(&self) -> Result<(), EngineError> {
        self.store.migrate().await
    }

    async fn try_lock(
        &self,
        cookie_value: &str,
        token: &str,
        lease: Duration,
    ) -> Result<bool, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => {
                self.bounded("try_lock", self.store.try_lock(id.as_str(), token, lease))
                    .await
            }
            None => Ok(true),
        }
    }

    async fn unlock(&self, cookie_value: &str, token: &str) -> Result<(), EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => {
                self.bounded("unlock", self.store.unlock(id.as_str(), token))
                    .await
            }
            None => Ok(()),
        }
    }

    async fn user_sessions(
        &self,
        user_id: &str,
        current_cookie: Option<&str>,
    ) -> Result<Vec<UserSession>, EngineError> {
        let current = current_cookie.and_then(|cookie| self.address_of(cookie));
        let current = current.as_ref().map(Address::as_str);
        let mut sessions: Vec<UserSession> = self
            .bounded("by_user", self.store.by_user(user_id))
            .await?
            .into_iter()
            .map(|stored| UserSession {
                current: current == Some(stored.id.as_str()),
                id: stored.id[..16].to_owned(),
                data: Arc::unwrap_or_clone(stored.record.data),
                expires: stored.expires,
            })
            .collect();
        sessions.sort_by(|a, b| b.current.cmp(&a.current).then(b.expires.cmp(&a.expires)));
        Ok(sessions)
    }

    /// The page as the store lists it, with each record's key where the store holds it
    /// ([`Addressing::Plain`]): the address *is* the key there, and only a well-formed key is
    /// one a cookie could carry.
    async fn export(
        &self,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<ExportPage, EngineError> {
        let page = self
            .bounded("scan", self.store.scan(cursor, limit.max(1)))
            .await?;
        let addressing = self.store.addressing();
        let sessions = page
            .records
            .into_iter()
            .map(|stored| ExportedSession {
                key: match addressing {
                    Addressing::Plain => SessionKey::parse(&stored.id),
                    Addressing::Hashed => None,
                },
                address: stored.id,
                data: Arc::unwrap_or_clone(stored.record.data),
                expires: stored.expires,
            })
            .collect();
        Ok(ExportPage {
            sessions,
            unreadable: page.unreadable,
            next: page.next,
        })
    }

    /// Finds the session's address here — from its key when known, else the source's address,
    /// which is the key's hash and so right for a store addressed by hash — and inserts it
    /// if absent, the same insert that makes creation collision-free. A store addressed by
    /// plain keys (Django's table) cannot use a hash: that is [`ImportOutcome::KeyUnknown`],
    /// never a record no cookie could ever find.
    async fn import(&self, session: &ExportedSession) -> Result<ImportOutcome, EngineError> {
        let now = OffsetDateTime::now_utc();
        if session.expires <= now {
            return Ok(ImportOutcome::Expired);
        }
        let address = match (&session.key, self.store.addressing()) {
            (Some(key), addressing) => addressing.of(key),
            (None, Addressing::Hashed) if is_key_hash(&session.address) => session.address.clone(),
            (None, _) => return Ok(ImportOutcome::KeyUnknown),
        };
        let data = Arc::new(session.data.clone());
        let inserted = self
            .bounded(
                "insert",
                self.store
                    .insert(&address, RecordWrite::new(&data, session.expires, now)),
            )
            .await?;
        Ok(if inserted {
            ImportOutcome::Copied
        } else {
            ImportOutcome::AlreadyPresent
        })
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep_cookie: Option<&str>,
    ) -> Result<u64, EngineError> {
        let keep = keep_cookie.and_then(|cookie| self.address_of(cookie));
        let keep = keep.as_ref().map(Address::as_str);
        let mut ended = 0;
        for stored in self.bounded("by_user", self.store.by_user(user_id)).await? {
            if keep != Some(stored.id.as_str()) {
                self.bounded("remove", self.store.remove(&stored.id))
                    .await?;
                ended += 1;
            }
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::engine::{ChangeSet, Data, JsonText, MemoryStore, Previous};

    const SAVES: i64 = 32;
    const TIMEOUT: Duration = Duration::from_secs(5);

    fn engine() -> ServerEngine<MemoryStore> {
        ServerEngine::new(MemoryStore::new(100), TIMEOUT)
    }

    /// A session saved once (version 1), and the data it holds.
    async fn created<S: RecordStore + ?Sized>(engine: &ServerEngine<S>) -> (String, Arc<Data>) {
        let (data, changes) = (Arc::new(Data::new()), ChangeSet::default());
        let request = SaveRequest {
            previous: None,
            data: &data,
            changes: &changes,
            now: OffsetDateTime::now_utc(),
            cookie_age: 60,
        };
        let cookie = engine.save(request).await.unwrap().cookie_value;
        (cookie, data)
    }

    /// Saves spawned at once, one per `keys`, each setting its own key `k{i}` on the data of
    /// version 1.
    fn racing_saves<S: RecordStore + ?Sized>(
        engine: &ServerEngine<S>,
        cookie: &str,
        loaded: &Arc<Data>,
        keys: Range<i64>,
    ) -> Vec<tokio::task::JoinHandle<Result<Saved, EngineError>>> {
        keys.map(|i| {
            let (engine, cookie, mut data) = (engine.clone(), cookie.to_owned(), loaded.clone());
            tokio::spawn(async move {
                let key = format!("k{i}");
                Arc::make_mut(&mut data).insert(&key, JsonText::from(i));
                let mut changes = ChangeSet::default();
                changes.set(&key);
                let previous = Previous {
                    cookie_value: &cookie,
                    version: 1,
                };
                let request = SaveRequest {
                    previous: Some(previous),
                    data: &data,
                    changes: &changes,
                    now: OffsetDateTime::now_utc(),
                    cookie_age: 60,
                };
                engine.save(request).await
            })
        })
        .collect()
    }

    /// The record as stored, having checked that it holds every key `k0`… of `SAVES`.
    async fn holding_every_key<S: RecordStore + ?Sized>(
        engine: &ServerEngine<S>,
        cookie: &str,
    ) -> Loaded {
        let stored = engine.load(cookie).await.unwrap().unwrap();
        for i in 0..SAVES {
            assert_eq!(stored.data.get(&format!("k{i}")), Some(&JsonText::from(i)));
        }
        stored
    }

    /// On one thread the order is fixed: the first save writes version 2; the other 31 lose,
    /// wait in line and are written together as version 3, each with its own key. Saved one
    /// by one, as before the line, they made versions 3 to 33.
    #[tokio::test(flavor = "current_thread")]
    async fn saves_that_lost_the_same_race_are_merged_in_one_write() {
        let engine = engine();
        let (cookie, loaded) = created(&engine).await;
        let mut versions = Vec::new();
        for save in racing_saves(&engine, &cookie, &loaded, 0..SAVES) {
            let saved = save.await.unwrap().unwrap();
            assert_eq!(saved.cookie_value, cookie);
            versions.push(saved.version);
        }
        assert_eq!(versions[0], 2);
        assert!(versions[1..].iter().all(|&v| v == 3), "{versions:?}");
        assert_eq!(holding_every_key(&engine, &cookie).await.version, 3);
        let address = engine.address_of(&cookie).unwrap();
        assert!(!engine.lines.has_line(address.as_str()), "closed");
    }

    /// Saves in line for a session that was deleted are all refused; none brings it back.
    #[tokio::test(flavor = "current_thread")]
    async fn saves_in_line_for_a_deleted_session_are_all_gone() {
        let engine = engine();
        let (cookie, loaded) = created(&engine).await;
        engine.delete(&cookie).await.unwrap();
        for save in racing_saves(&engine, &cookie, &loaded, 0..SAVES) {
            assert!(matches!(save.await.unwrap(), Err(EngineError::Gone)));
        }
        assert!(engine.load(&cookie).await.unwrap().is_none());
    }

    /// Saves keep their answers on a runtime with several threads too, where the order of
    /// arrival is not fixed: every save succeeds, and every key is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_racing_save_is_kept_on_several_threads() {
        let engine = engine();
        let (cookie, loaded) = created(&engine).await;
        for save in racing_saves(&engine, &cookie, &loaded, 0..SAVES) {
            save.await.unwrap().unwrap();
        }
        let stored = holding_every_key(&engine, &cookie).await;
        assert!(stored.version <= SAVES + 1, "{}", stored.version);
    }

    /// How [`Remote`]'s reads answer.
    enum Reads {
        /// Letting other tasks run between reading the record and answering, as a store across
        /// a network does, so two instances' merges can read the same version.
        Interleaved,
        /// Never, as a hung server's.
        Never,
    }

    /// The memory store, read as a store on another machine would be; it counts the writes it
    /// refused.
    struct Remote {
        store: MemoryStore,
        reads: Reads,
        refused: AtomicUsize,
    }

    impl Remote {
        fn new(reads: Reads) -> Self {
            let (store, refused) = (MemoryStore::new(100), AtomicUsize::new(0));
            Remote {
                store,
                reads,
                refused,
            }
        }
    }

    #[async_trait]
    impl RecordStore for Remote {
        async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
            if let Reads::Never = self.reads {
                std::future::pending::<()>().await;
            }
            let found = self.store.fetch(id).await;
            tokio::task::yield_now().await;
            found
        }
        async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
            self.store.insert(id, write).await
        }
        async fn replace(
            &self,
            id: &str,
            version: i64,
            write: RecordWrite<'_>,
        ) -> Result<bool, EngineError> {
            let replaced = self.store.replace(id, version, write).await;
            if let Ok(false) = replaced {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            replaced
        }
        async fn remove(&self, id: &str) -> Result<(), EngineError> {
            self.store.remove(id).await
        }
        async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
            self.store.purge_expired(batch).await
        }
    }

    /// When the store hangs, the saves that queued behind a group get its 503 when it times
    /// out, not after a timeout of their own (which made them wait twice as long).
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn saves_queued_behind_a_write_the_store_failed_fail_with_it() {
        let engine = ServerEngine::new(Remote::new(Reads::Never), TIMEOUT);
        let (cookie, loaded) = created(&engine).await;
        for save in racing_saves(&engine, &cookie, &loaded, SAVES..SAVES + 1) {
            assert_eq!(
                save.await.unwrap().unwrap().version,
                2,
                "written without a read"
            );
        }
        let started = tokio::time::Instant::now();
        let mut saves = racing_saves(&engine, &cookie, &loaded, 0..SAVES / 2);
        // The saves lose their own writes and line up, and the line's read starts (and hangs).
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        saves.extend(racing_saves(&engine, &cookie, &loaded, SAVES / 2..SAVES));
        for save in saves {
            let answer = save.await.unwrap();
            assert!(
                matches!(answer, Err(EngineError::Unavailable(_))),
                "{answer:?}"
            );
            assert_eq!(started.elapsed(), TIMEOUT);
        }
    }

    /// Two instances on one store, each with its own line: both lines read version 2, the
    /// first writes version 3, and the second, refused, reads again and writes version 4 on
    /// top of it. Every save of both succeeds and every key is kept; before the line, each
    /// save wrote on its own (versions up to 33).
    #[tokio::test(flavor = "current_thread")]
    async fn lines_of_two_instances_that_collide_write_again_and_lose_nothing() {
        let store = Arc::new(Remote::new(Reads::Interleaved));
        let first = ServerEngine::shared(store.clone(), TIMEOUT);
        let second = ServerEngine::shared(store.clone(), TIMEOUT);
        let (cookie, loaded) = created(&first).await;
        let half = SAVES / 2;
        let mut saves = racing_saves(&first, &cookie, &loaded, 0..half);
        saves.extend(racing_saves(&second, &cookie, &loaded, half..SAVES));
        for save in saves {
            save.await.unwrap().unwrap();
        }
        assert_eq!(holding_every_key(&first, &cookie).await.version, 4);
        // Each line's first save tried alone and lost (the others saw the line and joined it
        // without trying), and the second line's first write lost to the first's.
        assert_eq!(store.refused.load(Ordering::Relaxed), 3);
    }
}
