from django.urls import path, register_converter

from kpis import views


class UsernameConverter:
    """A username as Django's validator allows it (letters, digits and @ . + - _): anything else,
    a NUL character included, is a 404 before any query."""

    regex = r"[\w.@+-]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UsernameConverter, "username")

app_name = "kpis"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("agents/<username:username>/", views.scorecard, name="scorecard"),
    path("export/<slug:table>.<slug:fmt>", views.export, name="export"),
]
