//! What sessionkit logs during a behaviour, captured per thread: [`run`](super::run) runs each
//! behaviour on a runtime of its own thread, with the capture as that thread's subscriber, so
//! parallel tests never see each other's lines and an application's own subscriber is left
//! alone.

use std::cell::RefCell;
use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Metadata, Subscriber};

thread_local! {
    static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Records sessionkit's events as `LEVEL field=value …` lines.
struct Capture;

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("sessionkit")
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut Line(&mut line));
        LINES.with(|lines| lines.borrow_mut().push(line));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Captures this thread's sessionkit events until the guard is dropped.
pub(super) fn capture() -> DefaultGuard {
    take();
    tracing::subscriber::set_default(Capture)
}

/// The lines sessionkit logged on this thread since the last call, as `LEVEL field=value …`.
///
/// ```
/// use sessionkit::engine::MemoryStore;
/// use sessionkit::testing::{Harness, logs, run};
///
/// run(async { Harness::for_store(MemoryStore::new(10)) }, |harness| async move {
///     harness.reload("../../etc/passwd").await; // not a key: a fresh session and a warning
///     let lines = logs::take();
///     assert!(lines.iter().any(|line| line.starts_with("WARN")), "{lines:?}");
/// });
/// ```
pub fn take() -> Vec<String> {
    LINES.with(|lines| std::mem::take(&mut *lines.borrow_mut()))
}
