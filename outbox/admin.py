from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from outbox import services
from outbox.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "to", "subject", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status", "kind", "language"]
    search_fields = ["to", "subject", "ticket__reference"]
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields]
    actions = ["retry_now"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)

    @admin.action(description=_("Send again now"))
    def retry_now(self, request, queryset):
        count = services.retry_now(queryset)
        for pk in queryset.filter(status="pending").values_list("pk", flat=True):
            services.enqueue_delivery(pk)
        self.message_user(
            request,
            ngettext("%d message will be sent again.", "%d messages will be sent again.", count) % count,
            messages.SUCCESS,
        )
