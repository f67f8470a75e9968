//! Whether a server on a port answers as a ready one does: accepting TCP is not enough, since
//! PostgreSQL and Redis listen while they still replay their logs and refuse queries meanwhile.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Redis answers `PING` with `+PONG` once it has loaded its data (`-LOADING` before).
pub(crate) fn redis(port: u16) -> bool {
    first_bytes(port, b"PING\r\n", 5).is_some_and(|reply| reply == b"+PONG")
}

/// [`redis`], through the Unix socket of a server whose TCP port speaks only TLS.
pub(crate) fn redis_unix(socket: &std::path::Path) -> bool {
    let reply = (|| {
        let mut stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
        stream.write_all(b"PING\r\n").ok()?;
        let mut reply = [0; 5];
        stream.read_exact(&mut reply).ok()?;
        Some(reply)
    })();
    reply.is_some_and(|reply| &reply == b"+PONG")
}

/// PostgreSQL answers a startup message (protocol 3.0, user and database `postgres`, trust
/// authentication) with an authentication message, `R`, once it accepts connections; while it
/// starts or recovers it answers with an error, `E`.
pub(crate) fn postgres(port: u16) -> bool {
    let mut body = 196_608_u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0postgres\0database\0postgres\0\0");
    let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    startup.extend_from_slice(&body);
    first_bytes(port, &startup, 1).is_some_and(|reply| reply == b"R")
}

/// MariaDB greets a connection with a handshake packet whose payload starts with protocol
/// version 10 (an error packet starts with 0xff).
pub(crate) fn mariadb(port: u16) -> bool {
    first_bytes(port, b"", 5).is_some_and(|reply| reply[4] == 10)
}

/// Connects, sends `request`, and reads the first `length` bytes of the reply.
fn first_bytes(port: u16, request: &[u8], length: usize) -> Option<Vec<u8>> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream.write_all(request).ok()?;
    let mut reply = vec![0; length];
    stream.read_exact(&mut reply).ok()?;
    Some(reply)
}
