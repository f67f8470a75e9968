//! Loading and validating settings: every bad value names its setting.

use std::path::Path;

use super::*;

fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_sources(
        file,
        Path::new("sessionkit.toml"),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn defaults_are_secure_and_match_the_design() {
    let s = load(None, &[("SECRET_KEY", "k")]).unwrap();
    assert_eq!(s.engine, EngineKind::Db);
    assert_eq!(s.db_url, "sqlite://sessionkit.sqlite3");
    assert_eq!(s.cookie_age, 1_209_600);
    assert!(s.cookie_secure && s.cookie_httponly);
    assert_eq!(s.cookie_samesite, Some(SameSite::Lax));
}

#[test]
#[cfg(feature = "toml")]
fn environment_wins_over_the_file() {
    let file = "SECRET_KEY = \"from-file\"\nSESSION_ENGINE = \"db\"\nSESSION_COOKIE_AGE = 60\nSECRET_KEY_FALLBACKS = [\"a\", \"b\"]";
    let s = load(Some(file), &[("SESSION_ENGINE", "signed_cookies")]).unwrap();
    assert_eq!(s.engine, EngineKind::SignedCookies);
    assert_eq!(s.secret_key, "from-file");
    assert_eq!(s.cookie_age, 60);
    assert_eq!(s.secret_key_fallbacks, ["a", "b"]);
}

#[test]
fn the_pool_size_is_read_and_a_size_set_in_code_is_checked_too() {
    let s = load(
        None,
        &[("SECRET_KEY", "k"), ("SESSION_DB_POOL_SIZE", " 25 ")],
    )
    .unwrap();
    assert_eq!(s.db_pool_size, Some(25));
    assert_eq!(
        load(None, &[("SECRET_KEY", "k")]).unwrap().db_pool_size,
        None
    );
    let in_code = Settings {
        db_pool_size: Some(0),
        ..Settings::new("k")
    };
    assert_eq!(
        in_code.validate().unwrap_err().setting,
        "SESSION_DB_POOL_SIZE"
    );
}

#[test]
#[cfg(feature = "sqlite")] // without it, a database URL is refused: the setting is only read
fn sqlite_durability_is_normal_unless_full_is_asked_for() {
    let default = load(None, &[("SECRET_KEY", "k")]).unwrap();
    assert_eq!(default.db_sqlite_synchronous, SqliteSynchronous::Normal);
    for (value, expected) in [
        ("full", SqliteSynchronous::Full),
        (" FULL ", SqliteSynchronous::Full),
        ("Normal", SqliteSynchronous::Normal),
    ] {
        let env = [
            ("SECRET_KEY", "k"),
            ("SESSION_DB_SQLITE_SYNCHRONOUS", value),
        ];
        assert_eq!(load(None, &env).unwrap().db_sqlite_synchronous, expected);
    }
    // Other databases ignore it: no error with a PostgreSQL URL.
    let env = [
        ("SECRET_KEY", "k"),
        ("SESSION_DB_URL", "postgres://app@db/app"),
        ("SESSION_DB_SQLITE_SYNCHRONOUS", "full"),
    ];
    assert_eq!(load(None, &env).is_ok(), cfg!(feature = "postgres"));
}

#[test]
fn django_engine_paths_are_accepted() {
    let s = load(
        None,
        &[
            ("SECRET_KEY", "k"),
            (
                "SESSION_ENGINE",
                "django.contrib.sessions.backends.signed_cookies",
            ),
        ],
    )
    .unwrap();
    assert_eq!(s.engine, EngineKind::SignedCookies);
}

#[test]
fn bad_values_name_the_setting_and_the_choices() {
    /// Settings given, the setting blamed, a fragment of the message.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[], "SECRET_KEY", "required"),
        (
            &[("SESSION_ENGINE", "mongo")],
            "SESSION_ENGINE",
            "signed_cookies, encrypted_cookies, db, cache, cached_db, file",
        ),
        (
            &[
                ("SESSION_ENGINE", "cache"),
                ("SESSION_CACHE_URL", "memcached://x"),
            ],
            "SESSION_CACHE_URL",
            "memory:// or redis://",
        ),
        (
            &[
                ("SESSION_ENGINE", "cache"),
                ("SESSION_CACHE_URL", "memory://?size=9"),
            ],
            "SESSION_CACHE_URL",
            "max_entries",
        ),
        (
            &[
                ("SESSION_ENGINE", "file"),
                ("SESSION_FILE_PATH", "/no/such/dir"),
            ],
            "SESSION_FILE_PATH",
            "not an existing directory",
        ),
        (
            &[("SESSION_STORE_TIMEOUT", "-1")],
            "SESSION_STORE_TIMEOUT",
            "positive",
        ),
        (
            &[
                ("SESSION_ENGINE", "cached_db"),
                ("SESSION_STORE_TIMEOUT", "0.5"),
                ("SESSION_CACHE_TIMEOUT", "0.5"),
            ],
            "SESSION_CACHE_TIMEOUT",
            "less than SESSION_STORE_TIMEOUT",
        ),
        (
            &[("SESSION_CACHE_TIMEOUT", "0")],
            "SESSION_CACHE_TIMEOUT",
            "positive",
        ),
        (
            &[("SESSION_CACHE_TIMEOUT", "1e300")],
            "SESSION_CACHE_TIMEOUT",
            "out of range",
        ),
        (
            &[
                ("SESSION_IDLE_TIMEOUT", "60"),
                ("SESSION_ACTIVITY_REFRESH", "60"),
            ],
            "SESSION_ACTIVITY_REFRESH",
            "less than SESSION_IDLE_TIMEOUT",
        ),
        (
            &[("SESSION_IDLE_TIMEOUT", "-5")],
            "SESSION_IDLE_TIMEOUT",
            "positive",
        ),
        (
            &[("SESSION_ABSOLUTE_TIMEOUT", "1e300")],
            "SESSION_ABSOLUTE_TIMEOUT",
            "out of range",
        ),
        (
            &[("SESSION_ABSOLUTE_TIMEOUT", "a day")],
            "SESSION_ABSOLUTE_TIMEOUT",
            "seconds",
        ),
        (
            &[("SESSION_LOCK_LEASE", "soon")],
            "SESSION_LOCK_LEASE",
            "seconds",
        ),
        (
            &[
                ("SESSION_ENGINE", "signed_cookies"),
                ("SESSION_LOCKING", "true"),
            ],
            "SESSION_LOCKING",
            "server-side",
        ),
        (
            &[
                ("SESSION_ENGINE", "encrypted_cookies"),
                ("SESSION_LOCKING", "true"),
            ],
            "SESSION_LOCKING",
            "encrypted_cookies keeps sessions in browsers",
        ),
        (
            &[("SESSION_ENGINE_FALLBACKS", "signed_cookies, cookies")],
            "SESSION_ENGINE_FALLBACKS",
            "not an engine",
        ),
        (
            &[("SESSION_ENGINE_FALLBACKS", "db")],
            "SESSION_ENGINE_FALLBACKS",
            "SESSION_ENGINE itself",
        ),
        (
            &[
                ("SESSION_ENGINE_FALLBACKS", "file"),
                ("SESSION_FILE_PATH", "/no/such"),
            ],
            "SESSION_FILE_PATH",
            "not an existing directory",
        ),
        (
            &[("SESSION_COOKIE_AGE", "soon")],
            "SESSION_COOKIE_AGE",
            "seconds",
        ),
        (
            &[("SESSION_COOKIE_AGE", "0")],
            "SESSION_COOKIE_AGE",
            "positive",
        ),
        (
            &[("SESSION_COOKIE_AGE", "9223372036854775807")],
            "SESSION_COOKIE_AGE",
            "400 days",
        ),
        (
            &[("SESSION_STORE_TIMEOUT", "1e300")],
            "SESSION_STORE_TIMEOUT",
            "out of range",
        ),
        (
            &[("SESSION_STORE_TIMEOUT", "1e19")],
            "SESSION_STORE_TIMEOUT",
            "out of range",
        ),
        (
            &[("SESSION_STORE_TIMEOUT", "1e-12")],
            "SESSION_STORE_TIMEOUT",
            "out of range",
        ),
        (
            &[("SESSION_LOCK_TIMEOUT", "1e20")],
            "SESSION_LOCK_TIMEOUT",
            "out of range",
        ),
        (
            &[("SESSION_LOCK_LEASE", "1e30")],
            "SESSION_LOCK_LEASE",
            "out of range",
        ),
        (
            &[("SESSION_LOCK_LEASE", "inf")],
            "SESSION_LOCK_LEASE",
            "positive number",
        ),
        (
            &[("SESSION_COOKIE_SECURE", "maybe")],
            "SESSION_COOKIE_SECURE",
            "true or false",
        ),
        (
            &[("SESSION_COOKIE_SAMESITE", "loose")],
            "SESSION_COOKIE_SAMESITE",
            "Lax, Strict",
        ),
        (
            &[
                ("SESSION_COOKIE_SAMESITE", "None"),
                ("SESSION_COOKIE_SECURE", "false"),
            ],
            "SESSION_COOKIE_SAMESITE",
            "requires SESSION_COOKIE_SECURE=true",
        ),
        (
            &[
                ("SESSION_COOKIE_NAME", "__Host-id"),
                ("SESSION_COOKIE_DOMAIN", "example.com"),
            ],
            "SESSION_COOKIE_NAME",
            "forbids SESSION_COOKIE_DOMAIN",
        ),
        (
            &[
                ("SESSION_COOKIE_NAME", "__Host-id"),
                ("SESSION_COOKIE_SECURE", "false"),
            ],
            "SESSION_COOKIE_NAME",
            "requires SESSION_COOKIE_SECURE",
        ),
        (
            &[("SESSION_COOKIE_PATH", "/a\u{1}b")],
            "SESSION_COOKIE_PATH",
            "printable ASCII",
        ),
        (
            &[("SESSION_COOKIE_DOMAIN", "exa\u{7f}mple.com")],
            "SESSION_COOKIE_DOMAIN",
            "is not a domain",
        ),
        (
            &[("SESSION_COOKIE_NAME", "a b")],
            "SESSION_COOKIE_NAME",
            "not a valid cookie name",
        ),
        (
            &[("SESSION_DB_URL", "redis://x")],
            "SESSION_DB_URL",
            "not a database URL",
        ),
        (
            &[("SESSION_DB_TABLE", "x; drop")],
            "SESSION_DB_TABLE",
            "plain table name",
        ),
        (
            &[("SESSION_DB_POOL_SIZE", "ten")],
            "SESSION_DB_POOL_SIZE",
            "not a number of connections",
        ),
        (
            &[("SESSION_DB_POOL_SIZE", "-1")],
            "SESSION_DB_POOL_SIZE",
            "not a number of connections",
        ),
        (
            &[("SESSION_DB_POOL_SIZE", "0")],
            "SESSION_DB_POOL_SIZE",
            "out of range: use from 1 to 1000",
        ),
        (
            &[("SESSION_DB_POOL_SIZE", "1001")],
            "SESSION_DB_POOL_SIZE",
            "out of range",
        ),
        (
            &[("SESSION_DB_SQLITE_SYNCHRONOUS", "off")],
            "SESSION_DB_SQLITE_SYNCHRONOUS",
            "use normal or full",
        ),
        (
            &[("SESSION_DB_SQLITE_SYNCHRONOUS", "")],
            "SESSION_DB_SQLITE_SYNCHRONOUS",
            "use normal or full",
        ),
        (
            &[("SESSION_DB_IDLE_TIMEOUT", "never")],
            "SESSION_DB_IDLE_TIMEOUT",
            "not a positive number of seconds",
        ),
        (
            &[("SESSION_DB_IDLE_TIMEOUT", "86401")],
            "SESSION_DB_IDLE_TIMEOUT",
            "out of range",
        ),
        (
            &[
                ("SESSION_ENGINE", "signed_cookies"),
                ("SESSION_HEADER_NAME", "X-Session-Token"),
            ],
            "SESSION_HEADER_NAME",
            "needs a server-side SESSION_ENGINE",
        ),
        (
            &[("SESSION_HEADER_NAME", "X Session")],
            "SESSION_HEADER_NAME",
            "not a header of its own",
        ),
        (
            &[("SESSION_HEADER_NAME", "Cookie")],
            "SESSION_HEADER_NAME",
            "not a header of its own",
        ),
    ];
    for (env, setting, fragment) in cases {
        let mut env = env.to_vec();
        if *setting != "SECRET_KEY" {
            env.push(("SECRET_KEY", "k"));
        }
        let err = load(None, &env).expect_err(setting);
        assert_eq!(err.setting, *setting, "{env:?}");
        assert!(
            err.to_string().contains(fragment),
            "{err} lacks {fragment:?}"
        );
    }
}

#[test]
fn a_session_header_is_read_from_the_environment_and_empty_means_the_cookie() {
    let env = [
        ("SECRET_KEY", "k"),
        ("SESSION_HEADER_NAME", "X-Session-Token"),
    ];
    let s = load(None, &env).unwrap();
    assert_eq!(s.header_name.as_deref(), Some("X-Session-Token"));
    let s = load(None, &[("SECRET_KEY", "k"), ("SESSION_HEADER_NAME", " ")]).unwrap();
    assert_eq!(s.header_name, None);
}

#[test]
fn a_host_prefixed_name_with_secure_and_root_path_is_fine() {
    load(
        None,
        &[("SECRET_KEY", "k"), ("SESSION_COOKIE_NAME", "__Host-sid")],
    )
    .unwrap();
}

#[test]
#[cfg(feature = "toml")]
fn unknown_file_keys_and_broken_toml_are_errors() {
    let err = load(Some("SECRET_KEY = \"k\"\nSESSION_COOKIE_AEG = 5"), &[]).unwrap_err();
    assert_eq!(err.setting, "SESSION_COOKIE_AEG");
    assert!(err.message.starts_with("unknown setting"), "{err}");
    let err = load(Some("SECRET_KEY = "), &[]).unwrap_err();
    assert_eq!(err.setting, "SESSIONKIT_CONFIG");
}

#[test]
#[cfg(not(feature = "toml"))]
fn a_settings_file_without_the_toml_feature_names_it() {
    let error = load(Some("SECRET_KEY = \"k\""), &[]).unwrap_err();
    assert_eq!(error.setting, "SESSIONKIT_CONFIG");
    assert!(error.message.contains("features = [\"toml\"]"), "{error}");
}

#[test]
fn debug_hides_secrets_and_passwords() {
    let mut s = Settings::new("super-secret-value");
    s.db_url = "postgres://app:hunter2@db/app".to_owned();
    let shown = format!("{s:?}");
    assert!(!shown.contains("super-secret-value"));
    assert!(!shown.contains("hunter2"));
    assert!(shown.contains("postgres://app:***@db/app"));
}

#[test]
fn the_store_ca_file_loads_from_the_environment_and_must_hold_certificates() {
    let dir = std::env::temp_dir().join(format!("sessionkit-ca-setting-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("ca.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nMAEC\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();

    let pem_text = pem.to_str().unwrap();
    let s = load(
        None,
        &[("SECRET_KEY", "k"), ("SESSION_STORE_CA_FILE", pem_text)],
    )
    .unwrap();
    assert_eq!(s.store_ca_file.as_deref(), Some(pem.as_path()));
    let unset = load(None, &[("SECRET_KEY", "k"), ("SESSION_STORE_CA_FILE", "")]).unwrap();
    assert_eq!(unset.store_ca_file, None);
    for bad in [not_pem.to_str().unwrap(), "/no/such/ca.pem"] {
        let error = load(None, &[("SECRET_KEY", "k"), ("SESSION_STORE_CA_FILE", bad)]);
        let error = error.unwrap_err();
        assert_eq!(error.setting, "SESSION_STORE_CA_FILE");
        assert!(error.message.starts_with(bad), "{error}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn timeouts_are_off_by_default_and_read_in_seconds() {
    let s = load(None, &[("SECRET_KEY", "k")]).unwrap();
    assert_eq!((s.idle_timeout, s.absolute_timeout), (None, None));
    assert_eq!(s.activity_refresh, Duration::from_secs(60));
    let s = load(
        None,
        &[
            ("SECRET_KEY", "k"),
            ("SESSION_IDLE_TIMEOUT", "900"),
            ("SESSION_ABSOLUTE_TIMEOUT", "28800"),
            ("SESSION_ACTIVITY_REFRESH", "30"),
        ],
    )
    .unwrap();
    assert_eq!(s.idle_timeout, Some(Duration::from_secs(900)));
    assert_eq!(s.absolute_timeout, Some(Duration::from_secs(28_800)));
    assert_eq!(s.activity_refresh, Duration::from_secs(30));
    for off in ["", "0", "off"] {
        let s = load(None, &[("SECRET_KEY", "k"), ("SESSION_IDLE_TIMEOUT", off)]).unwrap();
        assert_eq!(s.idle_timeout, None, "{off:?}");
    }
}

#[test]
fn redis_wait_replicas_is_off_by_default_and_needs_a_redis_store() {
    let defaults = load(None, &[("SECRET_KEY", "k")]).unwrap();
    assert_eq!(defaults.redis_wait_replicas, 0);
    let cluster = [
        ("SECRET_KEY", "k"),
        ("SESSION_ENGINE", "cache"),
        (
            "SESSION_CACHE_URL",
            "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
        ),
        ("SESSION_REDIS_WAIT_REPLICAS", "1"),
    ];
    assert_eq!(load(None, &cluster).unwrap().redis_wait_replicas, 1);
    let not_a_number = load(
        None,
        &[("SECRET_KEY", "k"), ("SESSION_REDIS_WAIT_REPLICAS", "one")],
    )
    .unwrap_err();
    assert_eq!(not_a_number.setting, "SESSION_REDIS_WAIT_REPLICAS");
    let memory = load(
        None,
        &[
            ("SECRET_KEY", "k"),
            ("SESSION_ENGINE", "cache"),
            ("SESSION_REDIS_WAIT_REPLICAS", "1"),
        ],
    )
    .unwrap_err();
    assert_eq!(memory.setting, "SESSION_REDIS_WAIT_REPLICAS");
    assert!(memory.message.contains("no Redis"), "{}", memory.message);
}

#[test]
#[cfg(feature = "sqlite")] // without it the database URL is refused first
fn cached_db_is_refused_on_a_redis_cluster() {
    let error = load(
        None,
        &[
            ("SECRET_KEY", "k"),
            ("SESSION_ENGINE", "cached_db"),
            ("SESSION_CACHE_URL", "redis+cluster://127.0.0.1:7000"),
        ],
    )
    .unwrap_err();
    assert_eq!(error.setting, "SESSION_CACHE_URL");
    assert!(error.message.contains("Redis Cluster"), "{}", error.message);
}

#[test]
fn the_near_cache_is_off_by_default_and_its_settings_name_themselves() {
    let s = load(None, &[("SECRET_KEY", "k")]).unwrap();
    assert!(!s.near_cache);
    assert_eq!(s.near_cache_max_entries, 10_000);
    assert_eq!(s.near_cache_ttl, Duration::from_secs(1));
    let s = load(
        None,
        &[
            ("SECRET_KEY", "k"),
            ("SESSION_ENGINE", "cache"),
            ("SESSION_NEAR_CACHE", "true"),
            ("SESSION_NEAR_CACHE_MAX_ENTRIES", "500"),
            ("SESSION_NEAR_CACHE_TTL", "0.25"),
        ],
    )
    .unwrap();
    assert!(s.near_cache);
    assert_eq!(s.near_cache_max_entries, 500);
    assert_eq!(s.near_cache_ttl, Duration::from_millis(250));
    for (setting, value) in [
        ("SESSION_NEAR_CACHE", "maybe"),
        ("SESSION_NEAR_CACHE_MAX_ENTRIES", "0"),
        ("SESSION_NEAR_CACHE_MAX_ENTRIES", "many"),
        ("SESSION_NEAR_CACHE_TTL", "0"),
        ("SESSION_NEAR_CACHE_TTL", "3600"),
    ] {
        let error = load(None, &[("SECRET_KEY", "k"), (setting, value)]).unwrap_err();
        assert_eq!(error.setting, setting, "{value}: {error}");
    }
}

#[test]
fn the_near_cache_needs_a_server_engine() {
    let cookies = Settings {
        engine: EngineKind::SignedCookies,
        near_cache: true,
        ..Settings::new("k")
    };
    let error = cookies.validate().unwrap_err();
    assert_eq!(error.setting, "SESSION_NEAR_CACHE");
    // A cookie engine as a fallback is fine: the near cache is the primary engine's.
    let with_fallback = Settings {
        engine: EngineKind::Cache,
        engine_fallbacks: vec![EngineKind::SignedCookies],
        near_cache: true,
        ..Settings::new("k")
    };
    assert!(with_fallback.validate().is_ok());
    let in_code = Settings {
        engine: EngineKind::Cache,
        near_cache: true,
        near_cache_max_entries: 0,
        ..Settings::new("k")
    };
    assert_eq!(
        in_code.validate().unwrap_err().setting,
        "SESSION_NEAR_CACHE_MAX_ENTRIES"
    );
}

#[test]
fn the_near_cache_is_refused_on_a_redis_cluster_or_sentinel() {
    for url in [
        "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
        "redis+sentinel://127.0.0.1:26379/mymaster",
    ] {
        let settings = Settings {
            engine: EngineKind::Cache,
            cache_url: url.to_owned(),
            near_cache: true,
            ..Settings::new("k")
        };
        let error = settings.validate().unwrap_err();
        assert_eq!(error.setting, "SESSION_NEAR_CACHE", "{url}");
        assert!(error.message.contains("Sentinel"), "{}", error.message);
    }
    let one_redis = Settings {
        engine: EngineKind::Cache,
        cache_url: "redis://127.0.0.1:6379".to_owned(),
        near_cache: true,
        ..Settings::new("k")
    };
    assert!(one_redis.validate().is_ok());
}
