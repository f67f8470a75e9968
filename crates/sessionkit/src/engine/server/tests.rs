//! `ServerEngine`'s saves: merged when they lose a race, on one instance and across two, and
//! answered when the store fails.

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
