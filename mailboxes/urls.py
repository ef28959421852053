from django.urls import path

from mailboxes import views

app_name = "mailboxes"

urlpatterns = [
    path("held/", views.held, name="held"),
    path("<int:pk>/", views.message, name="message"),
    path("<int:pk>/accept/", views.accept, name="accept"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("event/<int:event_pk>/", views.event_message, name="event_message"),
]
