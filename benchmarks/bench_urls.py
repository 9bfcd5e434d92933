from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    """A constant answer: what Django + gunicorn cost with no work at all."""
    return HttpResponse(b'{"ok": true}', content_type="application/json")


urlpatterns = [path("bare", bare), path("", include("starling.urls"))]
