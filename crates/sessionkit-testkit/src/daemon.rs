//! One server process: started in a process group of its own, waited for until it answers,
//! signalled with everything it started, and stopped when dropped.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use libc::c_int;

use crate::process_tree::ProcessTree;

/// How long a server may take to answer after it is started: generous, since the machine may
/// be busy building, and a restart after SIGKILL replays logs first.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// How long a server may take to exit after it is asked to, and its group to be gone.
const STOP_PATIENCE: Duration = Duration::from_secs(10);

/// What a [`Daemon`] runs and how it tells that the server is ready.
pub struct Launch {
    /// Named in errors, e.g. `redis-server`.
    pub name: &'static str,
    pub port: u16,
    /// The server's standard output and error go here (appended across restarts).
    pub log: PathBuf,
    /// Builds the command afresh for each start.
    pub command: Box<dyn Fn() -> Command + Send + Sync>,
    /// Whether the server on `port` answers as a ready server does.
    pub ready: Box<dyn Fn(u16) -> bool + Send + Sync>,
    /// How the server is asked to stop on drop before it is killed (see [`Daemon`]'s drop).
    pub stop_signal: c_int,
}

/// A running server process. Its whole process tree is signalled, so a multi-process server
/// (PostgreSQL's postmaster and its backends) is killed or frozen as one, like a crashed or
/// hung machine would be.
pub(crate) struct Daemon {
    launch: Launch,
    child: Option<Child>,
}

impl Daemon {
    /// Starts the server and waits until it is ready.
    pub fn start(launch: Launch) -> io::Result<Daemon> {
        let mut daemon = Daemon {
            launch,
            child: None,
        };
        daemon.spawn()?;
        Ok(daemon)
    }

    pub fn port(&self) -> u16 {
        self.launch.port
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL to every process of the server, then waits until they are all gone.
    pub fn kill(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let tree = tree_of(&child);
        // Frozen first: a PostgreSQL backend that saw its postmaster die before its own
        // SIGKILL arrived would say goodbye to its client, which a crash never does.
        tree.signal(libc::SIGSTOP)?;
        tree.signal(libc::SIGKILL)?;
        child.wait()?;
        wait_until_gone(&tree)
    }

    /// SIGSTOP to every process of the server: it keeps its connections but answers nothing.
    pub fn suspend(&self) -> io::Result<()> {
        self.signal(libc::SIGSTOP)
    }

    /// SIGCONT to every process of the server, undoing [`Daemon::suspend`].
    pub fn resume(&self) -> io::Result<()> {
        self.signal(libc::SIGCONT)
    }

    /// Starts the server again on the same port and data, killing it first if it still runs.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill()?;
        self.spawn()
    }

    fn signal(&self, signal: c_int) -> io::Result<()> {
        match &self.child {
            Some(child) => tree_of(child).signal(signal),
            None => Err(io::Error::other(format!(
                "{} is not running",
                self.launch.name
            ))),
        }
    }

    fn spawn(&mut self) -> io::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.launch.log)?;
        let mut child = (self.launch.command)()
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|error| io::Error::other(format!("start {}: {error}", self.launch.name)))?;
        match self.wait_until_ready(&mut child) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(error) => {
                let _ = tree_of(&child).signal(libc::SIGKILL);
                let _ = child.wait();
                Err(error)
            }
        }
    }

    fn wait_until_ready(&self, child: &mut Child) -> io::Result<()> {
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            if (self.launch.ready)(self.launch.port) {
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                return Err(self.failure(&format!("exited with {status}")));
            }
            if Instant::now() > deadline {
                return Err(self.failure(&format!("was not ready within {START_PATIENCE:?}")));
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// An error naming the server, with the end of its log.
    fn failure(&self, what: &str) -> io::Error {
        let log = std::fs::read_to_string(&self.launch.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        io::Error::other(format!(
            "{} on port {} {what}; its log ends:\n{}",
            self.launch.name,
            self.launch.port,
            tail.join("\n")
        ))
    }
}

impl Daemon {
    /// Resumes the server (it may be suspended), asks it to stop with its stop signal, and kills
    /// what is left after [`STOP_PATIENCE`]. Nothing to do if it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let tree = tree_of(&child);
        let _ = tree.signal(libc::SIGCONT);
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child's.
        unsafe { libc::kill(child.id() as libc::pid_t, self.launch.stop_signal) };
        let deadline = Instant::now() + STOP_PATIENCE;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        let _ = tree.signal(libc::SIGKILL);
        let _ = child.wait();
        let _ = wait_until_gone(&tree);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The child and everything it started; the child leads its own process group (started with
/// `process_group(0)`).
fn tree_of(child: &Child) -> ProcessTree {
    ProcessTree::of(child.id() as libc::pid_t)
}

/// Waits until no process of `tree` is left, so a restart finds its port, files and shared
/// memory free.
fn wait_until_gone(tree: &ProcessTree) -> io::Result<()> {
    let deadline = Instant::now() + STOP_PATIENCE;
    while tree.any_alive() {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "a server process outlived SIGKILL by {STOP_PATIENCE:?}"
            )));
        }
        sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Runs a one-off setup command (initdb, mariadb-install-db) to completion; an error carries
/// what it printed.
pub(crate) fn run_setup(name: &str, command: &mut Command) -> io::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| io::Error::other(format!("start {name}: {error}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{name} failed with {}:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}
