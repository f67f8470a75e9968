"""session_data: the signed text Django keeps in django_session rows and session files.

Modes:
- encode: {"data_sets": [{"name", "data"}]} -> [{"name", "text", "json"}] by the db
  backend's SessionStore().encode(data).
- decode: {"texts": [...]} -> [{"loads": {"json"} | {"error"}, "store": {"json"}}]: what
  signing.loads with the SessionStore salt returns, and what SessionStore().decode(text)
  returns (it turns every error into {}).
- expiry: {"data_sets": [...], "modification": Unix seconds} -> [{"name", "age", "date_us",
  "browser_close"}]: get_expiry_age, get_expiry_date (as Unix microseconds) and
  get_expire_at_browser_close of a session holding the data, modified at that time.
"""

from datetime import datetime, timedelta, timezone

from django_setup import attempt, python_json, reply, start

mode, request = start()

from django.contrib.sessions.backends.db import SessionStore
from django.core import signing

SALT = "django.contrib.sessions.SessionStore"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def encoded(data_set):
    return {
        "name": data_set["name"],
        "text": SessionStore().encode(data_set["data"]),
        "json": python_json(data_set["data"]),
    }


def decoded(text):
    return {
        "loads": attempt(
            lambda: signing.loads(text, salt=SALT, serializer=signing.JSONSerializer)
        ),
        "store": attempt(lambda: SessionStore().decode(text)),
    }


def expiry(data_set, modification):
    store = SessionStore()
    store.update(data_set["data"])
    date = store.get_expiry_date(modification=modification)
    return {
        "name": data_set["name"],
        "age": store.get_expiry_age(modification=modification),
        "date_us": (date - EPOCH) // timedelta(microseconds=1),
        "browser_close": store.get_expire_at_browser_close(),
    }


if mode == "encode":
    reply([encoded(data_set) for data_set in request["data_sets"]])
elif mode == "decode":
    reply([decoded(text) for text in request["texts"]])
elif mode == "expiry":
    modification = EPOCH + timedelta(seconds=request["modification"])
    reply([expiry(data_set, modification) for data_set in request["data_sets"]])
else:
    raise SystemExit(f"unknown mode {mode!r}")
