//! `sessionkit serve --metrics-addr`: the library's metrics in Prometheus text format, on a
//! listener of their own; the request count they report is the count the client made.

use std::io::{Read, Write};
use std::net::TcpStream;

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
