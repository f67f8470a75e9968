//! Interoperability with real Django (issue 5, docs/DESIGN.md §8): what Django writes, sessionkit
//! reads, and the other way round, checked against the Django 5.2 that `scripts/django-venv`
//! installs in `target/django-venv` (`scripts/test` runs it first). Without that venv every
//! test here fails with the command to run: they are never skipped.
//!
//! - [`signed_cookies`] — Django's signed_cookies cookie ↔ `SignedCookieEngine`, with a
//!   `SECRET_KEY` rotation both ways;
//! - [`session_data`] — `SessionStore().encode` / `decode` ↔ `Signer` with `STORE_SALT`, and
//!   what `_session_expiry` means to each;
//! - [`auth`] — `django.contrib.auth.login` ↔ `sessionkit::django::DjangoLogin`;
//! - [`messages`] — flash messages in `_messages`, as Django's `SessionStorage` keeps them;
//! - [`csrf`] — CSRF tokens with `CSRF_USE_SESSIONS`, accepted by either side's middleware;
//! - [`table`] — one `django_session` table (SQLite, PostgreSQL) written by either side and
//!   read by the other.
//!
//! Every test sends the data sets of [`data_sets`]; the Python side is in `py/`, one program
//! per area, run through [`python::Django`].

mod auth;
mod csrf;
mod data_sets;
mod messages;
mod python;
mod session_data;
mod signed_cookies;
mod table;
