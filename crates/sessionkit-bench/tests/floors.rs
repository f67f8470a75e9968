//! The floors and yardsticks of the goal rounds, over HTTP. `bare_axum --redis-write`, the
//! Redis floor: each change is in Redis before the response (on the shared Redis, under keys of
//! a prefix of this test's own, deleted afterwards), and a Redis it cannot reach stops it at
//! start-up, naming the option. `minimal_layer_server`: a session per cookie, in memory or in a
//! signed cookie, with a cookie as long as `sessionkit serve`'s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A server binary started with `args`, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(binary: &str, args: &[&str]) -> Server {
        let mut child = Command::new(binary)
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("bare_axum starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("bare_axum says where it listens");
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .expect("an address")
            .to_owned();
        Server { child, addr }
    }

    /// The whole response to `GET path`, head and body.
    fn get(&self, path: &str) -> String {
        self.get_with_cookie(path, None)
    }

    /// The whole response to `GET path` sending `cookie` (`name=value`), if any.
    fn get_with_cookie(&self, path: &str, cookie: Option<&str>) -> String {
        let mut stream = TcpStream::connect(&self.addr).expect("connects");
        let cookie = cookie.map_or_else(String::new, |cookie| format!("Cookie: {cookie}\r\n"));
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{cookie}Connection: close\r\n\r\n",
            self.addr
        )
        .expect("sends");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("reads");
        response
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn each_change_is_in_redis_before_the_response() {
    let prefix = format!("bare-axum-test-{}:", std::process::id());
    let server = Server::start(
        env!("CARGO_BIN_EXE_bare_axum"),
        &[
            "--session-cookie",
            "--redis-write",
            REDIS_URL,
            "--redis-key-prefix",
            &prefix,
        ],
    );
    let mut redis = redis::Client::open(REDIS_URL)
        .and_then(|client| client.get_connection())
        .expect("the shared Redis answers");
    for n in 1..=3 {
        let response = server.get("/bench/incr");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with(&format!("\r\n\r\n{n}")), "{response}");
        assert!(response.contains("set-cookie: sessionid="), "{response}");
        let key = format!("{prefix}{n}");
        let record: Option<String> = redis::cmd("GET").arg(&key).query(&mut redis).unwrap();
        assert!(
            record.is_some_and(|record| record.starts_with("{\"n\":")),
            "{key}"
        );
        let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut redis).unwrap();
        assert!(ttl > 1_000_000, "{key} expires in {ttl} s");
    }
    // A read changes nothing, so it writes nothing.
    assert!(server.get("/bench/read").ends_with("\r\n\r\n3"));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("DEL").arg(&keys).query(&mut redis).unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
}

#[test]
fn a_redis_it_cannot_reach_stops_it_at_start_up() {
    let output = Command::new(env!("CARGO_BIN_EXE_bare_axum"))
        .args([
            "--redis-write",
            "redis://127.0.0.1:1",
            "--addr",
            "127.0.0.1:0",
        ])
        .output()
        .expect("bare_axum runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--redis-write redis://127.0.0.1:1"),
        "{stderr}"
    );
}

/// The `name=value` of the `Set-Cookie` in `response`, and the rest of its line.
fn set_cookie(response: &str) -> (&str, &str) {
    let line = response
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .expect("a Set-Cookie");
    line.split_once("; ").expect("attributes")
}

#[test]
fn the_minimal_layer_keeps_a_session_per_cookie_in_memory_or_in_a_signed_cookie() {
    for args in [&[][..], &["--signed"][..]] {
        let server = Server::start(env!("CARGO_BIN_EXE_minimal_layer_server"), args);
        let first = server.get("/bench/incr");
        assert!(first.ends_with("\r\n\r\n1"), "{args:?}: {first}");
        let (cookie, attributes) = set_cookie(&first);
        assert!(cookie.starts_with("sessionid="), "{cookie}");
        assert!(
            attributes.starts_with("HttpOnly; SameSite=Lax; Secure"),
            "{attributes}"
        );
        let second = server.get_with_cookie("/bench/incr", Some(cookie));
        assert!(second.ends_with("\r\n\r\n2"), "{args:?}: {second}");
        // Another client, without the cookie, starts a session of its own.
        assert!(server.get("/bench/incr").ends_with("\r\n\r\n1"));
        let (cookie, _) = set_cookie(&second);
        let read = server.get_with_cookie("/bench/read", Some(cookie));
        assert!(read.ends_with("\r\n\r\n2"), "{args:?}: {read}");
        assert_eq!(
            args.is_empty(),
            cookie.len() == "sessionid=".len() + 32,
            "{cookie}"
        );
    }
}
