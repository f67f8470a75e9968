//! What one save carries to an engine (the data, this request's per-key changes, the record it
//! replaces) and what it gets back.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::OffsetDateTime;

use super::Data;
use crate::expiry::expiry_date;

/// What a save replaces: the cookie value the record was loaded from, and its version then.
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
/// use std::sync::Arc;
/// use sessionkit::engine::{ChangeSet, Data, JsonText, Previous, SaveRequest};
///
/// let data = Arc::new(Data::from_iter([("n", JsonText::from(1))]));
/// let changes = ChangeSet::default();
/// let now = time::OffsetDateTime::now_utc();
/// let request = SaveRequest {
///     previous: None,
///     data: &data,
///     changes: &changes,
///     now,
///     cookie_age: 60,
/// };
/// let created = sessions.engine().save(request).await?;
/// let previous = Previous { cookie_value: &created.cookie_value, version: created.version };
/// let update = SaveRequest { previous: Some(previous), ..request };
/// let updated = sessions.engine().save(update).await?;
/// assert_eq!(updated.cookie_value, created.cookie_value); // the same record
/// assert_eq!(updated.version, created.version + 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// The cookie value the request carried.
    pub cookie_value: &'a str,
    /// [`Loaded::version`](super::Loaded::version) at load time.
    pub version: i64,
}

/// The changes one request made, key by key: which keys it set and which it removed. The values
/// set are not copied here: they are the session's data at save time
/// ([`SaveRequest::data`]), which a request always saves together with its changes.
///
/// ```
/// use sessionkit::engine::{ChangeSet, Data};
///
/// let mut changes = ChangeSet::default();
/// changes.set("cart");
/// changes.remove("coupon");
/// // This request's session: the cart it set, without the coupon.
/// let ours = Data::from_json(r#"{"theme": "light", "cart": [1]}"#).unwrap();
/// // Meanwhile another request changed the theme.
/// let mut stored = Data::from_json(r#"{"coupon": "X", "theme": "dark"}"#).unwrap();
/// changes.apply_to(&mut stored, &ours);
/// assert_eq!(stored.to_json(), r#"{"theme":"dark","cart":[1]}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// The request cleared the session first (`clear`, `flush`, `cycle_key`).
    pub cleared: bool,
    /// Keys set; their final values are in the session's data.
    pub set: BTreeSet<String>,
    /// Keys removed (and not set again afterwards).
    pub removed: BTreeSet<String>,
}

impl ChangeSet {
    /// Records that `key` was set.
    ///
    /// ```
    /// use sessionkit::engine::{ChangeSet, Data};
    ///
    /// let mut changes = ChangeSet::default();
    /// changes.remove("cart");
    /// changes.set("cart");
    /// assert!(changes.set.contains("cart"));
    /// assert!(changes.removed.is_empty()); // set after remove: only the set remains
    /// ```
    pub fn set(&mut self, key: &str) {
        self.removed.remove(key);
        if !self.set.contains(key) {
            self.set.insert(key.to_owned());
        }
    }

    /// Records the removal of `key`.
    ///
    /// ```
    /// use sessionkit::engine::{ChangeSet, Data};
    ///
    /// let mut changes = ChangeSet::default();
    /// changes.set("coupon");
    /// changes.remove("coupon");
    /// assert!(changes.set.is_empty());
    /// assert!(changes.removed.contains("coupon"));
    /// ```
    pub fn remove(&mut self, key: &str) {
        self.set.remove(key);
        if !self.removed.contains(key) {
            self.removed.insert(key.to_owned());
        }
    }

    /// Records that the session was emptied: earlier changes no longer matter.
    ///
    /// ```
    /// use sessionkit::engine::{ChangeSet, Data};
    ///
    /// let mut changes = ChangeSet::default();
    /// changes.set("a");
    /// changes.clear();
    /// changes.set("b");
    /// let ours = Data::from_json(r#"{"b": 2}"#).unwrap();
    /// let mut stored = Data::from_json(r#"{"a": 0, "z": 9}"#).unwrap();
    /// changes.apply_to(&mut stored, &ours);
    /// assert_eq!(stored.to_json(), r#"{"b":2}"#); // other keys go too
    /// ```
    pub fn clear(&mut self) {
        *self = ChangeSet {
            cleared: true,
            ..ChangeSet::default()
        };
    }

    /// Adds `later`, changes made after these ones.
    ///
    /// ```
    /// use sessionkit::engine::{ChangeSet, Data};
    ///
    /// let mut earlier = ChangeSet::default();
    /// earlier.set("a");
    /// earlier.set("y");
    /// let mut later = ChangeSet::default();
    /// later.remove("a");
    /// later.set("c");
    /// earlier.extend(later);
    /// let ours = Data::from_json(r#"{"y": 2, "c": 3}"#).unwrap();
    /// let mut stored = Data::from_json(r#"{"a": 0, "z": 9}"#).unwrap();
    /// earlier.apply_to(&mut stored, &ours);
    /// assert_eq!(stored.keys().collect::<Vec<_>>(), ["z", "y", "c"]); // new keys in our order
    /// assert_eq!(stored.to_json(), r#"{"z":9,"y":2,"c":3}"#);
    /// ```
    pub fn extend(&mut self, later: ChangeSet) {
        if later.cleared {
            *self = later;
            return;
        }
        // A key is either set or removed in `later`, so the order of the two does not matter.
        for key in &later.removed {
            self.remove(key);
        }
        for key in &later.set {
            self.set(key);
        }
    }

    /// Whether the request changed nothing.
    ///
    /// ```
    /// use sessionkit::engine::{ChangeSet, Data};
    ///
    /// let mut changes = ChangeSet::default();
    /// assert!(changes.is_empty());
    /// changes.clear();
    /// assert!(!changes.is_empty()); // emptying the session is a change
    /// ```
    pub fn is_empty(&self) -> bool {
        !self.cleared && self.set.is_empty() && self.removed.is_empty()
    }

    /// Applies these changes to `data` (the freshest stored version of the session), with the
    /// values set taken from `values` (this request's session data). Keys new to `data` are
    /// added in the order `values` has them.
    ///
    /// ```
    /// use sessionkit::engine::{ChangeSet, Data};
    ///
    /// // This request added to the cart; meanwhile another one stored a theme.
    /// let mut changes = ChangeSet::default();
    /// changes.set("cart");
    /// let ours = Data::from_json(r#"{"cart": [7]}"#).unwrap();
    /// let mut freshest = Data::from_json(r#"{"cart": [], "theme": "dark"}"#).unwrap();
    /// changes.apply_to(&mut freshest, &ours);
    /// assert_eq!(freshest.to_json(), r#"{"cart":[7],"theme":"dark"}"#);
    /// ```
    pub fn apply_to(&self, data: &mut Data, values: &Data) {
        if self.cleared {
            data.clear();
        }
        for key in &self.removed {
            data.remove(key);
        }
        for (key, value) in values {
            if self.set.contains(key) {
                data.insert(key, value.clone());
            }
        }
    }
}

/// What a save produced.
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
/// use std::sync::Arc;
/// use sessionkit::engine::SessionKey;
/// use sessionkit::engine::{ChangeSet, Data, JsonText, SaveRequest};
///
/// let (data, changes) = (Arc::new(Data::new()), ChangeSet::default());
/// let now = time::OffsetDateTime::now_utc();
/// let request = SaveRequest {
///     previous: None,
///     data: &data,
///     changes: &changes,
///     now,
///     cookie_age: 60,
/// };
/// let saved = sessions.engine().save(request).await?;
/// assert!(SessionKey::is_well_formed(&saved.cookie_value)); // a server engine's cookie: a key
/// assert_eq!(saved.version, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The cookie value to send: the key, or for `signed_cookies` the signed data.
    pub cookie_value: String,
    /// The record's version after the save, for the next compare-and-swap.
    pub version: i64,
}

/// Everything an engine needs to persist one request's session.
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
/// use std::sync::Arc;
/// use sessionkit::engine::{ChangeSet, Data, JsonText, Previous, SaveRequest};
///
/// let engine = sessions.engine();
/// let data = Arc::new(Data::from_iter([("a", JsonText::from(1))]));
/// let (none, now) = (ChangeSet::default(), time::OffsetDateTime::now_utc());
/// let new = SaveRequest { previous: None, data: &data, changes: &none, now, cookie_age: 60 };
/// let created = engine.save(new).await?;
/// let previous = Some(Previous { cookie_value: &created.cookie_value, version: 1 });
/// engine.save(SaveRequest { previous, ..new }).await?; // another request saved: version 2
/// // This request also loaded version 1 and set "b": its change is merged, not lost.
/// let mut changes = ChangeSet::default();
/// changes.set("b");
/// let stale = Arc::new(Data::from_iter([("b", JsonText::from(2))]));
/// engine.save(SaveRequest { previous, data: &stale, changes: &changes, ..new }).await?;
/// let stored = engine.load(&created.cookie_value).await?.unwrap();
/// assert_eq!(stored.data.to_json(), r#"{"a":1,"b":2}"#);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SaveRequest<'a> {
    /// The record being updated; `None` creates a new one (new session, or `cycle_key`).
    pub previous: Option<Previous<'a>>,
    /// The data as the handler left it (an engine that keeps it can share it).
    pub data: &'a Arc<Data>,
    /// What the handler changed, for merging into a record that moved on meanwhile; the values
    /// it set are those in `data`.
    pub changes: &'a ChangeSet,
    /// The modification time: expiry is counted from here.
    pub now: OffsetDateTime,
    /// `SESSION_COOKIE_AGE`, for sessions without a custom expiry.
    pub cookie_age: i64,
}

impl SaveRequest<'_> {
    /// When `data` expires if saved now (Django's `get_expiry_date`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sessionkit::engine::{ChangeSet, Data, JsonText, SaveRequest};
    /// use sessionkit::expiry::EXPIRY_KEY;
    /// use time::macros::datetime;
    ///
    /// let (data, changes) = (Arc::new(Data::new()), ChangeSet::default());
    /// let now = datetime!(2030-01-01 0:00 UTC);
    /// let request = SaveRequest {
    ///     previous: None,
    ///     data: &data,
    ///     changes: &changes,
    ///     now,
    ///     cookie_age: 3600,
    /// };
    /// assert_eq!(request.expiry_date(&data), datetime!(2030-01-01 1:00 UTC)); // cookie_age
    /// let custom = Data::from_iter([(EXPIRY_KEY, JsonText::from(60))]);
    /// assert_eq!(request.expiry_date(&custom), datetime!(2030-01-01 0:01 UTC));
    /// ```
    pub fn expiry_date(&self, data: &Data) -> OffsetDateTime {
        expiry_date(data, self.now, self.cookie_age)
    }
}
