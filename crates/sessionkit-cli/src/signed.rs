//! `decode` and `encode`: Django's signed format on the command line, to read a session cookie
//! (or a `session_data` column) and to make one for a test.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessionkit::django::signing::{COOKIE_SALT, Signer};
use sessionkit::engine::{Data, JsonText};
use sessionkit::settings::DEFAULT_COOKIE_AGE;

use crate::Failure;

const DECODE_EXAMPLES: &str = "\
Examples:
  sessionkit decode --secret \"$SECRET_KEY\" \"$COOKIE\"
  sessionkit decode --secret secret --no-max-age eyJ1c2VyX2lkIjo0Mn0:1r31eq:rPUe9w6DHOZIobkSB3UKnXa1KMmduFJ2mH9-ZQr782w
  sessionkit decode --fallback \"$OLD_SECRET_KEY\" \"$COOKIE\"   # signed before a key rotation
  echo \"$COOKIE\" | sessionkit decode -             # keeps the value out of `ps`

  # session_data of a db row, which uses the store salt:
  sessionkit decode --salt django.contrib.sessions.SessionStore --no-max-age \"$SESSION_DATA\"

Prints the session as JSON and exits 0; otherwise prints why (bad signature, expired,
malformed) on one line and exits 1. --secret defaults to $SECRET_KEY.";

const ENCODE_EXAMPLES: &str = "\
Examples:
  sessionkit encode --secret \"$SECRET_KEY\" '{\"user_id\": 42}'
  sessionkit encode --timestamp 1700000000 '{}'     # a reproducible value
  sessionkit encode - < session.json

Prints a value Django's signing.loads accepts: set it as the sessionid cookie of a
signed_cookies site. --secret defaults to $SECRET_KEY.";

/// Arguments of `sessionkit decode`.
#[derive(clap::Args)]
#[command(after_help = DECODE_EXAMPLES)]
pub struct DecodeArgs {
    /// The SECRET_KEY the value was signed with.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    secret: String,
    /// An old secret that still verifies (as in SECRET_KEY_FALLBACKS); repeat for several.
    #[arg(long = "fallback", value_name = "SECRET")]
    fallbacks: Vec<String>,
    /// The signing salt; django.contrib.sessions.SessionStore reads session_data of db rows.
    #[arg(long, default_value = COOKIE_SALT)]
    salt: String,
    /// Refuse a value signed more than this many seconds ago (as SESSION_COOKIE_AGE does).
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
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    secret: String,
    /// The signing salt; the default makes a signed_cookies session cookie.
    #[arg(long, default_value = COOKIE_SALT)]
    salt: String,
    /// The signing time in Unix seconds [default: now].
    #[arg(long, value_name = "UNIX_SECONDS")]
    timestamp: Option<u64>,
    /// A JSON object, or - to read it from standard input.
    json: String,
}

/// `sessionkit decode`: prints the verified object as Django would serialize it.
pub fn decode(args: DecodeArgs) -> Result<(), Failure> {
    let value = argument_or_stdin(&args.value)?;
    let max_age = (!args.no_max_age).then(|| Duration::from_secs(args.max_age));
    let unsigned = Signer::new(&args.salt, &args.secret, &args.fallbacks)
        .unsign_object(value.trim(), max_age, SystemTime::now())
        .map_err(Failure::other)?;
    println!("{}", unsigned.data.to_json());
    Ok(())
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
    let signer = Signer::new(&args.salt, &args.secret, &[]);
    println!("{}", signer.sign_object(&data, timestamp));
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
