//! A session's data, its Django flags (`accessed`, `modified`) and the keys this request
//! changed, so a server engine can merge them into a record another request updated meanwhile.

use std::sync::Arc;

use crate::engine::{ChangeSet, Data, Engine, JsonText};

/// The record a session was loaded from.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    /// Shared with [`Shared::incoming`](super::Shared) when it is that cookie: no copy per request.
    pub(super) cookie_value: Arc<str>,
    pub(super) version: i64,
}

pub(super) struct State {
    /// Set when the engine recognized the request's cookie (Django's `_session_key`).
    pub(super) origin: Option<Origin>,
    /// Shared with the store's copy or a save in flight until the first write copies it.
    pub(super) data: Arc<Data>,
    pub(super) changes: ChangeSet,
    pub(super) accessed: bool,
    pub(super) modified: bool,
    /// Records to delete at the end of the request (after `flush` or `cycle_key`, or a
    /// session found in a fallback engine), with the engine that holds each.
    pub(super) retired: Vec<(Arc<dyn Engine>, Arc<str>)>,
    /// The token of the session lock this request holds (`SESSION_LOCKING`).
    pub(super) lock_token: Option<String>,
    /// Loading the session failed (the store was down, or the lock not had): the request's
    /// outcome is a failure, whatever the handler answered.
    pub(super) load_failed: bool,
}

thread_local! {
    /// The data of a session that has none yet, shared by this thread's requests: most get
    /// their data from the store, and a write copies it anyway.
    static NO_DATA: Arc<Data> = Arc::default();
}

/// An empty session's data, without allocating.
fn no_data() -> Arc<Data> {
    NO_DATA.with(Arc::clone)
}

impl Default for State {
    fn default() -> Self {
        State {
            origin: None,
            data: no_data(),
            changes: ChangeSet::default(),
            accessed: false,
            modified: false,
            retired: Vec::new(),
            lock_token: None,
            load_failed: false,
        }
    }
}

impl State {
    pub(super) fn touch(&mut self) {
        self.accessed = true;
    }

    pub(super) fn set(&mut self, key: &str, value: JsonText) {
        self.accessed = true;
        self.modified = true;
        self.changes.set(key);
        Arc::make_mut(&mut self.data).insert(key, value);
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<JsonText> {
        self.accessed = true;
        if !self.data.contains_key(key) {
            return None;
        }
        self.modified = true;
        self.changes.remove(key);
        Arc::make_mut(&mut self.data).remove(key)
    }

    pub(super) fn clear(&mut self) {
        self.accessed = true;
        self.modified = true;
        match Arc::get_mut(&mut self.data) {
            Some(data) => data.clear(),
            None => self.data = no_data(),
        }
        self.changes.clear();
    }

    pub(super) fn retire_origin(&mut self, engine: &Arc<dyn Engine>) {
        if let Some(origin) = self.origin.take() {
            self.retired.push((engine.clone(), origin.cookie_value));
        }
    }

    /// Makes every key a change, so the next save writes the whole session as a new record
    /// (after `cycle_key`, or when moving a session out of a fallback engine).
    pub(super) fn rewrite_everything(&mut self) {
        self.modified = true;
        self.changes.clear();
        for key in self.data.keys() {
            self.changes.set(key);
        }
    }
}

/// A session at the end of its request, as Django's `SessionMiddleware` judges it.
pub(crate) struct Outcome {
    /// [`Shared::is_empty`](super::Shared::is_empty).
    pub(crate) empty: bool,
    /// Django's `accessed`: the response must vary on the cookie.
    pub(crate) accessed: bool,
    /// Django's `modified`: the session must be saved.
    pub(crate) modified: bool,
    /// The records `flush` or `cycle_key` left behind, to delete first
    /// ([`delete_records`](super::lifecycle::delete_records)).
    pub(crate) retired: Vec<(Arc<dyn Engine>, Arc<str>)>,
}
