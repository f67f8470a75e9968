//! `sessionkit serve --metrics-addr`: the library's metrics in Prometheus text format, on a
//! listener of their own; the request count they report is the count the client made.

use std::io::{Read, Write};
use std::net::TcpStream;

use sessionkit_testkit::{PrivateServer, Redis};

use crate::support::{Browser, Server, TempDir, free_port};

/// `GET /metrics` on `port`, the body as text.
fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the metrics listener");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the answer");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[test]
fn the_metrics_count_every_request_the_client_made() {
    let dir = TempDir::new("metrics");
    let metrics_port = free_port();
    let addr = format!("127.0.0.1:{metrics_port}");
    let server = Server::start_with(
        dir.path(),
        &[],
        &["--bench-routes", "--metrics-addr", &addr],
    );
    let mut browser = Browser::default();
    const REQUESTS: u64 = 25;
    for n in 1..=REQUESTS {
        assert_eq!(browser.get(&server, "/bench/incr").body, n.to_string());
    }
    let text = scrape(metrics_port);
    for line in [
        r#"sessionkit_requests_total{engine="db",outcome="created"} 1"#.to_owned(),
        format!(
            r#"sessionkit_requests_total{{engine="db",outcome="saved"}} {}"#,
            REQUESTS - 1
        ),
        format!(
            r#"sessionkit_store_call_seconds_count{{store="db",op="replace"}} {}"#,
            REQUESTS - 1
        ),
    ] {
        assert!(text.contains(&line), "missing {line} in:\n{text}");
    }
}

/// The value of the sample `series` (name and labels, as Prometheus writes them) in `text`.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

/// Issue 20: scraped during a load of concurrent clients, the request count is the count the
/// clients made; then, with the store killed, each failed request shows up as a store error
/// of kind `unavailable`, and the answers are 503s.
#[test]
fn under_load_and_through_a_store_outage_the_metrics_match_what_the_clients_saw() {
    const CLIENTS: u64 = 8;
    const REQUESTS: u64 = 40;
    let mut redis = PrivateServer::<Redis>::start().expect("a private Redis");
    let dir = TempDir::new("metrics-load");
    let metrics_port = free_port();
    let addr = format!("127.0.0.1:{metrics_port}");
    let url = redis.url();
    let env = [
        ("SESSION_ENGINE", "cache"),
        ("SESSION_CACHE_URL", url.as_str()),
        ("SESSION_STORE_TIMEOUT", "1"),
    ];
    let server = Server::start_with(
        dir.path(),
        &env,
        &["--bench-routes", "--metrics-addr", &addr],
    );
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                let mut browser = Browser::default();
                for n in 1..=REQUESTS {
                    assert_eq!(browser.get(&server, "/bench/incr").body, n.to_string());
                }
            });
        }
    });
    let during = scrape(metrics_port);
    let created = sample(
        &during,
        r#"sessionkit_requests_total{engine="cache",outcome="created"}"#,
    );
    let saved = sample(
        &during,
        r#"sessionkit_requests_total{engine="cache",outcome="saved"}"#,
    );
    assert_eq!(created, CLIENTS, "{during}");
    assert_eq!(created + saved, CLIENTS * REQUESTS, "{during}");

    redis.kill().expect("kill the private Redis");
    let mut browser = Browser::default();
    const FAILED: u64 = 5;
    for _ in 0..FAILED {
        assert_eq!(browser.get(&server, "/bench/incr").status, 503);
    }
    let after = scrape(metrics_port);
    let unavailable: u64 = after
        .lines()
        .filter(|line| {
            line.starts_with("sessionkit_store_errors_total{")
                && line.contains(r#"kind="unavailable""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum();
    assert!(unavailable >= FAILED, "{after}");
}
