"""Migrations on the big tables must not lock them: indexes there are built concurrently."""

from __future__ import annotations

from django.apps import apps
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations
from django.db.migrations.loader import MigrationLoader

#: Tables that grow with the desk's traffic (millions of rows).
BIG = {("tickets", "ticket"), ("tickets", "ticketevent"), ("tickets", "customer"), ("surveys", "surveyinvitation"),
       ("surveys", "surveyresponse"), ("outbox", "outgoingemail"), ("kpis", "kpivalue"), ("complaints", "complaint"),
       ("complaints", "complaintevent")}  # fmt: skip

#: Indexes that landed before this rule, built in a maintenance window; migrations are never edited.
LANDED = {("tickets", "0001_initial"), ("tickets", "0004_add_ticket_unresolved_idx"),
          ("tickets", "0005_add_ticket_team_status_idx"), ("tickets", "0006_add_ticket_team_priority_idx"),
          ("tickets", "0007_add_ticket_team_open_due_idx"), ("complaints", "0001_initial"),
          ("complaints", "0004_add_complaint_kpi_indexes"), ("kpis", "0001_initial"),
          ("kpis", "0004_kpivalue_one_index_in_reading_order"), ("surveys", "0001_initial"),
          ("outbox", "0001_initial"), ("surveys", "0003_add_invitation_kpi_indexes")}  # fmt: skip


def test_indexes_on_big_tables_are_added_concurrently_outside_a_transaction():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    offenders = []
    for (app, name), migration in loader.disk_migrations.items():
        if (app, name) in LANDED or app not in {config.label for config in apps.get_app_configs()}:
            continue
        for operation in migration.operations:
            on_big_table = isinstance(operation, migrations.AddIndex) and (app, operation.model_name.lower()) in BIG
            if on_big_table and (not isinstance(operation, AddIndexConcurrently) or migration.atomic):
                offenders.append(f"{app}.{name}: {operation.index.name}")
    assert not offenders, "use AddIndexConcurrently in a migration with atomic = False: " + ", ".join(offenders)
