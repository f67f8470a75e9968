//! Two `sessionkit serve` processes on one shared store, as two app instances behind a load
//! balancer: a session started on one is the same session on the other (issue 3 and 4).

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
    let dropped = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"])
        .arg(format!("DROP TABLE {table}; DROP TABLE {table}_lock"))
        .status()
        .expect("psql");
    assert!(dropped.success());
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
