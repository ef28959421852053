from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from surveys.models import Question, SurveyInvitation, SurveyResponse, SurveyTemplate


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0
    fields = [("position", "key", "kind", "role", "required"), ("text_zh", "text_en"), ("choices_zh", "choices_en"),
              "max_length"]  # fmt: skip

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.is_frozen)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not (obj and obj.is_frozen)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_frozen)


@admin.register(SurveyTemplate)
class SurveyTemplateAdmin(admin.ModelAdmin):
    """A version that has been sent is frozen, so that answers keep their wording:
    "Create a new version" copies it for editing; "Use for new invitations" switches."""

    list_display = ["name", "version", "is_active", "expiry_days", "reminder_days", "created_at"]
    inlines = [QuestionInline]
    actions = ["new_version", "activate"]

    def get_readonly_fields(self, request, obj=None):
        if obj and obj.is_frozen:
            return ["name", "version", "intro_zh", "intro_en", "confidentiality_zh", "confidentiality_en",
                    "thanks_zh", "thanks_en"]  # fmt: skip
        return ["is_active"] if obj is None else []

    @admin.action(description=_("Create a new version for editing"))
    @transaction.atomic
    def new_version(self, request, queryset):
        for template in queryset:
            questions = list(template.questions.all())
            latest = SurveyTemplate.objects.filter(name=template.name).order_by("-version").first()
            template.pk, template.version, template.is_active = None, latest.version + 1, False
            template.save()
            for question in questions:
                question.pk, question.template = None, template
                question.save()
            self.message_user(request, _("Created %s; edit it, then put it in use.") % template, messages.SUCCESS)

    @admin.action(description=_("Use for new invitations"))
    @transaction.atomic
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one template."), messages.ERROR)
            return
        SurveyTemplate.objects.filter(is_active=True).update(is_active=False)
        queryset.update(is_active=True)
        self.message_user(request, _("New invitations now use %s.") % queryset.get(), messages.SUCCESS)


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = ["ticket", "email", "language", "created_at", "first_opened_at", "reminder_sent_at", "answered_at"]
    list_filter = ["language", "template"]
    search_fields = ["ticket__reference", "email"]
    readonly_fields = ["ticket", "template", "email", "language", "created_at", "expires_at", "first_opened_at",
                       "open_count", "reminder_sent_at", "answered_at"]  # fmt: skip
    exclude = ["nonce", "token_hash"]

    def has_add_permission(self, request):
        return False


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["ticket", "submitted_at", "overall", "nps", "follow_up"]
    list_filter = ["overall", "template"]
    search_fields = ["ticket__reference"]
    readonly_fields = ["invitation", "ticket", "template", "answers", "overall", "nps", "contact_name",
                       "contact_details", "submitted_at", "follow_up"]  # fmt: skip

    def has_add_permission(self, request):
        return False
