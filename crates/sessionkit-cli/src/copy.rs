//! `copy-sessions`: every live session from one store into another, offline — e.g. from
//! Django's table into Redis before the application switches engines, so nobody is logged out.
//!
//! Each side is one URL, turned into the [`Settings`] of its engine: the usual settings
//! (`SECRET_KEY` above all, which signs `session_data` in SQL tables) with the engine, its URL,
//! table, prefix or directory replaced.

use std::path::Path;
use std::time::Instant;

use sessionkit::engine::{self, CopyReport};
use sessionkit::settings::StoreScheme;
use sessionkit::{ConfigError, EngineKind, Settings};

use crate::maintenance::Progress;
use crate::{Failure, config};

const COPY_EXAMPLES: &str = "\
Examples:
  # Django's table into Redis; SECRET_KEY must be Django's, which signed the session data
  SECRET_KEY=\"$DJANGO_SECRET_KEY\" sessionkit copy-sessions \\
      --from 'postgres://app@db/app?table=django_session' --to 'redis://cache:6379/0?prefix=app:'
  sessionkit copy-sessions --from sqlite://sessionkit.sqlite3 --to file:///var/lib/app/sessions

Stores:
  sqlite://PATH  postgres://...  mysql://...   db engine; ?table=NAME (default sessionkit_session,
                                               django_session is Django's table)
  redis://HOST[:PORT][/DB]                     cache engine; ?prefix=PREFIX (default sessionkit:)
  redis+cluster://H1:P1,H2:P2,...              cache engine on a Redis Cluster (from one Redis
                                               into a cluster: nobody logged out); ?prefix= too
  redis+sentinel://S1:P1,.../MASTERNAME        cache engine on a Sentinel setup; ?prefix= too
  file:///ABSOLUTE/PATH                        file engine; the directory must exist
Query values are taken literally; other query parameters go to the database or Redis client.

Sessions keep their keys, data and expiry, so cookies keep working against the destination.
Expired sessions are skipped, and so are sessions the destination already has: nothing is
overwritten. A destination table must exist: run `sessionkit migrate` with its settings first.
sessionkit's own stores keep only the SHA-256 of each key, which Django's table cannot use;
such sessions are counted as \"cannot copy: key unknown\". Copy while the applications are
stopped: a session saved during the copy may be missed. SECRET_KEY and SECRET_KEY_FALLBACKS
come from the usual settings. Exit code 1 if any live session was not copied.";

/// Arguments of `sessionkit copy-sessions`.
#[derive(clap::Args)]
#[command(after_help = COPY_EXAMPLES)]
pub struct CopyArgs {
    /// The store to copy from (see the list below).
    #[arg(long, value_name = "URL")]
    from: String,
    /// The store to copy into.
    #[arg(long, value_name = "URL")]
    to: String,
    /// Read N sessions at a time from the source.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch: usize,
}

/// `sessionkit copy-sessions`.
pub async fn copy_sessions(args: CopyArgs) -> Result<(), Failure> {
    let usual = config::load()?;
    let from = store_settings(&usual, "--from", &args.from)?;
    let to = store_settings(&usual, "--to", &args.to)?;
    let source = engine::open(&from)
        .await
        .map_err(|e| Failure::Other(format!("--from: {e}")))?;
    let destination = engine::open(&to)
        .await
        .map_err(|e| Failure::Other(format!("--to: {e}")))?;
    let started = Instant::now();
    let progress = Progress::new("copying sessions");
    let report = engine::copy_sessions(source.as_ref(), destination.as_ref(), args.batch, |r| {
        progress.show(r.seen(), started.elapsed())
    })
    .await
    .map_err(Failure::other)?;
    progress.finish();
    println!(
        "copied {} sessions in {:.1} s (skipped: {} already at the destination, {} expired, \
         {} cannot copy: key unknown, {} unreadable)",
        report.copied,
        started.elapsed().as_secs_f64(),
        report.already_present,
        report.expired,
        report.key_unknown,
        report.unreadable,
    );
    match not_copied(&report) {
        Some(why) => Err(Failure::Other(why)),
        None => Ok(()),
    }
}

/// Why some live sessions of the source are not at the destination, if any are not.
fn not_copied(report: &CopyReport) -> Option<String> {
    let mut reasons = Vec::new();
    if report.key_unknown > 0 {
        reasons.push(format!(
            "{} cannot be copied into Django's table, which is keyed by the session keys \
             themselves, because the source keeps only the keys' SHA-256",
            report.key_unknown
        ));
    }
    if report.unreadable > 0 {
        reasons.push(format!(
            "{} could not be read from the source (data that does not verify with SECRET_KEY \
             or SECRET_KEY_FALLBACKS, or is corrupted)",
            report.unreadable
        ));
    }
    (!reasons.is_empty()).then(|| {
        format!(
            "{} live sessions were not copied: {}",
            report.not_copied(),
            reasons.join("; ")
        )
    })
}

/// The settings of the store `url` names (given as `flag`): `usual` with the engine and its
/// location replaced. Errors name the flag.
// Long, as a table is: one arm per kind of store URL.
fn store_settings(
    usual: &Settings,
    flag: &'static str,
    url: &str,
) -> Result<Settings, ConfigError> {
    let wrong = |message: String| ConfigError::new(flag, message);
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let mut take = |name: &str| {
        let i = params.iter().position(|(n, _)| *n == name)?;
        Some(params.remove(i).1.to_owned())
    };
    let defaults = Settings::new("");
    let mut settings = Settings {
        engine_fallbacks: Vec::new(),
        locking: false,
        ..usual.clone()
    };
    match StoreScheme::of(location) {
        Some(scheme) if scheme.is_database() => {
            settings.engine = EngineKind::Db;
            settings.db_table = take("table").unwrap_or(defaults.db_table);
            settings.db_url = with_query(location, &params);
            // sqlx would create a missing file: a typo must not copy from (or into) nothing.
            if let Some(path) = location.strip_prefix("sqlite://")
                && !Path::new(path).is_file()
            {
                return Err(wrong(format!(
                    "{path}: no such SQLite database (for a new one, run \
                     `sessionkit migrate` with SESSION_DB_URL=sqlite://{path} first)"
                )));
            }
        }
        Some(StoreScheme::Redis) => {
            settings.engine = EngineKind::Cache;
            settings.cache_key_prefix = take("prefix").unwrap_or(defaults.cache_key_prefix);
            settings.cache_url = with_query(location, &params);
        }
        None if location.starts_with("file://") => {
            let path = location.trim_start_matches("file://");
            if !path.starts_with('/') || !params.is_empty() {
                return Err(wrong(format!(
                    "{url}: use file:///ABSOLUTE/PATH, without a query"
                )));
            }
            settings.engine = EngineKind::File;
            settings.file_path = path.into();
        }
        _ => {
            return Err(wrong(
                "not a session store URL; use sqlite://PATH, postgres://..., mysql://..., \
                 redis://HOST or file:///PATH"
                    .to_owned(),
            ));
        }
    }
    settings
        .validate()
        .map_err(|e| wrong(format!("{}: {}", e.setting, e.message)))?;
    Ok(settings)
}

/// `location` with the query parameters left for the database or Redis client.
fn with_query(location: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return location.to_owned();
    }
    let query: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    format!("{location}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Result<Settings, ConfigError> {
        store_settings(&Settings::new("secret"), "--from", url)
    }

    #[test]
    fn the_table_parameter_selects_the_table_and_is_not_passed_to_the_database() {
        let s = settings("postgres://u@h/db?sslmode=disable&table=django_session").unwrap();
        assert_eq!(s.engine, EngineKind::Db);
        assert_eq!(s.db_table, "django_session");
        assert_eq!(s.db_url, "postgres://u@h/db?sslmode=disable");
        assert_eq!(
            settings("mysql://root@h/test").unwrap().db_table,
            "sessionkit_session"
        );
    }

    #[test]
    fn the_prefix_parameter_selects_the_redis_key_prefix() {
        let s = settings("redis://127.0.0.1:6379/2?prefix=app:s:").unwrap();
        assert_eq!(s.engine, EngineKind::Cache);
        assert_eq!(s.cache_url, "redis://127.0.0.1:6379/2");
        assert_eq!(s.cache_key_prefix, "app:s:");
        assert_eq!(
            settings("redis://h").unwrap().cache_key_prefix,
            "sessionkit:"
        );
    }

    #[test]
    fn bad_store_urls_name_the_flag() {
        for url in [
            "memory://",
            "file://relative/dir",
            "file:///tmp?x=1",
            "postgres://h/db?table=no;drop",
            "sqlite:///no/such/file.sqlite3",
        ] {
            let error = settings(url).unwrap_err();
            assert_eq!(error.setting, "--from", "{url}: {error}");
        }
    }
}
