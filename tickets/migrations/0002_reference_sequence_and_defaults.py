"""The ticket reference sequence, the default categories and SLA policies, and
trigram indexes for the queue's text search where the server offers pg_trgm."""

from django.db import migrations

# Seed 002 (the 95598 hotline's request types) plus returns from seed 004.
CATEGORIES = [
    ("repair", "报修", "Fault / repair", False),
    ("inquiry", "咨询", "Inquiry", False),
    ("complaint", "投诉", "Complaint", True),
    ("suggestion", "建议", "Suggestion", False),
    ("praise", "表扬", "Praise", False),
    ("return", "退换货", "Return / exchange", False),
]

# Seed 004: first response within 2 hours, resolution within 48 hours; tighter for high and urgent.
SLA_MINUTES = {"low": (120, 48 * 60), "normal": (120, 48 * 60), "high": (60, 24 * 60), "urgent": (30, 8 * 60)}

TRIGRAM_INDEXES = [
    ("ticket_subject_trgm_idx", "tickets_ticket", "subject"),
    ("ticket_reference_trgm_idx", "tickets_ticket", "reference"),
    ("customer_name_trgm_idx", "tickets_customer", "name"),
    ("customer_email_trgm_idx", "tickets_customer", "email"),
    ("customer_phone_trgm_idx", "tickets_customer", "phone"),
]


def add_defaults(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="managers")
    Category = apps.get_model("tickets", "Category")
    SLAPolicy = apps.get_model("tickets", "SLAPolicy")
    for position, (slug, zh, en, is_complaint) in enumerate(CATEGORIES):
        Category.objects.get_or_create(
            slug=slug, defaults={"name_zh": zh, "name_en": en, "is_complaint": is_complaint, "position": position}
        )
    for priority, (response, resolution) in SLA_MINUTES.items():
        SLAPolicy.objects.get_or_create(
            priority=priority, category=None,
            defaults={"response_minutes": response, "resolution_minutes": resolution},
        )


def add_trigram_indexes(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return  # e.g. the embedded server: search still works, by sequential scan
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM_INDEXES:
            cursor.execute(
                f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (UPPER("{column}") gin_trgm_ops)'
            )


def drop_trigram_indexes(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for name, _table, _column in TRIGRAM_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS ticket_reference_seq START 1",
            "DROP SEQUENCE IF EXISTS ticket_reference_seq",
        ),
        migrations.RunPython(add_defaults, migrations.RunPython.noop),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
