from django.urls import path

from surveys import views

app_name = "survey_results"

urlpatterns = [
    path("", views.response_list, name="list"),
]
