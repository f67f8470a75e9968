"""docs/DESIGN.md section 10: the counter lives under the session key `n`."""
from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST


@require_GET
def incr(request):
    n = request.session.get("n", 0) + 1
    request.session["n"] = n
    return HttpResponse(str(n))


@require_GET
def read(request):
    """Only reads, so the middleware writes nothing and sends no cookie."""
    return HttpResponse(str(request.session.get("n", 0)))


@require_POST
def login(request):
    request.session.cycle_key()
    request.session["user_id"] = 42
    request.session["n"] = 0
    return HttpResponse()


@require_GET
def logout(request):
    request.session.flush()
    return HttpResponse()
