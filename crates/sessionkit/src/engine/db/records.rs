//! The SQL table as a [`RecordStore`]: the five operations every store has, and locks, the
//! user index and scans, each one statement of [`sql`](super::sql)'s on the writer (in groups,
//! on an SQLite file sessionkit opened: [`group_commit`](super::group_commit)) or the readers;
//! in sessionkit's format on PostgreSQL and SQLite, loads and updates many to a statement
//! ([`batches`](super::batches)).

use std::time::Duration;

use async_trait::async_trait;

use super::backend::{Backend, Param};
use super::batches::NewState;
use super::sql::TableFormat;
use super::{SqlStore, is_lock_contention, now_seconds};
use crate::engine::store::{
    Addressing, Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord, lease_window,
};
use crate::engine::{EngineError, Loaded, user_of};

#[async_trait]
impl<DB: Backend> RecordStore for SqlStore<DB> {
    fn name(&self) -> &'static str {
        "db"
    }

    /// Django's table has no user column: its sessions cannot be listed by user.
    fn capabilities(&self) -> Capabilities {
        match self.format {
            TableFormat::Django => Capabilities::NONE.with_locking().with_scan(),
            TableFormat::Sessionkit => Capabilities::ALL,
        }
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        Ok(self.fetch_with_expiry(id).await?.map(|(record, _)| record))
    }

    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        let RecordWrite {
            data, expires, now, ..
        } = write;
        let session_data = self.encode(data, now);
        let user = user_of(data);
        let mut params = vec![
            Param::Text(id),
            Param::Text(&session_data),
            Param::Integer(expires.unix_timestamp()),
        ];
        if self.format == TableFormat::Sessionkit {
            params.push(Param::Integer(now.unix_timestamp()));
            params.push(Param::OptionalText(user.as_deref()));
        }
        match self.write(&self.queries.insert, &params).await? {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(EngineError::unavailable(e)),
        }
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let RecordWrite {
            data, expires, now, ..
        } = write;
        let session_data = self.encode(data, now);
        let user = user_of(data);
        if let Some(batches) = self.batches().await? {
            let state = NewState {
                key: id.to_owned(),
                data: session_data,
                expires: expires.unix_timestamp(),
                user,
                version,
            };
            return batches.update(&self.pool, state).await;
        }
        let mut params = vec![
            Param::Text(&session_data),
            Param::Integer(expires.unix_timestamp()),
        ];
        match self.format {
            TableFormat::Sessionkit => params.extend([
                Param::OptionalText(user.as_deref()),
                Param::Text(id),
                Param::Integer(version),
            ]),
            TableFormat::Django => params.push(Param::Text(id)),
        }
        let changed = self
            .write(&self.queries.update, &params)
            .await?
            .map_err(EngineError::unavailable)?;
        match self.format {
            TableFormat::Sessionkit => Ok(changed == 1),
            // No version to compare: the write only has to find the row still there (MySQL
            // counts an update that changes nothing as no row, hence the second look).
            TableFormat::Django => Ok(changed == 1 || self.contains(id).await?),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let params = [Param::Text(id)];
        self.write(&self.queries.delete, &params)
            .await?
            .map_err(EngineError::unavailable)?;
        Ok(())
    }

    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        let params = [Param::Text(id), Param::Integer(now_seconds())];
        let row = DB::fetch_optional(&mut *self.reader().await?, &self.queries.exists, &params)
            .await
            .map_err(EngineError::unavailable)?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        let params = [
            Param::Integer(now_seconds()),
            Param::Integer(i64::try_from(batch).unwrap_or(i64::MAX)),
        ];
        self.write(&self.queries.delete_expired_batch, &params)
            .await?
            .map_err(EngineError::unavailable)
    }

    async fn count_expired(&self) -> Result<Option<u64>, EngineError> {
        let params = [Param::Integer(now_seconds())];
        let row = DB::fetch_optional(
            &mut *self.reader().await?,
            &self.queries.count_expired,
            &params,
        )
        .await
        .map_err(EngineError::unavailable)?;
        let count = match row {
            Some(row) => DB::integer(&row, 0).map_err(EngineError::unavailable)?,
            None => 0,
        };
        Ok(Some(u64::try_from(count).unwrap_or_default()))
    }

    /// A row in `{table}_lock` is the lock; the primary key makes taking it atomic, and a
    /// lapsed lease is deleted first so a crashed holder blocks no one for long.
    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        let (now, until) = lease_window(lease);
        // Waiters poll: a read that finds the lock held keeps them from queueing writes (and,
        // on an SQLite file, from waiting for the writer at all). Only the insert below, on
        // the writer, decides who holds the lock.
        let params = [Param::Text(id), Param::Integer(now)];
        let held = DB::fetch_optional(&mut *self.reader().await?, &self.queries.lock_held, &params)
            .await
            .map_err(EngineError::unavailable)?;
        if held.is_some() {
            return Ok(false);
        }
        let taken = match self.write(&self.queries.drop_lapsed_lock, &params).await? {
            Ok(_) => {
                let params = [Param::Text(id), Param::Text(token), Param::Integer(until)];
                self.write(&self.queries.take_lock, &params).await?
            }
            Err(e) => Err(e),
        };
        match taken {
            Ok(_) => Ok(true),
            // Another taker got there first, or the database chose this one as a deadlock
            // victim (InnoDB's gap locks do that to concurrent takers): try again later.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() || is_lock_contention(&*e) => {
                Ok(false)
            }
            Err(e) => Err(EngineError::unavailable(e)),
        }
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        let params = [Param::Text(id), Param::Text(token)];
        self.write(&self.queries.release_lock, &params)
            .await?
            .map_err(EngineError::unavailable)?;
        Ok(())
    }

    fn addressing(&self) -> Addressing {
        match self.format {
            TableFormat::Sessionkit => Addressing::Hashed,
            // Django's table holds the key itself; that is what sharing it with Django means.
            TableFormat::Django => Addressing::Plain,
        }
    }

    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        if self.format == TableFormat::Django {
            return Err(EngineError::unsupported(
                "db",
                "list a user's sessions in Django's table (it has no user column)",
            ));
        }
        let params = [Param::Text(user_id), Param::Integer(now_seconds())];
        let rows = DB::fetch_all(&mut *self.reader().await?, &self.queries.by_user, &params)
            .await
            .map_err(EngineError::unavailable)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some((record, expires)) = self.decode(&row)? {
                let id = DB::text(&row, 3).map_err(EngineError::unavailable)?;
                found.push(StoredRecord {
                    id,
                    record,
                    expires,
                });
            }
        }
        Ok(found)
    }

    /// `WHERE key > cursor ORDER BY key LIMIT n` on the primary key: each page is one short
    /// index range scan, however large the table.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        let params = [
            Param::Text(cursor.as_deref().unwrap_or_default()),
            Param::Integer(now_seconds()),
            Param::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
        ];
        let rows = DB::fetch_all(&mut *self.reader().await?, &self.queries.scan, &params)
            .await
            .map_err(EngineError::unavailable)?;
        let mut page = ScanPage::default();
        let mut last = None;
        for row in &rows {
            let id = DB::text(row, 3).map_err(EngineError::unavailable)?;
            match self.decode(row)? {
                Some((record, expires)) => page.records.push(StoredRecord {
                    id: id.clone(),
                    record,
                    expires,
                }),
                None => page.unreadable += 1,
            }
            last = Some(id);
        }
        // A short page is the last one.
        page.next = last.filter(|_| rows.len() == limit);
        Ok(page)
    }

    async fn migrate(&self) -> Result<(), EngineError> {
        for statement in &self.queries.schema {
            DB::execute(&mut *self.connection().await?, statement, &[])
                .await
                .map_err(EngineError::unavailable)?;
        }
        Ok(())
    }
}
