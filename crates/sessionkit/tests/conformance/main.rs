//! The conformance suite: `docs/CONFORMANCE.md` §A–D (items 1–27) and §F items 42 and 46,
//! each behaviour written once and run against every engine it applies to.
//!
//! What applies to any engine or store lives in the library, behind the `testing` feature, so
//! a store of another crate runs it too (`sessionkit::testing::conformance!`):
//! `sessionkit::testing::{dict_api, persistence, expiry, bad_input, concurrency}` — A, the
//! dict API and flags (1–9); B, persistence and keys (10–17); C, expiry (18–22); D, encoding
//! and bad input (23–26); concurrent requests and locks. What depends on the engine is here:
//!
//! - [`expiry`] — signed cookies judged by today's cookie age, Redis TTLs (21, 43);
//! - [`bad_input`] — tampered and foreign signed values, key rotation, corrupted rows (24–26);
//! - [`encrypted`] — the same for `encrypted_cookies`: sealed values tampered with, moved to
//!   another cookie name or sealed with another secret, key rotation re-sealing (24–26);
//! - [`engine_specifics`] — F, db schema (42) and cookie engines without a store (46).
//!
//! Item 27 (constant-time HMAC comparison) is not a runtime behaviour a test can measure: the
//! signer compares with `subtle::ConstantTimeEq` (`src/signing.rs`).
//!
//! Every behaviour is an `async fn(&Harness)` (here `&EngineHarness`, which adds the db
//! engine's table); the lists below say which engines run it: the library's `every_engine`,
//! `server_engines` (the data lives in a store), `versioned_engines` (records have versions
//! and a user index) and `sweeping_engines` (expired records wait for `clear_expired`), and
//! this suite's `cookie_engines` (the data lives in the cookie), `signed_cookie_engines`,
//! `encrypted_cookie_engines`, `signing_engines`, `redis_engines`, `db_engines` and
//! `django_tables`. Engines: `signed_cookies`; `encrypted_cookies`; `db` on
//! SQLite, PostgreSQL (`postgres://postgres@127.0.0.1:5432/test`) and MariaDB
//! (`mysql://root@127.0.0.1:3306/test`); `cache` on memory and Redis
//! (`redis://127.0.0.1:6379`, and a private Redis Cluster of 3 masters and 3 replicas and a
//! private Sentinel setup, each started once for the process by the testkit); `file`; `cached_db` as Redis over PostgreSQL and memory over
//! SQLite; `db` on a typed pool the application brings (its own table and Django's, on
//! PostgreSQL, MariaDB and SQLite) and `cached_db` as memory over such a pool on PostgreSQL;
//! and `custom_store`, the store of `crates/sessionkit-btree-store`, written on the
//! public API alone as another crate would. A server that is down fails its tests.

mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod encrypted;
mod engine_specifics;
mod expiry;
mod harness;
#[path = "../common/redis_setups.rs"]
mod redis_setups;

/// One `#[test]` per behaviour of this suite's own lists, each on a new harness made by
/// `$ctor`, cleaned up (table dropped, files removed) whether the behaviour passes or panics.
macro_rules! instantiate {
    ($ctor:path; $($group:ident::$test:ident),* $(,)?) => {
        sessionkit::__sessionkit_behaviours!(@tests [crate] $ctor(); $($group::$test),*);
    };
}

/// The library's lists (`sessionkit::testing`): what applies to any engine or store.
macro_rules! every_engine {
    ($ctor:path) => {
        sessionkit::__sessionkit_behaviours!(every_engine $ctor());
    };
}

macro_rules! server_engines {
    ($ctor:path) => {
        sessionkit::__sessionkit_behaviours!(server_engines $ctor());
    };
}

macro_rules! versioned_engines {
    ($ctor:path) => {
        sessionkit::__sessionkit_behaviours!(versioned_engines $ctor());
    };
}

macro_rules! sweeping_engines {
    ($ctor:path) => {
        sessionkit::__sessionkit_behaviours!(sweeping_engines $ctor());
    };
}

macro_rules! redis_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            expiry::redis_keys_are_prefixed_hashed_and_expire_by_ttl,
        );
    };
}

macro_rules! django_tables {
    ($ctor:path) => {
        instantiate!($ctor;
            engine_specifics::djangos_table_has_djangos_schema_and_plain_keys,
        );
    };
}

/// Engines whose data lives in the cookie: no store to list a user's sessions from (the
/// library's check of that refusal), and the cookie's own issue time judged by today's age.
macro_rules! cookie_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            expiry::a_cookie_older_than_the_current_cookie_age_is_not_loaded,
            engine_specifics::exists_delete_cycle_key_and_flush_work_without_a_store,
        );
        sessionkit::__sessionkit_behaviours!(@tests [sessionkit::testing] $ctor();
            persistence::listing_a_users_sessions_is_unsupported,
        );
    };
}

/// `signed_cookies`: a signed value in Django's format to tamper with.
macro_rules! signed_cookie_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            bad_input::tampered_payload_timestamp_or_signature_gives_a_fresh_session,
            bad_input::garbage_around_a_valid_cookie_gives_a_fresh_session,
            bad_input::swapped_payloads_give_a_fresh_session,
            bad_input::a_cookie_signed_with_another_secret_gives_a_fresh_session,
            bad_input::a_value_signed_with_the_db_salt_is_not_a_session_cookie,
            bad_input::validly_signed_payloads_that_are_not_a_json_object_give_a_fresh_session,
            bad_input::validly_signed_absurd_timestamps_and_expiries_do_not_panic,
            bad_input::a_cookie_signed_with_a_fallback_secret_is_resigned_with_the_current_one_only,
        );
    };
}

/// `encrypted_cookies`: a sealed value to tamper with, move and rotate.
macro_rules! encrypted_cookie_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            encrypted::the_cookie_shows_nothing_of_the_session,
            encrypted::any_byte_changed_cut_or_added_gives_a_fresh_session,
            encrypted::garbage_around_a_valid_cookie_gives_a_fresh_session,
            encrypted::a_cookie_moved_to_another_cookie_name_gives_a_fresh_session,
            encrypted::a_cookie_of_another_secret_or_version_gives_a_fresh_session,
            encrypted::a_signed_cookie_is_not_an_encrypted_one,
            encrypted::a_cookie_sealed_with_a_fallback_secret_is_resealed_when_read,
        );
    };
}

/// Engines that sign or encrypt what they store with `SECRET_KEY` (the cookie, or
/// Django-format `session_data`): only there does key rotation mean anything.
macro_rules! signing_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            bad_input::a_fallback_secret_still_loads_and_the_next_save_uses_the_current_one,
        );
    };
}

macro_rules! db_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            bad_input::corrupted_session_data_gives_a_fresh_session,
            engine_specifics::migrate_is_idempotent_and_keeps_the_data,
            engine_specifics::expire_date_and_user_id_are_indexed,
            engine_specifics::the_table_holds_a_hash_of_the_key_not_the_key,
        );
    };
}

/// `db_engines` behind a near cache, less the row corrupted behind the engine's back: that
/// is an update no channel notifies, seen only after `SESSION_NEAR_CACHE_TTL` (tests/near_cache.rs
/// checks that bound).
macro_rules! near_db_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            engine_specifics::migrate_is_idempotent_and_keeps_the_data,
            engine_specifics::expire_date_and_user_id_are_indexed,
            engine_specifics::the_table_holds_a_hash_of_the_key_not_the_key,
        );
    };
}

/// A module per engine with every test that applies to it.
macro_rules! conformance {
    ($($engine:ident = $ctor:path => [$($list:ident),+];)*) => {$(
        mod $engine {
            $( $list!($ctor); )+
        }
    )*};
}

conformance! {
    signed_cookies = crate::harness::EngineHarness::signed_cookies
        => [every_engine, cookie_engines, signed_cookie_engines, signing_engines];
    encrypted_cookies = crate::harness::EngineHarness::encrypted_cookies
        => [every_engine, cookie_engines, encrypted_cookie_engines, signing_engines];
    db_sqlite = crate::harness::EngineHarness::db_sqlite
        => [
            every_engine, server_engines, versioned_engines, sweeping_engines,
            signing_engines, db_engines
        ];
    db_postgres = crate::harness::EngineHarness::db_postgres
        => [
            every_engine, server_engines, versioned_engines, sweeping_engines,
            signing_engines, db_engines
        ];
    db_mariadb = crate::harness::EngineHarness::db_mariadb
        => [
            every_engine, server_engines, versioned_engines, sweeping_engines,
            signing_engines, db_engines
        ];
    cache_memory = crate::harness::EngineHarness::cache_memory
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    cache_redis = crate::harness::EngineHarness::cache_redis
        => [every_engine, server_engines, versioned_engines, redis_engines];
    cache_redis_cluster = crate::harness::EngineHarness::cache_redis_cluster
        => [every_engine, server_engines, versioned_engines, redis_engines];
    cache_redis_sentinel = crate::harness::EngineHarness::cache_redis_sentinel
        => [every_engine, server_engines, versioned_engines, redis_engines];
    file = crate::harness::EngineHarness::file
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    cached_db_redis_postgres = crate::harness::EngineHarness::cached_db_redis_postgres
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    django_sqlite = crate::harness::EngineHarness::django_sqlite
        => [every_engine, server_engines, sweeping_engines, signing_engines, django_tables];
    django_postgres = crate::harness::EngineHarness::django_postgres
        => [every_engine, server_engines, sweeping_engines, signing_engines, django_tables];
    django_mariadb = crate::harness::EngineHarness::django_mariadb
        => [every_engine, server_engines, sweeping_engines, signing_engines, django_tables];
    cached_db_memory_sqlite = crate::harness::EngineHarness::cached_db_memory_sqlite
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    // The db engine on a pool the application brings. Signing is the URL-opened engine's
    // code; rotating secrets needs an engine reopened with other settings, which a pool
    // handed over once is not (tests/own_pool.rs rotates them by hand).
    db_postgres_own_pool = crate::harness::EngineHarness::db_postgres_own_pool
        => [every_engine, server_engines, versioned_engines, sweeping_engines, db_engines];
    db_mariadb_own_pool = crate::harness::EngineHarness::db_mariadb_own_pool
        => [every_engine, server_engines, versioned_engines, sweeping_engines, db_engines];
    db_sqlite_own_pool = crate::harness::EngineHarness::db_sqlite_own_pool
        => [every_engine, server_engines, versioned_engines, sweeping_engines, db_engines];
    django_postgres_own_pool = crate::harness::EngineHarness::django_postgres_own_pool
        => [every_engine, server_engines, sweeping_engines, django_tables];
    django_mariadb_own_pool = crate::harness::EngineHarness::django_mariadb_own_pool
        => [every_engine, server_engines, sweeping_engines, django_tables];
    django_sqlite_own_pool = crate::harness::EngineHarness::django_sqlite_own_pool
        => [every_engine, server_engines, sweeping_engines, django_tables];
    cached_db_memory_postgres_own_pool =
        crate::harness::EngineHarness::cached_db_memory_postgres_own_pool
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    // The near cache (`SESSION_NEAR_CACHE`) over each kind of invalidation channel.
    near_db_postgres = crate::harness::EngineHarness::near_db_postgres
        => [every_engine, server_engines, versioned_engines, sweeping_engines, near_db_engines];
    near_django_postgres = crate::harness::EngineHarness::near_django_postgres
        => [every_engine, server_engines, sweeping_engines, django_tables];
    near_db_sqlite = crate::harness::EngineHarness::near_db_sqlite
        => [every_engine, server_engines, versioned_engines, sweeping_engines, near_db_engines];
    near_cache_redis = crate::harness::EngineHarness::near_cache_redis
        => [every_engine, server_engines, versioned_engines, redis_engines];
}

/// A store written as another crate would write one, on the public API alone, run as such a
/// crate runs it (`crates/sessionkit-btree-store`; its own tests use the `make_store` form).
mod custom_store {
    use sessionkit::testing::Harness;
    use sessionkit_btree_store::BTreeStore;

    async fn make_harness() -> Harness {
        Harness::for_store(BTreeStore::default())
    }

    sessionkit::testing::conformance!(harness = make_harness);
}
