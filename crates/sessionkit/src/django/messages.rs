//! Flash messages: Django's messages framework (`django.contrib.messages`) over the session.
//!
//! A handler adds a message ("Added to cart") and redirects; the next page takes it and shows
//! it once. Messages live in the session under Django's key, `_messages`, in the text Django's
//! `SessionStorage` writes, so a Django site and a Rust service sharing sessions see each
//! other's messages. As in Django, messages below `INFO` (the default `MESSAGE_LEVEL`) are
//! dropped, and a message is gone once taken.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sessionkit::django::messages::{self, Level};
//! # let sessions = sessionkit::Sessions::builder("s")
//! #     .engine(sessionkit::EngineKind::SignedCookies).open().await?;
//! let post = sessions.start(None).load().await?;
//! messages::add(&post, Level::SUCCESS, "Added to cart")?;
//! let cookie = post.save().await?.unwrap(); // the response redirects
//!
//! let page = sessions.start(Some(&cookie)).load().await?; // the page it redirects to
//! let shown = messages::take(&page)?;
//! assert_eq!((shown[0].text.as_str(), shown[0].tags()), ("Added to cart", "success".into()));
//! assert!(messages::take(&page)?.is_empty()); // shown once
//! # Ok(()) }
//! ```

use serde_json::Value;

use super::json::write_python_string;
use crate::{Session, SessionError};

/// The session key Django's `SessionStorage` keeps messages under.
pub const SESSION_KEY: &str = "_messages";

/// The marker Django's `MessageEncoder` puts first in each encoded message.
const MESSAGE_MARKER: &str = "__json_message";

/// A message's level, as in `django.contrib.messages.constants`; any integer is allowed, as
/// in Django, for levels of your own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(pub i64);

impl Level {
    /// Development detail; below the default minimum level, so not recorded.
    pub const DEBUG: Level = Level(10);
    /// Information for the user.
    pub const INFO: Level = Level(20);
    /// An action succeeded.
    pub const SUCCESS: Level = Level(25);
    /// Something did not go as planned, but is not a failure.
    pub const WARNING: Level = Level(30);
    /// An action failed.
    pub const ERROR: Level = Level(40);

    /// Django's tag for the level (`MESSAGE_TAGS`' defaults), `""` for a level of your own.
    pub fn tag(self) -> &'static str {
        match self {
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::SUCCESS => "success",
            Level::WARNING => "warning",
            Level::ERROR => "error",
            Level(_) => "",
        }
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How important it is.
    pub level: Level,
    /// The text to show.
    pub text: String,
    /// Space-separated tags of your own (Django's `extra_tags`), e.g. for CSS classes.
    pub extra_tags: String,
    /// Whether the text is HTML marked safe (Django's `mark_safe`); otherwise escape it.
    pub safe: bool,
}

impl Message {
    /// A plain-text message at `level`, without extra tags.
    pub fn new(level: Level, text: impl Into<String>) -> Self {
        Message {
            level,
            text: text.into(),
            extra_tags: String::new(),
            safe: false,
        }
    }

    /// Django's `message.tags`: the extra tags, then the level's tag.
    pub fn tags(&self) -> String {
        [self.extra_tags.as_str(), self.level.tag()]
            .into_iter()
            .filter(|tag| !tag.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Records a message at `level` for a later request; `Ok(false)` if the level is below
/// `INFO`, which Django drops by default.
pub fn add(session: &Session, level: Level, text: impl Into<String>) -> Result<bool, SessionError> {
    add_message(session, Message::new(level, text))
}

/// Records `message` (with extra tags, or marked safe) for a later request; `Ok(false)` if
/// its level is below `INFO`.
pub fn add_message(session: &Session, message: Message) -> Result<bool, SessionError> {
    if message.level < Level::INFO {
        return Ok(false);
    }
    let mut queued = peek(session)?;
    queued.push(message);
    session.insert(SESSION_KEY, encode(&queued))?;
    Ok(true)
}

/// The messages waiting, oldest first, left in place.
pub fn peek(session: &Session) -> Result<Vec<Message>, SessionError> {
    Ok(session
        .get::<Value>(SESSION_KEY)?
        .map(|stored| decode(&stored))
        .unwrap_or_default())
}

/// The messages waiting, oldest first; they are removed, so each is shown once.
pub fn take(session: &Session) -> Result<Vec<Message>, SessionError> {
    Ok(session
        .pop::<Value>(SESSION_KEY)?
        .map(|stored| decode(&stored))
        .unwrap_or_default())
}

/// The text Django's `SessionStorage.serialize_messages` writes: `MessageEncoder().encode`,
/// with Python's default separators and `ensure_ascii`.
fn encode(messages: &[Message]) -> String {
    let mut out = String::from("[");
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('[');
        write_python_string(MESSAGE_MARKER, &mut out);
        out.push_str(if message.safe { ", 1, " } else { ", 0, " });
        out.push_str(&message.level.0.to_string());
        out.push_str(", ");
        write_python_string(&message.text, &mut out);
        out.push_str(", ");
        write_python_string(&message.extra_tags, &mut out);
        out.push(']');
    }
    out.push(']');
    out
}

/// What Django's `MessageDecoder` reads back from the stored text; anything else (a value a
/// tampered or foreign session holds) is no messages, never an error.
fn decode(stored: &Value) -> Vec<Message> {
    let parsed: Option<Value> = match stored {
        Value::String(text) => serde_json::from_str(text).ok(),
        _ => None,
    };
    let Some(Value::Array(items)) = parsed else {
        tracing::warn!("unreadable {SESSION_KEY} in a session; ignoring it");
        return Vec::new();
    };
    items.iter().filter_map(decode_message).collect()
}

fn decode_message(item: &Value) -> Option<Message> {
    let fields = item.as_array()?;
    let (Some(marker), Some(safe), Some(level), Some(text)) =
        (fields.first(), fields.get(1), fields.get(2), fields.get(3))
    else {
        return None;
    };
    if marker.as_str() != Some(MESSAGE_MARKER) {
        return None;
    }
    Some(Message {
        level: Level(level.as_i64()?),
        text: text.as_str()?.to_owned(),
        extra_tags: fields
            .get(4)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        safe: safe.as_i64() == Some(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoding_is_djangos_message_encoder_with_default_separators() {
        let mut fancy = Message::new(Level::ERROR, "Café <b>closed</b>");
        fancy.extra_tags = "sticky".into();
        fancy.safe = true;
        let text = encode(&[Message::new(Level::SUCCESS, "Added \"tea\""), fancy.clone()]);
        assert_eq!(
            text,
            r#"[["__json_message", 0, 25, "Added \"tea\"", ""], ["__json_message", 1, 40, "Caf\u00e9 <b>closed</b>", "sticky"]]"#
        );
        let back = decode(&Value::String(text));
        assert_eq!(back[1], fancy);
        assert_eq!(back[1].tags(), "sticky error");
    }

    #[test]
    fn foreign_or_broken_values_are_no_messages() {
        for stored in [
            Value::Null,
            Value::String("not json".into()),
            Value::String("{}".into()),
            Value::String(r#"[["other", 0, 20, "x"], ["__json_message", 0, "20", "x"]]"#.into()),
        ] {
            assert!(decode(&stored).is_empty(), "{stored}");
        }
    }
}
