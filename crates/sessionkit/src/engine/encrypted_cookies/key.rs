//! The wire format's sizes and the keys: one per secret, derived with HKDF for this purpose and
//! bound to the cookie name.

use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use hkdf::Hkdf;
use sha2::Sha256;

/// The purpose label: what the key is derived for, and part of every cookie's associated
/// data, so nothing sealed for another purpose opens as a session.
pub const PURPOSE: &str = "sessionkit.engine.encrypted_cookies";

/// The format this engine writes: the first byte of every cookie value it makes.
pub const VERSION: u8 = 1;

pub(super) const KEY_ID_BYTES: usize = 4;
/// The version byte and the key id, in the clear (and authenticated).
pub(super) const HEADER_BYTES: usize = 1 + KEY_ID_BYTES;
pub(super) const NONCE_BYTES: usize = 24;
pub(super) const ISSUED_AT_BYTES: usize = 8;
pub(super) const TAG_BYTES: usize = 16;
/// Everything but the JSON: what encryption adds to a session's size.
pub(super) const OVERHEAD_BYTES: usize = HEADER_BYTES + NONCE_BYTES + ISSUED_AT_BYTES + TAG_BYTES;
/// The shortest value this engine writes: the overhead and `{}`, in base64.
pub(super) const MIN_VALUE_CHARS: usize = ((OVERHEAD_BYTES + 2) * 4).div_ceil(3);
/// Base64 characters that hold the header: 8 characters are 6 bytes.
pub(super) const HEADER_CHARS: usize = 8;

/// One secret's key, ready to seal and open cookies of one name.
#[derive(Clone)]
pub(super) struct SealingKey {
    pub(super) id: [u8; KEY_ID_BYTES],
    pub(super) cipher: XChaCha20Poly1305,
    /// `version ‖ id ‖ purpose ‖ cookie name`: the associated data of every value it seals.
    /// The name comes last and everything before it has a fixed length, so no two names
    /// give the same bytes.
    pub(super) associated_data: Box<[u8]>,
}

impl SealingKey {
    /// The key and id HKDF-SHA256 derives from `secret` for [`PURPOSE`].
    #[expect(
        clippy::expect_used,
        reason = "HKDF-SHA256 gives up to 8160 bytes: 32 and 4 are always within it"
    )]
    pub(super) fn derive(secret: &str, cookie_name: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(PURPOSE.as_bytes()), secret.as_bytes());
        let mut key = [0; 32];
        hkdf.expand(b"encryption key", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        let mut id = [0; KEY_ID_BYTES];
        hkdf.expand(b"key id", &mut id)
            .expect("4 bytes is a valid HKDF-SHA256 length");
        let associated_data = [
            &[VERSION],
            &id[..],
            PURPOSE.as_bytes(),
            cookie_name.as_bytes(),
        ]
        .concat()
        .into_boxed_slice();
        SealingKey {
            id,
            cipher: XChaCha20Poly1305::new(&key.into()),
            associated_data,
        }
    }
}
