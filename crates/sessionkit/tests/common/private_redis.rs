//! A private `redis-server` on a spare port, for tests that stop, suspend or restart it: the
//! shared Redis other tests use is never disturbed. Each test binary uses part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server child process, killed on drop (SIGKILL ends a suspended one too).
pub struct PrivateRedis {
    pub port: u16,
    child: Child,
}

impl PrivateRedis {
    /// Starts one on a free port.
    pub fn start_anywhere() -> PrivateRedis {
        PrivateRedis::start(free_port())
    }

    /// Starts one on `port`, without persistence, and waits until it accepts connections.
    pub fn start(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (DESIGN.md §9)");
        let redis = PrivateRedis { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (its data is lost: no persistence) and returns its port, to start another.
    pub fn stop(mut self) -> u16 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.port
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing is answered — a hung server, or
    /// a network partition that keeps the data.
    pub fn suspend(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a suspended server run on (SIGCONT), with its data and every queued command.
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: a plain kill(2) to the child this value owns, which has not been reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "signal redis-server");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
