import django.contrib.postgres.fields
from django.db import migrations, models


def recompute_everything(apps, schema_editor):
    """Stored values have no histograms yet: the next run recomputes every period (a run is full
    when the previous one did not compute every KPI of the registry)."""
    apps.get_model("kpis", "KPIRun").objects.update(kpis=[])


class Migration(migrations.Migration):

    dependencies = [
        ('kpis', '0007_survey_channel_dimension'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='kpivalue',
            name='median',
        ),
        migrations.RemoveField(
            model_name='kpivalue',
            name='p90',
        ),
        migrations.AddField(
            model_name='kpivalue',
            name='hist_counts',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), null=True, size=None),
        ),
        migrations.AddField(
            model_name='kpivalue',
            name='hist_keys',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.SmallIntegerField(), null=True, size=None),
        ),
        migrations.RunPython(recompute_everything, migrations.RunPython.noop),
    ]
