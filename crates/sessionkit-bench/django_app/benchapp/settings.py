"""The routes of docs/DESIGN.md section 10 in Django, to compare sessionkit with the framework it
follows. Only what sessions need: no auth, no CSRF (POST /bench/login is a benchmark route),
no templates.

Environment:
- BENCH_SESSION_ENGINE: `signed_cookies` or `db` (default `db`).
- BENCH_SQLITE_PATH: the SQLite file of the `db` engine (default ./bench.sqlite3).
- BENCH_SECRET_KEY: SECRET_KEY (default a fixed benchmark value).
"""
import os

SECRET_KEY = os.environ.get(
    "BENCH_SECRET_KEY", "benchmark-secret-key-that-is-long-enough-to-be-realistic-0123456789"
)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = ["django.contrib.sessions"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
ROOT_URLCONF = "benchapp.urls"
WSGI_APPLICATION = "benchapp.wsgi.application"

SESSION_ENGINE = "django.contrib.sessions.backends." + os.environ.get(
    "BENCH_SESSION_ENGINE", "db"
)
# As sessionkit's default, and what scripts/bench.sh sets for sessionkit.
SESSION_COOKIE_SECURE = True

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_SQLITE_PATH", "bench.sqlite3"),
        "OPTIONS": {
            # WAL, as sessionkit's SQLite store; IMMEDIATE transactions and a generous busy
            # timeout so concurrent writers from several workers wait instead of failing.
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}

USE_TZ = True
LOGGING = {"version": 1, "disable_existing_loggers": False}
