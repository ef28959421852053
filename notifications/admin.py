from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    FIELDS = ("created_at", "recipient", "ticket", "kind", "clock", "due_at", "read_at", "emailed_at")
    list_display = FIELDS
    list_filter = ("kind", "clock")
    readonly_fields = FIELDS

    def has_add_permission(self, request):
        return False
