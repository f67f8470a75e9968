//! Django's expiry API on [`Session`]: `set_expiry` and the `get_expiry_*` family, read from
//! the session's data and the settings.

use time::OffsetDateTime;

use super::Session;
use crate::expiry::{EXPIRY_KEY, Expiry, expire_at_browser_close, expiry_age, expiry_date};

impl Session {
    /// Sets when the session expires (Django's `set_expiry`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sessionkit::SessionError> {
    /// # let sessions = sessionkit::Sessions::open(sessionkit::Settings {
    /// #     engine: sessionkit::EngineKind::SignedCookies,
    /// #     ..sessionkit::Settings::new("secret")
    /// # }).await.unwrap();
    /// # let session = sessions.start(None).load().await?;
    /// use sessionkit::Expiry;
    ///
    /// session.set_expiry(Expiry::After(time::Duration::minutes(30)));
    /// assert_eq!(session.expiry_age(), 1800);
    /// session.set_expiry(Expiry::BrowserClose);
    /// assert!(session.expire_at_browser_close());
    /// # Ok(()) }
    /// ```
    pub fn set_expiry(&self, expiry: Expiry) {
        match expiry.to_stored() {
            Some(value) => self.state().set(EXPIRY_KEY, value),
            None => {
                self.remove(EXPIRY_KEY);
            }
        }
    }

    /// Seconds until expiry, counted from now (Django's `get_expiry_age`). Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// use sessionkit::Expiry;
    ///
    /// assert_eq!(session.expiry_age(), 1_209_600); // SESSION_COOKIE_AGE: two weeks
    /// session.set_expiry(Expiry::After(time::Duration::minutes(5)));
    /// assert_eq!(session.expiry_age(), 300);
    /// # Ok(()) }
    /// ```
    pub fn expiry_age(&self) -> i64 {
        self.expiry_age_since(OffsetDateTime::now_utc())
    }

    /// Seconds until expiry, counted from `modification`. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// use sessionkit::Expiry;
    /// use time::macros::datetime;
    ///
    /// session.set_expiry(Expiry::At(datetime!(2030-01-01 12:00 UTC)));
    /// assert_eq!(session.expiry_age_since(datetime!(2030-01-01 11:00 UTC)), 3600);
    /// # Ok(()) }
    /// ```
    pub fn expiry_age_since(&self, modification: OffsetDateTime) -> i64 {
        let mut state = self.state();
        state.touch();
        expiry_age(&state.data, modification, self.0.settings().cookie_age)
    }

    /// When the session expires if saved now (Django's `get_expiry_date`). Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// use sessionkit::Expiry;
    /// use time::macros::datetime;
    ///
    /// session.set_expiry(Expiry::At(datetime!(2030-01-01 12:00 UTC)));
    /// assert_eq!(session.expiry_date(), datetime!(2030-01-01 12:00 UTC));
    /// # Ok(()) }
    /// ```
    pub fn expiry_date(&self) -> OffsetDateTime {
        self.expiry_date_since(OffsetDateTime::now_utc())
    }

    /// When the session expires if saved at `modification`. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// use sessionkit::Expiry;
    /// use time::macros::datetime;
    ///
    /// let saved = datetime!(2030-01-01 0:00 UTC);
    /// assert_eq!(session.expiry_date_since(saved), datetime!(2030-01-15 0:00 UTC)); // 2 weeks
    /// session.set_expiry(Expiry::After(time::Duration::hours(1)));
    /// assert_eq!(session.expiry_date_since(saved), datetime!(2030-01-01 1:00 UTC));
    /// # Ok(()) }
    /// ```
    pub fn expiry_date_since(&self, modification: OffsetDateTime) -> OffsetDateTime {
        let mut state = self.state();
        state.touch();
        expiry_date(&state.data, modification, self.0.settings().cookie_age)
    }

    /// Whether the cookie ends with the browser session (Django's
    /// `get_expire_at_browser_close`). Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// assert!(!session.expire_at_browser_close()); // SESSION_EXPIRE_AT_BROWSER_CLOSE=false
    /// session.set_expiry(sessionkit::Expiry::BrowserClose);
    /// assert!(session.expire_at_browser_close());
    /// # Ok(()) }
    /// ```
    pub fn expire_at_browser_close(&self) -> bool {
        let mut state = self.state();
        state.touch();
        expire_at_browser_close(&state.data, self.0.settings().expire_at_browser_close)
    }
}
