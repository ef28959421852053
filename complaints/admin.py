from django.contrib import admin

from complaints.models import Complaint, ComplaintEvent, EscalationPolicy, RootCause, SeverityRule


@admin.register(RootCause)
class RootCauseAdmin(admin.ModelAdmin):
    list_display = ["name_zh", "name_en", "active", "position"]
    list_editable = ["active", "position"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["severity", "resolve_hours", "level_hours", "update_hours"]


@admin.register(SeverityRule)
class SeverityRuleAdmin(admin.ModelAdmin):
    """The first rule (by position) an unhappy survey answer meets gives its complaint's severity."""

    list_display = ["__str__", "position", "overall_at_most", "nps_at_most", "severity"]
    list_editable = ["position", "overall_at_most", "nps_at_most", "severity"]
    list_display_links = ["__str__"]


class ComplaintEventInline(admin.TabularInline):
    model = ComplaintEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "kind", "actor", "reason", "before", "after"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    """Read-only here: complaints change on the desk, where the ladder and the closing rule hold."""

    list_display = ["ticket", "severity", "level", "handler", "status", "opened_at", "due_at"]
    list_filter = ["status", "severity", "level", "source"]
    search_fields = ["ticket__reference"]
    inlines = [ComplaintEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a complaint and its history are the record of how a customer was treated
