from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0012_ticket_contacts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(condition=models.Q(('resolved_at__isnull', True)), fields=['requested_at'], include=('team', 'assignee', 'category', 'channel', 'priority', 'resolution_due_at'), name='ticket_open_work_idx'),
        ),
        migrations.RemoveIndex(
            model_name='ticket',
            name='ticket_unresolved_idx',
        ),
    ]
