"""Forms validate what an agent typed; the services in tickets.services act on it."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from tickets import attachments
from tickets.models import (
    LIVE_CHANNELS,
    CallDirection,
    CannedAction,
    CannedReply,
    Category,
    Channel,
    LinkKind,
    Priority,
    Team,
)
from tickets.selectors import assignable_users
from tickets.templatetags.desk import person

User = get_user_model()


class PersonChoiceField(forms.ModelChoiceField):
    """A choice of colleagues by the names they go by (their login only when they have no name)."""

    def label_from_instance(self, obj):
        return person(obj)


class RequestKeyField(forms.CharField):
    """A hidden key rendered with each form, so a double submit is recorded once."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(**kwargs)


class ActionForm(forms.Form):
    request_key = RequestKeyField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_key", uuid.uuid4().hex)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


def _limits() -> str:
    return str(
        _("Up to %(file)s a file, %(total)s in all. Pictures show as thumbnails; other files are only downloaded.")
        % {
            "file": attachments.megabytes(settings.ATTACHMENT_MAX_BYTES),
            "total": attachments.megabytes(settings.ATTACHMENT_MAX_TOTAL_BYTES),
        }
    )


class AttachmentsField(forms.FileField):
    """Any number of files (none required), within the per-file and per-message limits: cleaned
    into ``tickets.attachments.Upload``s."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attachments"))
        kwargs.setdefault("help_text", lazy(_limits, str)())
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        items = data if isinstance(data, list | tuple) else [data]
        uploaded = [single(item, initial) for item in items if item]
        uploads = [attachments.Upload(name=f.name, content=f, size=f.size) for f in uploaded]
        reasons = attachments.too_large(uploads)
        if reasons:
            raise forms.ValidationError(reasons)
        return uploads


class TicketCreateForm(ActionForm):
    customer_name = forms.CharField(
        label=_("Customer name"), max_length=200, widget=forms.TextInput(attrs={"autofocus": True})
    )
    customer_email = forms.EmailField(label=_("Customer e-mail"), max_length=254, required=False)
    customer_phone = forms.CharField(label=_("Customer phone"), max_length=40, required=False)
    customer_language = forms.ChoiceField(
        label=_("Customer's language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    attachments = AttachmentsField()
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.filter(active=True))
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.PHONE)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none())
    assignee = PersonChoiceField(
        label=_("Assignee"), queryset=User.objects.none(), required=False, to_field_name="username"
    )
    requested_at = forms.DateTimeField(
        label=_("Requested at"),
        help_text=_("When the customer asked; set it in the past for a call logged afterwards."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        required=False,
    )
    product = forms.CharField(label=_("Product"), max_length=200, required=False)
    serial_number = forms.CharField(label=_("Serial number"), max_length=100, required=False)
    answered = forms.BooleanField(
        label=_("I am speaking with the customer"),
        help_text=_("A call, a visit or a chat: this contact is the first response."),
        required=False,
        initial=True,
    )
    resolution = forms.CharField(
        label=_("Resolved during the call"),
        help_text=_("Describe how the problem was solved on the spot; leave empty to keep the ticket open."),
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["assignee"].queryset = User.objects.filter(
            Q(desk_teams__in=teams) | Q(supervised_teams__in=teams), is_active=True
        ).distinct()
        if not self.is_bound:
            self.initial.setdefault("requested_at", timezone.localtime().replace(second=0, microsecond=0))
            if teams.count() == 1:
                self.initial.setdefault("team", teams.first())

    def clean_requested_at(self):
        value = self.cleaned_data.get("requested_at")
        if value and value > timezone.now():
            raise forms.ValidationError(_("The request time cannot be in the future."))
        return value

    def clean(self):
        data = super().clean()
        if not data.get("customer_email") and not data.get("customer_phone") and "customer_email" not in self.errors:
            self.add_error(
                "customer_phone", _("Enter an e-mail address or a phone number so we can reach the customer.")
            )
        team, assignee = data.get("team"), data.get("assignee")
        if team and assignee and not assignable_users(team).filter(pk=assignee.pk).exists():
            self.add_error(
                "assignee", _("%(user)s is not a member of team %(team)s.") % {"user": assignee, "team": team}
            )
        channel = data.get("channel")
        if data.get("answered") and channel and channel not in LIVE_CHANNELS:
            self.add_error(
                "answered", _("Only a call, a visit or a chat is answered as the ticket is logged; untick this box.")
            )
        after = self.data.get("after")
        if after == "solved" and not data.get("resolution", "").strip() and "resolution" not in self.errors:
            self.add_error("resolution", _("Describe how the problem was solved during the call."))
        if after == "open" and data.get("resolution", "").strip():
            self.add_error(
                "resolution",
                _("You described how the problem was solved: press “Solved during the call”, or clear this text."),
            )
        if data.get("resolution", "").strip() and not data.get("answered"):
            self.add_error(
                "resolution", _("A ticket is resolved on the spot only when you are speaking with the customer.")
            )
        return data


class TicketEditForm(ActionForm):
    """The ticket's details, changed in place on its page. ``version`` is the ticket as it was shown:
    a change made meanwhile by someone else is refused, not overwritten."""

    subject = forms.CharField(label=_("Subject"), max_length=200)
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.filter(active=True))
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none())
    reason = forms.CharField(
        label=_("Why another team"), max_length=2000, required=False,
        help_text=_("Needed when the ticket moves to another team; it goes in the timeline."),
    )  # fmt: skip
    tags = forms.CharField(
        label=_("Tags"), max_length=600, required=False, widget=forms.TextInput(attrs={"list": "tag-names"}),
        help_text=_("Separated by commas; an existing tag is offered as you type."),
    )  # fmt: skip
    product = forms.CharField(label=_("Product"), max_length=200, required=False)
    serial_number = forms.CharField(label=_("Serial number"), max_length=100, required=False)
    labour_cost = forms.DecimalField(label=_("Labour cost"), max_digits=12, decimal_places=2, min_value=0)
    logistics_cost = forms.DecimalField(label=_("Logistics cost"), max_digits=12, decimal_places=2, min_value=0)
    other_cost = forms.DecimalField(label=_("Other cost"), max_digits=12, decimal_places=2, min_value=0)
    version = forms.CharField(widget=forms.HiddenInput, max_length=40)

    #: The fields handed to ``services.update_ticket``.
    CHANGES = ("subject", "category", "priority", "channel", "team", "product", "serial_number", "labour_cost",
               "logistics_cost", "other_cost")  # fmt: skip

    def __init__(self, *args, ticket, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        # Another team is a transfer: any team the user works in, and the ticket's own.
        self.fields["team"].queryset = Team.objects.filter(Q(pk__in=teams.values("pk")) | Q(pk=ticket.team_id))
        if not self.is_bound:
            self.initial.update({name: getattr(ticket, name) for name in self.CHANGES})
            self.initial["tags"] = ", ".join(tag.name for tag in ticket.tags.all())

    def clean(self):
        data = super().clean()
        team = data.get("team")
        if team and team.pk != self.ticket.team_id and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why the ticket moves to %(team)s.") % {"team": team})
        return data


class CustomerForm(ActionForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    preferred_language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    note = forms.CharField(
        label=_("Note about the customer"), max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}), help_text=_("Shown on all of their tickets."),
    )  # fmt: skip


class LinkForm(ActionForm):
    reference = forms.CharField(label=_("Reference of the other ticket"), max_length=20,
                                widget=forms.TextInput(attrs={"placeholder": "SR-2026-000123"}))  # fmt: skip
    kind = forms.ChoiceField(label=_("Link"), choices=LinkKind.choices, initial=LinkKind.RELATED)


class MergeForm(ActionForm):
    into = forms.CharField(label=_("Merge into ticket"), max_length=20,
                                widget=forms.TextInput(attrs={"placeholder": "SR-2026-000123"}))  # fmt: skip
    note = forms.CharField(label=_("Why (optional)"), max_length=2000, required=False)
    confirm = forms.BooleanField(
        label=_("This ticket is a duplicate: close it and move its conversation, files and survey there."),
        error_messages={"required": _("Tick the box to confirm the merge.")},
    )


class ReplyForm(ActionForm):
    body = forms.CharField(label=_("Reply to the customer"), max_length=20000, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = AttachmentsField(label=_("Send with the reply"))
    then = forms.ChoiceField(label=_("Then"), choices=CannedAction.choices, required=False)


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["name", "body_zh", "body_en", "action", "team"]
        widgets = {"body_zh": forms.Textarea(attrs={"rows": 4}), "body_en": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "body_zh": _("Placeholders: {customer}, {reference}, {agent}, {due} (the next target)."),
            "body_en": _("Used for customers who read English; empty: the Chinese text."),
        }

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].required = False
        self.fields["team"].empty_label = _("Only me")


class CallForm(ActionForm):
    direction = forms.ChoiceField(
        label=_("Call"), choices=CallDirection.choices, initial=CallDirection.OUTBOUND, widget=forms.RadioSelect
    )
    summary = forms.CharField(label=_("What was said"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    at = forms.DateTimeField(
        label=_("When"),
        help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        required=False,
    )


class NoteForm(ActionForm):
    body = forms.CharField(label=_("Internal note"), max_length=20000, widget=forms.Textarea(attrs={"rows": 3}))
    attachments = AttachmentsField()


class AssignForm(ActionForm):
    assignee = PersonChoiceField(label=_("Assign to"), queryset=User.objects.none(), to_field_name="username")

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users(ticket.team)


class PendingForm(ActionForm):
    note = forms.CharField(label=_("What are we waiting for?"), max_length=2000, required=False)


class ResumeForm(ActionForm):
    note = forms.CharField(label=_("What did the customer say?"), max_length=2000, required=False)


class ResolveForm(ActionForm):
    note = forms.CharField(label=_("Resolution"), max_length=20000, widget=forms.Textarea(attrs={"rows": 3}))


class CloseForm(ActionForm):
    note = forms.CharField(label=_("Closing note"), max_length=2000, required=False)


class ReopenForm(ActionForm):
    reason = forms.CharField(label=_("Why reopen?"), max_length=2000)


class BulkForm(forms.Form):
    """One action on the tickets ticked in the queue; each goes through its own service."""

    ACTIONS = [
        ("assign", _("Assign to")),
        ("priority", _("Set the priority")),
        ("pending", _("Wait for the customer")),
        ("resolve", _("Resolve")),
        ("tag", _("Add a tag")),
        ("merge", _("Merge into ticket")),
    ]
    MAX_TICKETS = 100

    action = forms.ChoiceField(label=_("With the ticked tickets"), choices=ACTIONS)
    tickets = forms.TypedMultipleChoiceField(coerce=int, choices=[], error_messages={
        "required": _("Tick the tickets first."),
    })  # fmt: skip
    assignee = PersonChoiceField(label=_("Assign to"), queryset=User.objects.none(), required=False,
                                 to_field_name="username")  # fmt: skip
    priority = forms.ChoiceField(label=_("Priority"), choices=[("", "—"), *Priority.choices], required=False)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)
    tag = forms.CharField(label=_("Tag"), max_length=50, required=False)
    into = forms.CharField(label=_("Merge into ticket"), max_length=20, required=False,
                           widget=forms.TextInput(attrs={"placeholder": "SR-2026-000123"}))  # fmt: skip
    query = forms.CharField(widget=forms.HiddenInput, required=False, max_length=1000)

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = people
        ticked = self.data.getlist("tickets") if hasattr(self.data, "getlist") else []
        self.fields["tickets"].choices = [(value, value) for value in ticked if str(value).isdigit()]

    def clean_tickets(self):
        tickets = self.cleaned_data["tickets"]
        if len(tickets) > self.MAX_TICKETS:
            raise forms.ValidationError(_("At most %(n)d tickets at a time.") % {"n": self.MAX_TICKETS})
        return tickets

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "assign" and not data.get("assignee"):
            self.add_error("assignee", _("Choose who takes the tickets."))
        if action == "priority" and not data.get("priority"):
            self.add_error("priority", _("Choose the priority."))
        if action == "tag" and not (data.get("tag") or "").strip():
            self.add_error("tag", _("Write the tag."))
        if action == "merge" and not (data.get("into") or "").strip():
            self.add_error("into", _("Write the reference of the ticket to merge them into."))
        if action == "resolve" and not (data.get("note") or "").strip():
            self.add_error("note", _("Describe how the problems were resolved."))
        return data
