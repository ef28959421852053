import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('kpis', '0009_refresh_every_minute_rebuild_nightly'),
    ]

    operations = [
        migrations.CreateModel(
            name='ComplaintContribution',
            fields=[
                ('row_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('day', models.DateField()),
                ('d_team', models.BigIntegerField(null=True)),
                ('d_agent', models.BigIntegerField(null=True)),
                ('d_category', models.BigIntegerField(null=True)),
                ('d_channel', models.CharField(max_length=20)),
                ('d_priority', models.CharField(max_length=20)),
                ('d_extra', models.CharField(max_length=64, null=True)),
                ('flags', models.BigIntegerField()),
                ('sums', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(null=True), null=True, size=None)),
                ('buckets', django.contrib.postgres.fields.ArrayField(base_field=models.SmallIntegerField(null=True), null=True, size=None)),
            ],
            options={
                'db_table': 'kpis_contribution_complaints',
            },
        ),
        migrations.CreateModel(
            name='InvitationContribution',
            fields=[
                ('row_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('day', models.DateField()),
                ('d_team', models.BigIntegerField(null=True)),
                ('d_agent', models.BigIntegerField(null=True)),
                ('d_category', models.BigIntegerField(null=True)),
                ('d_channel', models.CharField(max_length=20)),
                ('d_priority', models.CharField(max_length=20)),
                ('d_extra', models.CharField(max_length=64, null=True)),
                ('flags', models.BigIntegerField()),
                ('sums', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(null=True), null=True, size=None)),
                ('buckets', django.contrib.postgres.fields.ArrayField(base_field=models.SmallIntegerField(null=True), null=True, size=None)),
            ],
            options={
                'db_table': 'kpis_contribution_invitations',
            },
        ),
        migrations.CreateModel(
            name='ResponseContribution',
            fields=[
                ('row_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('day', models.DateField()),
                ('d_team', models.BigIntegerField(null=True)),
                ('d_agent', models.BigIntegerField(null=True)),
                ('d_category', models.BigIntegerField(null=True)),
                ('d_channel', models.CharField(max_length=20)),
                ('d_priority', models.CharField(max_length=20)),
                ('d_extra', models.CharField(max_length=64, null=True)),
                ('flags', models.BigIntegerField()),
                ('sums', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(null=True), null=True, size=None)),
                ('buckets', django.contrib.postgres.fields.ArrayField(base_field=models.SmallIntegerField(null=True), null=True, size=None)),
            ],
            options={
                'db_table': 'kpis_contribution_responses',
            },
        ),
        migrations.CreateModel(
            name='TicketContribution',
            fields=[
                ('row_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('day', models.DateField()),
                ('d_team', models.BigIntegerField(null=True)),
                ('d_agent', models.BigIntegerField(null=True)),
                ('d_category', models.BigIntegerField(null=True)),
                ('d_channel', models.CharField(max_length=20)),
                ('d_priority', models.CharField(max_length=20)),
                ('d_extra', models.CharField(max_length=64, null=True)),
                ('flags', models.BigIntegerField()),
                ('sums', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(null=True), null=True, size=None)),
                ('buckets', django.contrib.postgres.fields.ArrayField(base_field=models.SmallIntegerField(null=True), null=True, size=None)),
            ],
            options={
                'db_table': 'kpis_contribution_tickets',
            },
        ),
        migrations.AddField(
            model_name='kpivalue',
            name='source_rows',
            field=models.IntegerField(default=0),
        ),
            # Derived data, rebuilt from the tickets: no WAL. After a crash PostgreSQL empties unlogged
        # tables, and the next KPI run, finding them empty, is a full rebuild (kpis.engine.run).
        migrations.RunSQL(
            "ALTER TABLE kpis_contribution_tickets SET UNLOGGED", "ALTER TABLE kpis_contribution_tickets SET LOGGED"
        ),
        migrations.RunSQL(
            "ALTER TABLE kpis_contribution_responses SET UNLOGGED", "ALTER TABLE kpis_contribution_responses SET LOGGED"
        ),
        migrations.RunSQL(
            "ALTER TABLE kpis_contribution_invitations SET UNLOGGED", "ALTER TABLE kpis_contribution_invitations SET LOGGED"
        ),
        migrations.RunSQL(
            "ALTER TABLE kpis_contribution_complaints SET UNLOGGED", "ALTER TABLE kpis_contribution_complaints SET LOGGED"
        ),
    ]
