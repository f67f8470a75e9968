//! Redis, configured so that acknowledged writes survive SIGKILL.

use std::io;
use std::path::Path;
use std::process::Command;

use crate::daemon::Launch;
use crate::probe;
use crate::server::{Kind, PrivateServer, sealed::Sealed};
use crate::tls::ServerFiles;

/// A private `redis-server`, see [`Redis`].
pub type PrivateRedis = PrivateServer<Redis>;

/// `redis-server` with no snapshots (`--save ""`) but `--appendonly yes --appendfsync always`:
/// Redis fsyncs each write to its append-only file before it replies, so whatever a client saw
/// acknowledged is still there after `kill()` and `restart()`, as on a production Redis set up
/// for durability. Without it a killed cache forgets everything, which a test could not tell
/// from a lost write.
pub enum Redis {}

impl Kind for Redis {}

impl Sealed for Redis {
    const LABEL: &'static str = "redis";

    /// With TLS the TCP port speaks only TLS (`--port 0 --tls-port`), without asking clients
    /// for certificates; readiness is probed through a Unix socket, which stays plaintext.
    fn prepare(dir: &Path, port: u16, tls: Option<ServerFiles>) -> io::Result<Launch> {
        let dir = dir.to_owned();
        let socket = dir.join("redis.sock");
        let ready: Box<dyn Fn(u16) -> bool + Send + Sync> = match tls {
            Some(_) => {
                let socket = socket.clone();
                Box::new(move |_| probe::redis_unix(&socket))
            }
            None => Box::new(probe::redis),
        };
        Ok(Launch {
            name: "redis-server",
            port,
            log: dir.join("server.log"),
            command: Box::new(move || {
                let mut command = Command::new("redis-server");
                match &tls {
                    Some(files) => {
                        command
                            .args(["--port", "0", "--tls-port", &port.to_string()])
                            .arg("--tls-cert-file")
                            .arg(&files.cert)
                            .arg("--tls-key-file")
                            .arg(&files.key)
                            .arg("--tls-ca-cert-file")
                            .arg(&files.ca)
                            .args(["--tls-auth-clients", "no"])
                            .arg("--unixsocket")
                            .arg(&socket);
                    }
                    None => {
                        command.args(["--port", &port.to_string()]);
                    }
                }
                command
                    .args(["--bind", "127.0.0.1"])
                    .arg("--dir")
                    .arg(&dir)
                    .args([
                        "--save",
                        "",
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "always",
                    ]);
                command
            }),
            ready,
            // Its data goes with it: nothing to shut down cleanly.
            stop_signal: libc::SIGKILL,
        })
    }

    fn url(port: u16, tls: bool) -> String {
        let scheme = if tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{port}")
    }
}

impl PrivateRedis {
    /// Empties the server (`FLUSHALL`): what a cache in front of a database still answers
    /// afterwards is what the database says.
    pub fn flush_all(&self) -> io::Result<()> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port()))?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        std::io::Write::write_all(&mut stream, b"*1\r\n$8\r\nFLUSHALL\r\n")?;
        let mut reply = [0; 5];
        std::io::Read::read_exact(&mut stream, &mut reply)?;
        if &reply == b"+OK\r\n" {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "FLUSHALL answered {}",
                String::from_utf8_lossy(&reply)
            )))
        }
    }
}
