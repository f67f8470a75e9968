//! Two `sessionkit serve` processes on one shared store, as two app instances behind a load
//! balancer: a session started on one is the same session on the other (issue 3 and 4).

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::support::{Browser, Server, TempDir, is_logged_in_as, log_in};

/// Starts two servers with `env`, each in a directory of its own (so nothing is shared but
/// the store and the secret).
fn two_servers(label: &str, env: &[(&str, &str)]) -> (TempDir, TempDir, Server, Server) {
    let (one, two) = (TempDir::new(label), TempDir::new(label));
    let first = Server::start(one.path(), env);
    let second = Server::start(two.path(), env);
    (one, two, first, second)
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &sessionkit::engine::SessionKey::generate().as_str()[..12]
    )
}

/// Logged in on one instance, browsing on the other; one counter across both.
fn one_session_across_both(first: &Server, second: &Server) {
    let mut browser = Browser::default();
    let login = log_in(&mut browser, first, "alice", "wonderland");
    assert!(login.status < 400, "{}", login.body);
    let page = browser.get(second, "/");
    assert!(
        is_logged_in_as(&page, "Alice"),
        "the second instance knows the login: {}",
        page.body
    );
    let counts: Vec<String> = [first, second, first, second]
        .iter()
        .map(|server| browser.get(server, "/bench/incr").body)
        .collect();
    assert_eq!(counts, ["1", "2", "3", "4"]);
}

#[test]
fn two_instances_on_one_postgres_table_share_sessions() {
    let table = unique("sk_test_");
    let env = [
        ("SECRET_KEY", "shared-between-instances"),
        ("SESSION_ENGINE", "db"),
        ("SESSION_DB_URL", "postgres://postgres@127.0.0.1:5432/test"),
        ("SESSION_DB_TABLE", table.as_str()),
    ];
    let (_one, _two, first, second) = two_servers("shared-postgres", &env);
    one_session_across_both(&first, &second);
    drop((first, second));
    drop_table(&table);
}

/// Runs `sql` on the shared PostgreSQL's `test` database and returns what it printed.
fn psql(sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-qtAc",
            sql,
        ])
        .output()
        .expect("psql");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

fn drop_table(table: &str) {
    psql(&format!("DROP TABLE {table}; DROP TABLE {table}_lock"));
}

/// Issue 20: two instances running the background expiry (`serve --expire-every`) on one
/// table share the work: every expired row is gone within two periods, live rows stay, and
/// neither logs an error or a warning.
#[test]
fn two_instances_expiring_one_postgres_table_clear_it_without_errors() {
    const PERIOD: u64 = 2;
    const EXPIRED: u32 = 20_000;
    let table = unique("sk_expiry_");
    let env = [
        ("SECRET_KEY", "shared-between-instances"),
        ("SESSION_ENGINE", "db"),
        ("SESSION_DB_URL", "postgres://postgres@127.0.0.1:5432/test"),
        ("SESSION_DB_TABLE", table.as_str()),
        ("RUST_LOG", "sessionkit=debug"),
    ];
    let (one, two) = (TempDir::new("expiry-a"), TempDir::new("expiry-b"));
    // The first start creates the table; then the store fills up while no one sweeps.
    drop(Server::start_with(
        one.path(),
        &env,
        &["--expire-every", "0"],
    ));
    let rows = |expires: &str, from: u32, to: u32| {
        format!(
            "INSERT INTO {table} (session_key_hash, session_data, expire_date, created_at, \
             version, user_id) SELECT md5(g::text) || md5((g + 1)::text), '{{}}', {expires}, 0, \
             1, NULL FROM generate_series({from}, {to}) g"
        )
    };
    let now = "extract(epoch from now())::bigint";
    psql(&rows(&format!("{now} - 60"), 1, EXPIRED));
    psql(&rows(&format!("{now} + 3600"), EXPIRED + 1, EXPIRED + 10));
    let expired = || {
        psql(&format!(
            "SELECT count(*) FROM {table} WHERE expire_date < {now}"
        ))
    };
    assert_eq!(expired(), EXPIRED.to_string());

    let every = PERIOD.to_string();
    let flags = ["--expire-every", every.as_str()];
    let first = Server::start_with(one.path(), &env, &flags);
    let second = Server::start_with(two.path(), &env, &flags);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2 * PERIOD);
    while expired() != "0" {
        assert!(Instant::now() < deadline, "{} expired rows left", expired());
        sleep(Duration::from_millis(100));
    }
    eprintln!("{EXPIRED} expired rows gone in {:?}", started.elapsed());
    sleep(Duration::from_secs(PERIOD)); // a further sweep each, on an empty table
    let live = psql(&format!("SELECT count(*) FROM {table}"));
    assert_eq!(live, "10", "live sessions stay");
    for server in [&first, &second] {
        let logs = server.logs();
        assert!(
            !logs
                .lines()
                .any(|line| line.contains("ERROR") || line.contains("WARN")),
            "{logs}"
        );
    }
    drop((first, second));
    drop_table(&table);
}

#[test]
fn two_instances_on_one_redis_share_sessions() {
    let prefix = unique("sk_test_") + ":";
    let env = [
        ("SECRET_KEY", "shared-between-instances"),
        ("SESSION_ENGINE", "cache"),
        ("SESSION_CACHE_URL", "redis://127.0.0.1:6379"),
        ("SESSION_CACHE_KEY_PREFIX", prefix.as_str()),
    ];
    let (_one, _two, first, second) = two_servers("shared-redis", &env);
    one_session_across_both(&first, &second);
    let deleted = std::process::Command::new("redis-cli")
        .args([
            "EVAL",
            "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
        ])
        .args(["0", &format!("{prefix}*")])
        .status()
        .expect("redis-cli");
    assert!(deleted.success());
}
