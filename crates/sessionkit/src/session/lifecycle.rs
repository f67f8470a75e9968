//! Loading, locking and saving: the part of a request's session that talks to the engines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::state::{Origin, Outcome, State};
use super::timeouts::Timeouts;
use crate::engine::{Data, Engine, JsonText, Loaded, Previous, SaveRequest, Saved};
use crate::error::SessionError;
use crate::expiry::{ACTIVE_KEY, expire_at_browser_close, expiry_age};
use crate::key::SessionKey;
use crate::set_cookie::MAX_COOKIE_BYTES;
use crate::settings::Settings;
use crate::telemetry;
use crate::transport::Transport;

/// The longest pause between two tries for a session lock.
const MAX_LOCK_POLL: Duration = Duration::from_millis(20);

/// When an abandoned lock attempt's token is released again: soon, then for as long as a
/// store that hung may take to work through what queued up meanwhile.
const ABANDONED_LOCK_RELEASES: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
];

/// What every request of one application shares, behind one `Arc`.
pub(crate) struct Config {
    /// The engine sessions are saved in.
    pub(crate) primary: Arc<dyn Engine>,
    /// Engines only read from while moving off them (`SESSION_ENGINE_FALLBACKS`).
    pub(crate) fallbacks: Vec<Arc<dyn Engine>>,
    /// Validated settings.
    pub(crate) settings: Settings,
    /// How the session key travels: the cookie, or `SESSION_HEADER_NAME`.
    pub(crate) transport: Transport,
}

/// What one request's session shares between the middleware and the handler.
pub(crate) struct Shared {
    config: Arc<Config>,
    /// The cookie value the request carried, if any.
    incoming: Option<Arc<str>>,
    /// Whether the primary engine could recognize `incoming` (judged once, from its shape).
    primary_accepts: bool,
    /// Whether the primary engine or a fallback could.
    plausible: bool,
    /// Whether the session was loaded: set under the `state` lock, read without it, as every
    /// use of the session asks first.
    loaded: AtomicBool,
    state: Mutex<State>,
}

impl Shared {
    /// A request's session, judging once from the cookie's shape which engines could know it.
    pub(super) fn new(config: Arc<Config>, incoming: Option<Arc<str>>) -> Self {
        let (primary_accepts, plausible) = match incoming.as_deref() {
            Some(value) => {
                let primary = config.primary.accepts(value);
                let fallback = || config.fallbacks.iter().any(|e| e.accepts(value));
                (primary, primary || fallback())
            }
            None => (false, false),
        };
        Shared {
            config,
            incoming,
            primary_accepts,
            plausible,
            loaded: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The application's sessions, for the middleware.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(super) fn engine(&self) -> &Arc<dyn Engine> {
        &self.config.primary
    }

    pub(super) fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// The incoming cookie value if some engine could recognize it, without I/O.
    fn plausible_cookie(&self) -> Option<&Arc<str>> {
        self.incoming.as_ref().filter(|_| self.plausible)
    }

    /// The incoming cookie value if the primary engine could recognize it.
    fn primary_cookie(&self) -> Option<&str> {
        self.incoming.as_deref().filter(|_| self.primary_accepts)
    }

    /// The session behind `value` in a fallback engine, with that engine.
    async fn load_from_fallback(
        &self,
        value: &str,
    ) -> Result<Option<(Arc<dyn Engine>, Loaded)>, SessionError> {
        for engine in &self.config.fallbacks {
            if engine.accepts(value)
                && let Some(loaded) = engine.load(value).await?
            {
                tracing::info!(
                    from = engine.name(),
                    to = self.engine().name(),
                    "moving a session out of a fallback engine"
                );
                return Ok(Some((engine.clone(), loaded)));
            }
        }
        Ok(None)
    }

    pub(crate) fn carried_cookie(&self) -> bool {
        self.incoming.is_some()
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Marks the session loaded; `_state` is the lock, held.
    fn mark_loaded(&self, _state: &mut State) {
        self.loaded.store(true, Ordering::Release);
    }

    /// Loads the session once; with `exclusive`, first takes the session's lock in the store,
    /// held until [`Shared::release_lock`] (the middleware calls it after saving).
    pub(crate) async fn ensure_loaded(&self, exclusive: bool) -> Result<(), SessionError> {
        let loaded = self.load(exclusive).await;
        if loaded.is_err() {
            self.state().load_failed = true;
        }
        loaded
    }

    /// [`Shared::ensure_loaded`], before its failure is noted.
    async fn load(&self, exclusive: bool) -> Result<(), SessionError> {
        if self.is_loaded() {
            return Ok(());
        }
        if let Some(cookie) = self.primary_cookie().filter(|_| exclusive) {
            let token = self.acquire_lock(cookie).await?;
            self.state().lock_token = Some(token);
        }
        let Some(value) = self.plausible_cookie().cloned() else {
            if self.incoming.as_deref().is_some_and(|v| !v.is_empty()) {
                tracing::warn!(
                    engine = self.engine().name(),
                    "ignoring a malformed session cookie"
                );
            }
            self.mark_loaded(&mut self.state());
            return Ok(());
        };
        let primary = match self.primary_cookie() {
            Some(value) => self.engine().load(value).await?,
            None => None,
        };
        let fallback = match primary {
            Some(_) => None,
            None => self.load_from_fallback(&value).await?,
        };
        let mut state = self.state();
        if self.is_loaded() {
            return Ok(());
        }
        self.mark_loaded(&mut state);
        // Only the timeouts need the time: without them, no clock is read.
        let timeouts = Timeouts::of(self.settings());
        let now = timeouts.any().then(OffsetDateTime::now_utc);
        // A session past its idle or absolute timeout is no session, and its record is deleted
        // at the end of the request.
        let mut timed_out = |engine: &Arc<dyn Engine>, data: &Data| {
            let Some(limit) = now.and_then(|now| timeouts.exceeded(data, now)) else {
                return false;
            };
            tracing::info!(
                engine = engine.name(),
                limit,
                "session past its {limit} timeout: a fresh session replaces it"
            );
            state.retired.push((engine.clone(), value.clone()));
            true
        };
        let primary = primary.filter(|loaded| !timed_out(self.engine(), &loaded.data));
        let fallback = fallback.filter(|(engine, loaded)| !timed_out(engine, &loaded.data));
        if let Some(loaded) = primary {
            let reissue = self.engine().needs_reissue(&value);
            state.origin = Some(Origin {
                cookie_value: value,
                version: loaded.version,
            });
            state.data = loaded.data;
            if reissue {
                // Saved at the end of this request like a changed session (a new cookie).
                state.rewrite_everything();
            }
        } else if let Some((engine, loaded)) = fallback {
            // Served now, written to the primary engine at the end of this request.
            state.data = loaded.data;
            state.rewrite_everything();
            state.retired.push((engine, value));
        }
        if let Some(now) = now
            && timeouts.activity_due(&state.data, now)
        {
            state.set(ACTIVE_KEY, JsonText::from(now.unix_timestamp()));
        }
        Ok(())
    }

    /// Waits for the session's lock, polling with backoff up to `SESSION_LOCK_TIMEOUT`.
    async fn acquire_lock(&self, cookie: &str) -> Result<String, SessionError> {
        let token = SessionKey::generate().as_str().to_owned();
        let settings = self.settings();
        let started = Instant::now();
        let deadline = started + settings.lock_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            match self
                .engine()
                .try_lock(cookie, &token, settings.lock_lease)
                .await
            {
                Ok(true) => {
                    telemetry::lock_wait(self.engine().name(), started.elapsed(), true);
                    return Ok(token);
                }
                Ok(false) => {}
                Err(error) => {
                    self.release_abandoned_lock(cookie, token, settings.lock_lease);
                    return Err(error.into());
                }
            }
            if Instant::now() + pause > deadline {
                telemetry::lock_wait(self.engine().name(), started.elapsed(), false);
                return Err(SessionError::Locked {
                    waited: settings.lock_timeout,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_LOCK_POLL);
        }
    }

    /// A lock attempt that failed (a timeout, a lost connection) may still reach the store
    /// later, when a hung store resumes, and take the lock for a request that has given up:
    /// the session would stay locked for the whole lease. So the token is released in the
    /// background a few times, spread over the first seconds of the lease (unlocking a token
    /// that holds nothing is harmless).
    fn release_abandoned_lock(&self, cookie: &str, token: String, lease: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let engine = self.engine().clone();
        let cookie = cookie.to_owned();
        runtime.spawn(async move {
            let started = Instant::now();
            for pause in ABANDONED_LOCK_RELEASES {
                tokio::time::sleep(pause).await;
                if started.elapsed() > lease {
                    break; // the lease has ended any lock the attempt took
                }
                let _ = engine.unlock(&cookie, &token).await;
            }
        });
    }

    /// At the end of the request: releases the session lock if this request holds one (a
    /// failure is only logged: the lease ends the lock anyway), and tells whether loading the
    /// session failed during the request (its outcome is then a failure).
    pub(crate) async fn release(&self) -> bool {
        let (token, load_failed) = {
            let mut state = self.state();
            (state.lock_token.take(), state.load_failed)
        };
        if let (Some(token), Some(cookie)) = (token, self.incoming.as_deref())
            && let Err(error) = self.engine().unlock(cookie, &token).await
        {
            tracing::warn!(%error, "could not release a session lock; its lease will end it");
        }
        load_failed
    }

    /// Django's `is_empty`: no recognized record and no data. Before loading, only the cookie's
    /// shape can tell.
    pub(crate) fn is_empty(&self) -> bool {
        self.is_empty_in(&self.state())
    }

    fn is_empty_in(&self, state: &State) -> bool {
        if self.is_loaded() {
            state.origin.is_none() && state.data.is_empty()
        } else {
            self.plausible_cookie().is_none()
        }
    }

    pub(crate) fn flags(&self) -> (bool, bool) {
        let state = self.state();
        (state.accessed, state.modified)
    }

    /// What the middleware's decision table reads, with the records to delete before it acts
    /// (taken from the session), under one lock.
    pub(crate) fn outcome(&self) -> Outcome {
        let mut state = self.state();
        Outcome {
            empty: self.is_empty_in(&state),
            accessed: state.accessed,
            modified: state.modified,
            retired: std::mem::take(&mut state.retired),
        }
    }

    /// `Max-Age` for the cookie of a session holding `data`, set at `now`: `None` for a
    /// browser-close session.
    fn cookie_max_age(&self, data: &Data, now: OffsetDateTime) -> Option<i64> {
        if expire_at_browser_close(data, self.settings().expire_at_browser_close) {
            None
        } else {
            Some(expiry_age(data, now, self.settings().cookie_age))
        }
    }

    /// Deletes the records that `flush` or `cycle_key` left behind.
    pub(crate) async fn delete_retired(&self) -> Result<bool, SessionError> {
        let retired = std::mem::take(&mut self.state().retired);
        delete_records(retired).await
    }

    /// `saved`, unless its cookie is one browsers would drop (only a cookie engine's value can be
    /// that long, and such an engine stored nothing).
    fn fits_a_cookie(&self, saved: Saved) -> Result<Saved, SessionError> {
        let size = self.settings().cookie_name.len() + saved.cookie_value.len();
        if size > MAX_COOKIE_BYTES {
            return Err(SessionError::CookieTooLarge {
                size,
                limit: MAX_COOKIE_BYTES,
            });
        }
        Ok(saved)
    }

    /// Saves through the engine as of `now` and returns the cookie value to send with its
    /// `Max-Age` (see [`Shared::cookie_max_age`]), or [`SessionError::CookieTooLarge`] if
    /// browsers would drop that cookie.
    pub(crate) async fn persist(
        &self,
        now: OffsetDateTime,
    ) -> Result<(String, Option<i64>), SessionError> {
        // The data is shared, not copied; the changes are taken, and put back if the save fails.
        let (origin, data, changes, max_age) = {
            let mut state = self.state();
            for (key, stamp) in Timeouts::of(self.settings()).on_save(&state.data, now) {
                state.set(key, stamp);
            }
            (
                state.origin.clone(),
                state.data.clone(),
                std::mem::take(&mut state.changes),
                self.cookie_max_age(&state.data, now),
            )
        };
        let saved = self
            .engine()
            .save(SaveRequest {
                previous: origin.as_ref().map(|o| Previous {
                    cookie_value: &o.cookie_value,
                    version: o.version,
                }),
                data: &data,
                changes: &changes,
                now,
                cookie_age: self.settings().cookie_age,
            })
            .await
            .map_err(SessionError::from)
            .and_then(|saved| self.fits_a_cookie(saved));
        let mut state = self.state();
        let saved = match saved {
            Ok(saved) => saved,
            Err(error) => {
                // Nothing was stored: the session stays modified, with all its changes.
                let later = std::mem::replace(&mut state.changes, changes);
                state.changes.extend(later);
                return Err(error);
            }
        };
        // A server engine's record keeps its key: reuse the copy already made.
        let cookie_value = match origin {
            Some(origin) if *origin.cookie_value == *saved.cookie_value => origin.cookie_value,
            _ => Arc::from(saved.cookie_value.as_str()),
        };
        state.origin = Some(Origin {
            cookie_value,
            version: saved.version,
        });
        state.modified = !state.changes.is_empty();
        Ok((saved.cookie_value, max_age))
    }
}

/// Deletes `retired` records (see [`Outcome::retired`]); whether there were any, that is
/// whether the session's key changed.
pub(crate) async fn delete_records(
    retired: Vec<(Arc<dyn Engine>, Arc<str>)>,
) -> Result<bool, SessionError> {
    let rotated = !retired.is_empty();
    for (engine, cookie_value) in retired {
        engine.delete(&cookie_value).await?;
    }
    Ok(rotated)
}

impl Drop for Shared {
    /// A request dropped mid-way (client gone, handler panicked) still releases its lock.
    fn drop(&mut self) {
        // Dropping is exclusive access: no need to take the mutex.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let token = state.lock_token.take();
        let (Some(token), Some(cookie)) = (token, self.incoming.take()) else {
            return;
        };
        let engine = self.engine().clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = engine.unlock(&cookie, &token).await;
            });
        }
    }
}
