//! The conformance suite: `shared/CONFORMANCE.md` §A–D (items 1–27) and §F items 42 and 46,
//! each behaviour written once and run against every engine it applies to.
//!
//! - [`dict_api`] — A, the dict API and flags (1–9);
//! - [`persistence`] — B, persistence and keys (10–17);
//! - [`expiry`] — C, expiry (18–22);
//! - [`bad_input`] — D, encoding and bad input (23–26);
//! - [`engine_specifics`] — F, db schema (42) and signed cookies without a store (46).
//!
//! Item 27 (constant-time HMAC comparison) is not a runtime behaviour a test can measure: the
//! signer compares with `subtle::ConstantTimeEq` (`src/signing.rs`).
//!
//! Every behaviour is an `async fn(&Harness)`; the lists below say which engines run it:
//! `every_engine`, `server_engines` (the data lives in a store), `cookie_engines` (the data
//! lives in the cookie), `sweeping_engines` (expired records wait for `clear_expired`),
//! `redis_engines` and `db_engines`. Engines: `signed_cookies`; `db` on SQLite, PostgreSQL
//! (`postgres://postgres@127.0.0.1:5432/test`) and MariaDB (`mysql://root@127.0.0.1:3306/test`);
//! `cache` on memory and Redis (`redis://127.0.0.1:6379`); `file`; `cached_db` as Redis over
//! PostgreSQL and memory over SQLite; and `custom_store`, a store written on the public API
//! alone as another crate would (`btree_store.rs`). A server that is down fails its tests.

mod bad_input;
mod btree_store;
#[path = "../common/mod.rs"]
mod common;
mod concurrency;
mod dict_api;
mod engine_specifics;
mod expiry;
mod harness;
mod persistence;

/// One `#[tokio::test]` per behaviour, each on a new harness made by `$ctor`. The harness is
/// cleaned up (table dropped, files removed) whether the behaviour passes or panics.
macro_rules! instantiate {
    ($ctor:path; $($group:ident::$test:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            let harness = std::sync::Arc::new($ctor().await);
            let run = tokio::spawn({
                let harness = harness.clone();
                async move { crate::$group::$test(&harness).await }
            });
            let outcome = run.await;
            harness.cleanup().await;
            if let Err(failure) = outcome {
                std::panic::resume_unwind(failure.into_panic());
            }
        }
    )*};
}

macro_rules! every_engine {
    ($ctor:path) => {
        instantiate!($ctor;
            dict_api::a_new_session_is_empty_and_untouched,
            dict_api::getting_a_missing_key_gives_none_and_marks_only_accessed,
            dict_api::insert_marks_accessed_and_modified,
            dict_api::pop_of_a_present_key_returns_it_and_removes_it,
            dict_api::pop_of_a_missing_key_gives_none_and_does_not_mark_modified,
            dict_api::setdefault_inserts_once_then_returns_the_stored_value,
            dict_api::update_and_clear_mark_accessed_and_modified,
            dict_api::contains_key_keys_values_and_items_mark_only_accessed,
            dict_api::reading_a_value_as_another_type_is_a_type_error,
            dict_api::a_pop_with_the_wrong_type_leaves_the_value_in_place,
            dict_api::the_test_cookie_is_set_checked_and_deleted,
            persistence::saved_data_is_readable_before_and_after_reloading,
            persistence::an_empty_new_session_is_not_saved,
            persistence::exists_is_true_only_for_a_saved_session,
            persistence::flush_empties_the_session_and_a_later_write_starts_a_new_one,
            persistence::cycle_key_keeps_the_data_it_has_not_loaded_yet,
            persistence::creating_sessions_never_overwrites_another,
            expiry::the_default_expiry_is_the_cookie_age_and_browser_close_keeps_it,
            expiry::a_custom_expiry_is_counted_from_the_modification_time,
            expiry::a_custom_expiry_survives_saving,
            expiry::expire_at_browser_close_follows_the_setting_unless_overridden,
            expiry::a_session_past_its_custom_expiry_is_not_loaded,
            expiry::a_session_older_than_the_cookie_age_is_not_loaded,
            bad_input::every_kind_of_json_value_survives_a_round_trip,
            bad_input::an_empty_session_survives_a_round_trip_through_the_engine,
            bad_input::malformed_cookie_values_give_a_fresh_session,
        );
    };
}

macro_rules! server_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            persistence::delete_removes_the_record,
            persistence::flush_deletes_the_old_record,
            persistence::cycle_key_replaces_the_key_and_deletes_the_old_record,
            persistence::session_keys_are_32_lowercase_alphanumerics,
            persistence::values_shorter_than_8_characters_are_not_keys,
            persistence::session_keys_never_appear_in_debug_output_or_logs,
            persistence::an_unknown_key_is_not_adopted,
            persistence::a_session_deleted_meanwhile_is_not_brought_back,
            concurrency::with_locking_no_increment_of_a_shared_counter_is_lost,
            concurrency::a_request_that_cannot_get_the_lock_gets_a_503,
            concurrency::a_lock_is_exclusive_until_its_holder_releases_it,
            concurrency::a_lock_whose_holder_died_lapses_after_its_lease,
            bad_input::garbage_keys_give_a_fresh_session,
            bad_input::a_changed_key_finds_nothing,
        );
    };
}

/// Server engines that keep expired records until `clear_expired` sweeps them (all but Redis,
/// which drops them itself: see `redis_engines`).
macro_rules! sweeping_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            expiry::clear_expired_removes_only_expired_records_and_counts_them,
        );
    };
}

macro_rules! redis_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            expiry::redis_keys_are_prefixed_hashed_and_expire_by_ttl,
        );
    };
}

/// Server engines with a version per record and a user index (all but Django's table, which
/// has neither): concurrent changes to different keys merge; a user's sessions are listed.
macro_rules! versioned_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            persistence::concurrent_changes_to_different_keys_are_merged,
            persistence::a_users_sessions_are_listed_and_the_others_can_be_ended,
            concurrency::concurrent_requests_setting_their_own_keys_all_survive,
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

macro_rules! cookie_engines {
    ($ctor:path) => {
        instantiate!($ctor;
            expiry::a_cookie_older_than_the_current_cookie_age_is_not_loaded,
            bad_input::tampered_payload_timestamp_or_signature_gives_a_fresh_session,
            bad_input::garbage_around_a_valid_cookie_gives_a_fresh_session,
            bad_input::swapped_payloads_give_a_fresh_session,
            bad_input::a_cookie_signed_with_another_secret_gives_a_fresh_session,
            bad_input::a_value_signed_with_the_db_salt_is_not_a_session_cookie,
            bad_input::validly_signed_payloads_that_are_not_a_json_object_give_a_fresh_session,
            bad_input::validly_signed_absurd_timestamps_and_expiries_do_not_panic,
            bad_input::a_cookie_signed_with_a_fallback_secret_is_resigned_with_the_current_one_only,
            engine_specifics::exists_delete_cycle_key_and_flush_work_without_a_store,
            persistence::listing_a_users_sessions_is_unsupported,
        );
    };
}

/// Engines that sign what they store (the cookie, or Django-format `session_data`): only
/// there does key rotation mean anything.
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

/// A module per engine with every test that applies to it.
macro_rules! conformance {
    ($($engine:ident = $ctor:path => [$($list:ident),+];)*) => {$(
        mod $engine {
            $( $list!($ctor); )+
        }
    )*};
}

conformance! {
    signed_cookies = crate::harness::Harness::signed_cookies
        => [every_engine, cookie_engines, signing_engines];
    db_sqlite = crate::harness::Harness::db_sqlite
        => [
            every_engine, server_engines, versioned_engines, sweeping_engines,
            signing_engines, db_engines
        ];
    db_postgres = crate::harness::Harness::db_postgres
        => [
            every_engine, server_engines, versioned_engines, sweeping_engines,
            signing_engines, db_engines
        ];
    db_mariadb = crate::harness::Harness::db_mariadb
        => [
            every_engine, server_engines, versioned_engines, sweeping_engines,
            signing_engines, db_engines
        ];
    cache_memory = crate::harness::Harness::cache_memory
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    cache_redis = crate::harness::Harness::cache_redis
        => [every_engine, server_engines, versioned_engines, redis_engines];
    file = crate::harness::Harness::file
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    cached_db_redis_postgres = crate::harness::Harness::cached_db_redis_postgres
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    django_sqlite = crate::harness::Harness::django_sqlite
        => [every_engine, server_engines, sweeping_engines, signing_engines, django_tables];
    django_postgres = crate::harness::Harness::django_postgres
        => [every_engine, server_engines, sweeping_engines, signing_engines, django_tables];
    django_mariadb = crate::harness::Harness::django_mariadb
        => [every_engine, server_engines, sweeping_engines, signing_engines, django_tables];
    cached_db_memory_sqlite = crate::harness::Harness::cached_db_memory_sqlite
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
    custom_store = crate::harness::Harness::custom_store
        => [every_engine, server_engines, versioned_engines, sweeping_engines];
}
