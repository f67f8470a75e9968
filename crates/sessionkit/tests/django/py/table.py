"""The django_session table, shared with sessionkit (SESSION_DB_TABLE=django_session).

Modes (the request names the database, as a Django DATABASES entry):
- write: {"data_sets": [{"name", "data"}]} -> [{"name", "key"}]: runs Django's migrations
  (which create django_session), then saves each data set with the db backend's SessionStore.
- read: {"keys": [...]} -> [{"json"} | {"error"}]: what SessionStore(session_key=key).load()
  returns for each key (an unknown, expired or corrupted session loads as {}).
"""

from django_setup import attempt, migrate, python_json, reply, start

mode, request = start()

from django.contrib.sessions.backends.db import SessionStore


def written(data_set):
    store = SessionStore()
    store.update(data_set["data"])
    store.save()
    return {"name": data_set["name"], "key": store.session_key}


if mode == "write":
    migrate()
    reply([written(data_set) for data_set in request["data_sets"]])
elif mode == "read":
    reply([attempt(lambda key=key: SessionStore(session_key=key).load()) for key in request["keys"]])
else:
    raise SystemExit(f"unknown mode {mode!r}")
