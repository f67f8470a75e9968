//! Loads and updates that wait together, on a store that sends them in batches (PostgreSQL,
//! MariaDB, SQLite): each still gets its own answer. Shared by `sql_batches.rs` and
//! `sqlite_pools.rs`.

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
