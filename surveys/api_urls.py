from django.urls import path

from surveys import api

urlpatterns = [
    path("surveys/responses/", api.SurveyResponseListApi.as_view(), name="api-survey-responses"),
]
