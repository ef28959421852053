from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking the tickets table against writes.
    atomic = False

    dependencies = [
        ("tickets", "0022_merged_tickets"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", False)), fields=["merged_into"], name="ticket_merged_into_idx"
            ),
        ),
    ]
