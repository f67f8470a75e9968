"""The signed_cookies backend: Django writes session cookies, or reads the ones it is given.

Modes:
- write: {"data_sets": [{"name", "data"}]} -> [{"name", "cookie", "json"}], each cookie made
  by Django's signed_cookies SessionStore (signing.dumps(…, compress=True)).
- read: {"cookies": [...]} -> [{"loads": {"json"} | {"error"}, "store": {"json"}}]: what
  signing.loads with the cookie salt and SESSION_COOKIE_AGE returns, and what
  SessionStore(session_key=cookie).load() returns (it turns every error into {}).
"""

from django_setup import attempt, python_json, reply, start

mode, request = start()

from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core import signing

SALT = "django.contrib.sessions.backends.signed_cookies"


def written(data_set):
    store = SessionStore()
    store.update(data_set["data"])
    store.save()
    return {
        "name": data_set["name"],
        "cookie": store.session_key,
        "json": python_json(data_set["data"]),
    }


def read(cookie):
    return {
        "loads": attempt(
            lambda: signing.loads(
                cookie,
                salt=SALT,
                serializer=signing.JSONSerializer,
                max_age=settings.SESSION_COOKIE_AGE,
            )
        ),
        "store": attempt(lambda: SessionStore(session_key=cookie).load()),
    }


if mode == "write":
    reply([written(data_set) for data_set in request["data_sets"]])
elif mode == "read":
    reply([read(cookie) for cookie in request["cookies"]])
else:
    raise SystemExit(f"unknown mode {mode!r}")
