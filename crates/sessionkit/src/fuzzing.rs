//! The internal decoders the fuzz targets in `fuzz/` reach, behind the `fuzzing` feature: thin
//! wrappers, so that no item of the normal API becomes public for their sake. Not an API.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::django::signing::Signer;
use crate::engine::file::{Record, lock_path, session_path};
use crate::engine::{Data, EncryptedCookieEngine, EngineError};

/// The most bytes a compressed signed payload may inflate to.
pub const MAX_DECOMPRESSED_BYTES: u64 = crate::django::signing::MAX_DECOMPRESSED_BYTES;

/// `text` + `:` + `signer`'s signature of it: a validly signed value around any payload and
/// timestamp, such as only a holder of the secret could make.
pub fn sign_exactly(signer: &Signer, text: &str) -> String {
    let mut value = text.to_owned();
    signer.append_signature(&mut value);
    value
}

/// An `encrypted_cookies` value holding `payload` (any bytes, not only JSON) issued at
/// `issued_at` Unix seconds, sealed with `engine`'s `SECRET_KEY`: what only a holder of the
/// key could make. Only the random source (for the nonce) can fail.
pub fn seal_exactly(
    engine: &EncryptedCookieEngine,
    payload: &[u8],
    issued_at: i64,
) -> Result<String, EngineError> {
    engine.seal_payload(payload, issued_at)
}

/// A session file's `(version, expiry, data)`, as the file engine reads it.
pub fn parse_session_file(text: &str) -> Option<(i64, OffsetDateTime, Data)> {
    Record::parse(text).map(|record| (record.version, record.expires, record.data))
}

/// The text the file engine writes for a record.
pub fn render_session_file(version: i64, expires: OffsetDateTime, data: Data) -> String {
    Record {
        version,
        expires,
        data,
    }
    .render()
}

/// The file holding the record at address `id` in `dir`.
pub fn session_file_path(dir: &Path, id: &str) -> PathBuf {
    session_path(dir, id)
}

/// The lock file of the record at address `id` in `dir`.
pub fn lock_file_path(dir: &Path, id: &str) -> PathBuf {
    lock_path(dir, id)
}

/// Whether an address from elsewhere (an export) may name a record here.
pub fn is_key_hash(address: &str) -> bool {
    crate::engine::is_key_hash(address)
}
