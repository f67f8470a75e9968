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
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::ServerEngine;
use crate::engine::{ChangeSet, Data, EngineError, RecordStore, RecordWrite, SaveRequest};
use crate::expiry::expiry_date;
use crate::telemetry;

/// How often the merged saves of one session are written again after losing a race to another
/// instance before they give up.
const MAX_SAVE_ATTEMPTS: u32 = 64;

/// A random pause before retry `attempt` of a write: up to 100 µs × 2^attempt, at most ~26 ms.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64 << attempt.min(8);
    let jitter = u64::from(getrandom::u32().unwrap_or(0)) % ceiling;
    Duration::from_micros(jitter)
}

/// The version the merged write replaced, or why there was none.
type Answer = Result<i64, EngineError>;

impl<S: RecordStore + ?Sized> ServerEngine<S> {
    /// Writes `request`'s changes on top of the record `id` as it is now, in one write with
    /// every other save of this instance that lost the same race; the version replaced.
    pub(super) async fn save_in_line(&self, id: &str, request: &SaveRequest<'_>) -> Answer {
        tracing::debug!("session changed meanwhile; merging this request's changes");
        telemetry::save_merged(self.store.name());
        let (waiter, answered) = Waiter::of(request);
        if let Some(line) = self.lines.join(id, waiter) {
            // A task of its own, so that a request dropped half-way strands no one behind it;
            // its store calls are traced under the request that opened the line.
            tokio::spawn(self.clone().serve_line(line).in_current_span());
        }
        let answer = answered.await.unwrap_or_else(|_| {
            Err(EngineError::unavailable(std::io::Error::other(
                "the merge of this save stopped before it was written",
            )))
        });
        if let Err(EngineError::Conflict { .. }) = answer {
            telemetry::save_conflict(self.store.name());
        }
        answer
    }

    /// Serves the line of saves of `id` until nobody waits in it: each group that gathered
    /// meanwhile is merged and written once, and every save in it gets that write's answer.
    /// When the store failed, the saves that queued meanwhile get the same answer at once:
    /// each group would otherwise wait out a timeout of its own after the one before.
    async fn serve_line(self, mut line: Serving) {
        while let Some(mut group) = line.next_group() {
            let answer = self.merge_group(line.id(), &group).await;
            if let Err(EngineError::Unavailable(_)) = answer {
                group.append(&mut line.queued());
            }
            for waiter in group {
                waiter.answer(&answer);
            }
        }
    }

    /// Applies each save's changes, in order, to the record as it is now, and writes the result
    /// if nothing changed it meanwhile; another instance's write sends it round again. A
    /// record deleted meanwhile stays deleted. The answer is the version replaced.
    async fn merge_group(&self, id: &str, group: &[Waiter]) -> Answer {
        // A line hands out no empty group; an empty one would have nothing to write.
        let Some(last) = group.last() else {
            return Err(EngineError::Conflict { attempts: 0 });
        };
        for attempt in 0..MAX_SAVE_ATTEMPTS {
            if attempt > 0 {
                // Instances that collided would collide again if they retried in step.
                tokio::time::sleep(backoff(attempt)).await;
            }
            let Some(fresh) = self.bounded("fetch", self.store.fetch(id)).await? else {
                return Err(EngineError::Gone);
            };
            let mut merged = fresh.data;
            let data = Arc::make_mut(&mut merged);
            for waiter in group {
                waiter.changes.apply_to(data, &waiter.data);
            }
            let expires = expiry_date(&merged, last.now, last.cookie_age);
            let write = RecordWrite::new(&merged, expires, last.now);
            let replaced = self.store.replace(id, fresh.version, write);
            if self.bounded("replace", replaced).await? {
                return Ok(fresh.version);
            }
        }
        Err(EngineError::Conflict {
            attempts: MAX_SAVE_ATTEMPTS,
        })
    }
}

/// One save in line: what it changed, the values it set, and what its expiry counts from.
struct Waiter {
    changes: ChangeSet,
    data: Arc<Data>,
    now: OffsetDateTime,
    cookie_age: i64,
    answer: oneshot::Sender<Answer>,
}

impl Waiter {
    /// The request's part of a merge (copied: the line outlives the request's borrow), and
    /// where its answer will arrive.
    fn of(request: &SaveRequest<'_>) -> (Waiter, oneshot::Receiver<Answer>) {
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
    fn answer(self, outcome: &Answer) {
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
    fn join(self: &Arc<Self>, id: &str, waiter: Waiter) -> Option<Serving> {
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
struct Serving {
    lines: Arc<Lines>,
    id: String,
    closed: bool,
}

impl Serving {
    /// The address of the record whose saves are in line.
    fn id(&self) -> &str {
        &self.id
    }

    /// Everyone waiting now, in the order they came, if anyone; the line stays open.
    fn queued(&mut self) -> Vec<Waiter> {
        let mut waiting = self.lines.waiting();
        waiting
            .get_mut(&self.id)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Everyone waiting now, in the order they came; `None` (and the line closed, in the same
    /// step, so no save joins a line nobody serves) once nobody is.
    fn next_group(&mut self) -> Option<Vec<Waiter>> {
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
