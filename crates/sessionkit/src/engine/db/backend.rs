//! The databases the SQL store runs on: sqlx's `Any` (the pool sessionkit opens from
//! `SESSION_DB_URL`) and each typed database whose feature is on (a pool the application
//! already has). The store's logic and statements are written once, generic over
//! [`Backend`]; this is the only code that touches a concrete sqlx database, and it is the
//! same few lines for each, stamped out by a macro so each is compiled against its own types.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Database, Pool, Row as _};

use super::connection::{self, NoConnection};
use super::sql::Dialect;

/// A database the SQL store ([`SqlStore`](super::SqlStore)) runs on: sqlx's `Any`, and
/// `Postgres`, `MySql` and `Sqlite` with their features. Sealed: its methods are the store's
/// plumbing, not an API.
#[async_trait]
pub trait Backend: Database + sealed::Sealed {
    #[doc(hidden)]
    async fn acquire(
        pool: &Pool<Self>,
        probe: Duration,
    ) -> Result<PoolConnection<Self>, NoConnection>;

    #[doc(hidden)]
    async fn execute(
        connection: &mut Self::Connection,
        sql: &Arc<str>,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error>;

    #[doc(hidden)]
    async fn fetch_optional(
        connection: &mut Self::Connection,
        sql: &Arc<str>,
        params: &[Param<'_>],
    ) -> Result<Option<Self::Row>, sqlx::Error>;

    #[doc(hidden)]
    async fn fetch_all(
        connection: &mut Self::Connection,
        sql: &Arc<str>,
        params: &[Param<'_>],
    ) -> Result<Vec<Self::Row>, sqlx::Error>;

    #[doc(hidden)]
    fn text(row: &Self::Row, column: usize) -> Result<String, sqlx::Error>;

    #[doc(hidden)]
    fn integer(row: &Self::Row, column: usize) -> Result<i64, sqlx::Error>;
}

/// A typed database whose pool an application can hand to the store
/// ([`SqlStore::with_pool`](super::SqlStore::with_pool)): the type fixes the dialect.
pub trait TypedBackend: Backend {
    /// The SQL this database speaks.
    const DIALECT: Dialect;
}

/// One parameter of a statement: the store binds keys, session data, user ids and times.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    /// A key, session data, a lock token.
    Text(&'a str),
    /// A user id, if the session has one.
    OptionalText(Option<&'a str>),
    /// A time, a version, a limit.
    Integer(i64),
}

mod sealed {
    pub trait Sealed {}
}

/// `Backend` for one concrete sqlx database: bind the parameters, run the statement.
macro_rules! backend {
    ($database:ty) => {
        impl sealed::Sealed for $database {}

        #[async_trait]
        impl Backend for $database {
            async fn acquire(
                pool: &Pool<Self>,
                probe: Duration,
            ) -> Result<PoolConnection<Self>, NoConnection> {
                connection::acquire(pool, probe).await
            }

            async fn execute(
                connection: &mut Self::Connection,
                sql: &Arc<str>,
                params: &[Param<'_>],
            ) -> Result<u64, sqlx::Error> {
                let done = bind(sqlx::query(AssertSqlSafe(sql.clone())), params)
                    .execute(connection)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn fetch_optional(
                connection: &mut Self::Connection,
                sql: &Arc<str>,
                params: &[Param<'_>],
            ) -> Result<Option<Self::Row>, sqlx::Error> {
                bind(sqlx::query(AssertSqlSafe(sql.clone())), params)
                    .fetch_optional(connection)
                    .await
            }

            async fn fetch_all(
                connection: &mut Self::Connection,
                sql: &Arc<str>,
                params: &[Param<'_>],
            ) -> Result<Vec<Self::Row>, sqlx::Error> {
                bind(sqlx::query(AssertSqlSafe(sql.clone())), params)
                    .fetch_all(connection)
                    .await
            }

            fn text(row: &Self::Row, column: usize) -> Result<String, sqlx::Error> {
                row.try_get(column)
            }

            fn integer(row: &Self::Row, column: usize) -> Result<i64, sqlx::Error> {
                row.try_get(column)
            }
        }

        impl<'q> Bind for sqlx::query::Query<'q, $database, <$database as Database>::Arguments> {
            fn bind_param(self, param: Param<'_>) -> Self {
                match param {
                    Param::Text(text) => self.bind(text),
                    Param::OptionalText(text) => self.bind(text.map(str::to_owned)),
                    Param::Integer(integer) => self.bind(integer),
                }
            }
        }
    };
}

/// Binding a [`Param`] to a query of one database.
trait Bind: Sized {
    fn bind_param(self, param: Param<'_>) -> Self;
}

fn bind<Q: Bind>(query: Q, params: &[Param<'_>]) -> Q {
    params
        .iter()
        .fold(query, |query, param| query.bind_param(*param))
}

backend!(sqlx::Any);

#[cfg(feature = "postgres")]
backend!(sqlx::Postgres);
#[cfg(feature = "postgres")]
impl TypedBackend for sqlx::Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
}

#[cfg(feature = "mysql")]
backend!(sqlx::MySql);
#[cfg(feature = "mysql")]
impl TypedBackend for sqlx::MySql {
    const DIALECT: Dialect = Dialect::MySql;
}

#[cfg(feature = "sqlite")]
backend!(sqlx::Sqlite);
#[cfg(feature = "sqlite")]
impl TypedBackend for sqlx::Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
}
