//! Taking a connection from the pool, and saying why there is none. sqlx retries a refused
//! connection until the acquire timeout and then reports only "pool timed out", which hides
//! what an operator needs to know (the database is down, the port is wrong, …). So after a
//! timeout one connection is opened directly, to find out.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, Database, Pool};

/// Why the pool gave no connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoConnection {
    /// The pool failed at once (a closed pool, credentials the server refused, …).
    #[error(transparent)]
    Failed(sqlx::Error),
    /// Every connection was in use for the whole wait: the database is slow or overloaded.
    #[error("all {connections} database connections stayed busy for {waited:?}")]
    Busy {
        /// The pool's size.
        connections: u32,
        /// How long the request waited.
        waited: Duration,
    },
    /// Opening a connection fails, and this is why (e.g. connection refused).
    #[error("no database connection within {waited:?}: {cause}")]
    CannotConnect {
        /// How long the request waited.
        waited: Duration,
        /// What a new connection attempt said.
        #[source]
        cause: sqlx::Error,
    },
    /// Opening a connection does not finish: the host does not answer.
    #[error("no database connection within {waited:?}: connecting took over {tried:?}")]
    SlowToConnect {
        /// How long the request waited.
        waited: Duration,
        /// How long the direct attempt was given.
        tried: Duration,
    },
    /// The wait timed out, but a connection opens now: the database just came back.
    #[error("no database connection within {waited:?}, though a new one opens now")]
    Recovered {
        /// How long the request waited.
        waited: Duration,
    },
}

/// The database of `SESSION_DB_URL` gave no connection when the engine was opened.
#[derive(Debug, thiserror::Error)]
#[error("SESSION_DB_URL {url}: {cause}{hint}")]
pub struct Unreachable {
    /// The URL, its password hidden.
    pub url: String,
    /// Why there was no connection.
    pub cause: NoConnection,
    /// What to check, e.g. `SESSION_STORE_CA_FILE` after a refused certificate; often empty.
    pub hint: String,
}

/// A connection from `pool`, or why there is none; finding out takes at most `probe`.
pub async fn acquire<DB: Database>(
    pool: &Pool<DB>,
    probe: Duration,
) -> Result<PoolConnection<DB>, NoConnection> {
    match pool.acquire().await {
        Ok(connection) => Ok(connection),
        Err(sqlx::Error::PoolTimedOut) => Err(diagnose(pool, probe).await),
        Err(error) => Err(NoConnection::Failed(error)),
    }
}

/// Why `pool` timed out: all its connections busy, or what a direct attempt to connect says.
async fn diagnose<DB: Database>(pool: &Pool<DB>, probe: Duration) -> NoConnection {
    let waited = pool.options().get_acquire_timeout();
    let connections = pool.options().get_max_connections();
    if pool.size() >= connections && pool.num_idle() == 0 {
        return NoConnection::Busy {
            connections,
            waited,
        };
    }
    let options = pool.connect_options();
    match tokio::time::timeout(probe, DB::Connection::connect_with(&options)).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            NoConnection::Recovered { waited }
        }
        Ok(Err(cause)) => NoConnection::CannotConnect { waited, cause },
        Err(_) => NoConnection::SlowToConnect {
            waited,
            tried: probe,
        },
    }
}
