//! `decode` and `encode`: session cookies on the command line, to read one (or a
//! `session_data` column) and to make one for a test. Django's signed format, and the
//! `encrypted_cookies` engine's sealed one, told apart by shape: a signed value has `:`
//! separators, a sealed one is base64 alone.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessionkit::django::signing::{COOKIE_SALT, Signer};
use sessionkit::engine::encrypted_cookies::EncryptedCookieConfig;
use sessionkit::engine::{Data, EncryptedCookieEngine, JsonText};
use sessionkit::settings::{DEFAULT_COOKIE_AGE, Secrets};
use time::OffsetDateTime;

use crate::Failure;

const DECODE_EXAMPLES: &str = "\
Examples:
  sessionkit decode --secret \"$SECRET_KEY\" \"$COOKIE\"
  sessionkit decode --secret secret --no-max-age eyJ1c2VyX2lkIjo0Mn0:1r31eq:rPUe9w6DHOZIobkSB3UKnXa1KMmduFJ2mH9-ZQr782w
  sessionkit decode --fallback \"$OLD_SECRET_KEY\" \"$COOKIE\"   # signed before a key rotation
  sessionkit decode --cookie-name sessionid \"$COOKIE\"   # an encrypted_cookies cookie
  echo \"$COOKIE\" | sessionkit decode -             # keeps the value out of `ps`

  # session_data of a db row, which uses the store salt:
  sessionkit decode --salt django.contrib.sessions.SessionStore --no-max-age \"$SESSION_DATA\"

A value with ':' separators is signed (signed_cookies, session_data); one without is an
encrypted_cookies cookie, which opens only with the secret and the cookie name it was sealed
for (--cookie-name, default $SESSION_COOKIE_NAME or sessionid).

Prints the session as JSON and exits 0; otherwise prints why (bad signature, unknown key,
expired, malformed) on one line and exits 1. --secret defaults to $SECRET_KEY.";

const ENCODE_EXAMPLES: &str = "\
Examples:
  sessionkit encode --secret \"$SECRET_KEY\" '{\"user_id\": 42}'
  sessionkit encode --timestamp 1700000000 '{}'     # a reproducible value
  sessionkit encode - < session.json
  sessionkit encode --encrypted '{\"user_id\": 42}'   # for an encrypted_cookies site

Prints a value Django's signing.loads accepts: set it as the sessionid cookie of a
signed_cookies site. With --encrypted, a sealed value for the cookie --cookie-name of an
encrypted_cookies site. --secret defaults to $SECRET_KEY.";

/// Arguments of `sessionkit decode`.
#[derive(clap::Args)]
#[command(after_help = DECODE_EXAMPLES)]
pub struct DecodeArgs {
    /// The SECRET_KEY the value was signed with.
    #[arg(
        long,
        env = "SECRET_KEY",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    secret: String,
    /// An old secret that still verifies (as in SECRET_KEY_FALLBACKS); repeat for several.
    #[arg(long = "fallback", value_name = "SECRET", allow_hyphen_values = true)]
    fallbacks: Vec<String>,
    /// The signing salt; django.contrib.sessions.SessionStore reads session_data of db rows.
    #[arg(long, default_value = COOKIE_SALT)]
    salt: String,
    /// The cookie an encrypted value was sealed for (SESSION_COOKIE_NAME).
    #[arg(long, env = "SESSION_COOKIE_NAME", default_value = "sessionid")]
    cookie_name: String,
    /// Refuse a value signed (or sealed) more than this many seconds ago (as SESSION_COOKIE_AGE does).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_COOKIE_AGE.unsigned_abs())]
    max_age: u64,
    /// Accept a value of any age.
    #[arg(long, conflicts_with = "max_age")]
    no_max_age: bool,
    /// The signed value, or - to read it from standard input.
    value: String,
}

/// Arguments of `sessionkit encode`.
#[derive(clap::Args)]
#[command(after_help = ENCODE_EXAMPLES)]
pub struct EncodeArgs {
    /// The SECRET_KEY to sign with.
    #[arg(
        long,
        env = "SECRET_KEY",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    secret: String,
    /// The signing salt; the default makes a signed_cookies session cookie.
    #[arg(long, default_value = COOKIE_SALT, conflicts_with = "encrypted")]
    salt: String,
    /// Seal the session as an encrypted_cookies cookie instead of signing it.
    #[arg(long)]
    encrypted: bool,
    /// The cookie an encrypted value is sealed for (SESSION_COOKIE_NAME).
    #[arg(long, env = "SESSION_COOKIE_NAME", default_value = "sessionid")]
    cookie_name: String,
    /// The signing (or sealing) time in Unix seconds [default: now].
    #[arg(long, value_name = "UNIX_SECONDS")]
    timestamp: Option<u64>,
    /// A JSON object, or - to read it from standard input.
    json: String,
}

/// `sessionkit decode`: prints the verified (or decrypted) object as Django would serialize it.
pub fn decode(args: DecodeArgs) -> Result<(), Failure> {
    let value = argument_or_stdin(&args.value)?;
    let value = value.trim();
    let max_age = (!args.no_max_age).then(|| Duration::from_secs(args.max_age));
    let data = if is_signed(value) {
        Signer::new(&args.salt, &args.secret, &args.fallbacks)
            .unsign_object(value, max_age, SystemTime::now())
            .map_err(Failure::other)?
            .data
    } else {
        decrypt(&args, value, max_age)?
    };
    println!("{}", data.to_json());
    Ok(())
}

/// Whether `value` is in Django's signed format (`payload:timestamp:signature`) rather than
/// an `encrypted_cookies` value, which is base64 alone.
fn is_signed(value: &str) -> bool {
    value.contains(':')
}

/// The session an `encrypted_cookies` value holds, if it opens and is not older than `max_age`.
fn decrypt(args: &DecodeArgs, value: &str, max_age: Option<Duration>) -> Result<Data, Failure> {
    let unsealed = encrypted_engine(&args.secret, &args.fallbacks, &args.cookie_name)
        .unseal(value)
        .map_err(Failure::other)?;
    let age = (OffsetDateTime::now_utc() - unsealed.issued_at).whole_seconds();
    if let Some(max_age) = max_age
        && age > i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX)
    {
        return Err(Failure::Other(format!(
            "expired: sealed {age} s ago, {} s allowed",
            max_age.as_secs()
        )));
    }
    Ok(unsealed.data)
}

/// The `encrypted_cookies` engine of these secrets and cookie name.
fn encrypted_engine(
    secret: &str,
    fallbacks: &[String],
    cookie_name: &str,
) -> EncryptedCookieEngine {
    EncryptedCookieEngine::new(EncryptedCookieConfig {
        secrets: Secrets::new(secret, fallbacks.to_vec()),
        cookie_name: cookie_name.to_owned(),
        cookie_age: DEFAULT_COOKIE_AGE,
    })
}

/// `sessionkit encode`: prints the signed value.
pub fn encode(args: EncodeArgs) -> Result<(), Failure> {
    let json = argument_or_stdin(&args.json)?;
    let data = match Data::from_json(&json) {
        Ok(data) => data,
        Err(_) if JsonText::parse_json(&json).is_ok() => {
            return Err(Failure::other(
                "the JSON must be an object, such as {\"user_id\": 42}",
            ));
        }
        Err(error) => return Err(Failure::Other(format!("invalid JSON: {error}"))),
    };
    let timestamp = args.timestamp.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    });
    let value = if args.encrypted {
        let issued_at = i64::try_from(timestamp)
            .ok()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .ok_or_else(|| Failure::other("--timestamp is past any date"))?;
        encrypted_engine(&args.secret, &[], &args.cookie_name)
            .seal(&data, issued_at)
            .map_err(Failure::other)?
    } else {
        Signer::new(&args.salt, &args.secret, &[]).sign_object(&data, timestamp)
    };
    println!("{value}");
    Ok(())
}

/// `argument` itself, or standard input when it is `-`.
fn argument_or_stdin(argument: &str) -> Result<String, Failure> {
    if argument != "-" {
        return Ok(argument.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::Other(format!("cannot read standard input: {e}")))?;
    Ok(text)
}
