from django.urls import path

from kpis import api

urlpatterns = [path("kpis/", api.KPIValueListApi.as_view(), name="api-kpis")]
