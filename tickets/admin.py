from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tickets.holidays import known_until
from tickets.models import (
    CalendarException,
    Category,
    Customer,
    ServiceCalendar,
    SLAPolicy,
    Team,
    Ticket,
    TicketEvent,
    WorkingHours,
)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 1


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    extra = 1


@admin.register(ServiceCalendar)
class ServiceCalendarAdmin(admin.ModelAdmin):
    """Working hours, holidays and exceptions. Changing them moves the due times of tickets logged from
    then on; ``manage.py recompute_working_time`` recomputes the tickets already logged."""

    list_display = ["name", "time_zone", "holidays", "holidays_known_until", "always_open", "is_default"]
    inlines = [WorkingHoursInline, CalendarExceptionInline]

    @admin.display(description=_("holidays known until"))
    def holidays_known_until(self, calendar):
        return known_until(calendar.holidays) or "—"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "supervisor", "calendar", "member_count"]
    search_fields = ["name"]
    filter_horizontal = ["members"]
    autocomplete_fields = ["supervisor"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_members=Count("members"))

    @admin.display(description=_("members"), ordering="_members")
    def member_count(self, team):
        return team._members


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["slug", "name_zh", "name_en", "is_complaint", "active", "position"]
    list_editable = ["active", "position"]
    prepopulated_fields = {"slug": ["name_en"]}


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "category", "response_minutes", "resolution_minutes", "working_time"]
    list_filter = ["priority", "category"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "phone", "preferred_language", "created_at"]
    search_fields = ["name", "email", "phone"]


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "actor", "body", "before", "after"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only here: tickets change through the desk, where every change is recorded."""

    list_display = ["reference", "subject", "status", "priority", "category", "team", "assignee", "requested_at"]
    list_filter = ["status", "priority", "channel", "category", "team"]
    search_fields = ["reference", "subject", "customer__name", "customer__email", "customer__phone"]
    list_select_related = ["category", "team", "assignee"]
    show_full_result_count = False
    inlines = [TicketEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
