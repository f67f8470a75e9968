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
use crate::tls::ServerFiles;

/// How long a cluster or Sentinel setup may take to agree on its topology, on a busy machine.
pub(crate) const AGREE_PATIENCE: Duration = Duration::from_secs(60);

/// How a node is reached: plain TCP, or only TLS (presenting a test CA's server certificate,
/// and speaking TLS to the nodes it connects to itself: its master, a sentinel's peers); with
/// a password (`requirepass`, and `masterauth` for its master) or none.
#[derive(Clone, Default)]
pub(crate) struct Reach {
    pub(crate) tls: Option<ServerFiles>,
    pub(crate) password: Option<String>,
}

impl Reach {
    /// The `redis-server` arguments that make a node on `port` reachable this way.
    fn server_args(&self, port: u16) -> Vec<String> {
        let mut args = Vec::new();
        match &self.tls {
            Some(files) => {
                args.extend(["--port".into(), "0".into(), "--tls-port".into()]);
                args.push(port.to_string());
                for (option, file) in [
                    ("--tls-cert-file", &files.cert),
                    ("--tls-key-file", &files.key),
                    ("--tls-ca-cert-file", &files.ca),
                ] {
                    args.extend([option.to_owned(), file.display().to_string()]);
                }
                args.extend(
                    ["--tls-auth-clients", "no", "--tls-replication", "yes"].map(String::from),
                );
            }
            None => args.extend(["--port".into(), port.to_string()]),
        }
        if let Some(password) = &self.password {
            args.extend(["--requirepass".into(), password.clone()]);
            args.extend(["--masterauth".into(), password.clone()]);
        }
        args
    }

    /// What `redis-cli ARGS…` prints, asked of the node on `port` this way; an error if it
    /// fails.
    pub(crate) fn cli(&self, port: u16, args: &[&str]) -> io::Result<String> {
        let mut command = Command::new("redis-cli");
        command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(files) = &self.tls {
            command.arg("--tls").arg("--cacert").arg(&files.ca);
        }
        if let Some(password) = &self.password {
            command.args(["--no-auth-warning", "-a", password]);
        }
        run_cli(port, command, args)
    }
}

/// Starts `redis-server` on `port`, reached as `reach` says, with its files in `dir`
/// (created), no persistence (a setup's durability is its replicas), and `extra` arguments
/// (or, for a sentinel, the config file first and `--sentinel`).
pub(crate) fn start(
    dir: &Path,
    port: u16,
    extra: Vec<String>,
    reach: &Reach,
) -> io::Result<Daemon> {
    std::fs::create_dir_all(dir)?;
    let dir = dir.to_owned();
    let listen = reach.server_args(port);
    let ready: Box<dyn Fn(u16) -> bool + Send + Sync> = match reach.tls {
        None if reach.password.is_none() => Box::new(probe::redis),
        _ => {
            let reach = reach.clone();
            Box::new(move |port| {
                reach
                    .cli(port, &["ping"])
                    .is_ok_and(|pong| pong.trim() == "PONG")
            })
        }
    };
    Daemon::start(Launch {
        name: "redis-server",
        port,
        log: dir.join("server.log"),
        command: Box::new(move || {
            let mut command = Command::new("redis-server");
            command
                .args(&extra)
                .args(&listen)
                .args(["--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(&dir)
                .args(["--save", "", "--appendonly", "no"]);
            command
        }),
        ready,
        stop_signal: libc::SIGKILL,
    })
}

/// What `redis-cli -p PORT ARGS…` prints; an error if it fails.
pub fn redis_cli(port: u16, args: &[&str]) -> io::Result<String> {
    Reach::default().cli(port, args)
}

/// Runs `command` (`redis-cli` and how it reaches the node on `port`) with `args`.
fn run_cli(port: u16, mut command: Command, args: &[&str]) -> io::Result<String> {
    let output = command
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
