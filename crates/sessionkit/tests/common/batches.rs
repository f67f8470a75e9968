//! Loads and updates that wait together, on a store that sends them in batches (PostgreSQL,
//! MariaDB, SQLite): each still gets its own answer. Shared by `sql_batches.rs` and
//! `sqlite_pools.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use sessionkit::engine::{Data, Loaded, RecordStore, RecordWrite, SessionKey};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

/// The sessions a test loads: 30 live ones (the `n`-th holds `{"n": n}`), one expired, and
/// one key never stored.
pub struct Stored {
    live: Vec<String>,
    expired: String,
    missing: String,
}

/// Stores the sessions in `store`.
pub async fn store_sessions(store: &dyn RecordStore) -> Stored {
    let now = OffsetDateTime::now_utc();
    let live: Vec<String> = (0..30).map(|_| SessionKey::generate().hashed()).collect();
    for (n, id) in live.iter().enumerate() {
        let data = Arc::new(Data::from_json(&format!(r#"{{"n":{n}}}"#)).unwrap());
        let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
        assert!(store.insert(id, write).await.unwrap());
    }
    let expired = SessionKey::generate().hashed();
    let empty = Arc::new(Data::new());
    let write = RecordWrite::new(&empty, now - time::Duration::hours(1), now);
    assert!(store.insert(&expired, write).await.unwrap());
    Stored {
        live,
        expired,
        missing: SessionKey::generate().hashed(),
    }
}

/// One load of a key and what it found.
pub type Load = JoinHandle<(String, Option<Loaded>)>;

/// Starts two loads of each of the sessions' keys at once: 64 loads.
pub fn load_each_twice(store: &Arc<dyn RecordStore>, stored: &Stored) -> Vec<Load> {
    let keys = stored.live.iter().chain([&stored.expired, &stored.missing]);
    keys.clone()
        .chain(keys)
        .map(|id| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                let loaded = store.fetch(&id).await.unwrap();
                (id, loaded)
            })
        })
        .collect()
}

/// Each load found its own session, and none an expired or missing one.
pub async fn each_found_its_own(loads: Vec<Load>, stored: &Stored) {
    for load in loads {
        let (id, loaded) = load.await.unwrap();
        match stored.live.iter().position(|live| *live == id) {
            Some(n) => {
                let loaded = loaded.expect("a live session loads");
                assert_eq!(loaded.version, 1);
                assert_eq!(loaded.data.to_json(), format!(r#"{{"n":{n}}}"#));
            }
            None => assert!(loaded.is_none(), "an expired or missing session loaded"),
        }
    }
}

/// One save of a key at version 1 and its outcome: the key, the writer's number, whether it
/// won.
pub type Save = JoinHandle<(String, usize, bool)>;

/// Starts two saves of each of `ids` at once, all at version 1, the `n`-th writing
/// `{"writer": n}`; a save refused as stale checks [`stale_after_the_winner`].
pub fn save_each_twice(store: &Arc<dyn RecordStore>, ids: &[String]) -> Vec<Save> {
    let now = OffsetDateTime::now_utc();
    ids.iter()
        .chain(ids)
        .enumerate()
        .map(|(n, id)| {
            let (store, id) = (store.clone(), id.clone());
            let written = Arc::new(Data::from_json(&format!(r#"{{"writer":{n}}}"#)).unwrap());
            tokio::spawn(async move {
                let write = RecordWrite::new(&written, now + time::Duration::hours(1), now);
                let replaced = store.replace(&id, 1, write).await.unwrap();
                if !replaced {
                    stale_after_the_winner(&*store, &id).await;
                }
                (id, n, replaced)
            })
        })
        .collect()
}

/// Each key of `ids` had exactly one winning save, whose data `store` now holds at version 2.
pub async fn one_winner_each(store: &dyn RecordStore, saves: Vec<Save>, ids: &[String]) {
    let mut winners = HashMap::new();
    for save in saves {
        let (id, n, replaced) = save.await.unwrap();
        if replaced {
            assert!(
                winners.insert(id, n).is_none(),
                "two saves won at version 1"
            );
        }
    }
    assert_eq!(winners.len(), ids.len(), "each key has one winner");
    for (id, n) in &winners {
        let stored = store.fetch(id).await.unwrap();
        let stored = stored.expect("the session is there");
        assert_eq!(stored.version, 2);
        assert_eq!(stored.data.to_json(), format!(r#"{{"writer":{n}}}"#));
    }
}

/// Checks a save of `id` at version 1 refused as stale where two waited together: the batch
/// sent only the first, and the second's answer came after it, so a reload finds the row at
/// version 2 (answered before it, the save would reload the old row and try again in vain).
pub async fn stale_after_the_winner(store: &dyn RecordStore, id: &str) {
    let stored = store
        .fetch(id)
        .await
        .unwrap()
        .expect("the session is there");
    assert_eq!(
        stored.version, 2,
        "a stale answer came before the winning write"
    );
}
