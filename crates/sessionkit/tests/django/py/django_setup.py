"""What every test program shares: Django configured from the request the Rust test sends.

A program runs as `python PROGRAM.py MODE` with a JSON object on stdin, holding at least
`secret_key` and `secret_key_fallbacks` (and optionally `database`, Django's DATABASES
entry; an in-memory SQLite database otherwise), and answers with one JSON value on stdout.
"""

import json
import sys

import django
from django.conf import settings


def start():
    """Reads the request and sets Django up with its secrets; returns (mode, request)."""
    request = json.loads(sys.stdin.buffer.read())
    # Session data travels as JSON text, so every digit and the order of keys arrive as written.
    for data_set in request.get("data_sets", []):
        data_set["data"] = json.loads(data_set["data"])
    settings.configure(
        SECRET_KEY=request["secret_key"],
        SECRET_KEY_FALLBACKS=request["secret_key_fallbacks"],
        INSTALLED_APPS=[
            "django.contrib.sessions",
            "django.contrib.auth",
            "django.contrib.contenttypes",
        ],
        DATABASES={
            "default": request.get(
                "database", {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
            )
        },
        USE_TZ=True,
    )
    django.setup()
    return sys.argv[1], request


def migrate():
    """Creates the auth, contenttypes and sessions tables in the in-memory database."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def python_json(data):
    """The session data as Django's JSONSerializer writes it."""
    return json.dumps(data, separators=(",", ":"))


def attempt(load):
    """{"json": …} for what `load()` returned, or {"error": …} for what it raised."""
    try:
        return {"json": python_json(load())}
    except Exception as error:  # reported to the Rust test, which shows it
        return {"error": f"{type(error).__name__}: {error}"}


def reply(result):
    sys.stdout.write(json.dumps(result))
