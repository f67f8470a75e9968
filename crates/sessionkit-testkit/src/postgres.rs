//! PostgreSQL, run as the `postgres` user since initdb and postgres refuse to run as root.

use std::io;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::daemon::{Launch, run_setup};
use crate::probe;
use crate::server::{Kind, PrivateServer, sealed::Sealed};
use crate::tls::ServerFiles;

/// A private PostgreSQL server, see [`Postgres`].
pub type PrivatePostgres = PrivateServer<Postgres>;

/// The newest PostgreSQL under `/usr/lib/postgresql/*/bin`, a fresh cluster made by initdb
/// (trust authentication for user `postgres`), listening on 127.0.0.1 with its socket in its own
/// directory. Small shared buffers for a fast start; fsync stays on, as in production. Clients
/// connect to the `postgres` database.
pub enum Postgres {}

impl Kind for Postgres {}

impl Sealed for Postgres {
    const LABEL: &'static str = "postgres";

    /// With TLS (`ssl=on`) clients may still connect in plaintext: the readiness probe does.
    fn prepare(dir: &Path, port: u16, tls: Option<ServerFiles>) -> io::Result<Launch> {
        let bin = newest_bin_dir()?;
        let (uid, gid) = postgres_user()?;
        // The server writes its lock file and socket here, and initdb creates `data` in it.
        chown(dir, Some(uid), Some(gid))?;
        let data = dir.join("data");
        run_setup(
            "initdb",
            Command::new(bin.join("initdb"))
                .uid(uid)
                .gid(gid)
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--no-sync"])
                .args(["-E", "UTF8", "--locale=C"]),
        )?;
        if let Some(files) = &tls {
            // PostgreSQL reads them as its own user, and refuses a key others may read.
            for file in [&files.ca, &files.cert, &files.key] {
                chown(file, Some(uid), Some(gid))?;
            }
            std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600))?;
        }
        let socket_dir = dir.to_owned();
        Ok(Launch {
            name: "postgres",
            port,
            log: dir.join("server.log"),
            command: Box::new(move || {
                let mut command = Command::new(bin.join("postgres"));
                command
                    .uid(uid)
                    .gid(gid)
                    .arg("-D")
                    .arg(&data)
                    .arg("-k")
                    .arg(&socket_dir)
                    .args(["-p", &port.to_string()])
                    .args(["-c", "listen_addresses=127.0.0.1"])
                    .args(["-c", "shared_buffers=16MB", "-c", "fsync=on"]);
                if let Some(files) = &tls {
                    command
                        .args(["-c", "ssl=on"])
                        .arg("-c")
                        .arg(format!("ssl_cert_file={}", files.cert.display()))
                        .arg("-c")
                        .arg(format!("ssl_key_file={}", files.key.display()))
                        .arg("-c")
                        .arg(format!("ssl_ca_file={}", files.ca.display()));
                }
                command
            }),
            ready: Box::new(probe::postgres),
            // Fast shutdown: PostgreSQL then removes its System V shared memory, which a
            // SIGKILL would leave behind.
            stop_signal: libc::SIGINT,
        })
    }

    fn url(port: u16, _tls: bool) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// A killed PostgreSQL leaves its System V shared memory segment behind (a restart would
    /// find and remove it through `postmaster.pid`); with the directory about to go, this is
    /// the last chance. Removed only if no process is attached.
    fn after_stop(dir: &Path) {
        let Ok(pid_file) = std::fs::read_to_string(dir.join("data/postmaster.pid")) else {
            return;
        };
        let shmid = pid_file
            .lines()
            .nth(6)
            .and_then(|line| line.split_whitespace().nth(1)?.parse().ok());
        if let Some(shmid) = shmid {
            remove_unattached_segment(shmid);
        }
    }
}

fn remove_unattached_segment(shmid: libc::c_int) {
    // SAFETY: a zeroed shmid_ds is a valid out-parameter for IPC_STAT; IPC_RMID takes none.
    unsafe {
        let mut status: libc::shmid_ds = std::mem::zeroed();
        if libc::shmctl(shmid, libc::IPC_STAT, &mut status) == 0 && status.shm_nattch == 0 {
            libc::shmctl(shmid, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

/// `/usr/lib/postgresql/N/bin` for the highest N installed.
fn newest_bin_dir() -> io::Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .ok_or_else(|| io::Error::other("no PostgreSQL under /usr/lib/postgresql"))?;
    Ok(root.join(newest.to_string()).join("bin"))
}

/// The uid and gid of the `postgres` user.
fn postgres_user() -> io::Result<(u32, u32)> {
    // SAFETY: a zeroed passwd is a valid out-parameter; getpwnam_r writes the strings it points
    // to into `buffer`, which outlives the call, and we read only the two integers.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found = std::ptr::null_mut();
    let code = unsafe {
        libc::getpwnam_r(
            c"postgres".as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if found.is_null() {
        return Err(io::Error::other(format!(
            "no `postgres` user to run PostgreSQL as (getpwnam_r: {code})"
        )));
    }
    Ok((entry.pw_uid, entry.pw_gid))
}
