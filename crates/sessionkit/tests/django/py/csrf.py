"""csrf: Django's CsrfViewMiddleware with CSRF_USE_SESSIONS, the secret in the session.

Modes:
- check: {"secret", "token"} -> null when a form POST carrying `token` in csrfmiddlewaretoken
  passes the middleware for a session whose "_csrftoken" is `secret`, else Django's reason.
- token: {"secret"} -> the token `get_token` puts in a page for that session.
"""

from django_setup import reply, start

mode, request = start()

from django.conf import settings

settings.CSRF_USE_SESSIONS = True
settings.ALLOWED_HOSTS = ["testserver"]

from django.http import HttpResponse
from django.middleware.csrf import CSRF_SESSION_KEY, CsrfViewMiddleware, get_token
from django.test import RequestFactory


def view(request):
    return HttpResponse("accepted")


middleware = CsrfViewMiddleware(view)
# The reason, rather than the failure view's page (which shows it only with DEBUG).
middleware._reject = lambda request, reason: reason

if mode == "check":
    http_request = RequestFactory().post("/", {"csrfmiddlewaretoken": request["token"]})
    http_request.session = {CSRF_SESSION_KEY: request["secret"]}
    middleware.process_request(http_request)
    reply(middleware.process_view(http_request, view, (), {}))
elif mode == "token":
    http_request = RequestFactory().get("/")
    http_request.session = {CSRF_SESSION_KEY: request["secret"]}
    middleware.process_request(http_request)
    reply(get_token(http_request))
