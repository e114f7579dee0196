"""URLs: the admin, which is the operators' console, and a health check for the web service."""

from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request):
    """200 when this process can reach the database, else 503 (compose's healthcheck)."""
    try:
        connection.ensure_connection()
    except DatabaseError:
        return HttpResponse("database unreachable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz),
]
