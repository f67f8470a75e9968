//! Sessions by user: the session key that names the logged-in user, and how one of a user's
//! sessions is listed.

use time::OffsetDateTime;

use super::Data;

/// The session key naming the logged-in user (Django's `django.contrib.auth.SESSION_KEY`);
/// server engines index it so a user's sessions can be listed and ended together.
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
/// # let session = sessions.start(None).load().await?;
/// use sessionkit::engine::{USER_ID_KEY, user_of};
///
/// assert_eq!(USER_ID_KEY, "_auth_user_id"); // the key Django's login() writes
/// session.insert(USER_ID_KEY, 42)?;
/// assert_eq!(user_of(&session.to_map()).as_deref(), Some("42"));
/// # Ok(()) }
/// ```
pub const USER_ID_KEY: &str = "_auth_user_id";

/// The user a session belongs to: the value under [`USER_ID_KEY`], a string or a number.
///
/// ```
/// use sessionkit::engine::{Data, JsonText, USER_ID_KEY, user_of};
///
/// let with = |id: &str| Data::from_iter([(USER_ID_KEY, JsonText::parse_json(id).unwrap())]);
/// assert_eq!(user_of(&with("42")).as_deref(), Some("42"));
/// assert_eq!(user_of(&with("123456789012345678901234567890")).as_deref(), Some("123456789012345678901234567890"));
/// assert_eq!(user_of(&with(r#""b7e1""#)).as_deref(), Some("b7e1"));
/// assert_eq!(user_of(&with("null")), None);
/// assert_eq!(user_of(&Data::new()), None); // anonymous
/// ```
pub fn user_of(data: &Data) -> Option<String> {
    data.get(USER_ID_KEY)?.id()
}

/// One of a user's live sessions, as [`Engine::user_sessions`](super::Engine::user_sessions) lists them.
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
/// use sessionkit::engine::USER_ID_KEY;
///
/// let mut cookies = Vec::new();
/// for device in ["phone", "laptop"] {
///     let session = sessions.start(None).load().await?;
///     session.insert(USER_ID_KEY, 42)?;
///     session.insert("device", device)?;
///     cookies.push(session.save().await?.unwrap());
/// }
/// let listed = sessions.engine().user_sessions("42", Some(&cookies[1])).await?;
/// assert_eq!(listed.len(), 2);
/// assert!(listed[0].current); // the caller's own session comes first
/// assert_eq!(listed[0].data["device"], serde_json::json!("laptop"));
/// assert!(listed.iter().all(|s| !cookies.contains(&s.id))); // ids are not keys
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UserSession {
    /// An opaque, stable identifier (derived from the key's hash; never the key itself).
    pub id: String,
    /// The session data (what the app stored: user agent, last seen, …).
    pub data: Data,
    /// When it expires.
    pub expires: OffsetDateTime,
    /// Whether it is the session of the cookie the caller passed.
    pub current: bool,
}
