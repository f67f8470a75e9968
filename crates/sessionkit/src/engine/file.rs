//! `file`: one file per session in `SESSION_FILE_PATH`.
//!
//! A session file is named `sessionkit_` + the SHA-256 of the key (so no key, and nothing a
//! client sent, ever becomes part of a path) and holds one header line,
//! `version expire_unix_seconds`, then the data as JSON. Writes go to a temporary file in the
//! same directory that is then renamed over the session file, so a crash leaves the old or the
//! new session, never a torn one. Writers (insert, replace, remove, purge) hold an exclusive
//! lock on the directory's `.sessionkit.lock`, which makes check-then-write atomic across
//! threads and processes; readers need no lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::store::{Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord, lease_window};
use super::{Data, EngineError, Loaded, user_of};
use crate::key::SessionKey;

const FILE_PREFIX: &str = "sessionkit_";
const LOCK_FILE: &str = ".sessionkit.lock";

/// Session records as files in one directory.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::{EngineKind, Sessions, Settings};
/// use sessionkit::engine::SessionKey;
///
/// let dir = std::env::temp_dir().join(format!("sessions-{}", SessionKey::generate().as_str()));
/// std::fs::create_dir(&dir)?;
/// let settings = Settings {
///     engine: EngineKind::File,
///     file_path: dir.clone(),
///     ..Settings::new("secret")
/// };
/// let sessions = Sessions::open(settings).await?;
/// # let session = sessions.start(None).load().await?;
/// # session.insert("n", 1)?;
/// let cookie = session.save().await?.unwrap(); // one session saved
/// let names: Vec<String> = std::fs::read_dir(&dir)?
///     .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
///     .filter(|name| name.starts_with("sessionkit_"))
///     .collect();
/// assert_eq!(names.len(), 1);
/// assert!(!names[0].contains(&cookie)); // named by the key's hash, not the key
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: Arc<PathBuf>,
}

/// A session file's contents.
pub(crate) struct Record {
    pub(crate) version: i64,
    pub(crate) expires: OffsetDateTime,
    pub(crate) data: Data,
}

impl Record {
    fn is_live(&self) -> bool {
        self.expires > OffsetDateTime::now_utc()
    }

    fn loaded(self) -> Loaded {
        Loaded {
            data: Arc::new(self.data),
            version: self.version,
        }
    }

    /// The record a session file's text holds, if it is one: the inverse of [`Record::render`].
    pub(crate) fn parse(text: &str) -> Option<Record> {
        let (header, json) = text.split_once('\n')?;
        let (version, expires) = header.split_once(' ')?;
        Some(Record {
            version: version.parse().ok()?,
            expires: OffsetDateTime::from_unix_timestamp(expires.parse().ok()?).ok()?,
            data: Data::from_json(json).ok()?,
        })
    }

    /// The text of a session file: the `version expire_unix_seconds` line, then the JSON.
    pub(crate) fn render(&self) -> String {
        let header = format!("{} {}\n", self.version, self.expires.unix_timestamp());
        header + &self.data.to_json()
    }
}

impl FileStore {
    /// Sessions in `dir`, which must exist (settings validation checks it).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use sessionkit::engine::{FileStore, ServerEngine};
    /// use sessionkit::engine::Engine;
    ///
    /// let store = FileStore::new(std::env::temp_dir());
    /// let engine = ServerEngine::new(store, Duration::from_secs(5));
    /// assert_eq!(engine.name(), "file");
    /// assert!(!engine.exists("abcdefgh12345678").await?);
    /// # Ok(()) }
    /// ```
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore {
            dir: Arc::new(dir.into()),
        }
    }

    /// Runs blocking file work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Path) -> io::Result<T> + Send + 'static,
    ) -> Result<T, EngineError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || work(&dir))
            .await
            .map_err(EngineError::unavailable)?
            .map_err(EngineError::unavailable)
    }
}

pub(crate) fn session_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}{id}"))
}

pub(crate) fn lock_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!(".lock-{id}"))
}

/// A session lock file's holder and lease end (Unix milliseconds), if the file exists.
fn read_lock(path: &Path) -> io::Result<Option<(String, i64)>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text
            .split_once(' ')
            .and_then(|(token, until)| Some((token.to_owned(), until.trim().parse().ok()?)))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Holds the directory's writer lock until dropped.
fn lock_dir(dir: &Path) -> io::Result<File> {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    lock.lock()?;
    Ok(lock)
}

/// Reads a session file; `None` if it is missing. A file that does not parse is reported
/// and treated as missing.
fn read(path: &Path) -> io::Result<Option<Record>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(parse(path, &text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The record in the text of the session file at `path`; `None`, reported, if it does not
/// parse.
fn parse(path: &Path, text: &str) -> Option<Record> {
    let parsed = Record::parse(text);
    if parsed.is_none() {
        tracing::warn!(file = %path.display(), "unreadable session file; ignoring it");
    }
    parsed
}

/// Writes a session file atomically: a temporary file in the same directory, flushed to disk,
/// then renamed over the target.
fn write(dir: &Path, id: &str, record: &Record) -> io::Result<()> {
    let temporary = dir.join(format!(
        ".tmp-{id}-{}",
        SessionKey::generate().fingerprint()
    ));
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(record.render().as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, session_path(dir, id))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[async_trait]
impl RecordStore for FileStore {
    fn name(&self) -> &'static str {
        "file"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        let path = session_path(&self.dir, id);
        let record = self.blocking(move |_| read(&path)).await?;
        Ok(record.filter(Record::is_live).map(Record::loaded))
    }

    async fn insert(&self, id: &str, new: RecordWrite<'_>) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = new;
        let id = id.to_owned();
        let record = Record {
            version: 1,
            expires,
            data: Data::clone(data),
        };
        self.blocking(move |dir| {
            let _lock = lock_dir(dir)?;
            if read(&session_path(dir, &id))?.is_some_and(|r| r.is_live()) {
                return Ok(false);
            }
            write(dir, &id, &record).map(|()| true)
        })
        .await
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        new: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = new;
        let id = id.to_owned();
        let record = Record {
            version: version + 1,
            expires,
            data: Data::clone(data),
        };
        self.blocking(move |dir| {
            let _lock = lock_dir(dir)?;
            match read(&session_path(dir, &id))? {
                Some(current) if current.version == version => {
                    write(dir, &id, &record).map(|()| true)
                }
                _ => Ok(false),
            }
        })
        .await
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let id = id.to_owned();
        self.blocking(move |dir| {
            let _lock = lock_dir(dir)?;
            match fs::remove_file(session_path(dir, &id)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
        .await
    }

    /// The lock is a file `.lock-ID` holding `token lease_end_ms`, taken and released under the
    /// directory lock, so checking its lease and replacing it is one atomic step.
    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        let (id, token) = (id.to_owned(), token.to_owned());
        self.blocking(move |dir| {
            let path = lock_path(dir, &id);
            let (now, until) = lease_window(lease);
            let held = |path: &Path| -> io::Result<bool> {
                Ok(read_lock(path)?.is_some_and(|(_, held_until)| held_until > now))
            };
            // Waiters poll: seeing the lock held needs no directory lock.
            if held(&path)? {
                return Ok(false);
            }
            let _lock = lock_dir(dir)?;
            if held(&path)? {
                return Ok(false);
            }
            fs::write(&path, format!("{token} {until}"))?;
            Ok(true)
        })
        .await
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        let (id, token) = (id.to_owned(), token.to_owned());
        self.blocking(move |dir| {
            let _lock = lock_dir(dir)?;
            let path = lock_path(dir, &id);
            if read_lock(&path)?.is_some_and(|(holder, _)| holder == token) {
                fs::remove_file(&path)?;
            }
            Ok(())
        })
        .await
    }

    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        let user_id = user_id.to_owned();
        self.blocking(move |dir| {
            let mut found = Vec::new();
            for entry in fs::read_dir(dir)? {
                let path = entry?.path();
                let Some(id) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(FILE_PREFIX))
                    .map(str::to_owned)
                else {
                    continue;
                };
                let record = read(&path)?.filter(Record::is_live);
                if let Some(r) = record.filter(|r| user_of(&r.data).as_deref() == Some(&user_id)) {
                    found.push(StoredRecord {
                        id,
                        expires: r.expires,
                        record: r.loaded(),
                    });
                }
            }
            Ok(found)
        })
        .await
    }

    /// The directory listing, in name order: the `limit` smallest ids after the cursor. Each
    /// page lists the whole directory, which an offline copy can afford.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        self.blocking(move |dir| {
            let after = cursor.unwrap_or_default();
            let mut ids = Vec::new();
            for entry in fs::read_dir(dir)? {
                let name = entry?.file_name();
                let id = name.to_str().and_then(|n| n.strip_prefix(FILE_PREFIX));
                if let Some(id) = id.filter(|id| *id > after.as_str()) {
                    ids.push(id.to_owned());
                }
            }
            if ids.len() > limit {
                ids.select_nth_unstable(limit);
                ids.truncate(limit);
            }
            ids.sort_unstable();
            let mut page = ScanPage {
                next: ids.last().filter(|_| ids.len() == limit).cloned(),
                ..ScanPage::default()
            };
            for id in ids {
                let path = session_path(dir, &id);
                let text = match fs::read_to_string(&path) {
                    Ok(text) => text,
                    // Removed since the listing: nothing to copy.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                match parse(&path, &text) {
                    Some(r) if r.is_live() => page.records.push(StoredRecord {
                        id,
                        expires: r.expires,
                        record: r.loaded(),
                    }),
                    Some(_) => {}
                    None => page.unreadable += 1,
                }
            }
            Ok(page)
        })
        .await
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.blocking(move |dir| {
            let _lock = lock_dir(dir)?;
            let mut removed = 0;
            for entry in fs::read_dir(dir)? {
                let path = entry?.path();
                let is_session = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(FILE_PREFIX));
                if is_session && read(&path)?.is_some_and(|r| !r.is_live()) {
                    fs::remove_file(&path)?;
                    removed += 1;
                    if removed == batch as u64 {
                        break;
                    }
                }
            }
            Ok(removed)
        })
        .await
    }
}
