"""messages: Django's flash messages as SessionStorage keeps them in the session.

Modes:
- write: {"messages": [[level, text, extra_tags, safe]]} -> the value SessionStorage stores
  under "_messages" after adding them (messages below MESSAGE_LEVEL are dropped, as in a view).
- read: {"stored": value} -> [[level, text, extra_tags, safe, tags]] as a template iterating
  the messages of a request whose session holds that value sees them.
"""

from django_setup import reply, start

mode, request = start()

from django.contrib.messages.storage.session import SessionStorage
from django.utils.safestring import SafeData, mark_safe


class Request:
    """All SessionStorage needs of a request: its session, here a plain dict."""

    def __init__(self, session):
        self.session = session


if mode == "write":
    http_request = Request({})
    storage = SessionStorage(http_request)
    for level, text, extra_tags, safe in request["messages"]:
        storage.add(level, mark_safe(text) if safe else text, extra_tags=extra_tags)
    storage.update(None)
    reply(http_request.session.get("_messages"))
elif mode == "read":
    storage = SessionStorage(Request({"_messages": request["stored"]}))
    reply(
        [
            [m.level, str(m.message), m.extra_tags, isinstance(m.message, SafeData), m.tags]
            for m in storage
        ]
    )
