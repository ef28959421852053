"""The request types of seed 002's 95598 list that the defaults lacked: 举报, 信息查询, 意见."""

from django.db import migrations

CATEGORIES = [
    ("report", "举报", "Report of misconduct"),
    ("information", "信息查询", "Information request"),
    ("opinion", "意见", "Opinion"),
]


def add_defaults(apps, schema_editor):
    Category = apps.get_model("tickets", "Category")
    last = Category.objects.order_by("-position").values_list("position", flat=True).first() or 0
    for offset, (slug, zh, en) in enumerate(CATEGORIES, start=1):
        Category.objects.get_or_create(slug=slug, defaults={"name_zh": zh, "name_en": en, "position": last + offset})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0010_paused_seconds_database_default")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
