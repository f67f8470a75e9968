"""django.contrib.auth over signed_cookies sessions, with an in-memory SQLite database.

Modes:
- login: {"username", "password"} -> {"cookie", "session_json", "user_id", "password_hash",
  "new_password_hash"}: creates the user, logs it in with django.contrib.auth.login on a
  request whose session is a signed_cookies SessionStore and saves the session (the cookie is
  its key); then changes the password with set_password and reports the new hash too.
- get_user: {"cookie", "user_id", "password_hash"} -> {"authenticated", "user_id",
  "session_json"}: with a user of that id and password hash in the database, what
  django.contrib.auth.get_user makes of a request carrying the cookie, and the session it
  leaves (get_user renews the hash under a fallback key, or flushes a stale session).
"""

from django_setup import migrate, python_json, reply, start

mode, request = start()

from django.contrib.auth import get_user, login
from django.contrib.auth.models import User
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

BACKEND = "django.contrib.auth.backends.ModelBackend"

migrate()

if mode == "login":
    user = User.objects.create_user(request["username"], password=request["password"])
    http_request = RequestFactory().get("/")
    http_request.session = SessionStore()
    login(http_request, user, backend=BACKEND)
    http_request.session.save()
    password_hash = user.password
    user.set_password("a new password")
    user.save()
    reply(
        {
            "cookie": http_request.session.session_key,
            "session_json": python_json(dict(http_request.session.items())),
            "user_id": str(user.pk),
            "password_hash": password_hash,
            "new_password_hash": user.password,
        }
    )
elif mode == "get_user":
    User.objects.create(
        pk=int(request["user_id"]), username="user", password=request["password_hash"]
    )
    http_request = RequestFactory().get("/")
    http_request.session = SessionStore(session_key=request["cookie"])
    user = get_user(http_request)
    reply(
        {
            "authenticated": user.is_authenticated,
            "user_id": str(user.pk) if user.is_authenticated else None,
            "session_json": python_json(dict(http_request.session.items())),
        }
    )
else:
    raise SystemExit(f"unknown mode {mode!r}")
