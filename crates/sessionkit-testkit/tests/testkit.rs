//! The faults do what they say: a killed server is gone and comes back with its acknowledged
//! data, a suspended one answers nothing until resumed, and a partitioned proxy cuts and holds
//! connections until healed.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use sessionkit_testkit::{PrivateMariaDb, PrivatePostgres, PrivateRedis, TcpProxy};

/// Long enough for a live local server to answer, short enough to keep the suite quick.
const SHORT: Duration = Duration::from_millis(500);

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(SHORT)).unwrap();
    stream
}

/// Sends a Redis command (RESP array of bulk strings) and reads the reply's first line.
fn redis_command(stream: &mut TcpStream, words: &[&str]) -> std::io::Result<String> {
    let mut request = format!("*{}\r\n", words.len());
    for word in words {
        request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut reply = [0; 64];
    let read = stream.read(&mut reply)?;
    Ok(String::from_utf8_lossy(&reply[..read]).into_owned())
}

fn refuses_connections(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn an_acknowledged_redis_write_survives_kill_and_restart() {
    let mut redis = PrivateRedis::start().unwrap();
    let reply = redis_command(&mut connect(redis.port()), &["SET", "k", "kept"]).unwrap();
    assert_eq!(reply, "+OK\r\n");

    redis.kill().unwrap();
    assert!(refuses_connections(redis.port()));
    redis.restart().unwrap();

    let reply = redis_command(&mut connect(redis.port()), &["GET", "k"]).unwrap();
    assert_eq!(reply, "$4\r\nkept\r\n");
}

#[test]
fn a_suspended_redis_keeps_its_connections_but_answers_only_once_resumed() {
    let redis = PrivateRedis::start().unwrap();
    let mut stream = connect(redis.port());
    redis.suspend().unwrap();

    let error = redis_command(&mut stream, &["PING"]).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error}"
    );

    redis.resume().unwrap();
    let mut reply = [0; 7];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");
}

#[test]
fn postgres_comes_back_after_kill_on_the_same_port() {
    let mut postgres = PrivatePostgres::start().unwrap();
    assert!(
        postgres
            .url()
            .ends_with(&format!(":{}/postgres", postgres.port()))
    );
    postgres.kill().unwrap();
    assert!(refuses_connections(postgres.port()));
    // restart() returns once the server accepts a session again (after crash recovery).
    postgres.restart().unwrap();
}

#[test]
fn mariadb_comes_back_after_kill_on_the_same_port() {
    let mut mariadb = PrivateMariaDb::start().unwrap();
    assert!(
        mariadb
            .url()
            .ends_with(&format!(":{}/test", mariadb.port()))
    );
    mariadb.kill().unwrap();
    assert!(refuses_connections(mariadb.port()));
    mariadb.restart().unwrap();
}

#[test]
fn dropping_a_server_stops_it_and_removes_its_directory() {
    let redis = PrivateRedis::start().unwrap();
    let (port, dir) = (redis.port(), redis.dir().to_owned());
    assert!(dir.join("server.log").exists());
    drop(redis);
    assert!(refuses_connections(port));
    assert!(!dir.exists());
}

/// A server that echoes what it receives on each connection.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let _ = std::io::copy(&mut &stream, &mut &stream);
                let _ = stream.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

fn echoes(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<bool> {
    stream.write_all(message)?;
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply)?;
    Ok(reply == message)
}

#[test]
fn a_partition_cuts_open_connections_and_holds_new_ones_until_healed() {
    let proxy = TcpProxy::start(echo_server()).unwrap();
    let mut open = connect(proxy.port());
    assert!(echoes(&mut open, b"before").unwrap());

    proxy.partition();
    let mut cut = [0; 1];
    assert_eq!(
        open.read(&mut cut).unwrap(),
        0,
        "the open connection is closed"
    );
    let mut held = connect(proxy.port());
    let error = echoes(&mut held, b"during").unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error}"
    );

    proxy.heal();
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reply = [0; 6];
    held.read_exact(&mut reply).unwrap();
    assert_eq!(
        &reply, b"during",
        "the held connection is forwarded once healed"
    );
    assert!(echoes(&mut connect(proxy.port()), b"after").unwrap());
}
