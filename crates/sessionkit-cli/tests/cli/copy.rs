//! `copy-sessions`: the demo store's sessions copied from Django's table into files, after which
//! the same cookies work against a server on the file engine; and a copy into Django's table
//! from a store that keeps only key hashes, which reports what it could not copy.

use crate::support::{Browser, Run, Server, TempDir, sessionkit};

/// Three visitors with counters 1, 2 and 3 in a server started with `env` in `dir`.
fn three_visitors(dir: &TempDir, env: &[(&str, &str)]) -> Vec<Browser> {
    let server = Server::start(dir.path(), env);
    let mut browsers = vec![Browser::default(); 3];
    for (i, browser) in browsers.iter_mut().enumerate() {
        for _ in 0..=i {
            browser.get(&server, "/bench/incr");
        }
    }
    browsers
}

#[test]
fn sessions_copied_from_djangos_table_into_files_keep_their_cookies_working() {
    let dir = TempDir::new("copy-django-files");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let mut browsers = three_visitors(&dir, &[("SESSION_DB_TABLE", "django_session")]);
    let from = format!(
        "sqlite://{}?table=django_session",
        dir.path().join("sessionkit.sqlite3").display()
    );
    let to = format!("file://{}", files.display());

    let outcome = sessionkit(dir.path())
        .args([
            "copy-sessions",
            "--from",
            &from,
            "--to",
            &to,
            "--batch",
            "2",
        ])
        .run();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(
        outcome.stdout.starts_with("copied 3 sessions in "),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains(
            "(skipped: 0 already at the destination, 0 expired, 0 cannot copy: key unknown, \
             0 unreadable)"
        ),
        "{}",
        outcome.stdout
    );

    let again = sessionkit(dir.path())
        .args(["copy-sessions", "--from", &from, "--to", &to])
        .run();
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(
        again.stdout.starts_with("copied 0 sessions in ")
            && again.stdout.contains("3 already at the destination"),
        "nothing is overwritten: {}",
        again.stdout
    );

    let files = files.display().to_string();
    let server = Server::start(
        dir.path(),
        &[("SESSION_ENGINE", "file"), ("SESSION_FILE_PATH", &files)],
    );
    for (i, browser) in browsers.iter_mut().enumerate() {
        assert_eq!(
            browser.get(&server, "/bench/read").body,
            (i + 1).to_string(),
            "visitor {i} still has their session"
        );
    }
}

#[test]
fn hashed_keys_cannot_be_copied_into_djangos_table_and_the_exit_code_says_so() {
    let dir = TempDir::new("copy-files-django");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let files = files.display().to_string();
    three_visitors(
        &dir,
        &[("SESSION_ENGINE", "file"), ("SESSION_FILE_PATH", &files)],
    );
    let django = dir.path().join("django.sqlite3").display().to_string();
    let migrated = sessionkit(dir.path())
        .arg("migrate")
        .env("SESSION_DB_URL", format!("sqlite://{django}"))
        .env("SESSION_DB_TABLE", "django_session")
        .run();
    assert_eq!(migrated.code, Some(0), "{}", migrated.stderr);

    let outcome = sessionkit(dir.path())
        .args(["copy-sessions", "--from", &format!("file://{files}")])
        .args(["--to", &format!("sqlite://{django}?table=django_session")])
        .run();
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome.stdout.starts_with("copied 0 sessions in ")
            && outcome.stdout.contains("3 cannot copy: key unknown"),
        "{}",
        outcome.stdout
    );
    let last = outcome.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("sessionkit copy-sessions: 3 live sessions were not copied: ")
            && last.contains("Django's table"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_store_url_that_names_no_store_is_a_usage_error() {
    let dir = TempDir::new("copy-bad-url");
    let outcome = sessionkit(dir.path())
        .args([
            "copy-sessions",
            "--from",
            "memory://",
            "--to",
            "file:///tmp",
        ])
        .env("SECRET_KEY", "from the environment")
        .run();
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .starts_with("sessionkit copy-sessions: --from: not a session store URL"),
        "{}",
        outcome.stderr
    );
}
