from django.urls import path

from tickets import api

urlpatterns = [
    path("tickets/", api.TicketListCreateApi.as_view(), name="api-tickets"),
    path("tickets/<int:pk>/", api.TicketDetailApi.as_view(), name="api-ticket"),
    path("tickets/<int:pk>/replies/", api.TicketReplyApi.as_view(), name="api-ticket-replies"),
    path("tickets/<int:pk>/attachments/", api.TicketAttachmentsApi.as_view(), name="api-ticket-attachments"),
    path("tickets/<int:pk>/calls/", api.TicketCallApi.as_view(), name="api-ticket-calls"),
    path("tickets/<int:pk>/assign/", api.TicketAssignApi.as_view(), name="api-ticket-assign"),
    path("tickets/<int:pk>/pending/", api.TicketPendingApi.as_view(), name="api-ticket-pending"),
    path("tickets/<int:pk>/resume/", api.TicketResumeApi.as_view(), name="api-ticket-resume"),
    path("tickets/<int:pk>/resolve/", api.TicketResolveApi.as_view(), name="api-ticket-resolve"),
    path("tickets/<int:pk>/close/", api.TicketCloseApi.as_view(), name="api-ticket-close"),
    path("tickets/<int:pk>/reopen/", api.TicketReopenApi.as_view(), name="api-ticket-reopen"),
    path("tickets/<int:pk>/merge/", api.TicketMergeApi.as_view(), name="api-ticket-merge"),
]
