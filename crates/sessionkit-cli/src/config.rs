//! Settings for the commands that open an engine, with a default for the one setting that has
//! none: `SECRET_KEY` is kept in a file beside the database, so `sessionkit serve` works in an
//! empty directory and sessions survive a restart. Commands that work on sessions already
//! stored ([`open_existing`]) create neither that file nor the database.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use sessionkit::engine::db::sqlite_file;
use sessionkit::{ConfigError, EngineKind, Sessions, Settings};

use crate::Failure;

/// Where `SECRET_KEY` is kept when neither the environment nor `sessionkit.toml` sets it.
const SECRET_FILE: &str = "sessionkit-secret.key";
/// Length of a generated secret, as Django's `get_random_secret_key`.
const SECRET_LENGTH: usize = 50;
/// 64 URL-safe characters: the low six bits of a random byte pick one without bias.
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// What the command says when the store it needs has not been set up.
const RUN_MIGRATE_FIRST: &str = "run `sessionkit migrate` first";

/// The engine the settings select, opened (its storage is not migrated).
pub async fn open() -> Result<Sessions, Failure> {
    Ok(Sessions::open(load()?).await?)
}

/// Like [`open`], for a store that must exist already: a missing secret file or SQLite
/// database is an error saying to run `sessionkit migrate` first, not a new, empty one that
/// the command could do nothing with.
pub async fn open_existing() -> Result<Sessions, Failure> {
    let settings =
        Settings::from_env_or_secret(|| kept_secret(Path::new(SECRET_FILE), IfMissing::Refuse))?;
    let uses_sql = matches!(settings.engine, EngineKind::Db | EngineKind::CachedDb);
    if let Some(file) = sqlite_file(&settings.db_url).filter(|file| uses_sql && !file.exists()) {
        let shown = std::path::absolute(&file).unwrap_or(file);
        return Err(Failure::Config(ConfigError::new(
            "SESSION_DB_URL",
            format!(
                "the database {} does not exist: {RUN_MIGRATE_FIRST}",
                shown.display()
            ),
        )));
    }
    Ok(Sessions::open(settings).await?)
}

/// The settings `Settings::from_env` would load, except that a missing `SECRET_KEY` comes from
/// [`SECRET_FILE`] in the working directory, which is generated on first use.
pub fn load() -> Result<Settings, ConfigError> {
    Settings::from_env_or_secret(|| kept_secret(Path::new(SECRET_FILE), IfMissing::Generate))
}

/// What to do when the secret file does not exist.
#[derive(Clone, Copy)]
enum IfMissing {
    /// Generate a secret and write the file.
    Generate,
    /// Refuse: nothing stored can have been signed with a secret made now.
    Refuse,
}

/// The secret kept in `path`; if the file does not exist, see [`IfMissing`].
fn kept_secret(path: &Path, if_missing: IfMissing) -> Result<String, ConfigError> {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let unusable = |problem: String| {
        ConfigError::new(
            "SECRET_KEY",
            format!("not set, and {}: {problem}", shown.display()),
        )
    };
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(unusable("the file is empty".to_owned())),
        Ok(text) => {
            tracing::info!("using the SECRET_KEY kept in {}", shown.display());
            Ok(text.trim().to_owned())
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            if let IfMissing::Refuse = if_missing {
                return Err(ConfigError::new(
                    "SECRET_KEY",
                    format!(
                        "not set, and {} does not exist: {RUN_MIGRATE_FIRST} (it generates \
                         one), or set SECRET_KEY",
                        shown.display()
                    ),
                ));
            }
            let secret = generate_secret().map_err(|e| unusable(e.to_string()))?;
            write_private(path, &secret).map_err(|e| unusable(e.to_string()))?;
            // Printed rather than logged: whoever runs this must learn the file matters.
            println!(
                "Generated a SECRET_KEY and saved it in {} (keep it private; replacing it ends every session).",
                shown.display()
            );
            Ok(secret)
        }
        Err(error) => Err(unusable(error.to_string())),
    }
}

/// 50 characters from the OS CSPRNG.
fn generate_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_LENGTH];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|byte| char::from(SECRET_ALPHABET[usize::from(byte & 63)]))
        .collect())
}

/// Creates `path` readable by its owner only; never overwrites an existing file.
fn write_private(path: &Path, secret: &str) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    writeln!(options.open(path)?, "{secret}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_url_safe_and_different() {
        let first = generate_secret().unwrap();
        assert_eq!(first.len(), SECRET_LENGTH);
        assert!(first.bytes().all(|b| SECRET_ALPHABET.contains(&b)));
        assert_ne!(first, generate_secret().unwrap());
    }
}
