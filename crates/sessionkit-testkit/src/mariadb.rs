//! MariaDB, with a `test` database.

use std::io;
use std::path::Path;
use std::process::Command;

use crate::daemon::{Launch, run_setup};
use crate::probe;
use crate::server::{Kind, PrivateServer, sealed::Sealed};
use crate::tls::ServerFiles;

/// A private MariaDB server, see [`MariaDb`].
pub type PrivateMariaDb = PrivateServer<MariaDb>;

/// `mariadbd` with a fresh data directory from `mariadb-install-db`, user `root` with no
/// password, listening on 127.0.0.1 with its socket in its own directory, and a `test` database
/// (made by an init file at each start). `--no-defaults`, so the system's my.cnf (port 3306,
/// the shared socket) is never read. Its temporary files stay in its own directory, at setup
/// too: bootstraps sharing `/tmp` once lost a temporary table (`mysql.tmp_user_sys`). InnoDB
/// keeps its default durability (the log is flushed at each commit).
pub enum MariaDb {}

impl Kind for MariaDb {}

/// A small buffer pool for a fast start: the sessions of a test fit in a few pages.
const BUFFER_POOL: &str = "--innodb-buffer-pool-size=16M";

impl Sealed for MariaDb {
    const LABEL: &'static str = "mariadb";

    /// With TLS every client must use it (`--require-secure-transport`), so a test that
    /// reaches this server has spoken TLS.
    fn prepare(dir: &Path, port: u16, tls: Option<ServerFiles>) -> io::Result<Launch> {
        // What setup and server share: no system my.cnf (`--no-defaults` must come first), the
        // data and the temporary files in this server's directory.
        let shared = [
            "--no-defaults".to_owned(),
            format!("--datadir={}", dir.join("data").display()),
            format!("--tmpdir={}", dir.display()),
            "--user=root".to_owned(),
            BUFFER_POOL.to_owned(),
        ];
        run_setup(
            "mariadb-install-db",
            Command::new("mariadb-install-db")
                .args(&shared)
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"]),
        )?;
        let init_file = dir.join("init.sql");
        std::fs::write(&init_file, "CREATE DATABASE IF NOT EXISTS test;\n")?;
        let dir = dir.to_owned();
        Ok(Launch {
            name: "mariadbd",
            port,
            log: dir.join("server.log"),
            command: Box::new(move || {
                let mut command = Command::new("mariadbd");
                command
                    .args(&shared)
                    .arg(format!("--port={port}"))
                    .arg(format!("--socket={}", dir.join("mariadbd.sock").display()))
                    .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
                    .arg(format!("--init-file={}", init_file.display()))
                    .args(["--bind-address=127.0.0.1", "--skip-networking=0"])
                    .arg("--skip-name-resolve");
                if let Some(files) = &tls {
                    command
                        .arg(format!("--ssl-ca={}", files.ca.display()))
                        .arg(format!("--ssl-cert={}", files.cert.display()))
                        .arg(format!("--ssl-key={}", files.key.display()))
                        .arg("--require-secure-transport=ON");
                }
                command
            }),
            ready: Box::new(probe::mariadb),
            // Its data goes with it: nothing to shut down cleanly.
            stop_signal: libc::SIGKILL,
        })
    }

    fn url(port: u16, _tls: bool) -> String {
        format!("mysql://root@127.0.0.1:{port}/test")
    }
}
