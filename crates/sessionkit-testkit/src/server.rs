//! What every private server offers a fault test, whatever the kind of server.

use std::io;
use std::marker::PhantomData;
use std::path::Path;

use crate::daemon::{Daemon, Launch};
use crate::{TcpProxy, TempDir, spare_port};

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

        /// Cleans up what the stopped server may have left outside `dir` (after a kill).
        fn after_stop(_dir: &Path) {}
    }
}

/// A server of kind `K` on a spare port, its data in a temporary directory of its own; faults
/// reach every process it runs. Dropping it stops the server and removes the directory.
pub struct PrivateServer<K: Kind> {
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

    /// The URL to connect with through `proxy` (forwarding to this server), so a test can cut
    /// the network between a client and the server.
    pub fn url_via(&self, proxy: &TcpProxy) -> String {
        K::url(proxy.port())
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

impl<K: Kind> Drop for PrivateServer<K> {
    /// Stops the server before its directory goes (with the fields, after this).
    fn drop(&mut self) {
        self.daemon.stop();
        K::after_stop(self.dir.path());
    }
}
