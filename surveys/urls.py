from django.urls import path

from surveys import views

app_name = "survey_results"

urlpatterns = [
    path("", views.response_list, name="list"),
    path("calls/", views.call_queue, name="calls"),
    path("calls/<int:pk>/", views.call_answers, name="call"),
    path("calls/<int:pk>/unanswered/", views.call_unanswered, name="call-unanswered"),
]
