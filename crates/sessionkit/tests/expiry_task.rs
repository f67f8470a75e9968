//! Expiry that runs itself (`Sessions::spawn_expiry`): expired sessions go within a couple of
//! periods, live ones stay, and two app instances sweeping one store at once share the work
//! without a single failure. Against the real PostgreSQL (docs/DESIGN.md §9) and a directory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessionkit::engine::SessionKey;
use sessionkit::engine::{ChangeSet, Data, JsonText, SaveRequest};
use sessionkit::{EngineKind, Sessions, Settings};
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const EXPIRED: usize = 600;
const LIVE: usize = 20;
const PERIOD: Duration = Duration::from_millis(300);

/// Saves `count` sessions through the engine as if saved at `saved_at`, an hour-long age each;
/// returns their cookie values.
async fn save_sessions(sessions: &Sessions, count: usize, saved_at: OffsetDateTime) -> Vec<String> {
    let data = Arc::new(Data::from_iter([("n", JsonText::from(1))]));
    let mut cookies = Vec::with_capacity(count);
    for _ in 0..count {
        let saved = sessions
            .engine()
            .save(SaveRequest {
                previous: None,
                data: &data,
                changes: &ChangeSet::default(),
                now: saved_at,
                cookie_age: 3600,
            })
            .await
            .expect("the store saves");
        cookies.push(saved.cookie_value);
    }
    cookies
}

/// Waits until `remaining()` is `want`, for at most `periods` periods; panics with the count.
async fn wait_for<F, Fut>(want: usize, periods: u32, remaining: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = usize>,
{
    let deadline = Instant::now() + PERIOD * periods;
    loop {
        let left = remaining().await;
        if left == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} records left, {want} expected, after {periods} periods"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two instances, each with its own pool and its own background expiry, on one table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sweeping_one_postgres_table_remove_every_expired_row_without_failing() {
    let table = format!("sk_expiry_{}", SessionKey::generate().as_str());
    let settings = Settings {
        engine: EngineKind::Db,
        db_url: POSTGRES_URL.to_owned(),
        db_table: table.clone(),
        ..Settings::new("secret")
    };
    let first = Sessions::open(settings.clone())
        .await
        .expect("PostgreSQL is running");
    let second = Sessions::open(settings)
        .await
        .expect("PostgreSQL is running");
    first.engine().migrate().await.expect("create the table");
    let hours_ago = OffsetDateTime::now_utc() - time::Duration::hours(2);
    save_sessions(&first, EXPIRED, hours_ago).await;
    let live = save_sessions(&second, LIVE, OffsetDateTime::now_utc()).await;

    let pool = sqlx::PgPool::connect(POSTGRES_URL)
        .await
        .expect("PostgreSQL is running");
    let rows = || async {
        let count = format!("SELECT COUNT(*) FROM {table}");
        let row = sqlx::query(AssertSqlSafe(count))
            .fetch_one(&pool)
            .await
            .expect("count");
        usize::try_from(row.get::<i64, _>(0)).expect("a count")
    };
    assert_eq!(rows().await, EXPIRED + LIVE);

    let sweeping = [first.spawn_expiry(PERIOD), second.spawn_expiry(PERIOD)];
    // The first sweep of each starts within one period; a couple more for a loaded machine.
    wait_for(LIVE, 4, rows).await;
    for cookie in &live {
        assert!(
            first.engine().exists(cookie).await.unwrap(),
            "a live session survives"
        );
    }
    let stats = sweeping.map(|task| task.stats());
    assert_eq!(
        stats.iter().map(|s| s.failures).sum::<u64>(),
        0,
        "{stats:?}"
    );
    assert_eq!(
        stats.iter().map(|s| s.removed).sum::<u64>(),
        EXPIRED as u64,
        "each expired row removed once, by one instance or the other: {stats:?}"
    );

    sqlx::query(AssertSqlSafe(format!("DROP TABLE {table}, {table}_lock")))
        .execute(&pool)
        .await
        .expect("drop the test table");
}

#[tokio::test]
async fn expired_session_files_are_removed_and_live_ones_kept() {
    let dir = std::env::temp_dir().join(format!("sk-expiry-{}", SessionKey::generate().as_str()));
    std::fs::create_dir(&dir).expect("a temporary directory");
    let sessions = Sessions::builder("secret")
        .engine(EngineKind::File)
        .file_path(&dir)
        .open()
        .await
        .expect("a directory needs no server");
    let hours_ago = OffsetDateTime::now_utc() - time::Duration::hours(2);
    save_sessions(&sessions, 50, hours_ago).await;
    let live = save_sessions(&sessions, 5, OffsetDateTime::now_utc()).await;
    let files = || async {
        std::fs::read_dir(&dir)
            .expect("the directory")
            .filter(|entry| {
                let name = entry.as_ref().expect("an entry").file_name();
                name.to_string_lossy().starts_with("sessionkit_")
            })
            .count()
    };
    assert_eq!(files().await, 55);

    let expiry = sessions.spawn_expiry(PERIOD);
    wait_for(5, 4, files).await;
    for cookie in &live {
        assert!(sessions.engine().exists(cookie).await.unwrap());
    }
    assert_eq!((expiry.stats().removed, expiry.stats().failures), (50, 0));
    expiry.stop();
    std::fs::remove_dir_all(&dir).expect("remove the temporary directory");
}
