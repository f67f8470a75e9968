//! A server and every process it started, found through /proc: a process group is not
//! enough, since PostgreSQL puts each backend in a session of its own (setsid), out of reach of
//! a signal to the postmaster's group.

use std::fs;
use std::io;

use libc::{c_int, pid_t};

/// `root` and its descendants, listed once so that they can all be signalled even after the
/// root dies and its children are handed to init.
pub(crate) struct ProcessTree {
    root: pid_t,
    descendants: Vec<pid_t>,
}

impl ProcessTree {
    /// `root` and every process below it right now.
    pub fn of(root: pid_t) -> ProcessTree {
        let parents = parent_links();
        let mut descendants = Vec::new();
        let mut frontier = vec![root];
        while let Some(parent) = frontier.pop() {
            for &(pid, ppid) in &parents {
                if ppid == parent {
                    descendants.push(pid);
                    frontier.push(pid);
                }
            }
        }
        ProcessTree { root, descendants }
    }

    /// Sends `signal` to the root's process group first (a stopped or killed root starts no
    /// more children), then to each descendant. An error is the root's: a descendant may
    /// have exited meanwhile.
    pub fn signal(&self, signal: c_int) -> io::Result<()> {
        // SAFETY: killpg(2) and kill(2) have no memory-safety preconditions; the pids are
        // this server's processes.
        let sent = unsafe { libc::killpg(self.root, signal) };
        let result = if sent == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        };
        for &pid in &self.descendants {
            unsafe { libc::kill(pid, signal) };
        }
        result
    }

    /// Whether any process of the tree is still running (a zombie does not count: it holds
    /// no port, file or shared memory, and init reaps it).
    pub fn any_alive(&self) -> bool {
        std::iter::once(self.root)
            .chain(self.descendants.iter().copied())
            .any(is_running)
    }
}

/// (pid, parent pid) of every process.
fn parent_links() -> Vec<(pid_t, pid_t)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(|pid: pid_t| Some((pid, stat(pid)?.1)))
        .collect()
}

/// The state letter and parent pid in `/proc/PID/stat` ("pid (comm) S ppid …"; the command
/// may contain spaces and parentheses, so fields are counted from the last `)`).
fn stat(pid: pid_t) -> Option<(char, pid_t)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

fn is_running(pid: pid_t) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}
