"""A URL that fails, to see the desk's 500 page."""

from django.urls import path


def boom(request):
    return 1 / 0


urlpatterns = [path("boom/", boom)]
handler500 = "config.views.server_error"
