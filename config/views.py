"""Error pages shared by every app."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)
