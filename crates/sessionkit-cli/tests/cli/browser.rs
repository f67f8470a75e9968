//! The store in a real browser: headless Chromium, driven over WebDriver by chromedriver, logs
//! in, fills a cart, reloads, browses and logs out, on `db` and on `signed_cookies`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! tests fail, saying so: they never skip silently.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::support::{Browser, Server, TempDir, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long chromedriver may take to listen, and the whole scenario to run.
const STARTUP: Duration = Duration::from_secs(20);
const SCENARIO: Duration = Duration::from_secs(120);

/// chromedriver on a free port, in its own process group with the Chromium it starts, all
/// killed when dropped, so a failing test leaves no browser behind.
struct ChromeDriver {
    child: Child,
    port: u16,
    /// Chromium's fresh profile directory.
    profile: TempDir,
}

impl ChromeDriver {
    fn start() -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: the browser tests need Debian's chromium and \
                 chromium-driver, which .ci/run installs \
                 (apt-get install -y chromium chromium-driver)"
            );
        }
        let port = free_port();
        let profile = TempDir::new("chromium-profile");
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("start chromedriver");
        let mut driver = ChromeDriver {
            child,
            port,
            profile,
        };
        let deadline = Instant::now() + STARTUP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = driver.child.try_wait().expect("poll chromedriver") {
                panic!("chromedriver exited with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within {STARTUP:?}"
            );
            sleep(Duration::from_millis(50));
        }
        driver
    }

    /// A WebDriver session in a new headless Chromium.
    async fn browser(&self) -> Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1900",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", self.profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session in headless Chromium")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started. Its id is
        // chromedriver's pid (process_group(0) above), never 0 or 1, which would mean "this
        // group" or "every process". Not through the `kill` command: procps reads
        // `kill -KILL -<pgid>` as kill(-1).
        #[cfg(unix)]
        if let Ok(group @ 2..) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: killpg only sends a signal; the group is the one this test created.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Saves what the browser shows as `<target>/tmp/e2e/<name>.png` and prints where.
async fn screenshot(browser: &Client, name: &str) -> Outcome {
    let path: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("e2e")
        .join(format!("{name}.png"));
    std::fs::create_dir_all(path.parent().expect("a parent directory")).expect("mkdir e2e");
    std::fs::write(&path, browser.screenshot().await?).expect("write the screenshot");
    println!("screenshot: {}", path.display());
    Ok(())
}

/// Runs the scenario on `engine` in a fresh browser, closing the browser whatever happens.
async fn run_in_chromium(engine: &str) {
    let driver = ChromeDriver::start();
    let dir = TempDir::new(&format!("e2e-{engine}"));
    let server = Arc::new(Server::start(dir.path(), &[("SESSION_ENGINE", engine)]));
    let client = driver.browser().await;
    let scenario = tokio::spawn(scenario(client.clone(), engine.to_owned(), server.clone()));
    let outcome = tokio::time::timeout(SCENARIO, scenario).await;
    let _ = client.close().await;
    match outcome {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => panic!("WebDriver failed: {error}\n{}", server.logs()),
        Ok(Err(panicked)) => std::panic::resume_unwind(panicked.into_panic()),
        Err(_) => panic!("the scenario took over {SCENARIO:?}\n{}", server.logs()),
    }
}

type Outcome = Result<(), fantoccini::error::CmdError>;

/// Log in, add two items, reload, browse: still logged in with the same cart. Log out: cart
/// and login gone. Then replay the cookie copied before logout.
async fn scenario(browser: Client, engine: String, server: Arc<Server>) -> Outcome {
    let base = format!("http://localhost:{}", server.port());
    browser.goto(&format!("{base}/")).await?;
    assert_eq!(text(&browser, "#engine").await?, engine);
    assert_eq!(text(&browser, "#cart-count").await?, "0");

    browser
        .find(Locator::Id("login-link"))
        .await?
        .click()
        .await?;
    browser
        .find(Locator::Css("input[name=username]"))
        .await?
        .send_keys("alice")
        .await?;
    browser
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys("wonderland")
        .await?;
    browser
        .find(Locator::Id("login-button"))
        .await?
        .click()
        .await?;
    wait_for(&browser, "#who").await?;
    assert_eq!(text(&browser, "#who").await?, "Alice");

    browser
        .find(Locator::Css(".card[data-slug=cookie-jar] button"))
        .await?
        .click()
        .await?;
    wait_for(&browser, ".cart-line").await?;
    browser.goto(&format!("{base}/products/brass-key")).await?;
    browser
        .find(Locator::Css("form[action='/cart/add'] button"))
        .await?
        .click()
        .await?;
    wait_for(&browser, ".cart-line[data-slug=brass-key]").await?;

    browser.refresh().await?;
    assert_eq!(browser.find_all(Locator::Css(".cart-line")).await?.len(), 2);
    assert_eq!(text(&browser, "#cart-count").await?, "2");
    assert_eq!(text(&browser, "#who").await?, "Alice");
    browser.goto(&format!("{base}/account")).await?;
    assert_eq!(text(&browser, "#who").await?, "Alice");
    assert!(
        text(&browser, "#this-browser")
            .await?
            .contains("HeadlessChrome"),
        "the login noted the browser"
    );
    if engine == "signed_cookies" {
        wait_for(&browser, "#no-session-list").await?;
    } else {
        let sessions = browser.find_all(Locator::Css(".user-session")).await?;
        assert_eq!(sessions.len(), 1, "this browser's session, listed");
    }
    screenshot(&browser, &format!("account-{engine}")).await?;
    browser.goto(&format!("{base}/")).await?;
    assert_eq!(text(&browser, "#who").await?, "Alice");
    assert_eq!(text(&browser, "#cart-count").await?, "2");

    screenshot(&browser, &format!("store-{engine}")).await?;

    let cookies = browser.get_all_cookies().await?;
    let session = cookies
        .iter()
        .find(|cookie| cookie.name() == "sessionid")
        .expect("the session cookie");
    assert_eq!(session.http_only(), Some(true), "scripts cannot read it");
    assert!(
        cookies.iter().any(|cookie| cookie.name() == "csrftoken"),
        "the forms' CSRF secret has a cookie of its own"
    );
    let mut copied = Browser {
        cookie: Some(session.value().to_owned()),
        ..Browser::default()
    };

    browser
        .find(Locator::Css("#logout button"))
        .await?
        .click()
        .await?;
    wait_for(&browser, "#login-link").await?;
    assert_eq!(text(&browser, "#messages").await?, "Logged out.");
    assert_eq!(text(&browser, "#cart-count").await?, "0");
    // The store page after logout stores nothing: its forms' CSRF secret is in its own cookie.
    assert!(
        !browser
            .get_all_cookies()
            .await?
            .iter()
            .any(|cookie| cookie.name() == "sessionid"),
        "logout deleted the cookie, and browsing on started no session"
    );

    let replayed = copied.get(&server, "/").body;
    let still_logged_in = replayed.contains("<strong id=\"who\">Alice</strong>");
    if engine == "signed_cookies" {
        // The lesson of the "under the hood" panel: a signed cookie *is* the session, and
        // the server keeps nothing it could delete. Logout only made this browser forget the
        // cookie; a copy taken before stays valid until it expires. Revocable logout needs
        // a server engine.
        assert!(still_logged_in, "{replayed}");
    } else {
        assert!(
            !still_logged_in,
            "logout ended the session on the server: {replayed}"
        );
        assert!(replayed.contains("id=\"login-link\""), "{replayed}");
    }
    Ok(())
}

/// The text of the first element matching `css`.
async fn text(browser: &Client, css: &str) -> Result<String, fantoccini::error::CmdError> {
    browser.find(Locator::Css(css)).await?.text().await
}

/// Waits until the page (after a form submission) has an element matching `css`.
async fn wait_for(browser: &Client, css: &str) -> Outcome {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_keeps_you_logged_in_until_logout_on_db() {
    run_in_chromium("db").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_keeps_you_logged_in_until_logout_on_signed_cookies() {
    run_in_chromium("signed_cookies").await;
}
