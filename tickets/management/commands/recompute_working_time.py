"""Recompute the tickets' due times and working-time durations after a calendar or SLA change.

    manage.py recompute_working_time                 # every ticket
    manage.py recompute_working_time --since 2026-01-01
    manage.py recompute_working_time --team 3

Runs in batches by id (each its own transaction), printing progress, and ends with a summary.
The KPI figures follow at the next KPI run of the days concerned (``refresh_kpis --since``).
"""

from __future__ import annotations

from datetime import datetime, time
from time import perf_counter

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from tickets.models import Ticket
from tickets.services import apply_due_times, working_durations
from tickets.sla import SlaLookup

FIELDS = ["response_due_at", "resolution_due_at", "first_response_working_seconds", "resolution_working_seconds"]


#: One statement per batch: the new values as arrays, joined to the rows by id (bulk_update's CASE per
#: row and field is several times slower at thousands of rows).
UPDATE = """
    UPDATE tickets_ticket t
       SET response_due_at = v.response_due_at, resolution_due_at = v.resolution_due_at,
           first_response_working_seconds = v.first_response, resolution_working_seconds = v.resolution
      FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::int[], %s::int[])
           AS v(id, response_due_at, resolution_due_at, first_response, resolution)
     WHERE t.id = v.id
"""


def _write(tickets: list[Ticket]) -> None:
    if not tickets:
        return
    columns = [[t.pk for t in tickets]] + [[getattr(t, name) for t in tickets] for name in FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(UPDATE, columns)


class Command(BaseCommand):
    help = "Recompute due times and working-time durations of tickets on their calendars."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=datetime.fromisoformat, help="tickets requested on or after this date")
        parser.add_argument("--team", type=int, help="one team's tickets")
        parser.add_argument("--batch", type=int, default=2000)

    def handle(self, *args, since=None, team=None, batch: int = 2000, **options) -> None:
        tickets = Ticket.objects.order_by("pk")
        if since:
            start = since if since.tzinfo else timezone.make_aware(datetime.combine(since.date(), time(0)))
            tickets = tickets.filter(requested_at__gte=start)
        if team:
            tickets = tickets.filter(team_id=team)
        total = tickets.count()
        started, done, changed, last = perf_counter(), 0, 0, 0
        lookup = SlaLookup()
        self.stdout.write(f"Recomputing {total:,} tickets in batches of {batch:,}…")
        while True:
            with transaction.atomic():
                rows = list(tickets.filter(pk__gt=last).select_for_update(of=("self",)).select_related("team")[:batch])
                if not rows:
                    break
                updated = []
                for ticket in rows:
                    policy = lookup.policy(ticket)
                    clock = lookup.clock(ticket, policy)
                    before = tuple(getattr(ticket, name) for name in FIELDS)
                    apply_due_times(ticket, policy, clock)
                    working_durations(ticket, clock)
                    if tuple(getattr(ticket, name) for name in FIELDS) != before:
                        updated.append(ticket)
                _write(updated)
            done, changed, last = done + len(rows), changed + len(updated), rows[-1].pk
            rate = done / max(perf_counter() - started, 1e-9)
            self.stdout.write(f"  {done:,}/{total:,} ({100 * done / max(total, 1):.0f} %), {rate:,.0f} tickets/s")
        seconds = perf_counter() - started
        self.stdout.write(self.style.SUCCESS("Working time recomputed."))
        self.stdout.write(f"  tickets read: {done:,}; changed: {changed:,}")
        self.stdout.write(f"  time: {seconds:.1f} s")
        self.stdout.write("  KPI figures follow at the next run (manage.py refresh_kpis --since …).")
