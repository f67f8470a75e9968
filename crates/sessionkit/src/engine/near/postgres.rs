//! Invalidation from PostgreSQL: `LISTEN/NOTIFY` on deletes only. A trigger on the session
//! table notifies `<table>_near` with the deleted row's address; each instance listening drops
//! that entry. Logout, `cycle_key`, "log out other sessions", expiry purges and
//! `clearsessions` are all deletes, so they are seen at once.
//!
//! Updates are not notified: a `NOTIFY` takes a lock held until commit, so notifying every
//! update would serialize the writes of every instance on the table (the first version of this
//! cut `/bench/incr` from 3,254 to ~650 req/s, near cache or not). An update made elsewhere is
//! seen by a read within `SESSION_NEAR_CACHE_TTL`, and a write never loses it: the versioned
//! `replace` refuses a stale copy and the save reloads and merges.
//!
//! The trigger is created if missing each time the channel connects (idempotent), under a
//! transaction-scoped advisory lock so that instances starting together do not collide. In
//! Django's table (`django_session`) the address is the `session_key` column.

use std::sync::Weak;

use sqlx::postgres::PgListener;

use super::{Listener, Shared};

/// Where to listen: the database URL and the session table.
#[derive(Debug, Clone)]
pub(crate) struct PostgresChannel {
    pub(crate) url: String,
    pub(crate) table: String,
    /// The column that holds a record's address.
    pub(crate) column: &'static str,
}

impl PostgresChannel {
    /// The channel for `table`, whose address column follows from its format.
    pub(crate) fn new(url: &str, table: &str) -> Self {
        PostgresChannel {
            url: url.to_owned(),
            table: table.to_owned(),
            column: if table == "django_session" {
                "session_key"
            } else {
                "session_key_hash"
            },
        }
    }

    /// The notification channel: `<table>_near` (table names are at most 50 characters, so
    /// this stays within PostgreSQL's 63).
    pub(crate) fn channel(&self) -> String {
        format!("{}_near", self.table)
    }

    /// The statement that creates the trigger if missing (and the function it calls, or
    /// replaces that by the same one).
    pub(crate) fn trigger_sql(&self) -> String {
        let table = &self.table;
        let channel = self.channel();
        let column = self.column;
        format!(
            "DO $near$ BEGIN
               PERFORM pg_advisory_xact_lock(hashtext('sessionkit_near_trigger'));
               CREATE OR REPLACE FUNCTION sessionkit_near_notify() RETURNS trigger
                 LANGUAGE plpgsql AS $fn$
                 BEGIN
                   PERFORM pg_notify(TG_ARGV[0], to_jsonb(OLD) ->> TG_ARGV[1]);
                   RETURN NULL;
                 END $fn$;
               -- Only if missing: replacing a trigger locks the table against writes.
               IF NOT EXISTS (SELECT 1 FROM pg_trigger
                              WHERE tgname = lower('{table}_near_delete')
                                AND tgrelid = '{table}'::regclass) THEN
                 CREATE TRIGGER {table}_near_delete AFTER DELETE ON {table}
                   FOR EACH ROW EXECUTE FUNCTION sessionkit_near_notify('{channel}', '{column}');
               END IF;
             END $near$"
        )
    }

    /// A listening connection, the trigger in place.
    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(&self.channel()).await?;
        // The table name is a checked identifier (`SESSION_DB_TABLE`'s validation).
        sqlx::query(sqlx::AssertSqlSafe(self.trigger_sql()))
            .execute(&mut listener)
            .await?;
        Ok(listener)
    }
}

impl Listener for PostgresChannel {
    type Connection = PgListener;
    const STORE: &'static str = "postgres";

    /// A listening connection, the trigger in place.
    async fn connect(&self) -> Result<PgListener, String> {
        self.listen().await.map_err(|error| error.to_string())
    }

    /// Drops the entries notified until the connection is lost; says why it ended.
    async fn forward(&self, mut listener: PgListener, shared: &Weak<Shared>) -> String {
        loop {
            // `try_recv`, not `recv`: `recv` reconnects silently, losing what was notified
            // meanwhile; `None` here says the connection was lost.
            match listener.try_recv().await {
                Ok(Some(notification)) => match shared.upgrade() {
                    Some(shared) => shared.invalidate(notification.payload()),
                    None => return "the cache was dropped".to_owned(),
                },
                Ok(None) => return "the PostgreSQL connection was lost".to_owned(),
                Err(error) => return error.to_string(),
            }
        }
    }
}
