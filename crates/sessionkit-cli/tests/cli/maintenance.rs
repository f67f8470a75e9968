//! `migrate` and `clearsessions`, and how the commands that read settings report bad ones.

use std::thread::sleep;
use std::time::Duration;

use crate::support::{Browser, Run, SECRET_FILE, Server, TempDir, free_port, sessionkit};

#[test]
fn a_bad_setting_is_one_line_naming_it_and_exit_code_2() {
    let dir = TempDir::new("bad-setting");
    for command in ["migrate", "clearsessions", "serve"] {
        let outcome = sessionkit(dir.path())
            .arg(command)
            .env("SESSION_ENGINE", "mongo")
            .run();
        assert_eq!(outcome.code, Some(2), "{command}: {}", outcome.stderr);
        let lines: Vec<&str> = outcome.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{command}: {lines:?}");
        assert!(
            lines[0].starts_with(&format!("sessionkit {command}: SESSION_ENGINE: ")),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("signed_cookies, encrypted_cookies, db"),
            "the allowed values are listed: {}",
            lines[0]
        );
    }
}

#[test]
fn huge_durations_are_a_startup_error_not_a_panic() {
    let dir = TempDir::new("huge-durations");
    let cases = [
        ("SESSION_STORE_TIMEOUT", "1e300"),
        ("SESSION_STORE_TIMEOUT", "1e19"),
        ("SESSION_LOCK_TIMEOUT", "1e20"),
        ("SESSION_LOCK_LEASE", "1e30"),
        ("SESSION_COOKIE_AGE", "9223372036854775807"),
    ];
    for (setting, value) in cases {
        let outcome = sessionkit(dir.path())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .envs([("SESSION_ENGINE", "cache"), ("SESSION_LOCKING", "true")])
            .env(setting, value)
            .run();
        assert_eq!(
            outcome.code,
            Some(2),
            "{setting}={value}: {}",
            outcome.stderr
        );
        assert!(
            outcome
                .stderr
                .starts_with(&format!("sessionkit serve: {setting}: ")),
            "{setting}={value}: {}",
            outcome.stderr
        );
    }
}

#[test]
fn migrate_creates_the_table_once_and_can_run_again() {
    let dir = TempDir::new("migrate");
    for run in 1..=2 {
        let outcome = sessionkit(dir.path()).arg("migrate").run();
        assert_eq!(outcome.code, Some(0), "run {run}: {}", outcome.stderr);
        assert!(
            outcome.stdout.contains("table sessionkit_session is ready"),
            "{}",
            outcome.stdout
        );
        let generated = outcome.stdout.contains("Generated a SECRET_KEY");
        assert_eq!(
            generated,
            run == 1,
            "the secret is generated on the first run only"
        );
    }
    assert!(dir.path().join("sessionkit.sqlite3").exists());
    assert!(dir.path().join(SECRET_FILE).exists());
}

#[test]
fn migrate_has_nothing_to_do_for_signed_cookies() {
    let dir = TempDir::new("migrate-cookies");
    let outcome = sessionkit(dir.path())
        .arg("migrate")
        .env("SESSION_ENGINE", "signed_cookies")
        .env("SECRET_KEY", "from the environment")
        .run();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(
        outcome.stdout.contains("nothing to migrate"),
        "{}",
        outcome.stdout
    );
    assert!(!dir.path().join(SECRET_FILE).exists(), "SECRET_KEY was set");
}

#[test]
fn clearsessions_deletes_expired_sessions_and_reports_how_many() {
    let dir = TempDir::new("clearsessions");
    let server = Server::start(dir.path(), &[("SESSION_COOKIE_AGE", "1")]);
    assert_eq!(Browser::default().get(&server, "/bench/incr").body, "1");
    drop(server);
    // Stored expiry has whole-second resolution: wait until the session is surely past it.
    sleep(Duration::from_millis(2100));
    let outcome = sessionkit(dir.path())
        .args(["clearsessions", "--batch", "1"])
        .run();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(
        outcome.stdout.starts_with("deleted 1 expired sessions in "),
        "{}",
        outcome.stdout
    );
    let again = sessionkit(dir.path()).arg("clearsessions").run();
    assert!(
        again.stdout.starts_with("deleted 0 expired sessions in "),
        "{}",
        again.stdout
    );
}

#[test]
fn clearsessions_before_migrate_creates_nothing_and_says_to_migrate() {
    let dir = TempDir::new("clear-before-migrate");
    let created = || std::fs::read_dir(dir.path()).unwrap().count();
    for (secret, missing) in [
        (None, "sessionkit-secret.key does not exist"),
        (
            Some("from the environment"),
            "sessionkit.sqlite3 does not exist",
        ),
    ] {
        let mut command = sessionkit(dir.path());
        command.arg("clearsessions");
        if let Some(secret) = secret {
            command.env("SECRET_KEY", secret);
        }
        let outcome = command.run();
        assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
        assert!(outcome.stderr.contains(missing), "{}", outcome.stderr);
        assert!(
            outcome.stderr.contains("run `sessionkit migrate` first"),
            "{}",
            outcome.stderr
        );
        assert_eq!(created(), 0, "no database and no secret file");
    }
    assert_eq!(sessionkit(dir.path()).arg("migrate").run().code, Some(0));
    let outcome = sessionkit(dir.path()).arg("clearsessions").run();
    assert!(
        outcome.stdout.starts_with("deleted 0 expired sessions"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn an_unreachable_database_is_named_with_the_real_cause() {
    let dir = TempDir::new("unreachable");
    for scheme in ["postgres://postgres:hunter2", "mysql://root"] {
        let url = format!("{scheme}@127.0.0.1:{}/test", free_port());
        for command in ["migrate", "serve"] {
            let outcome = sessionkit(dir.path())
                .arg(command)
                .env("SECRET_KEY", "from the environment")
                .env("SESSION_DB_URL", &url)
                .env("SESSION_STORE_TIMEOUT", "1")
                .run();
            assert_eq!(outcome.code, Some(1), "{command}: {}", outcome.stderr);
            let error = outcome.stderr.trim();
            assert!(error.contains("SESSION_DB_URL"), "{error}");
            assert!(error.contains("Connection refused"), "{error}");
            assert!(
                !error.contains("hunter2"),
                "the password is hidden: {error}"
            );
        }
    }
}
