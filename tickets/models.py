"""The ticket domain: teams, categories, SLA policies, customers, tickets and their history."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config.i18n import in_language
from tickets import holidays


class HolidaySource(models.TextChoices):
    NONE = "", _("none")
    CHINA = holidays.CHINA, _("Mainland China (statutory holidays and make-up workdays)")


class ServiceCalendar(models.Model):
    """The department's working time: hours per weekday, a time zone, public holidays and the
    company's own exceptions. SLA clocks count only the time it is open (``tickets.worktime``)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=60, default="Asia/Shanghai")
    holidays = models.CharField(
        _("public holidays"), max_length=10, choices=HolidaySource.choices, default=HolidaySource.CHINA, blank=True
    )
    always_open = models.BooleanField(
        _("open around the clock"), default=False, help_text=_("7×24: every hour counts, holidays included.")
    )
    is_default = models.BooleanField(
        _("the desk's calendar"), default=False, help_text=_("Used by teams that have no calendar of their own.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("service calendar")
        verbose_name_plural = _("service calendars")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="one_default_calendar"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WorkingHours(models.Model):
    """One span of working time on a weekday (a day may have several: morning and afternoon)."""

    calendar = models.ForeignKey(ServiceCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class CalendarException(models.Model):
    """A day that differs from the week and the public holidays: a company day off, or an extra
    working day (it keeps the hours of a normal weekday)."""

    calendar = models.ForeignKey(ServiceCalendar, on_delete=models.CASCADE, related_name="exceptions")
    day = models.DateField(_("day"))
    working = models.BooleanField(_("a working day"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["calendar", "day"], name="one_exception_a_day")]

    def __str__(self) -> str:
        return f"{self.day}: {_('working') if self.working else _('day off')}"


class Team(models.Model):
    """A department or squad (部门/班组). Agents see the tickets of the teams they belong to."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("supervisor"),
        on_delete=models.PROTECT,
        related_name="supervised_teams",
        null=True,
        blank=True,
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="desk_teams", blank=True
    )
    calendar = models.ForeignKey(
        ServiceCalendar, verbose_name=_("service calendar"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="teams", help_text=_("Leave empty for the desk's calendar."),
    )  # fmt: skip

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """What kind of request a ticket is (报修, 咨询, 投诉 …). Reference data, edited in admin."""

    slug = models.SlugField(_("key"), max_length=50, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    is_complaint = models.BooleanField(_("is a complaint"), default=False)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return in_language(self.name_zh, self.name_en)


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    WEB = "web", _("Web")
    CHAT = "chat", _("Online chat")
    SOCIAL = "social", _("Social media")
    WALK_IN = "walk_in", _("Walk-in")


#: Channels on which the agent speaks with the customer as the ticket is logged: the contact itself is
#: the first response.
LIVE_CHANNELS = (Channel.PHONE, Channel.WALK_IN, Channel.CHAT)


class CallDirection(models.TextChoices):
    INBOUND = "inbound", _("the customer called")
    OUTBOUND = "outbound", _("we called the customer")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class Status(models.TextChoices):
    NEW = "new", pgettext_lazy("ticket status", "New")
    OPEN = "open", pgettext_lazy("ticket status", "Open")
    PENDING = "pending", pgettext_lazy("ticket status", "Pending")
    RESOLVED = "resolved", pgettext_lazy("ticket status", "Resolved")
    CLOSED = "closed", pgettext_lazy("ticket status", "Closed")


#: A new ticket of the same customer and category within this window repeats the earlier one.
REPEAT_WINDOW = timedelta(days=30)

#: Statuses in which a ticket still waits for the desk (counted as open work).
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)
RESOLVED_STATUSES = (Status.RESOLVED, Status.CLOSED)


class SLAPolicy(models.Model):
    """Response and resolution targets for a priority, optionally narrowed to one category."""

    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text=_("Leave empty for the policy that applies to every category."),
    )
    response_minutes = models.PositiveIntegerField(
        _("first response within (minutes)"), validators=[MinValueValidator(1)]
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (minutes)"), validators=[MinValueValidator(1)]
    )
    working_time = models.BooleanField(
        _("counts working time"), default=True,
        help_text=_("Off: the targets run on calendar time, nights and holidays included (a 7×24 urgent line)."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["priority", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "category"], name="sla_unique_priority_category", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        scope = self.category or _("all categories")
        return f"{self.get_priority_display()} / {scope}"

    @property
    def response_delta(self) -> timedelta:
        return timedelta(minutes=self.response_minutes)

    @property
    def resolution_delta(self) -> timedelta:
        return timedelta(minutes=self.resolution_minutes)


class Customer(models.Model):
    """A customer, reused across tickets and found again by e-mail or phone."""

    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    # What the desk should know about this customer, whatever the ticket (a VIP, a hearing aid, a dispute).
    note = models.TextField(_("note about the customer"), max_length=2000, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="customer_unique_email"),
        ]
        indexes = [
            models.Index(fields=["phone"], name="customer_phone_idx"),
            # The customer search by the start of a phone number or e-mail address (LIKE 'prefix%').
            models.Index(OpClass("phone", name="varchar_pattern_ops"), name="customer_phone_prefix_idx"),
            models.Index(OpClass(Lower("email"), name="text_pattern_ops"), name="customer_email_prefix_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    """One customer problem (工单)."""

    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), max_length=20000, blank=True)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="tickets")
    product = models.CharField(_("product"), max_length=200, blank=True)
    serial_number = models.CharField(_("serial number"), max_length=100, blank=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    requested_at = models.DateTimeField(_("requested at"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    # Waiting for the customer pauses the resolution clock: since when, and the working time paused so far.
    paused_since = models.DateTimeField(_("waiting for the customer since"), null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(_("working time paused (s)"), default=0, db_default=0)
    # Durations in working time of the ticket's calendar, stored when they happen (the KPIs sum them).
    first_response_working_seconds = models.PositiveIntegerField(_("first response (working s)"), null=True,
                                                                 blank=True)  # fmt: skip
    resolution_working_seconds = models.PositiveIntegerField(_("completion (working s)"), null=True, blank=True)

    reopen_count = models.PositiveIntegerField(_("reopened"), default=0)
    reassign_count = models.PositiveIntegerField(_("reassigned"), default=0)
    # replies and logged calls or visits: what the customer heard from the desk
    public_reply_count = models.PositiveIntegerField(_("contacts with the customer"), default=0)
    # The same customer came back with the same category within REPEAT_WINDOW.
    repeat_count = models.PositiveIntegerField(_("came back"), default=0)

    labour_cost = models.DecimalField(_("labour cost"), max_digits=12, decimal_places=2, default=Decimal("0"))
    logistics_cost = models.DecimalField(_("logistics cost"), max_digits=12, decimal_places=2, default=Decimal("0"))
    other_cost = models.DecimalField(_("other cost"), max_digits=12, decimal_places=2, default=Decimal("0"))

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # The desk's address the customer wrote to (an e-mail channel's mailbox): replies go out from it.
    reply_address = models.EmailField(_("reply from"), max_length=254, blank=True, default="", db_default="")
    # The earlier ticket this one takes up again (the customer wrote back after the reopening window).
    follows = models.ForeignKey(
        "self", verbose_name=_("continues"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tags = models.ManyToManyField("Tag", verbose_name=_("tags"), blank=True, related_name="tickets")
    # A duplicate merged into another ticket: closed, its conversation moved there, and counted in no
    # KPI (the ticket it was merged into counts the customer's problem once).
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="merged_tickets", db_index=False,
    )  # fmt: skip
    # The key sent with the form or API call that created the ticket: a resubmit finds it again.
    creation_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-requested_at"], name="ticket_team_requested_idx"),
            # A team's queue filtered by status (open, pending…): its page and its count.
            models.Index(fields=["team", "status", "-requested_at"], name="ticket_team_status_idx"),
            models.Index(fields=["team", "priority", "-requested_at"], name="ticket_team_priority_idx"),
            models.Index(fields=["-requested_at"], name="ticket_requested_idx"),
            models.Index(fields=["status", "resolution_due_at"], name="ticket_status_due_idx"),
            # The queue filtered by status and priority across teams (a manager's), newest first.
            models.Index(fields=["status", "priority", "-requested_at"], name="ticket_status_priority_idx"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status_idx"),
            models.Index(fields=["customer", "requested_at"], name="ticket_customer_requested_idx"),
            models.Index(fields=["resolved_at"], name="ticket_resolved_idx"),
            # The open work: the backlog figures and the overdue queue read only these — with the
            # slices and due time, so that the backlog of every KPI run is counted from the index alone.
            models.Index(
                fields=["requested_at"],
                condition=models.Q(resolved_at__isnull=True),
                name="ticket_open_work_idx",
                include=["team", "assignee", "category", "channel", "priority", "resolution_due_at"],
            ),
            # A team's overdue queue and its count: the open tickets with their due times, so that
            # counting them reads the index alone rather than every open ticket's row.
            models.Index(
                fields=["team", "status"],
                include=["id", "resolution_due_at", "response_due_at", "first_response_at"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="ticket_team_open_due_idx",
            ),
            models.Index(fields=["updated_at"], name="ticket_updated_idx"),
            models.Index(fields=["category", "requested_at"], name="ticket_category_requested_idx"),
            # The few merged duplicates, found from the ticket they were merged into.
            models.Index(
                fields=["merged_into"], condition=models.Q(merged_into__isnull=False), name="ticket_merged_into_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def total_cost(self) -> Decimal:
        return self.labour_cost + self.logistics_cost + self.other_cost

    def is_overdue(self, now=None) -> bool:
        now = now or timezone.now()
        if not self.is_open:
            return False
        if self.resolution_due_at and self.resolution_due_at < now and self.status != Status.PENDING:
            return True  # (waiting for the customer stops the resolution clock)
        return bool(self.first_response_at is None and self.response_due_at and self.response_due_at < now)


class EventKind(models.TextChoices):
    CREATED = "created", _("created the ticket")
    REPLY = "reply", _("replied to the customer")
    CALL = "call", _("spoke with the customer")
    NOTE = "note", _("added an internal note")
    ASSIGNED = "assigned", _("assigned the ticket")
    PENDING = "pending", _("marked the ticket pending")
    RESUMED = "resumed", _("recorded the customer's answer")
    RESOLVED = "resolved", _("resolved the ticket")
    CLOSED = "closed", _("closed the ticket")
    REOPENED = "reopened", _("reopened the ticket")
    UPDATED = "updated", _("updated the ticket")
    REPEATED = "repeated", _("recorded that the customer came back with the same problem")
    LINKED = "linked", _("linked the ticket")
    RECEIVED = "received", _("wrote to the desk")
    MERGED = "merged", _("merged a duplicate into the ticket")
    MERGED_INTO = "merged_into", _("merged the ticket into another")


class TicketEvent(models.Model):
    """One change in a ticket's history: who, when, what (before → after)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    body = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    # A key sent with a form or API call so that a double submit is recorded once.
    request_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (NULL: no key, never a duplicate)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="event_ticket_at_idx")]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "request_key"], name="event_unique_request_key"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    @property
    def is_public(self) -> bool:
        return self.kind in PUBLIC_EVENTS


#: What the customer heard from the desk: a written reply, or a call or visit the agent logged.
PUBLIC_EVENTS = (EventKind.REPLY, EventKind.CALL)


def _attachment_path(attachment: Attachment, filename: str) -> str:
    """Stored under a random name: what the sender called the file is kept in ``name`` only."""
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on a ticket: sent with a customer's e-mail, or added to a reply, a note or a new ticket.

    Its type is what its content says (``tickets.attachments.sniff``), never its name. It is served
    only through ``tickets:attachment``, which applies the ticket's access rule."""

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(TicketEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments")
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=200)
    thumbnail = models.FileField(_("thumbnail"), upload_to=_attachment_path, max_length=200, blank=True)
    name = models.CharField(_("name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail)


class SavedView(models.Model):
    """A queue's filters and order saved under a name: the agent's own, or shared with a team by
    its supervisor (or a manager). ``query`` holds only the queue's own parameters."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        Team, verbose_name=_("shared with"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class CannedAction(models.TextChoices):
    NONE = "", _("Only reply")
    PENDING = "pending", _("Reply and wait for the customer")


class CannedReply(models.Model):
    """A reply written once and used often (常用回复), in both languages, with placeholders filled in
    as it is used: {customer}, {reference}, {agent}, {due}. An agent's own, or shared with a team."""

    name = models.CharField(_("name"), max_length=100)
    body_zh = models.TextField(_("text (Chinese)"), max_length=5000)
    body_en = models.TextField(_("text (English)"), max_length=5000, blank=True)
    action = models.CharField(_("then"), max_length=10, choices=CannedAction.choices, blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        Team, verbose_name=_("shared with"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class LinkKind(models.TextChoices):
    RELATED = "related", _("the same fault or matter")
    PART_OF = "part_of", _("part of an incident")


class TicketLink(models.Model):
    """Two tickets that belong together: the same fault reported twice, or a ticket that is part of a
    larger incident (``to_ticket`` is the incident). Shown on both."""

    from_ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    to_ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(_("link"), max_length=10, choices=LinkKind.choices, default=LinkKind.RELATED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ticket link")
        verbose_name_plural = _("ticket links")
        constraints = [
            models.UniqueConstraint(fields=["from_ticket", "to_ticket"], name="one_link_per_pair"),
            models.CheckConstraint(condition=~models.Q(from_ticket=models.F("to_ticket")), name="no_link_to_self"),
        ]

    def __str__(self) -> str:
        return f"{self.from_ticket_id} → {self.to_ticket_id}"


class Tag(models.Model):
    """A free label on tickets (批次号, a model, a campaign), written as agents type it, found again
    whatever the case."""

    name = models.CharField(_("name"), max_length=50)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name
