//! TLS to each store, against private servers started here with a CA made for the test
//! (never the shared services): with the right CA a session is saved and loaded; with another
//! CA, or against a server without TLS, `Sessions::open` fails naming the setting and the cause.

use std::time::Duration;

use sessionkit::{EngineKind, Sessions, Settings};
use sessionkit_testkit::{PrivateMariaDb, PrivatePostgres, PrivateRedis, RedisSentinel, TestCa};

/// Settings for `engine` on `url`, trusting `ca`'s CA.
fn settings(engine: EngineKind, url: String, ca: &TestCa) -> Settings {
    let settings = Settings {
        engine,
        store_ca_file: Some(ca.ca_file()),
        store_timeout: Duration::from_secs(2),
        ..Settings::new("tls-test-secret")
    };
    match engine {
        EngineKind::Cache => Settings {
            cache_url: url,
            ..settings
        },
        _ => Settings {
            db_url: url,
            ..settings
        },
    }
}

/// Opens sessions with `settings`, saves one and loads it back through a second request.
async fn save_and_load(settings: Settings) {
    let sessions = Sessions::open(settings).await.expect("open over TLS");
    sessions.engine().migrate().await.unwrap();
    let session = sessions.start(None).load().await.unwrap();
    session.insert("over", "tls").unwrap();
    let cookie = session.save().await.unwrap().expect("a cookie");
    let again = sessions.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(again.get::<String>("over").unwrap().as_deref(), Some("tls"));
}

/// The message `Sessions::open` fails with.
async fn open_error(settings: Settings) -> String {
    match Sessions::open(settings).await {
        Ok(_) => panic!("opened a store that should have been refused"),
        Err(error) => error.to_string(),
    }
}

/// Whether `message` blames the server's certificate for an issuer the CA file does not
/// hold, and points at the setting.
fn blames_the_certificate(message: &str) -> bool {
    message.contains("invalid peer certificate: UnknownIssuer")
        && message.contains("SESSION_STORE_CA_FILE")
}

/// What sqlx says when TLS is required and the server offers none.
const NO_TLS: &str = "server does not support TLS";

/// A PostgreSQL and MariaDB `sslmode` for each check: the CA and the host name verified.
const POSTGRES_VERIFY: &str = "sslmode=verify-full";
const MYSQL_VERIFY: &str = "ssl-mode=VERIFY_IDENTITY";

#[tokio::test]
async fn redis_over_tls_saves_and_loads_with_the_right_ca() {
    let ca = TestCa::new().unwrap();
    let redis = PrivateRedis::start_tls(&ca).unwrap();
    assert!(redis.url().starts_with("rediss://"));
    save_and_load(settings(EngineKind::Cache, redis.url(), &ca)).await;
}

#[tokio::test]
async fn redis_with_another_ca_fails_at_start_up_blaming_the_certificate() {
    let ca = TestCa::new().unwrap();
    let redis = PrivateRedis::start_tls(&ca).unwrap();
    let other = TestCa::new().unwrap();
    let message = open_error(settings(EngineKind::Cache, redis.url(), &other)).await;
    assert!(message.contains("SESSION_CACHE_URL"), "{message}");
    assert!(blames_the_certificate(&message), "{message}");
}

/// A plaintext Redis never answers a TLS handshake, so this takes the store timeout.
#[tokio::test]
async fn rediss_to_a_plaintext_redis_fails_at_start_up() {
    let ca = TestCa::new().unwrap();
    let plain = PrivateRedis::start().unwrap();
    let url = plain.url().replacen("redis://", "rediss://", 1);
    let message = open_error(settings(EngineKind::Cache, url, &ca)).await;
    assert!(message.contains("SESSION_CACHE_URL"), "{message}");
    assert!(message.contains("speak TLS"), "{message}");
}

/// A Sentinel setup where every node speaks only TLS and the data nodes require a password:
/// `rediss+sentinel://:PASSWORD@…` reaches the sentinels and the master they name over TLS and
/// authenticates to the master; with a wrong password the start fails naming the setting,
/// without printing the password.
#[tokio::test]
async fn redis_sentinel_over_tls_with_a_password_saves_and_loads() {
    let ca = TestCa::new().unwrap();
    let password = "s3cret-of-the-data-nodes";
    let setup = RedisSentinel::start_secured(&ca, password).unwrap();
    let url = setup.url();
    assert!(
        url.starts_with(&format!("rediss+sentinel://:{password}@")),
        "{url}"
    );
    save_and_load(settings(EngineKind::Cache, url.clone(), &ca)).await;

    let wrong = url.replacen(password, "not-the-password", 1);
    let message = open_error(settings(EngineKind::Cache, wrong, &ca)).await;
    assert!(message.contains("SESSION_CACHE_URL"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
    assert!(message.contains("authentication failed"), "{message}");
    let anonymous = url.replacen(&format!(":{password}@"), "", 1);
    let message = open_error(settings(EngineKind::Cache, anonymous, &ca)).await;
    assert!(message.contains("SESSION_CACHE_URL"), "{message}");
}

#[tokio::test]
async fn postgres_over_tls_saves_and_loads_with_the_right_ca() {
    let ca = TestCa::new().unwrap();
    let postgres = PrivatePostgres::start_tls(&ca).unwrap();
    let url = format!("{}?{POSTGRES_VERIFY}", postgres.url());
    save_and_load(settings(EngineKind::Db, url, &ca)).await;
}

#[tokio::test]
async fn postgres_with_another_ca_fails_at_start_up_naming_the_setting() {
    let ca = TestCa::new().unwrap();
    let postgres = PrivatePostgres::start_tls(&ca).unwrap();
    let other = TestCa::new().unwrap();
    let url = format!("{}?{POSTGRES_VERIFY}", postgres.url());
    let message = open_error(settings(EngineKind::Db, url, &other)).await;
    assert!(message.contains("SESSION_DB_URL"), "{message}");
    assert!(blames_the_certificate(&message), "{message}");
}

#[tokio::test]
async fn postgres_requiring_tls_from_a_plaintext_server_fails_at_start_up() {
    let ca = TestCa::new().unwrap();
    let plain = PrivatePostgres::start().unwrap();
    let url = format!("{}?sslmode=require", plain.url());
    let message = open_error(settings(EngineKind::Db, url, &ca)).await;
    assert!(message.contains("SESSION_DB_URL"), "{message}");
    assert!(message.contains(NO_TLS), "{message}");
}

#[tokio::test]
async fn mariadb_over_tls_saves_and_loads_with_the_right_ca() {
    let ca = TestCa::new().unwrap();
    let mariadb = PrivateMariaDb::start_tls(&ca).unwrap();
    let url = format!("{}?{MYSQL_VERIFY}", mariadb.url());
    save_and_load(settings(EngineKind::Db, url, &ca)).await;
}

#[tokio::test]
async fn mariadb_with_another_ca_fails_at_start_up_naming_the_setting() {
    let ca = TestCa::new().unwrap();
    let mariadb = PrivateMariaDb::start_tls(&ca).unwrap();
    let other = TestCa::new().unwrap();
    let url = format!("{}?{MYSQL_VERIFY}", mariadb.url());
    let message = open_error(settings(EngineKind::Db, url, &other)).await;
    assert!(message.contains("SESSION_DB_URL"), "{message}");
    assert!(blames_the_certificate(&message), "{message}");
}

#[tokio::test]
async fn mariadb_requiring_tls_from_a_plaintext_server_fails_at_start_up() {
    let ca = TestCa::new().unwrap();
    let plain = PrivateMariaDb::start().unwrap();
    let url = format!("{}?ssl-mode=REQUIRED", plain.url());
    let message = open_error(settings(EngineKind::Db, url, &ca)).await;
    assert!(message.contains("SESSION_DB_URL"), "{message}");
    assert!(message.contains(NO_TLS), "{message}");
}

#[tokio::test]
async fn a_ca_file_that_is_missing_or_not_pem_stops_the_start_naming_the_setting() {
    let ca = TestCa::new().unwrap();
    let with_ca_file = |path| Settings {
        store_ca_file: Some(path),
        ..settings(EngineKind::Cache, "rediss://127.0.0.1:1".into(), &ca)
    };
    let missing = open_error(with_ca_file(ca.ca_file().with_file_name("missing.pem"))).await;
    assert!(missing.starts_with("SESSION_STORE_CA_FILE: "), "{missing}");
    let a_key = open_error(with_ca_file(ca.key_file())).await;
    assert!(a_key.starts_with("SESSION_STORE_CA_FILE: "), "{a_key}");
    assert!(a_key.contains("no PEM certificate"), "{a_key}");
}
