//! One server process: started in a process group of its own, waited for until it answers,
//! signalled as a whole group, and stopped when dropped.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use libc::c_int;

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
    pub ready: fn(u16) -> bool,
    /// How the server is asked to stop on drop before it is killed (see [`Daemon`]'s drop).
    pub stop_signal: c_int,
}

/// A running server process. Its whole process group is signalled, so a multi-process server
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

    /// SIGKILL to every process of the server, then waits until they are all gone.
    pub fn kill(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let group = group_of(&child);
        signal_group(group, libc::SIGKILL)?;
        child.wait()?;
        wait_until_gone(group)
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
            Some(child) => signal_group(group_of(child), signal),
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
                let _ = signal_group(group_of(&child), libc::SIGKILL);
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

impl Drop for Daemon {
    /// Resumes the server (it may be suspended), asks it to stop with its stop signal, and kills
    /// what is left after [`STOP_PATIENCE`].
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = group_of(&child);
        let _ = signal_group(group, libc::SIGCONT);
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child's.
        unsafe { libc::kill(group, self.launch.stop_signal) };
        let deadline = Instant::now() + STOP_PATIENCE;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        let _ = signal_group(group, libc::SIGKILL);
        let _ = child.wait();
        let _ = wait_until_gone(group);
    }
}

/// The child leads its own process group (started with `process_group(0)`).
fn group_of(child: &Child) -> libc::pid_t {
    child.id() as libc::pid_t
}

fn signal_group(group: libc::pid_t, signal: c_int) -> io::Result<()> {
    // SAFETY: killpg(2) has no memory-safety preconditions; the group is our own child's.
    if unsafe { libc::killpg(group, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits until no process of `group` is left, so a restart finds its port and files free.
fn wait_until_gone(group: libc::pid_t) -> io::Result<()> {
    let deadline = Instant::now() + STOP_PATIENCE;
    while signal_group(group, 0).is_ok() {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "process group {group} outlived SIGKILL by {STOP_PATIENCE:?}"
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
