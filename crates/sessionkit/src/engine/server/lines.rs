//! Saves of one session that lost a race wait in line, and one write merges them all.
//!
//! A save whose version check fails must apply its changes to the record as it now is. If
//! every such save fetched and wrote on its own, dozens of requests on one session would race
//! each other: one wins each round, and a save could lose every round until it gave up (a 503
//! in the benchmark's `shared` mode, all clients on one session). Within one instance they
//! form a line per record instead. The save that opens it starts a task that takes everyone
//! waiting, fetches the record once, applies each request's changes in the order they came,
//! and writes once; each request gets that write's answer. Only another instance's write can
//! still make the line's write lose, and then it tries again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::engine::{ChangeSet, Data, EngineError, SaveRequest};

/// The version the merged write replaced, or why there was none.
pub(super) type Answer = Result<i64, EngineError>;

/// One save in line: what it changed, the values it set, and what its expiry counts from.
pub(super) struct Waiter {
    pub changes: ChangeSet,
    pub data: Arc<Data>,
    pub now: OffsetDateTime,
    pub cookie_age: i64,
    answer: oneshot::Sender<Answer>,
}

impl Waiter {
    /// The request's part of a merge (copied: the line outlives the request's borrow), and
    /// where its answer will arrive.
    pub fn of(request: &SaveRequest<'_>) -> (Waiter, oneshot::Receiver<Answer>) {
        let (answer, answered) = oneshot::channel();
        let waiter = Waiter {
            changes: request.changes.clone(),
            data: request.data.clone(),
            now: request.now,
            cookie_age: request.cookie_age,
            answer,
        };
        (waiter, answered)
    }

    /// Sends the group's outcome; a request that stopped waiting is not told.
    pub fn answer(self, outcome: &Answer) {
        let _ = self.answer.send(outcome.as_ref().copied().map_err(copy_of));
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

/// The same error for each request of a group; a store's own error keeps its message.
fn copy_of(error: &EngineError) -> EngineError {
    match error {
        EngineError::Unavailable(cause) => {
            EngineError::unavailable(std::io::Error::other(cause.to_string()))
        }
        EngineError::Gone => EngineError::Gone,
        EngineError::Conflict { attempts } => EngineError::Conflict {
            attempts: *attempts,
        },
        EngineError::Unsupported { engine, what } => EngineError::Unsupported { engine, what },
    }
}

/// The saves waiting to be merged, by record address.
#[derive(Debug, Default)]
pub(super) struct Lines {
    waiting: Mutex<HashMap<String, Vec<Waiter>>>,
    /// How many lines are open: while none is, a save need not look.
    open: AtomicUsize,
}

impl Lines {
    fn waiting(&self) -> MutexGuard<'_, HashMap<String, Vec<Waiter>>> {
        // A panic elsewhere cannot leave the map half-changed: every change is one call.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether saves of `id` are already in line, so a save with a version it read earlier
    /// would only lose to them.
    pub fn has_line(&self, id: &str) -> bool {
        self.open.load(Ordering::Acquire) != 0 && self.waiting().contains_key(id)
    }

    /// Puts a save in line for `id`. If this opened the line, the line to serve: the caller
    /// must hand it to a task that serves it, or its saves wait for nothing (dropped unserved,
    /// it closes and they get an error).
    pub fn join(self: &Arc<Self>, id: &str, waiter: Waiter) -> Option<Serving> {
        let mut waiting = self.waiting();
        if let Some(line) = waiting.get_mut(id) {
            line.push(waiter);
            return None;
        }
        waiting.insert(id.to_owned(), vec![waiter]);
        self.open.fetch_add(1, Ordering::AcqRel);
        Some(Serving {
            lines: self.clone(),
            id: id.to_owned(),
            closed: false,
        })
    }

    fn close(&self, waiting: &mut HashMap<String, Vec<Waiter>>, id: &str) {
        if waiting.remove(id).is_some() {
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The line one task serves. Dropped before it is empty (the task ended early, or never ran),
/// it closes the line: the saves still in it are answered by their dropped senders, and none
/// waits forever.
pub(super) struct Serving {
    lines: Arc<Lines>,
    id: String,
    closed: bool,
}

impl Serving {
    /// The address of the record whose saves are in line.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Everyone waiting now, in the order they came, if anyone; the line stays open.
    pub fn queued(&mut self) -> Vec<Waiter> {
        let mut waiting = self.lines.waiting();
        waiting
            .get_mut(&self.id)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Everyone waiting now, in the order they came; `None` (and the line closed, in the same
    /// step, so no save joins a line nobody serves) once nobody is.
    pub fn next_group(&mut self) -> Option<Vec<Waiter>> {
        let mut waiting = self.lines.waiting();
        match waiting.get_mut(&self.id) {
            Some(line) if !line.is_empty() => Some(std::mem::take(line)),
            _ => {
                self.lines.close(&mut waiting, &self.id);
                self.closed = true;
                None
            }
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if !self.closed {
            self.lines.close(&mut self.lines.waiting(), &self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter() -> (Waiter, oneshot::Receiver<Answer>) {
        let (data, changes) = (Arc::new(Data::new()), ChangeSet::default());
        Waiter::of(&SaveRequest {
            previous: None,
            data: &data,
            changes: &changes,
            now: OffsetDateTime::now_utc(),
            cookie_age: 60,
        })
    }

    /// A line whose task ends before serving it, or never runs (a panic, a runtime shutting
    /// down) closes: the saves in it get an error, not an endless wait, and the next save opens
    /// a new line.
    #[test]
    fn a_line_left_unserved_closes_and_its_saves_are_answered() {
        let lines = Arc::new(Lines::default());
        let (first, mut first_answer) = waiter();
        let (second, mut second_answer) = waiter();
        let line = lines.join("id", first).expect("opens the line");
        assert!(lines.join("id", second).is_none());
        assert!(lines.has_line("id") && !lines.has_line("other"));
        drop(line);
        assert!(first_answer.try_recv().is_err() && second_answer.try_recv().is_err());
        assert!(!lines.has_line("id"));
        assert_eq!(lines.open.load(Ordering::Acquire), 0);
        assert!(lines.join("id", waiter().0).is_some(), "a new line");
    }

    /// A served line hands out everyone waiting, in order, then closes in the same step.
    #[test]
    fn a_served_line_hands_out_its_groups_then_closes() {
        let lines = Arc::new(Lines::default());
        let mut line = lines.join("id", waiter().0).expect("opens the line");
        assert_eq!(line.next_group().map(|group| group.len()), Some(1));
        assert!(
            lines.join("id", waiter().0).is_none(),
            "joins the open line"
        );
        assert!(lines.join("id", waiter().0).is_none());
        assert_eq!(line.next_group().map(|group| group.len()), Some(2));
        assert!(line.next_group().is_none());
        assert!(!lines.has_line("id"));
        drop(line);
        assert_eq!(lines.open.load(Ordering::Acquire), 0);
    }
}
