from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("customers/", views.customer_search, name="customer_search"),
    path("views/", views.view_save, name="view_save"),
    path("bulk/", views.bulk, name="bulk"),
    path("replies/", views.canned_replies, name="canned"),
    path("replies/<int:pk>/delete/", views.canned_delete, name="canned_delete"),
    path("views/<int:pk>/delete/", views.view_delete, name="view_delete"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/reply/", views.ticket_reply, name="reply"),
    path("<int:pk>/call/", views.ticket_call, name="call"),
    path("<int:pk>/edit/", views.ticket_edit, name="edit"),
    path("<int:pk>/customer/", views.ticket_customer, name="customer"),
    path("<int:pk>/link/", views.ticket_link, name="link"),
    path("<int:pk>/merge/", views.ticket_merge, name="merge"),
    path("<int:pk>/note/", views.ticket_note, name="note"),
    path("<int:pk>/assign/", views.ticket_assign, name="assign"),
    path("<int:pk>/pending/", views.ticket_pending, name="pending"),
    path("<int:pk>/resume/", views.ticket_resume, name="resume"),
    path("<int:pk>/resolve/", views.ticket_resolve, name="resolve"),
    path("<int:pk>/close/", views.ticket_close, name="close"),
    path("<int:pk>/reopen/", views.ticket_reopen, name="reopen"),
    path("<int:pk>/files/<int:attachment_pk>/", views.attachment, name="attachment"),
    path("<int:pk>/files/<int:attachment_pk>/thumbnail/", views.attachment, {"thumbnail": True}, name="thumbnail"),
]
