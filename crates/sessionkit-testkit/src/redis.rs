//! Redis, configured so that acknowledged writes survive SIGKILL.

use std::io;
use std::path::Path;
use std::process::Command;

use crate::daemon::Launch;
use crate::probe;
use crate::server::{Kind, PrivateServer, sealed::Sealed};

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

    fn prepare(dir: &Path, port: u16) -> io::Result<Launch> {
        let dir = dir.to_owned();
        Ok(Launch {
            name: "redis-server",
            port,
            log: dir.join("server.log"),
            command: Box::new(move || {
                let mut command = Command::new("redis-server");
                command
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
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
            ready: probe::redis,
            // Its data goes with it: nothing to shut down cleanly.
            stop_signal: libc::SIGKILL,
        })
    }

    fn url(port: u16) -> String {
        format!("redis://127.0.0.1:{port}")
    }
}
