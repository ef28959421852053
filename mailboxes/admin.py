from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.exceptions import ApplicationError
from mailboxes import services
from mailboxes.models import WAITING, InboundMessage, Mailbox


class MailboxForm(forms.ModelForm):
    password = forms.CharField(
        label=_("password or app token"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the current one."),
    )  # fmt: skip

    class Meta:
        model = Mailbox
        fields = [
            "name", "address", "active", "host", "port", "security", "username", "password", "folder", "team",
            "category", "priority", "acknowledge", "reopen_days", "hourly_ticket_limit",
        ]  # fmt: skip

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if not password:
            if self.instance.pk and self.instance.password:
                return self.instance.password
            raise forms.ValidationError(_("Enter the mailbox's password or app token."))
        return password


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ["name", "address", "host", "team", "category", "active", "last_fetch_at", "last_error"]
    list_filter = ["active", "team"]
    readonly_fields = ["last_fetch_at", "last_error", "last_uid", "uid_validity"]
    fieldsets = [
        (None, {"fields": ["name", "address", "active"]}),
        (_("Server"), {"fields": ["host", "port", "security", "username", "password", "folder"]}),
        (_("New tickets"), {"fields": ["team", "category", "priority", "acknowledge", "reopen_days",
                                       "hourly_ticket_limit"]}),
        (_("Reading"), {"fields": ["last_fetch_at", "last_error", "last_uid", "uid_validity"]}),
    ]  # fmt: skip


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "mailbox", "sender", "subject", "outcome", "reason", "ticket"]
    list_filter = ["outcome", "mailbox"]
    search_fields = ["sender", "subject", "message_id", "ticket__reference"]
    readonly_fields = [f.name for f in InboundMessage._meta.fields]
    actions = ["accept", "reject"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)

    def _decide(self, request, queryset, decide):
        done = 0
        for message in queryset.filter(outcome__in=WAITING):
            try:
                decide(message=message, by=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{message}: {error.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, ngettext("%d e-mail decided.", "%d e-mails decided.", done) % done)

    @admin.action(description=_("Let through (open the ticket or post on it)"))
    def accept(self, request, queryset):
        self._decide(request, queryset, services.accept)

    @admin.action(description=_("Reject"))
    def reject(self, request, queryset):
        self._decide(request, queryset, services.reject)
