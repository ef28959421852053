from django.urls import path

from outbox import views

app_name = "outbox"

urlpatterns = [
    path("", views.dev_outbox, name="dev-list"),
    path("<int:pk>/", views.dev_outbox_message, name="dev-message"),
]
