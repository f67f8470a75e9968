//! Which stores this build can reach. Each store's client is a Cargo feature, so that an app
//! compiles only what it uses; a setting that selects a store left out is a [`ConfigError`]
//! at start-up naming the feature to enable — never a panic, never a build failure.
//!
//! A leaf like `cache_url`: settings validation and the engines share one answer.

use std::path::Path;

use crate::config::{ConfigError, EngineKind, StoreScheme, redact_password};
use crate::tls::{CA_FILE_SETTING, cache_url_requires_tls, db_url_requires_tls};

/// A Cargo feature of sessionkit, and whether this build has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Feature {
    name: &'static str,
    enabled: bool,
}

const SQLITE: Feature = Feature {
    name: "sqlite",
    enabled: cfg!(feature = "sqlite"),
};
const POSTGRES: Feature = Feature {
    name: "postgres",
    enabled: cfg!(feature = "postgres"),
};
const MYSQL: Feature = Feature {
    name: "mysql",
    enabled: cfg!(feature = "mysql"),
};
const REDIS: Feature = Feature {
    name: "redis",
    enabled: cfg!(feature = "redis"),
};
/// TLS to PostgreSQL, MySQL and Redis.
const TLS: Feature = Feature {
    name: "tls",
    enabled: cfg!(feature = "tls"),
};
/// Reading `sessionkit.toml`.
pub(crate) const TOML: Feature = Feature {
    name: "toml",
    enabled: cfg!(feature = "toml"),
};

/// The features of the SQL databases; `db` and `cached_db` need one of them.
const DATABASES: [Feature; 3] = [SQLITE, POSTGRES, MYSQL];

/// The feature the store of `scheme` needs; `None` for the memory cache, which needs none.
fn feature_of(scheme: StoreScheme) -> Option<Feature> {
    match scheme {
        StoreScheme::Sqlite => Some(SQLITE),
        StoreScheme::Postgres => Some(POSTGRES),
        StoreScheme::MySql => Some(MYSQL),
        StoreScheme::Redis => Some(REDIS),
        _ => None,
    }
}

impl Feature {
    /// `Ok` if this build has the feature; else the error blaming `setting` for `what`.
    pub(crate) fn require(self, setting: &'static str, what: &str) -> Result<(), ConfigError> {
        if self.enabled {
            return Ok(());
        }
        Err(ConfigError::new(
            setting,
            format!(
                "{what} needs sessionkit's Cargo feature \"{name}\", which this build leaves \
                 out: add it to sessionkit's features in Cargo.toml (features = [\"{name}\"])",
                name = self.name
            ),
        ))
    }
}

/// The feature a `SESSION_DB_URL` needs; `None` for a scheme no feature serves.
pub(crate) fn db_url_feature(url: &str) -> Option<Feature> {
    StoreScheme::of(url)
        .filter(|scheme| scheme.is_database())
        .and_then(feature_of)
}

/// `SESSION_REVOCATION_URL` names a store this build has (and TLS to it if it asks for it).
pub(crate) fn check_revocation_url(url: &str) -> Result<(), ConfigError> {
    let what = format!("{:?}", redact_password(url));
    if let Some(feature) = StoreScheme::of(url).and_then(feature_of) {
        feature.require("SESSION_REVOCATION_URL", &what)?;
    }
    if db_url_requires_tls(url) || cache_url_requires_tls(url) {
        TLS.require("SESSION_REVOCATION_URL", &what)?;
    }
    Ok(())
}

/// `engine` (`db` or `cached_db`) in a build without any of the SQL features.
pub(crate) fn no_sql_database(engine: EngineKind) -> ConfigError {
    ConfigError::new(
        "SESSION_ENGINE",
        format!(
            "{engine} needs one of sessionkit's Cargo features \"sqlite\", \"postgres\" or \
             \"mysql\", which this build leaves out: add your database's to sessionkit's \
             features in Cargo.toml"
        ),
    )
}

/// Checks that this build has what the engine and URLs of `engine` need: a SQL feature for
/// `db` and `cached_db`, the one of `db_url`'s database, Redis for a `redis` cache URL, and
/// TLS for a URL that requires it.
pub(crate) fn check(engine: EngineKind, db_url: &str, cache_url: &str) -> Result<(), ConfigError> {
    if matches!(engine, EngineKind::Db | EngineKind::CachedDb) {
        if !DATABASES.iter().any(|feature| feature.enabled) {
            return Err(no_sql_database(engine));
        }
        let what = format!("{:?}", redact_password(db_url));
        if let Some(feature) = db_url_feature(db_url) {
            feature.require("SESSION_DB_URL", &what)?;
        }
        if db_url_requires_tls(db_url) {
            TLS.require("SESSION_DB_URL", &what)?;
        }
    }
    if matches!(engine, EngineKind::Cache | EngineKind::CachedDb)
        && let Some(feature) = StoreScheme::of(cache_url)
            .filter(|scheme| !scheme.is_database())
            .and_then(feature_of)
    {
        let what = format!("{:?}", redact_password(cache_url));
        feature.require("SESSION_CACHE_URL", &what)?;
        if cache_url_requires_tls(cache_url) {
            TLS.require("SESSION_CACHE_URL", &what)?;
        }
    }
    Ok(())
}

/// A CA file is only read by the TLS of the stores, so setting one in a build without it is
/// a mistake to point out rather than a file to ignore.
pub(crate) fn check_ca_file(ca_file: Option<&Path>) -> Result<(), ConfigError> {
    match ca_file {
        Some(path) => TLS.require(CA_FILE_SETTING, &path.display().to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cookies_and_files_need_no_feature() {
        for engine in [
            EngineKind::SignedCookies,
            EngineKind::EncryptedCookies,
            EngineKind::File,
        ] {
            check(engine, "mysql://db/app", "redis://cache").unwrap();
        }
        check(EngineKind::Cache, "mysql://db/app", "memory://").unwrap();
    }

    #[test]
    #[cfg(not(feature = "redis"))]
    fn a_redis_url_without_the_feature_names_it() {
        let error = check(EngineKind::Cache, "", "rediss://:secret@cache:6380").unwrap_err();
        assert_eq!(error.setting, "SESSION_CACHE_URL");
        assert!(error.message.contains("features = [\"redis\"]"), "{error}");
        assert!(!error.message.contains("secret"), "{error}");
    }

    #[test]
    #[cfg(not(feature = "postgres"))]
    fn a_postgres_url_without_the_feature_names_it() {
        let error = check(EngineKind::Db, "postgresql://app@db/app", "memory://").unwrap_err();
        let blamed = if cfg!(feature = "_sql") {
            "SESSION_DB_URL"
        } else {
            "SESSION_ENGINE"
        };
        assert_eq!(error.setting, blamed);
        assert!(error.message.contains("\"postgres\""), "{error}");
    }

    #[test]
    #[cfg(not(feature = "tls"))]
    fn a_url_requiring_tls_or_a_ca_file_without_the_feature_names_it() {
        let needs_tls = |error: ConfigError| error.message.contains("features = [\"tls\"]");
        if cfg!(feature = "postgres") {
            let url = "postgres://db/app?sslmode=verify-full";
            let error = check(EngineKind::Db, url, "memory://").unwrap_err();
            assert_eq!(error.setting, "SESSION_DB_URL");
            assert!(needs_tls(error));
        }
        if cfg!(feature = "redis") {
            for url in ["rediss://cache:6380", "rediss+sentinel://:pw@s1:26379/main"] {
                let error = check(EngineKind::Cache, "", url).unwrap_err();
                assert_eq!(error.setting, "SESSION_CACHE_URL");
                assert!(needs_tls(error));
            }
        }
        let error = check_ca_file(Some(Path::new("/etc/ca.pem"))).unwrap_err();
        assert_eq!(error.setting, CA_FILE_SETTING);
        assert!(needs_tls(error));
        check_ca_file(None).unwrap();
    }

    #[test]
    #[cfg(not(feature = "_sql"))]
    fn a_sql_engine_without_any_database_feature_names_them() {
        for engine in [EngineKind::Db, EngineKind::CachedDb] {
            let error = check(engine, "sqlite://x.db", "memory://").unwrap_err();
            assert_eq!(error.setting, "SESSION_ENGINE");
            assert!(
                error.message.contains("\"sqlite\", \"postgres\""),
                "{error}"
            );
        }
    }

    #[test]
    #[cfg(all(
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "redis"
    ))]
    fn with_every_feature_every_store_is_reachable() {
        for url in ["sqlite::memory:", "postgresql://db/app", "mariadb://db/app"] {
            check(EngineKind::CachedDb, url, "redis+unix:///run/redis.sock").unwrap();
        }
    }
}
