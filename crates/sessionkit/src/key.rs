//! Session keys: what a server-side engine puts in the cookie.
//!
//! A key is 32 characters from `[a-z0-9]` (Django's format, about 165 bits) drawn from the
//! operating system's CSPRNG. Keys are bearer credentials, so `Debug` and `Display` never show
//! them: logs get a short fingerprint instead, enough to correlate lines without leaking the key.

use std::cell::Cell;
use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Length of a freshly minted key (Django's `get_random_string(32, VALID_KEY_CHARS)`).
pub(crate) const KEY_LENGTH: usize = 32;
/// Shortest cookie value that can be a key; Django's `_validate_session_key` uses the same bound.
pub(crate) const MIN_KEY_LENGTH: usize = 8;
/// Longest accepted key: Django's `session_key` column is `varchar(40)`.
pub(crate) const MAX_KEY_LENGTH: usize = 40;

/// A validated session key.
///
/// ```
/// use sessionkit::engine::SessionKey;
///
/// let key = SessionKey::generate();
/// assert_eq!(key.as_str().len(), 32);
/// assert!(!format!("{key:?}").contains(key.as_str()));
/// assert!(SessionKey::parse("abc").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    /// Mints a new key from the OS CSPRNG (`getrandom`), by rejection sampling so every
    /// character is uniformly distributed.
    ///
    /// # Panics
    /// Only if the operating system cannot provide randomness at all, in which case no key
    /// could be trusted and continuing would be worse.
    ///
    /// ```
    /// use sessionkit::engine::SessionKey;
    ///
    /// let (a, b) = (SessionKey::generate(), SessionKey::generate());
    /// assert_ne!(a, b);
    /// assert!(SessionKey::is_well_formed(a.as_str())); // 32 of [a-z0-9]
    /// ```
    #[expect(
        clippy::expect_used,
        reason = "without the OS CSPRNG no key can be made safely: stopping beats a weak key"
    )]
    pub fn generate() -> Self {
        // 252 is the largest multiple of 36 below 256: bytes at or above it would bias the draw.
        const LIMIT: u8 = 252;
        let mut key = String::with_capacity(KEY_LENGTH);
        let mut buf = [0u8; 48];
        while key.len() < KEY_LENGTH {
            getrandom::fill(&mut buf).expect("the operating system CSPRNG is unavailable");
            for byte in buf.iter().copied().filter(|b| *b < LIMIT) {
                if key.len() == KEY_LENGTH {
                    break;
                }
                if let Some(&digit) = ALPHABET.get(usize::from(byte % 36)) {
                    key.push(char::from(digit));
                }
            }
        }
        SessionKey(key)
    }

    /// Accepts `value` if it could be a key: 8 to 40 characters from `[a-z0-9]`.
    ///
    /// Anything else (empty, short, other characters such as `/` or `..`) is not a key, so it
    /// can never reach a query or a file path.
    ///
    /// ```
    /// use sessionkit::engine::SessionKey;
    ///
    /// assert!(SessionKey::parse("abcdefgh12345678").is_some());
    /// assert!(SessionKey::parse("").is_none());
    /// assert!(SessionKey::parse("short").is_none()); // under 8 characters
    /// assert!(SessionKey::parse("ABCDEFGH12345678").is_none()); // upper case
    /// assert!(SessionKey::parse("../../etc/passwd").is_none()); // never a path
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        Self::is_well_formed(value).then(|| SessionKey(value.to_owned()))
    }

    /// The check behind [`SessionKey::parse`], without allocating.
    ///
    /// ```
    /// use sessionkit::engine::SessionKey;
    ///
    /// assert!(SessionKey::is_well_formed("0123456789abcdef"));
    /// assert!(!SessionKey::is_well_formed("0123456789abcdef;")); // ';' is not in [a-z0-9]
    /// ```
    pub fn is_well_formed(value: &str) -> bool {
        // Every byte is checked, without stopping at the first bad one: a loop without an exit
        // the compiler can run 16 or 32 bytes at a time (every request checks its cookie).
        (MIN_KEY_LENGTH..=MAX_KEY_LENGTH).contains(&value.len())
            && value.bytes().fold(true, |ok, b| {
                ok & (b.is_ascii_lowercase() | b.is_ascii_digit())
            })
    }

    /// The key itself, for the cookie. Never log it.
    ///
    /// ```
    /// use sessionkit::engine::SessionKey;
    ///
    /// let key = SessionKey::parse("abcdefgh12345678").unwrap();
    /// assert_eq!(key.as_str(), "abcdefgh12345678");
    /// assert_ne!(key.to_string(), key.as_str()); // `Display` shows a fingerprint only
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the key in lowercase hex: what server engines store, so a leaked table or
    /// dump holds no usable cookie.
    ///
    /// ```
    /// use sessionkit::engine::SessionKey;
    ///
    /// let key = SessionKey::parse("abcdefgh12345678").unwrap();
    /// let hash = key.hashed();
    /// assert_eq!(hash.len(), 64);
    /// assert!(!hash.contains(key.as_str()));
    /// assert_eq!(hash, SessionKey::parse("abcdefgh12345678").unwrap().hashed()); // stable
    /// ```
    pub fn hashed(&self) -> String {
        KeyHash::of(&self.0).as_str().to_owned()
    }

    /// A short, non-reversible tag for logs: the first 8 hex digits of [`SessionKey::hashed`].
    ///
    /// ```
    /// use sessionkit::engine::SessionKey;
    ///
    /// let key = SessionKey::generate();
    /// assert_eq!(key.fingerprint(), key.hashed()[..8]);
    /// assert_eq!(key.to_string(), format!("#{}", key.fingerprint())); // what logs show
    /// ```
    pub fn fingerprint(&self) -> String {
        let mut hash = self.hashed();
        hash.truncate(8);
        hash
    }
}

/// The two lowercase hex digits of every byte: one lookup a byte, as every request hashes a key.
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build, not a request"
)]
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0xf]];
        byte += 1;
    }
    pairs
};

/// A key of up to [`MAX_KEY_LENGTH`] bytes as zero-padded machine words: compared in
/// constant time a word at a time, not a byte at a time.
type KeyWords = [u64; MAX_KEY_LENGTH / 8];
const _: () = assert!(
    MAX_KEY_LENGTH.is_multiple_of(8),
    "a key's words hold all its bytes"
);

fn key_words(key: &[u8]) -> KeyWords {
    let mut padded = [0; MAX_KEY_LENGTH];
    if let Some(slot) = padded.get_mut(..key.len()) {
        slot.copy_from_slice(key);
    }
    let mut words = [0; MAX_KEY_LENGTH / 8];
    for (word, bytes) in words.iter_mut().zip(padded.chunks_exact(8)) {
        *word = u64::from_ne_bytes(bytes.try_into().unwrap_or_default());
    }
    words
}

thread_local! {
    /// The key this thread hashed last (its length and words) and the hash: a request that
    /// reads its session and then saves it needs the same hash twice, and in-process stores
    /// answer in the same poll, on the same thread. A length no key has means nothing yet.
    static LAST_KEY_HASH: Cell<(usize, KeyWords, [u8; 64])> =
        const { Cell::new((usize::MAX, [0; MAX_KEY_LENGTH / 8], [0; 64])) };
}

/// [`SessionKey::hashed`] on the stack, for the per-request path that only needs to look a
/// record up.
pub(crate) struct KeyHash([u8; 64]);

impl KeyHash {
    /// The hash of `key` (which the caller has checked is well formed).
    pub(crate) fn of(key: &str) -> Self {
        let (last_length, last_words, last_hash) = LAST_KEY_HASH.get();
        let words = key_words(key.as_bytes());
        // Constant time, so a cookie's timing tells nothing about the key hashed before it.
        if last_length == key.len() && bool::from(last_words.ct_eq(&words)) {
            return KeyHash(last_hash);
        }
        let mut hex = [0; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(Sha256::digest(key.as_bytes())) {
            // A byte indexes all 256 pairs.
            pair.copy_from_slice(HEX_PAIRS.get(usize::from(byte)).unwrap_or(&[b'0'; 2]));
        }
        if key.len() <= MAX_KEY_LENGTH {
            LAST_KEY_HASH.set((key.len(), words, hex));
        }
        KeyHash(hex)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Hex digits are ASCII, so this is never the empty fallback.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey(#{})", self.fingerprint())
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_minted_at_32_and_accepted_from_8_to_40_characters() {
        assert_eq!(SessionKey::generate().as_str().len(), KEY_LENGTH);
        for (length, accepted) in [
            (MIN_KEY_LENGTH - 1, false),
            (MIN_KEY_LENGTH, true),
            (MAX_KEY_LENGTH, true),
            (MAX_KEY_LENGTH + 1, false),
        ] {
            assert_eq!(SessionKey::is_well_formed(&"a".repeat(length)), accepted);
        }
    }

    #[test]
    fn generated_keys_are_32_lowercase_alphanumerics_and_distinct() {
        let keys: HashSet<String> = (0..1000)
            .map(|_| SessionKey::generate().as_str().to_owned())
            .collect();
        assert_eq!(keys.len(), 1000);
        for key in &keys {
            assert_eq!(key.len(), KEY_LENGTH);
            assert!(SessionKey::is_well_formed(key), "{key}");
        }
    }

    #[test]
    fn every_alphabet_character_shows_up() {
        let seen: HashSet<char> = (0..200)
            .flat_map(|_| SessionKey::generate().as_str().chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), 36);
    }

    #[test]
    fn short_empty_and_foreign_values_are_not_keys() {
        for bad in [
            "",
            "1",
            "abcdefg",
            "ABCDEFGHIJ",
            "abcd/efgh",
            "..abcdefg",
            "abc\\defgh",
        ] {
            assert!(SessionKey::parse(bad).is_none(), "{bad:?}");
        }
        assert!(SessionKey::parse(&"a".repeat(41)).is_none());
        assert!(SessionKey::parse("abcdefgh").is_some());
        assert!(SessionKey::parse(&"a".repeat(40)).is_some());
    }

    #[test]
    fn one_foreign_character_anywhere_is_not_a_key() {
        let key = SessionKey::generate();
        for at in 0..KEY_LENGTH {
            for foreign in ['A', 'Z', '/', ';', '.', ' ', '`', '{', '@', '[', 'é'] {
                let mut value = key.as_str().to_owned();
                value.replace_range(at..=at, foreign.encode_utf8(&mut [0; 4]));
                assert!(!SessionKey::is_well_formed(&value), "{foreign:?} at {at}");
            }
        }
        assert!(SessionKey::is_well_formed(key.as_str()));
    }

    #[test]
    fn debug_and_display_never_show_the_key() {
        let key = SessionKey::generate();
        for shown in [format!("{key:?}"), format!("{key}")] {
            assert!(!shown.contains(key.as_str()));
            assert!(shown.contains(&key.fingerprint()));
        }
    }

    #[test]
    fn hashed_is_sha256_hex() {
        let key = SessionKey::parse("abcdefgh").unwrap();
        assert_eq!(
            key.hashed(),
            "9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab"
        );
    }

    #[test]
    fn the_hash_kept_from_the_last_key_serves_only_that_key() {
        let sha256_hex = |key: &str| -> String {
            Sha256::digest(key.as_bytes())
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect()
        };
        let longest = "z".repeat(MAX_KEY_LENGTH);
        let longest_but_last = format!("{}y", "z".repeat(MAX_KEY_LENGTH - 1));
        let too_long = "y".repeat(MAX_KEY_LENGTH + 1);
        // The same key again, a longer key sharing its start, a shorter one, the longest kept,
        // one of its length differing in the last byte only, one too long to keep, and back.
        for key in [
            "abcdefgh",
            "abcdefgh",
            "abcdefgh1",
            "abcdefgh",
            &longest,
            &longest,
            &longest_but_last,
            &longest,
            &too_long,
            &too_long,
            "abcdefgh",
        ] {
            assert_eq!(KeyHash::of(key).as_str(), sha256_hex(key), "{key}");
        }
    }
}
