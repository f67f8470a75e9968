//! The "under the hood" panel at the bottom of every page: which engine keeps the session, how
//! big the session cookie is, and what it holds. On `signed_cookies` that is the whole session,
//! readable by anyone holding the cookie; on `encrypted_cookies` the whole session too, but
//! unreadable; on server engines it is only an opaque key.
//!
//! A cookie is client input: a validly signed one (from anyone who has the secret, or from an
//! older deployment) may inflate to megabytes. The panel decompresses at most
//! [`MAX_DECODED_BYTES`](super::state::MAX_DECODED_BYTES) of it and shows at most
//! [`SHOWN_JSON_BYTES`] of the JSON, so a page stays small whatever the cookie holds.

use std::time::SystemTime;

use sessionkit::django::signing::SignatureError;
use sessionkit::engine::{Data, JsonText};
use sessionkit::settings::MAX_COOKIE_BYTES;
use sessionkit::{EngineKind, Session, Settings};
use time::OffsetDateTime;

use super::format::{escape, timestamp};
use super::state::Shop;

/// Characters of a session key shown: enough to tell sessions apart, far too few to use.
const SHOWN_KEY_CHARS: usize = 6;
/// Most bytes of the cookie's JSON shown, about one browser cookie's worth.
const SHOWN_JSON_BYTES: usize = 4 * 1024;

/// The panel's HTML for a request that carried `cookie` and has `session`.
pub fn panel(shop: &Shop, session: &Session, cookie: Option<&str>) -> String {
    let settings = shop.sessions.settings();
    let name = escape(&settings.cookie_name);
    let (size, cookie) = match cookie {
        Some(value) => (
            format!(
                "<code>{name}</code>: {} bytes (name + value) as your browser sent it with this request",
                settings.cookie_name.len() + value.len()
            ),
            contents(shop, settings, session, value),
        ),
        None => (
            format!(
                "none sent with this request: a <code>{name}</code> cookie is set once the store keeps something for you"
            ),
            String::new(),
        ),
    };
    format!(
        "<aside class=\"hood\" id=\"hood\">
<h2>Under the hood</h2>
<dl>
  <dt>Engine</dt><dd><code id=\"engine\">{engine}</code> — {where_data_lives}</dd>
  <dt>Session cookie</dt><dd>{size}</dd>
</dl>
{cookie}
</aside>",
        engine = settings.engine,
        where_data_lives = where_data_lives(settings),
    )
}

fn where_data_lives(settings: &Settings) -> String {
    match settings.engine {
        EngineKind::SignedCookies => {
            "the whole session travels in the cookie, signed; nothing is stored on the server"
                .to_owned()
        }
        EngineKind::EncryptedCookies => {
            "the whole session travels in the cookie, encrypted; nothing is stored on the server"
                .to_owned()
        }
        EngineKind::Db => format!(
            "sessions are rows of the table <code>{}</code>; the cookie holds only a key",
            escape(&settings.db_table)
        ),
        EngineKind::Cache => "sessions live in the cache; the cookie holds only a key".to_owned(),
        EngineKind::CachedDb => {
            "sessions live in the database with a cache in front; the cookie holds only a key"
                .to_owned()
        }
        EngineKind::File => format!(
            "one file per session in <code>{}</code>; the cookie holds only a key",
            escape(&settings.file_path.display().to_string())
        ),
        other => format!("sessions live in the {other} engine"),
    }
}

/// What the cookie `value` holds, explained for this engine.
fn contents(shop: &Shop, settings: &Settings, session: &Session, value: &str) -> String {
    if settings.engine.is_server_side() {
        return opaque_key(session, value);
    }
    let size = settings.cookie_name.len() + value.len();
    if settings.engine == EngineKind::EncryptedCookies {
        return format!(
            "<p>The cookie <em>is</em> the session, <strong>encrypted</strong>: your browser \
holds only ciphertext, which it can neither read nor change. The server alone, with its \
secret, opens it.</p>
{}",
            cookie_budget(size)
        );
    }
    let unsigned = match shop
        .cookie_signer
        .unsign_object(value, None, SystemTime::now())
    {
        Ok(unsigned) => unsigned,
        Err(SignatureError::TooLarge { limit }) => {
            return format!(
                "<p id=\"cookie-too-large\">The cookie verifies, but its data decompresses to \
over {limit} bytes, far more than a browser would keep, so it is not shown here.</p>"
            );
        }
        Err(reason) => {
            return format!(
                "<p>The cookie does not verify ({}), so the store treats it as no session.</p>",
                escape(&reason.to_string())
            );
        }
    };
    let json = shortened(&one_key_per_line(&unsigned.data), SHOWN_JSON_BYTES);
    let signed_at = i64::try_from(unsigned.timestamp)
        .ok()
        .and_then(|ts| OffsetDateTime::from_unix_timestamp(ts).ok())
        .map_or_else(|| unsigned.timestamp.to_string(), timestamp);
    format!(
        "<p>The cookie <em>is</em> the session. It is signed, so it cannot be changed without the \
server noticing, but it is <strong>not encrypted</strong>: anyone holding it can read it, \
as decoded here (signed at {signed_at}):</p>
<pre id=\"cookie-json\">{json}</pre>
{budget}",
        json = escape(&json),
        budget = cookie_budget(size),
    )
}

/// How much of a browser's cookie limit a cookie session of `size` bytes uses, and why logging
/// out cannot end a copy of it.
fn cookie_budget(size: usize) -> String {
    let percent = (size * 100 / MAX_COOKIE_BYTES).min(100);
    format!(
        "<p>Browsers keep at most {MAX_COOKIE_BYTES} bytes per cookie: this one uses \
<strong id=\"cookie-size\">{size} of {MAX_COOKIE_BYTES}</strong> bytes.</p>
<div class=\"meter\"><span style=\"width: {percent}%\"></span></div>
<p>Logging out makes this browser forget the cookie, but the server keeps no record to \
delete: a copy of the cookie stays valid until it expires.</p>"
    )
}

/// `text` cut after at most `limit` bytes (on a character boundary), saying how much is left.
fn shortened(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let cut = (0..=limit)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}\n… {} more bytes", &text[..cut], text.len() - cut)
}

/// A server engine's cookie: a key, shown truncated, and what the server keeps under it.
fn opaque_key(session: &Session, value: &str) -> String {
    let shown: String = value.chars().take(SHOWN_KEY_CHARS).collect();
    let kept = if session.session_key().is_none() {
        "nothing: the server does not know this key (it expired, or a logout ended it), so a \
new key is issued once the store keeps something for you"
            .to_owned()
    } else {
        session
            .keys()
            .iter()
            .map(|key| format!("<code>{}</code>", escape(key)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "<p>The cookie holds only the session key <code id=\"session-key\">{shown}…</code> \
(random; truncated here, since whoever has the whole key has the session). It says nothing \
about you: the data lives on the server, and logging out deletes it there, so a copy of the \
cookie stops working.</p>
<p>Kept on the server under this key: {kept}.</p>",
        shown = escape(&shown),
    )
}

/// The session's JSON with each key on a line of its own, in the session's order.
fn one_key_per_line(data: &Data) -> String {
    let lines: Vec<String> = data
        .iter()
        .map(|(key, value)| format!("  {}: {value}", JsonText::from(key)))
        .collect();
    match lines.is_empty() {
        true => "{}".to_owned(),
        false => format!("{{\n{}\n}}", lines.join(",\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary_with_what_is_left() {
        assert_eq!(shortened("short", 5), "short");
        assert_eq!(shortened("abcdef", 4), "abcd\n… 2 more bytes");
        // "é" is two bytes: a cut inside it moves before it.
        assert_eq!(shortened("abcé", 4), "abc\n… 2 more bytes");
    }
}
