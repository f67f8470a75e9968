//! Moving sessions between engines: a store's sessions exported page by page, imported into
//! another store under the same keys, so users stay logged in when the application moves.

use time::OffsetDateTime;

use super::{Data, Engine, EngineError};
use crate::key::SessionKey;

/// A live session as [`Engine::export`] hands it over, for [`Engine::import`] into another
/// store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{Data, ExportedSession, ImportOutcome, JsonText};
/// use sessionkit::{EngineKind, Settings};
/// use sessionkit::engine::SessionKey;
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let engine = sessionkit::engine::open(&settings).await?;
/// let key = SessionKey::generate();
/// let session = ExportedSession {
///     address: key.hashed(),
///     key: None, // the hash is enough for sessionkit's own stores
///     data: Data::from_iter([("user_id", JsonText::from(42))]),
///     expires: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
/// };
/// assert_eq!(engine.import(&session).await?, ImportOutcome::Copied);
/// assert!(engine.exists(key.as_str()).await?); // the user's cookie works here now
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq)]
pub struct ExportedSession {
    /// The record's address in the source store: the SHA-256 hex of the session key, or in
    /// Django's table the key itself (see [`Addressing`](super::Addressing)).
    pub address: String,
    /// The session key, when the source store holds it (Django's table). `None` where the
    /// store keeps only the key's hash: enough for every store that addresses records by that
    /// hash, not for Django's table, which needs the key itself.
    pub key: Option<SessionKey>,
    /// The session data.
    pub data: Data,
    /// When it expires; the copy expires then too.
    pub expires: OffsetDateTime,
}

/// The address is a usable cookie when the key is known, so `Debug` shows the key's
/// fingerprint instead (as [`SessionKey`] does), and the address only when it is a hash.
impl std::fmt::Debug for ExportedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("ExportedSession");
        match &self.key {
            Some(key) => debug.field("key", key),
            None => debug.field("address", &self.address),
        };
        debug
            .field("data", &self.data)
            .field("expires", &self.expires)
            .finish()
    }
}

/// One page of [`Engine::export`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use sessionkit::{EngineKind, Sessions, Settings};
/// # let sessions = Sessions::open(Settings {
/// #     engine: EngineKind::Cache,
/// #     cache_url: "memory://".into(),
/// #     ..Settings::new("secret")
/// # })
/// # .await?;
/// # for n in 0..3 {
/// #     let session = sessions.start(None).load().await?;
/// #     session.insert("n", n)?;
/// #     session.save().await?;
/// # }
/// let (mut cursor, mut seen) = (None, 0);
/// loop {
///     let page = sessions.engine().export(cursor, 2).await?;
///     seen += page.sessions.len();
///     match page.next {
///         Some(next) => cursor = Some(next),
///         None => break,
///     }
/// }
/// assert_eq!(seen, 3); // three sessions, in pages of about two
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPage {
    /// The live sessions of this page.
    pub sessions: Vec<ExportedSession>,
    /// Live records of this page that could not be read (data that does not verify with
    /// `SECRET_KEY` or its fallbacks, or is corrupted), hence not exported.
    pub unreadable: u64,
    /// Where the next page starts; `None` after the last page. A page may be short, even
    /// empty, while more follow.
    pub next: Option<String>,
}

/// What [`Engine::import`] did with one session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{self, ImportOutcome};
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let (from, to) = (engine::open(&settings).await?, engine::open(&settings).await?);
/// # let sessions = sessionkit::Sessions::new(from.clone(), settings.clone())?;
/// # let session = sessions.start(None).load().await?;
/// # session.insert("user_id", 42)?;
/// # session.save().await?;
/// let page = from.export(None, 100).await?; // one session
/// let exported = &page.sessions[0];
/// assert_eq!(to.import(exported).await?, ImportOutcome::Copied);
/// assert_eq!(to.import(exported).await?, ImportOutcome::AlreadyPresent); // never overwrites
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportOutcome {
    /// Stored at the destination, with the same key, data and expiry.
    Copied,
    /// The destination already has a live session under that key; it was left as it is.
    AlreadyPresent,
    /// The session expired before it could be stored; nothing was written.
    Expired,
    /// The destination addresses records by the session key itself (Django's table) and the
    /// source only had the key's hash, from which the key cannot be recovered (or an address
    /// that is neither a valid key nor a key's hash): a record stored under it would never
    /// match a cookie, so nothing was written.
    KeyUnknown,
}

/// What [`copy_sessions`] did, session by session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{self, CopyReport};
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let (from, to) = (engine::open(&settings).await?, engine::open(&settings).await?);
/// # let sessions = sessionkit::Sessions::new(from.clone(), settings.clone())?;
/// # let session = sessions.start(None).load().await?;
/// # session.insert("user_id", 42)?;
/// # session.save().await?;
/// let report = engine::copy_sessions(&*from, &*to, 100, |_| {}).await?; // one session
/// assert_eq!(report, CopyReport { copied: 1, ..CopyReport::default() });
/// let again = engine::copy_sessions(&*from, &*to, 100, |_| {}).await?;
/// assert_eq!(again.already_present, 1); // a second run changes nothing
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Sessions stored at the destination.
    pub copied: u64,
    /// Sessions the destination already had (left untouched).
    pub already_present: u64,
    /// Sessions that expired during the copy.
    pub expired: u64,
    /// Sessions the destination could not address: see [`ImportOutcome::KeyUnknown`].
    pub key_unknown: u64,
    /// Live records of the source that could not be read: see [`ExportPage::unreadable`].
    pub unreadable: u64,
}

impl CopyReport {
    /// How many records were looked at so far.
    ///
    /// ```
    /// use sessionkit::engine::CopyReport;
    ///
    /// let report = CopyReport {
    ///     copied: 5,
    ///     already_present: 2,
    ///     unreadable: 1,
    ///     ..CopyReport::default()
    /// };
    /// assert_eq!(report.seen(), 8);
    /// ```
    pub fn seen(&self) -> u64 {
        self.copied + self.already_present + self.expired + self.key_unknown + self.unreadable
    }

    /// Live sessions of the source that are not at the destination after the copy.
    ///
    /// ```
    /// use sessionkit::engine::CopyReport;
    ///
    /// let report = CopyReport {
    ///     copied: 5,
    ///     expired: 2,
    ///     key_unknown: 1,
    ///     unreadable: 1,
    ///     ..Default::default()
    /// };
    /// assert_eq!(report.not_copied(), 2); // expired sessions need no copy
    /// ```
    pub fn not_copied(&self) -> u64 {
        self.key_unknown + self.unreadable
    }

    fn count(&mut self, outcome: ImportOutcome) {
        *match outcome {
            ImportOutcome::Copied => &mut self.copied,
            ImportOutcome::AlreadyPresent => &mut self.already_present,
            ImportOutcome::Expired => &mut self.expired,
            ImportOutcome::KeyUnknown => &mut self.key_unknown,
        } += 1;
    }
}

/// Copies every live session of `from` into `to`, `batch` at a time, calling `progress` with
/// the running report after each page. Sessions keep their keys, data and expiry, so users
/// stay logged in when the application moves to `to`; sessions `to` already has are left as
/// they are. Meant to run while no application writes to either store: a session saved in
/// `from` after its page was read is not copied again.
///
/// ```no_run
/// # async fn demo(
/// #     from: &dyn sessionkit::engine::Engine,
/// #     to: &dyn sessionkit::engine::Engine,
/// # ) -> Result<(), sessionkit::engine::EngineError> {
/// let report = sessionkit::engine::copy_sessions(from, to, 1000, |r| eprint!("\r{}", r.seen()))
///     .await?;
/// println!("copied {} sessions", report.copied);
/// # Ok(()) }
/// ```
pub async fn copy_sessions(
    from: &dyn Engine,
    to: &dyn Engine,
    batch: usize,
    mut progress: impl FnMut(&CopyReport),
) -> Result<CopyReport, EngineError> {
    let batch = batch.max(1);
    let mut report = CopyReport::default();
    let mut cursor = None;
    loop {
        let page = from.export(cursor, batch).await?;
        report.unreadable += page.unreadable;
        for session in &page.sessions {
            report.count(to.import(session).await?);
        }
        progress(&report);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(report),
        }
    }
}
