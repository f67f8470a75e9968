//! What every private server offers a fault test, whatever the kind of server.

use std::io;
use std::marker::PhantomData;
use std::path::Path;

use crate::daemon::{Daemon, Launch};
use crate::{TempDir, spare_port};

/// A kind of server [`PrivateServer`] can run: [`Redis`](crate::Redis),
/// [`Postgres`](crate::Postgres) or [`MariaDb`](crate::MariaDb). Sealed: the kinds are this
/// crate's.
pub trait Kind: sealed::Sealed {}

pub(crate) mod sealed {
    use super::*;

    pub trait Sealed {
        /// Names the server's temporary directory.
        const LABEL: &'static str;

        /// Prepares `dir` for a first start (e.g. initdb) and says how to run the server on
        /// `port` with its data there.
        fn prepare(dir: &Path, port: u16) -> io::Result<Launch>;

        /// The URL a client connects with.
        fn url(port: u16) -> String;
    }
}

/// A server of kind `K` on a spare port, its data in a temporary directory of its own, in a
/// process group of its own. Dropping it stops the server and removes the directory.
pub struct PrivateServer<K: Kind> {
    // Field order matters: the server stops before its directory is removed.
    daemon: Daemon,
    dir: TempDir,
    kind: PhantomData<K>,
}

impl<K: Kind> PrivateServer<K> {
    /// Prepares a fresh data directory, starts the server and waits until it answers queries.
    pub fn start() -> io::Result<Self> {
        let dir = TempDir::new(K::LABEL)?;
        let launch = K::prepare(dir.path(), spare_port()?)?;
        Ok(PrivateServer {
            daemon: Daemon::start(launch)?,
            dir,
            kind: PhantomData,
        })
    }

    /// The URL to connect with, e.g. `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        K::url(self.port())
    }

    pub fn port(&self) -> u16 {
        self.daemon.port()
    }

    /// The directory holding the server's data and its log (`server.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGKILL to every process of the server: it dies at once, as in a crash or power cut
    /// (what it had fsynced survives).
    pub fn kill(&mut self) -> io::Result<()> {
        self.daemon.kill()
    }

    /// SIGSTOP to every process of the server: it keeps its connections open but answers
    /// nothing, like a hung or overloaded machine.
    pub fn suspend(&self) -> io::Result<()> {
        self.daemon.suspend()
    }

    /// SIGCONT: a suspended server carries on where it stopped.
    pub fn resume(&self) -> io::Result<()> {
        self.daemon.resume()
    }

    /// Starts the server again on the same port and data (killing it first if it still runs)
    /// and waits until it answers queries.
    pub fn restart(&mut self) -> io::Result<()> {
        self.daemon.restart()
    }
}
