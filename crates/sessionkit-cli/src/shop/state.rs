//! [`Shop`], the state every handler and middleware of the store shares.

use std::sync::Arc;

use sessionkit::Sessions;
use sessionkit::django::signing::{COOKIE_SALT, Signer};

/// Most bytes a cookie is decompressed to for the panel: sixteen times what a browser keeps.
pub const MAX_DECODED_BYTES: u64 = 64 * 1024;

/// What the handlers share: the engine and settings, and a verifier for the panel that decodes
/// `signed_cookies` cookies. Cheap to clone.
#[derive(Clone)]
pub struct Shop {
    pub(super) sessions: Sessions,
    pub(super) cookie_signer: Arc<Signer>,
}

impl Shop {
    pub(super) fn new(sessions: &Sessions) -> Self {
        let settings = sessions.settings();
        Shop {
            sessions: sessions.clone(),
            cookie_signer: Arc::new(
                Signer::new(
                    COOKIE_SALT,
                    &settings.secret_key,
                    &settings.secret_key_fallbacks,
                )
                .inflating_up_to(MAX_DECODED_BYTES),
            ),
        }
    }
}
