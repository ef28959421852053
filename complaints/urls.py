from django.urls import path

from complaints import views

app_name = "complaints"

urlpatterns = [
    path("", views.complaint_board, name="board"),
    path("<int:pk>/", views.complaint_detail, name="detail"),
    path("<int:pk>/escalate/", views.complaint_escalate, name="escalate"),
    path("<int:pk>/update/", views.complaint_update, name="update"),
    path("<int:pk>/request-confirmation/", views.complaint_request_confirmation, name="request-confirmation"),
    path("<int:pk>/confirm/", views.complaint_confirm, name="confirm"),
    path("<int:pk>/appointment/", views.complaint_appointment, name="appointment"),
    path("<int:pk>/close/", views.complaint_close, name="close"),
    path("raise/<int:ticket_pk>/", views.complaint_raise, name="raise"),
]
