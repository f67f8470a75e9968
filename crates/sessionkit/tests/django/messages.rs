//! Flash messages: what Django's `SessionStorage` stores under `_messages`, sessionkit reads
//! (`sessionkit::django::messages`), and the other way round — levels, extra tags, marked-safe
//! HTML and text beyond ASCII alike.

use serde_json::{Value, json};
use sessionkit::django::messages::{self, Level, Message};
use sessionkit::{EngineKind, Sessions};

use crate::python::Django;

const SECRET: &str = "django-interop-messages-secret";

/// The messages both sides write: (level, text, extra tags, marked safe).
fn samples() -> Vec<Message> {
    let mut sticky = Message::new(Level::ERROR, "Paiement refusé <b>deux fois</b>");
    sticky.extra_tags = "sticky modal".into();
    sticky.safe = true;
    vec![
        Message::new(Level::SUCCESS, "Added \"tea\" to your cart"),
        Message::new(Level::INFO, "Logged out"),
        sticky,
        Message::new(Level(35), "a level of the app's own"),
    ]
}

async fn sessions() -> Sessions {
    Sessions::builder(SECRET)
        .engine(EngineKind::SignedCookies)
        .open()
        .await
        .expect("signed cookies need no store")
}

#[tokio::test]
async fn messages_django_stored_are_read_by_sessionkit() {
    let mut request: Vec<Value> = samples()
        .iter()
        .map(|m| json!([m.level.0, m.text, m.extra_tags, m.safe]))
        .collect();
    request.push(json!([10, "debug: dropped by MESSAGE_LEVEL", "", false]));
    let stored = Django::new(SECRET).run("messages", "write", json!({ "messages": request }));

    let sessions = sessions().await;
    let session = sessions.start(None).load().await.unwrap();
    session.insert(messages::SESSION_KEY, &stored).unwrap();
    let read = messages::take(&session).unwrap();
    assert_eq!(read, samples());
    assert_eq!(read[2].tags(), "sticky modal error");
    assert!(messages::take(&session).unwrap().is_empty(), "read once");

    // Written by sessionkit, the same messages are the same text, byte for byte.
    for message in samples() {
        messages::add_message(&session, message).unwrap();
    }
    let ours: Value = session.get(messages::SESSION_KEY).unwrap().unwrap();
    assert_eq!(ours, stored);
}

#[tokio::test]
async fn messages_sessionkit_stored_are_read_by_django() {
    let sessions = sessions().await;
    let session = sessions.start(None).load().await.unwrap();
    for message in samples() {
        assert!(messages::add_message(&session, message).unwrap());
    }
    assert!(!messages::add(&session, Level::DEBUG, "dropped").unwrap());
    let stored: Value = session.get(messages::SESSION_KEY).unwrap().unwrap();

    let read = Django::new(SECRET).run("messages", "read", json!({ "stored": stored }));
    let expected: Vec<Value> = samples()
        .iter()
        .map(|m| json!([m.level.0, m.text, m.extra_tags, m.safe, m.tags()]))
        .collect();
    assert_eq!(read, Value::Array(expected));
}
