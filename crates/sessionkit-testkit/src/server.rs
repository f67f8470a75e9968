//! What every private server offers a fault test, whatever the kind of server.

use std::io;
use std::marker::PhantomData;
use std::path::Path;

use crate::daemon::{Daemon, Launch};
use crate::tls::ServerFiles;
use crate::{TcpProxy, TempDir, TestCa, spare_port};

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
        /// `port` with its data there, speaking TLS with `tls`'s files if given.
        fn prepare(dir: &Path, port: u16, tls: Option<ServerFiles>) -> io::Result<Launch>;

        /// The URL a client connects with (to a TLS server if `tls`).
        fn url(port: u16, tls: bool) -> String;

        /// Cleans up what the stopped server may have left outside `dir` (after a kill).
        fn after_stop(_dir: &Path) {}
    }
}

/// A server of kind `K` on a spare port, its data in a temporary directory of its own; faults
/// reach every process it runs. Dropping it stops the server and removes the directory.
pub struct PrivateServer<K: Kind> {
    daemon: Daemon,
    dir: TempDir,
    tls: bool,
    kind: PhantomData<K>,
}

impl<K: Kind> PrivateServer<K> {
    /// Prepares a fresh data directory, starts the server and waits until it answers queries.
    pub fn start() -> io::Result<Self> {
        Self::start_with(None)
    }

    /// Like [`PrivateServer::start`], with TLS on, presenting `ca`'s server certificate: Redis
    /// then speaks only TLS, MariaDB requires it of every client, and PostgreSQL offers it.
    pub fn start_tls(ca: &TestCa) -> io::Result<Self> {
        Self::start_with(Some(ca))
    }

    fn start_with(ca: Option<&TestCa>) -> io::Result<Self> {
        let dir = TempDir::new(K::LABEL)?;
        let files = ca.map(|ca| ca.server_files_in(dir.path())).transpose()?;
        let launch = K::prepare(dir.path(), spare_port()?, files)?;
        Ok(PrivateServer {
            daemon: Daemon::start(launch)?,
            dir,
            tls: ca.is_some(),
            kind: PhantomData,
        })
    }

    /// The URL to connect with, e.g. `redis://127.0.0.1:PORT` (`rediss://` with TLS). The
    /// database URLs name no `sslmode`: a test says which it wants.
    pub fn url(&self) -> String {
        K::url(self.port(), self.tls)
    }

    /// The URL to connect with through `proxy` (forwarding to this server), so a test can cut
    /// the network between a client and the server.
    pub fn url_via(&self, proxy: &TcpProxy) -> String {
        K::url(proxy.port(), self.tls)
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
