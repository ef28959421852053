from django.urls import path

from kpis import views

app_name = "kpis"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("agents/<str:username>/", views.scorecard, name="scorecard"),
    path("export/<slug:table>.<slug:fmt>", views.export, name="export"),
]
