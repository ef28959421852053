"""What the other apps do when a ticket changes, wired in one place.

``tickets`` imports no other domain app (checked by import-linter in ``make lint``); it
announces what happens through ``tickets.hooks``, and this module is the whole list of
who listens. Read it top to bottom to follow a ticket across the apps:

    logged ─ complaint category ─→ complaints: open its complaint (level 1, SLA due)
    category changed to complaint ─→ complaints: open its complaint
    reply or call to the customer ─→ complaints: the open complaint was handled (delay clock)
    resolved ─→ surveys: the invitation and its e-mail (outbox), once per ticket
    assigned, customer wrote, @named in a note ─→ notifications: tell that person
    duplicate merged ─→ complaints: its complaint moves along (refused while both have an open one)
                    ├─→ surveys: its survey moves along (unless the ticket has its own)
                    └─→ mailboxes: its mails move along (held ones included)
    survey answered unhappily ─→ tickets.services.create_ticket: a follow-up for the
                                  team's supervisor (surveys call down into tickets)
                             └─→ complaints: its complaint's severity by the rules
    complaint closed ─→ tickets.services.resolve_ticket (complaints call down into tickets)
    every KPI run ─→ kpis read tickets, surveys and complaints (kpis.registry)

Secret links in e-mail (a survey's) are written in only as a message is sent
(``outbox.links``): the stored rows never hold a working link.

Mail comes in through ``mailboxes.services.ingest``, which calls down into the ticket services
(``create_ticket``, ``receive_message``); the ticket page shows the mails held for an agent.

The ticket page shows the complaint and survey panels, and the queue narrows to the
tickets behind a KPI figure, through the same hooks.
"""

from __future__ import annotations

from complaints.services import (
    complaint_panel,
    grade_survey_complaint,
    move_complaint_on_merge,
    open_complaint_for_category,
    record_customer_contact,
)
from config.accounts import password_reset_link
from kpis.selectors import narrow_queue_to_figure
from mailboxes.selectors import held_panel
from mailboxes.services import move_mail_on_merge
from notifications.services import notify_about_event
from outbox import links
from surveys import hooks as survey_hooks
from surveys.selectors import survey_panel
from surveys.services import invite_after_resolution, move_survey_on_merge, survey_link
from tickets import hooks


def connect() -> None:
    hooks.ticket_created.connect(open_complaint_for_category)
    hooks.ticket_category_changed.connect(open_complaint_for_category)
    hooks.customer_contacted.connect(record_customer_contact)
    hooks.ticket_resolved.connect(invite_after_resolution)
    hooks.event_recorded.connect(notify_about_event)
    hooks.ticket_merged.connect(move_complaint_on_merge)
    hooks.ticket_merged.connect(move_survey_on_merge)
    hooks.ticket_merged.connect(move_mail_on_merge)
    survey_hooks.follow_up_opened.connect(grade_survey_complaint)
    hooks.ticket_panels.connect(complaint_panel)
    hooks.ticket_panels.connect(survey_panel)
    hooks.ticket_panels.connect(held_panel)
    hooks.queue_narrowing.connect(narrow_queue_to_figure)
    links.register("survey", survey_link)
    links.register("password_reset", password_reset_link)
