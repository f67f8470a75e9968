//! What a Redis Cluster and a Sentinel setup are made of: `redis-server` processes on spare
//! ports, `redis-cli` to ask them things, and a watchdog that stops a setup shared by a whole
//! test process when that process exits.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::daemon::{Daemon, Launch, run_setup};
use crate::probe;

/// How long a cluster or Sentinel setup may take to agree on its topology, on a busy machine.
pub(crate) const AGREE_PATIENCE: Duration = Duration::from_secs(60);

/// Starts `redis-server` on `port` with its files in `dir` (created), no persistence (a
/// setup's durability is its replicas), and `extra` arguments (or, for a sentinel, the
/// config file first and `--sentinel`).
pub(crate) fn start(dir: &Path, port: u16, extra: Vec<String>) -> io::Result<Daemon> {
    std::fs::create_dir_all(dir)?;
    let dir = dir.to_owned();
    Daemon::start(Launch {
        name: "redis-server",
        port,
        log: dir.join("server.log"),
        command: Box::new(move || {
            let mut command = Command::new("redis-server");
            command
                .args(&extra)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(&dir)
                .args(["--save", "", "--appendonly", "no"]);
            command
        }),
        ready: Box::new(probe::redis),
        stop_signal: libc::SIGKILL,
    })
}

/// What `redis-cli -p PORT ARGS…` prints; an error if it fails.
pub fn redis_cli(port: u16, args: &[&str]) -> io::Result<String> {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| io::Error::other(format!("start redis-cli: {error}")))?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "redis-cli -p {port} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `redis-cli ARGS…` to completion (e.g. `--cluster create`).
pub(crate) fn redis_cli_setup(args: &[String]) -> io::Result<()> {
    run_setup("redis-cli", Command::new("redis-cli").args(args))
}

/// Polls `done` until it holds, or fails after [`AGREE_PATIENCE`] saying `what` never happened.
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> io::Result<()> {
    let deadline = Instant::now() + AGREE_PATIENCE;
    while !done() {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "{what} within {AGREE_PATIENCE:?}"
            )));
        }
        sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Kills `pids` and removes `dir` once this test process has exited: for a setup kept in a
/// `static` for every test of the process, which is never dropped. A shell outside the test's
/// process group polls for the process and then sends SIGKILL to each pid (never a group).
pub(crate) fn stop_when_this_process_exits(pids: &[u32], dir: &Path) -> io::Result<()> {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill -9 {pids} 2>/dev/null; \
         sleep 1; rm -rf '{dir}'",
        parent = std::process::id(),
        pids = pids.join(" "),
        dir = dir.display(),
    );
    std::os::unix::process::CommandExt::process_group(Command::new("sh").args(["-c", &script]), 0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
}

/// The node of `nodes` listening on `port`, for a kill or a restart.
pub(crate) fn by_port(nodes: &mut [Daemon], port: u16) -> io::Result<&mut Daemon> {
    nodes
        .iter_mut()
        .find(|node| node.port() == port)
        .ok_or_else(|| io::Error::other(format!("no Redis node on port {port}")))
}
