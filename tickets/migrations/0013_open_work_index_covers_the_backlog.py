from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking the tickets against writes.
    atomic = False

    dependencies = [
        ("tickets", "0012_ticket_contacts"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", True)),
                fields=["requested_at"],
                include=("team", "assignee", "category", "channel", "priority", "resolution_due_at"),
                name="ticket_open_work_idx",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="ticket",
            name="ticket_unresolved_idx",
        ),
    ]
