from django.urls import path

from complaints import api

urlpatterns = [
    path("complaints/", api.ComplaintListCreateApi.as_view(), name="api-complaints"),
    path("complaints/<int:pk>/", api.ComplaintDetailApi.as_view(), name="api-complaint"),
    path("complaints/<int:pk>/escalate/", api.ComplaintEscalateApi.as_view(), name="api-complaint-escalate"),
    path(
        "complaints/<int:pk>/confirmation/", api.ComplaintConfirmationApi.as_view(), name="api-complaint-confirmation"
    ),
    path("complaints/<int:pk>/appointment/", api.ComplaintAppointmentApi.as_view(), name="api-complaint-appointment"),
    path("complaints/<int:pk>/close/", api.ComplaintCloseApi.as_view(), name="api-complaint-close"),
]
