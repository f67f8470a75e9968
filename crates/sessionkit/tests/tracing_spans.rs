//! Tracing: one `session` span per request saying what happened to the session, with a
//! `session_store` span per store call inside it — and the session key in none of them.

#[path = "common/counter_app.rs"]
mod counter_app;

use std::sync::{Arc, Mutex};

use sessionkit::{EngineKind, Sessions};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use counter_app::{cookie_of, get_with, router};

/// A span's name and its fields as text, in the order they were given.
type SpanText = (String, Vec<(String, String)>);

/// Every span, in the order they were opened; its id is its place in the list, plus one.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanText>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Spans {
    fn named(&self, name: &str) -> Vec<Vec<(String, String)>> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .filter(|(span, _)| span == name)
            .map(|(_, fields)| fields.clone())
            .collect()
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut spans = self.0.lock().unwrap();
        let id = spans.len() as u64 + 1;
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        spans.push((span.metadata().name().to_owned(), fields));
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.0.lock().unwrap();
        let index = usize::try_from(span.into_u64() - 1).unwrap();
        values.record(&mut Fields(&mut spans[index].1));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn each_request_has_a_session_span_with_its_outcome_and_store_calls_but_never_the_key() {
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(spans.clone());
    let sessions = Sessions::builder("secret")
        .engine(EngineKind::Cache)
        .open()
        .await
        .unwrap();
    let app = router(&sessions);
    let key = cookie_of(&get_with(&app, "/", None).await);
    get_with(&app, "/", Some(&key)).await;
    get_with(&app, "/logout", Some(&key)).await;

    let outcomes: Vec<String> = spans
        .named("session")
        .iter()
        .map(|fields| {
            assert!(
                fields.contains(&("engine".into(), "cache".into())),
                "{fields:?}"
            );
            let outcome = fields.iter().find(|(name, _)| name == "outcome");
            outcome
                .expect("every request records its outcome")
                .1
                .clone()
        })
        .collect();
    assert_eq!(outcomes, ["created", "saved", "flushed"]);
    let ops: Vec<String> = spans
        .named("session_store")
        .iter()
        .map(|fields| {
            let op = fields.iter().find(|(name, _)| name == "op").unwrap();
            op.1.clone()
        })
        .collect();
    assert_eq!(ops, ["insert", "fetch", "replace", "fetch", "remove"]);
    let everything = format!("{:?}", spans.0.lock().unwrap());
    assert!(
        !everything.contains(&key),
        "the session key leaked into a span"
    );
}
