//! `sessionkit stats` on a store whose contents the test made: sessions counted, logged in or
//! anonymous, expired ones still stored, and the users with the most sessions.

use std::thread::sleep;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Browser, Run, Server, TempDir, log_in, sessionkit};

#[test]
fn stats_counts_live_sessions_by_user_and_sizes_them() {
    let dir = TempDir::new("stats");
    // Two sessions that expire a second after they are saved, then five live ones.
    let short_lived = Server::start_with(
        dir.path(),
        &[("SESSION_COOKIE_AGE", "1")],
        &["--bench-routes"],
    );
    for _ in 0..2 {
        assert_eq!(
            Browser::default().get(&short_lived, "/bench/incr").body,
            "1"
        );
    }
    drop(short_lived);
    sleep(Duration::from_secs(2));
    let server = Server::start_with(dir.path(), &[], &["--bench-routes"]);
    for _ in 0..2 {
        assert_eq!(Browser::default().get(&server, "/bench/incr").body, "1");
    }
    for (username, password) in [
        ("alice", "wonderland"),
        ("alice", "wonderland"),
        ("bob", "builder"),
    ] {
        let mut browser = Browser::default();
        assert_eq!(
            log_in(&mut browser, &server, username, password).status,
            303,
            "{username}"
        );
    }
    drop(server);

    let outcome = sessionkit(dir.path()).args(["stats", "--json"]).run();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let stats: Value = serde_json::from_str(&outcome.stdout).expect("JSON on stdout");
    assert_eq!(stats["engine"], "db");
    assert_eq!(
        (
            &stats["live"],
            &stats["logged_in"],
            &stats["anonymous"],
            &stats["unreadable"],
            &stats["expired_present"]
        ),
        (&json!(5), &json!(3), &json!(2), &json!(0), &json!(2))
    );
    assert_eq!(
        stats["top_users"],
        json!([{"user_id": "1", "sessions": 2}, {"user_id": "2", "sessions": 1}])
    );
    let size = |name: &str| stats["size_bytes"][name].as_u64().expect("a size");
    assert!(size("p50") >= r#"{"n":1}"#.len() as u64, "{stats}");
    assert!(
        size("p50") <= size("p90") && size("p90") <= size("max"),
        "{stats}"
    );

    let table = sessionkit(dir.path()).arg("stats").run();
    assert!(
        table.stdout.contains("live sessions   5"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("  1: 2"), "{}", table.stdout);
    assert!(
        table.stdout.contains("expired, stored 2"),
        "{}",
        table.stdout
    );
}
